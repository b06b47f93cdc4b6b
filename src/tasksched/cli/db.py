"""``tasksched db upgrade | current | backup | restore | new-secret-key | rotate-secrets``: the
schema, its copies, and the secrets key."""

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


@db.command("new-secret-key")
def new_secret_key() -> None:
    """Print a fresh key for TASKSCHED_SECRET_KEY (nothing is stored)."""
    from tasksched.store.crypto import new_key

    click.echo(new_key())


@db.command("rotate-secrets")
@settings_options("database_url", "secret_key", "secret_key_old")
def rotate_secrets(**options: Any) -> None:
    """Encrypt every stored secret with TASKSCHED_SECRET_KEY (also those in clear), reading the ones
    sealed with an earlier key through TASKSCHED_SECRET_KEY_OLD; then forget the earlier keys.

    Restart every API and worker with the new key (and the old one in TASKSCHED_SECRET_KEY_OLD) before
    running it; drop the old key afterwards.
    """
    from tasksched.services.sealing import rotate

    settings = settings_from(options)
    if settings.secret_key is None:
        raise click.ClickException("TASKSCHED_SECRET_KEY is not set: there is no key to encrypt with")

    async def main() -> str:
        async with runtime.one_shot(settings) as ctx:
            result = await rotate(ctx)
        note = "" if result.scrubbed else " (a reader kept SQLite's log from being emptied; run it again)"
        return f"re-encrypted {result.changed} task(s); every secret is now sealed with key {result.key_id}{note}"

    click.echo(runtime.run(main()))


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
