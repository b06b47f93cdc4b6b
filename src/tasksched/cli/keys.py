"""``tasksched keys create | list | revoke``: API keys, directly on the database.

These need a database whose schema is current (``tasksched db upgrade``): a typo in the URL must
not quietly create a new, empty database holding the key.
"""

from __future__ import annotations

from typing import Any

import click

from tasksched import runtime
from tasksched.cli.options import settings_from, settings_options
from tasksched.domain.principals import CLI, Role


@click.group()
def keys() -> None:
    """API keys (directly on the database)."""


@keys.command("create")
@settings_options("database_url", "database_pooling")
@click.option("--name", required=True, help="What the key is for.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="viewer", show_default=True)
def create(name: str, role: str, **options: Any) -> None:
    """Create a key and print it (it is shown only once)."""
    from tasksched.services.keys import KeyService

    async def main() -> str:
        async with runtime.one_shot(settings_from(options)) as ctx:
            _, value = await KeyService(ctx).create(name, Role(role), actor=CLI)
            return value

    click.echo(runtime.run(main()))


@keys.command("list")
@settings_options("database_url", "database_pooling")
def list_(**options: Any) -> None:
    """List keys (never their values)."""
    from tasksched.domain.keys import ApiKey
    from tasksched.services.keys import KeyService

    async def main() -> list[ApiKey]:
        async with runtime.one_shot(settings_from(options)) as ctx:
            return await KeyService(ctx).list()

    for key in runtime.run(main()):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id:>4}  {key.prefix}…  {key.role.value:<8}  {state:<18}  {key.name}")


@keys.command("revoke")
@settings_options("database_url", "database_pooling")
@click.argument("key_id", type=int)
def revoke(key_id: int, **options: Any) -> None:
    """Revoke a key by its id."""
    from tasksched.services.keys import KeyService

    async def main() -> None:
        async with runtime.one_shot(settings_from(options)) as ctx:
            await KeyService(ctx).revoke(key_id, actor=CLI)

    runtime.run(main())
    click.echo(f"revoked key {key_id}")
