"""Server secrets: random values every tasksched process must agree on, kept in the database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import insert_ignoring_conflicts
from tasksched.store.tables import server_secrets


async def get_or_create(tx: Tx, name: str, value: str, now: datetime) -> str:
    """The secret called ``name``, stored as ``value`` if there is none yet.

    Instances starting together may all try to create it: the first insert wins, the others'
    inserts are ignored, and every one of them reads back the winner's value.
    """
    await tx.execute(
        insert_ignoring_conflicts(tx, server_secrets).values(name=name, value=value, created_at=now)
    )
    stored = await get(tx, name)
    assert stored is not None  # inserted above, or already there
    return stored


async def get(tx: Tx, name: str) -> str | None:
    query = sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    value = (await tx.execute(query)).scalar_one_or_none()
    return None if value is None else str(value)


# Which keys have sealed values in this database (store/crypto.py): one row per key id, so a process
# can tell at start-up, without reading every secret, that it lacks the key some of them need.
_SEALING_KEY = "sealing-key:"


async def sealing_keys(tx: Tx) -> set[str]:
    query = sa.select(server_secrets.c.name).where(server_secrets.c.name.startswith(_SEALING_KEY))
    return {str(name).removeprefix(_SEALING_KEY) for name in (await tx.execute(query)).scalars()}


async def add_sealing_key(tx: Tx, key_id: str, now: datetime) -> None:
    await get_or_create(tx, _SEALING_KEY + key_id, key_id, now)


async def forget_sealing_keys(tx: Tx, *, keep: str) -> None:
    """After a rotation: no value is sealed with any key but ``keep`` any more."""
    await tx.execute(
        sa.delete(server_secrets).where(
            server_secrets.c.name.startswith(_SEALING_KEY), server_secrets.c.name != _SEALING_KEY + keep
        )
    )
