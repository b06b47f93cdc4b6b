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
