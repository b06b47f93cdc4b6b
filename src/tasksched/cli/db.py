"""``tasksched db upgrade | current``: the database schema."""

from __future__ import annotations

from typing import Any

import click

from tasksched import runtime
from tasksched.cli.options import settings_from, settings_options


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@settings_options("database_url", "database_pooling")
def upgrade(**options: Any) -> None:
    """Apply migrations up to the newest schema."""
    from tasksched.store.migrate import current_revision

    async def main() -> str | None:
        async with runtime.one_shot(settings_from(options), schema="upgrade") as ctx:
            return await current_revision(ctx.db)

    click.echo(f"schema at revision {runtime.run(main())}")


@db.command("current")
@settings_options("database_url", "database_pooling")
def current(**options: Any) -> None:
    """Show the schema revision and whether it is the newest."""
    from tasksched.store.migrate import current_revision, head_revision

    async def main() -> str | None:
        # Any state of the schema is an answer here; only the database must answer.
        async with runtime.one_shot(settings_from(options), schema="any") as ctx:
            return await current_revision(ctx.db)

    now, head = runtime.run(main()), head_revision()
    click.echo(f"current: {now}\nnewest:  {head}" + ("" if now == head else "\nrun `tasksched db upgrade`"))
