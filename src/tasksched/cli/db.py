"""``tasksched db upgrade | current | new-secret-key | rotate-secrets``: the schema and the secrets key."""

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
