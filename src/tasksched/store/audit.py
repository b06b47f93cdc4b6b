"""Audit rows: one per change, appended in the change's transaction, read newest first, pruned by age."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.tables import audit

AuditRow = dict[str, Any]


_INSERT = audit.insert()
"""Built once, the values as parameters (``.values(...)`` per call rebuilt and re-keyed it). The new
id is the driver's: SQLite's last row id (no result rows to fetch from its thread), PostgreSQL's
RETURNING, which SQLAlchemy adds itself."""


async def insert(tx: Tx, values: dict[str, Any]) -> int:
    result = await tx.execute(_INSERT, values)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def list_(
    tx: Tx,
    *,
    actor: str | None = None,
    actor_kind: str | None = None,
    actions: Sequence[str] = (),
    target_type: str | None = None,
    target_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditRow]:
    """Rows newest first (by id), those older than ``before_id`` when given: keyset paging, so a
    page deep in a long log costs what the first one does."""
    conditions: list[sa.ColumnElement[bool]] = []
    if actor is not None:
        conditions.append(audit.c.actor_name == actor)
    if actor_kind is not None:
        conditions.append(audit.c.actor_kind == actor_kind)
    if actions:
        conditions.append(audit.c.action.in_(list(actions)))
    if target_type is not None:
        conditions.append(audit.c.target_type == target_type)
    if target_id is not None:
        conditions.append(audit.c.target_id == target_id)
    if since is not None:
        conditions.append(audit.c.at >= since)
    if until is not None:
        conditions.append(audit.c.at < until)
    if before_id is not None:
        conditions.append(audit.c.id < before_id)
    query = sa.select(audit).where(*conditions).order_by(audit.c.id.desc()).limit(limit)
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def prune(tx: Tx, older_than: datetime, limit: int) -> int:
    """Delete up to ``limit`` rows recorded before ``older_than``, oldest first; returns how many.

    Small batches, each its own short transaction at the caller: the log is never locked for long.
    """
    batch = sa.select(audit.c.id).where(audit.c.at < older_than).order_by(audit.c.id).limit(limit)
    result = await tx.execute(sa.delete(audit).where(audit.c.id.in_(batch.scalar_subquery())))
    return int(result.rowcount)
