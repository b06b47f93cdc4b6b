"""``tasksched db upgrade | current | backup | restore | copy | new-secret-key | rotate-secrets``: the
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


@db.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="The database to copy from.")
@click.option(
    "--to", "target", required=True, metavar="URL", help="The database to copy into (created if need be)."
)
@click.option("--replace", is_flag=True, help="Replace the contents of a target that holds other data.")
@settings_options("secret_key", "secret_key_old")
def copy(source: str, target: str, replace: bool, **options: Any) -> None:
    """Copy every task, run, key and history row from one database to another: SQLite to
    PostgreSQL, or back.

    The target is migrated to the newest schema and must not be in use (no live worker or
    scheduler, no other PostgreSQL session); the source must be at the newest schema
    (`tasksched db upgrade` it first). Rows are loaded in one transaction and checked (counts and a
    fingerprint of every table) before it commits: an interrupted or failed copy changes nothing,
    and running it again is safe. Stop the source's processes first for a copy of its final state.
    """
    import contextlib
    import sys

    from tasksched.services.copying import Copied, CopyService
    from tasksched.store.health import safe_url

    base = settings_from(options)

    async def main() -> Copied:
        # One connection each: on PostgreSQL, any other session on the target means it is in use.
        async with (
            runtime.one_shot(
                base.model_copy(update={"database_url": source, "db_pool_size": 1}), schema="require"
            ) as src,
            runtime.one_shot(
                base.model_copy(update={"database_url": target, "db_pool_size": 1, "db_max_overflow": 0}),
                schema="upgrade",
            ) as dst,
        ):
            with contextlib.ExitStack() as stack:
                bars: list[Any] = []

                def total(n: int) -> None:
                    bar = click.progressbar(length=n, label="copying rows", file=sys.stderr)
                    bars.append(stack.enter_context(bar))

                def rows(n: int) -> None:
                    if bars:
                        bars[0].update(n)

                return await CopyService(src, dst).copy(replace=replace, on_total=total, on_rows=rows)

    done = runtime.run(main())
    rows = ", ".join(f"{table} {n}" for table, n in done.rows.items())
    if done.unchanged:
        click.echo(f"{safe_url(target)} already holds exactly these rows: nothing to copy ({rows})")
    else:
        click.echo(f"copied {safe_url(source)} to {safe_url(target)}, counts and content checked: {rows}")
    if done.source_in_use:
        click.echo(
            f"warning: the source is in use ({', '.join(done.source_in_use)}); what it wrote after the copy "
            "began is not in the copy: stop it and copy again with --replace",
            err=True,
        )
