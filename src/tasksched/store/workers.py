"""Worker rows: who is alive, what it serves and how busy it is (for the UI and operators)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import upsert
from tasksched.store.tables import workers

WorkerRow = dict[str, Any]


async def register(tx: Tx, values: dict[str, Any]) -> None:
    await tx.execute(upsert(tx, workers, ["name"], values))


async def heartbeat(tx: Tx, name: str, *, running: int, now: datetime) -> None:
    await tx.execute(
        sa.update(workers).where(workers.c.name == name).values(running=running, heartbeat_at=now)
    )


async def stopped(tx: Tx, name: str, now: datetime) -> None:
    await tx.execute(
        sa.update(workers).where(workers.c.name == name).values(running=0, stopped_at=now, heartbeat_at=now)
    )


async def list_(tx: Tx, *, seen_since: datetime) -> list[WorkerRow]:
    """Workers that have been alive recently, most recent first (old rows are history)."""
    query = (
        sa.select(workers).where(workers.c.heartbeat_at >= seen_since).order_by(workers.c.heartbeat_at.desc())
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def purge(tx: Tx, *, older_than: datetime) -> None:
    await tx.execute(sa.delete(workers).where(workers.c.heartbeat_at < older_than))
