"""Scheduler rows: which scheduler processes exist and when each last completed a pass of its loop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import upsert
from tasksched.store.tables import schedulers

SchedulerRow = dict[str, Any]


async def register(tx: Tx, values: dict[str, Any]) -> None:
    await tx.execute(upsert(tx, schedulers, ["name"], values))


async def heartbeat(tx: Tx, name: str, now: datetime) -> None:
    await tx.execute(sa.update(schedulers).where(schedulers.c.name == name).values(heartbeat_at=now))


async def stopped(tx: Tx, name: str, now: datetime) -> None:
    await tx.execute(sa.update(schedulers).where(schedulers.c.name == name).values(stopped_at=now))


async def list_(tx: Tx, *, seen_since: datetime) -> list[SchedulerRow]:
    """Schedulers that ticked recently, most recent first (older rows are history)."""
    query = (
        sa.select(schedulers)
        .where(schedulers.c.heartbeat_at >= seen_since)
        .order_by(schedulers.c.heartbeat_at.desc())
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def last_tick(tx: Tx) -> datetime | None:
    """The latest heartbeat of any scheduler that has not said it stopped."""
    query = sa.select(sa.func.max(schedulers.c.heartbeat_at)).where(schedulers.c.stopped_at.is_(None))
    value: datetime | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def purge(tx: Tx, *, older_than: datetime) -> None:
    await tx.execute(sa.delete(schedulers).where(schedulers.c.heartbeat_at < older_than))
