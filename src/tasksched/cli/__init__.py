"""The ``tasksched`` command: serve, api, scheduler, worker, db, keys, tasks.

One module per group of commands, all over ``runtime.py``, which assembles the processes. Every
setting is an option of the same name and ``TASKSCHED_<NAME>`` (``--database-url`` ↔
``TASKSCHED_DATABASE_URL``), built from ``Settings`` by ``options.py``; an option given on the
command line wins over the environment. A user error prints one line, ``Error: …``, and exits
non-zero.

A command's module is imported only when that command runs (or when help lists them all), so
``tasksched worker`` does not load what ``db``, ``keys`` or ``tasks`` need.
"""

from __future__ import annotations

import click

from tasksched.cli.options import TaskschedGroup

# command name → "module:attribute"
COMMANDS = {
    "serve": "tasksched.cli.servers:serve",
    "api": "tasksched.cli.servers:api",
    "scheduler": "tasksched.cli.servers:scheduler",
    "worker": "tasksched.cli.servers:worker",
    "notifier": "tasksched.cli.servers:notifier",
    "db": "tasksched.cli.db:db",
    "keys": "tasksched.cli.keys:keys",
    "tasks": "tasksched.cli.tasks:tasks",
}


@click.group(
    cls=TaskschedGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(package_name="tasksched")
def main() -> None:
    """tasksched: schedule HTTP calls, commands and Python functions; see every run."""


__all__ = ["main"]
