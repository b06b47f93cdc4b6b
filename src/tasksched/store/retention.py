"""Pruning finished runs: small deletes, each its own short transaction (the service paces them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import lock_rows
from tasksched.store.tables import run_keys, runs, tasks

SUCCEEDED = ("succeeded",)
# Every other final status: kept as long as failures (they are what people come back to look at).
NOT_SUCCEEDED = ("failed", "timed_out", "skipped", "cancelled")


async def task_policies(tx: Tx) -> list[dict[str, Any]]:
    """Every task's id, retention override and last run (never pruned: the task points at it)."""
    query = sa.select(tasks.c.id, tasks.c.retention, tasks.c.last_run_id).order_by(tasks.c.id)
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def keep_boundary(tx: Tx, task_id: int, keep_last: int) -> int | None:
    """The id of the task's ``keep_last``-th newest run: runs from it on are kept whatever their
    age. None when the task has no more runs than that (nothing of it may be pruned)."""
    query = (
        sa.select(runs.c.id)
        .where(runs.c.task_id == task_id)
        .order_by(runs.c.id.desc())
        .offset(keep_last - 1)
        .limit(1)
    )
    value: int | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def delete_batch(
    tx: Tx,
    task_id: int,
    *,
    below_id: int | None,
    succeeded_before: datetime | None,
    others_before: datetime | None,
    last_run_id: int | None,
    limit: int,
) -> int:
    """Delete up to ``limit`` of the task's final runs older than their cut-off (oldest first);
    returns how many. Queued and running runs never match; on PostgreSQL rows another pruner has
    locked are skipped, so two pruners share the work instead of waiting for each other."""
    ages: list[sa.ColumnElement[bool]] = []
    if succeeded_before is not None:
        ages.append(sa.and_(runs.c.status.in_(SUCCEEDED), runs.c.finished_at < succeeded_before))
    if others_before is not None:
        ages.append(sa.and_(runs.c.status.in_(NOT_SUCCEEDED), runs.c.finished_at < others_before))
    if not ages:
        return 0
    conditions = [runs.c.task_id == task_id, sa.or_(*ages)]
    if below_id is not None:
        conditions.append(runs.c.id < below_id)
    if last_run_id is not None:
        conditions.append(runs.c.id != last_run_id)
    candidates = lock_rows(tx, sa.select(runs.c.id).where(*conditions).order_by(runs.c.id).limit(limit))
    deleted = list(
        (
            await tx.execute(
                sa.delete(runs).where(runs.c.id.in_(candidates.scalar_subquery())).returning(runs.c.id)
            )
        ).scalars()
    )
    if deleted:
        # An idempotency key lives as long as its run.
        await tx.execute(
            sa.delete(run_keys).where(run_keys.c.task_id == task_id, run_keys.c.run_id.in_(deleted))
        )
    return len(deleted)
