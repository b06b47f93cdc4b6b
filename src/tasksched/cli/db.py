"""``tasksched db upgrade | current | backup | restore``: the database schema, and its copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from tasksched import runtime
from tasksched.cli.options import settings_from, settings_options
from tasksched.domain.principals import CLI


@click.group()
def db() -> None:
    """Database schema, backups and restores."""


@db.command("upgrade")
@settings_options("database_url")
def upgrade(**options: Any) -> None:
    """Apply migrations up to the newest schema."""
    from tasksched.store.migrate import current_revision

    async def main() -> str | None:
        async with runtime.one_shot(settings_from(options), schema="upgrade") as ctx:
            return await current_revision(ctx.db)

    click.echo(f"schema at revision {runtime.run(main())}")


@db.command("current")
@settings_options("database_url")
def current(**options: Any) -> None:
    """Show the schema revision and whether it is the newest."""
    from tasksched.store.migrate import current_revision, head_revision

    async def main() -> str | None:
        # Any state of the schema is an answer here; only the database must answer.
        async with runtime.one_shot(settings_from(options), schema="any") as ctx:
            return await current_revision(ctx.db)

    now, head = runtime.run(main()), head_revision()
    click.echo(f"current: {now}\nnewest:  {head}" + ("" if now == head else "\nrun `tasksched db upgrade`"))


@db.command("backup")
@settings_options("database_url")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "sqlite", "export"]),
    default="auto",
    show_default=True,
    help="sqlite: a SQLite file (SQLite only); export: gzip'd JSON lines that restore into either "
    "database; auto: sqlite for SQLite, export for PostgreSQL.",
)
def backup(file: Path, fmt: str, **options: Any) -> None:
    """Write a backup of the database to FILE, safely while tasksched runs."""
    from tasksched.services.backups import BackupService

    async def main() -> dict[str, Any] | None:
        async with runtime.one_shot(settings_from(options)) as ctx:
            return await BackupService(ctx).backup(file, actor=CLI, fmt=fmt)  # type: ignore[arg-type]

    made = runtime.run(main()) or {}
    click.echo(f"backup written to {made.get('file', file)} ({made.get('size_bytes')} bytes)")


@db.command("restore")
@settings_options("database_url")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the contents of a database that is not empty.")
def restore(file: Path, force: bool, **options: Any) -> None:
    """Load the backup FILE (either kind) into the database, which is created if need be.

    Stop every tasksched process using the target database first.
    """
    from tasksched.services.backups import BackupService, Restored

    async def main() -> Restored:
        async with runtime.one_shot(settings_from(options), schema="upgrade") as ctx:
            return await BackupService(ctx).restore(file, actor=CLI, force=force)

    done = runtime.run(main())
    rows = ", ".join(f"{table} {n}" for table, n in done.rows.items())
    click.echo(f"restored {file} ({done.source} backup, schema {done.schema}): {rows}")
