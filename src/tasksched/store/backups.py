"""Rows of the ``backups`` table: each backup's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import insert_ignoring_conflicts
from tasksched.store.tables import backups

BackupRow = dict[str, Any]


async def start(
    tx: Tx, *, trigger: str, file: str, now: datetime, slot: datetime | None = None
) -> int | None:
    """Record a backup as running; returns its id. For a scheduled slot another process already
    recorded, nothing is inserted and None is returned: that process makes the backup."""
    values = {"trigger": trigger, "slot": slot, "status": "running", "file": file, "started_at": now}
    stmt = insert_ignoring_conflicts(tx, backups).values(values).returning(backups.c.id)
    value: int | None = (await tx.execute(stmt)).scalar_one_or_none()
    return value


async def finish(
    tx: Tx, backup_id: int, *, status: str, now: datetime, size_bytes: int | None, error: str | None
) -> None:
    await tx.execute(
        sa.update(backups)
        .where(backups.c.id == backup_id)
        .values(status=status, finished_at=now, size_bytes=size_bytes, error=error)
    )


async def list_(tx: Tx, *, limit: int, status: str | None = None) -> list[BackupRow]:
    query = sa.select(backups).order_by(backups.c.started_at.desc(), backups.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(backups.c.status == status)
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def scheduled_succeeded(tx: Tx) -> list[BackupRow]:
    """Scheduled backups that succeeded and whose file is still kept, newest first."""
    query = (
        sa.select(backups)
        .where(backups.c.trigger == "scheduled", backups.c.status == "succeeded")
        .order_by(backups.c.started_at.desc(), backups.c.id.desc())
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def mark_removed(tx: Tx, backup_ids: list[int]) -> None:
    """Backups whose files retention deleted: their rows stay, as history."""
    if backup_ids:
        await tx.execute(sa.update(backups).where(backups.c.id.in_(backup_ids)).values(status="removed"))


async def interrupt_running(tx: Tx, *, note: str) -> None:
    """Backups recorded as running in a restored copy: they finished (or not) in the original."""
    await tx.execute(
        sa.update(backups).where(backups.c.status == "running").values(status="interrupted", error=note)
    )
