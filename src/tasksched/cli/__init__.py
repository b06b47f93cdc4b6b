"""The ``tasksched`` command: serve, api, scheduler, worker, db, keys, tasks.

One module per group of commands, all over ``runtime.py``, which assembles the processes. Every
setting is an option of the same name and ``TASKSCHED_<NAME>`` (``--database-url`` ↔
``TASKSCHED_DATABASE_URL``), built from ``Settings`` by ``options.py``; an option given on the
command line wins over the environment. A user error prints one line, ``Error: …``, and exits
non-zero.
"""

from __future__ import annotations

import click

from tasksched.cli import db, keys, servers, tasks
from tasksched.cli.options import TaskschedGroup


@click.group(
    cls=TaskschedGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(package_name="tasksched")
def main() -> None:
    """tasksched: schedule HTTP calls, commands and Python functions; see every run."""


for command in (*servers.COMMANDS, db.db, keys.keys, tasks.tasks):
    main.add_command(command)

__all__ = ["main"]
