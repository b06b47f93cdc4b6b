"""The queries behind ``/metrics`` and the status page: each an index seek or a small aggregate.

A scrape runs all of them; with 10,000 tasks it must stay in the milliseconds (see docs/operations.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import minute_bucket
from tasksched.store.tables import runs, tasks, workers


async def queues(tx: Tx) -> dict[str, tuple[int, datetime | None]]:
    """Per queue: runs queued, and when the earliest of them became (or becomes) claimable.

    Queues that tasks name but that hold nothing are listed with zero, so their gauges read 0
    rather than vanish.
    """
    query = (
        sa.select(runs.c.queue, sa.func.count(), sa.func.min(runs.c.available_at))
        .where(runs.c.status == "queued")
        .group_by(runs.c.queue)
    )
    found: dict[str, tuple[int, datetime | None]] = {
        str(q): (0, None) for q in (await tx.execute(sa.select(tasks.c.queue).distinct())).scalars()
    }
    for queue, n, earliest in (await tx.execute(query)).all():
        found[str(queue)] = (int(n), earliest)
    return found


async def running(tx: Tx) -> int:
    query = sa.select(sa.func.count()).select_from(runs).where(runs.c.status == "running")
    return int((await tx.execute(query)).scalar_one())


async def live_workers(tx: Tx, *, seen_since: datetime) -> tuple[int, int, int]:
    """(workers alive, their slots, slots busy): workers that heartbeat since ``seen_since``."""
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(workers.c.concurrency), 0),
        sa.func.coalesce(sa.func.sum(workers.c.running), 0),
    ).where(workers.c.heartbeat_at >= seen_since, workers.c.stopped_at.is_(None))  # fmt: skip
    alive, slots, busy = (await tx.execute(query)).one()
    return int(alive), int(slots), int(busy)


async def earliest_due(tx: Tx) -> datetime | None:
    """The earliest ``next_run_at`` of an enabled task (a slot still unfired long after it is overdue)."""
    query = (
        sa.select(tasks.c.next_run_at)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at.is_not(None))
        .order_by(tasks.c.next_run_at)
        .limit(1)
    )
    value: datetime | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def task_marks(tx: Tx) -> list[dict[str, Any]]:
    """Per task: name, its last success (finished_at) and its last start, from the runs themselves.

    Each is a correlated MAX over an index that leads with (task_id, …): one seek per task.
    """
    inner = runs.alias("r")
    last_success = (
        sa.select(sa.func.max(inner.c.finished_at))
        .where(inner.c.task_id == tasks.c.id, inner.c.status == "succeeded")
        .scalar_subquery()
    )
    last_start = (
        sa.select(sa.func.max(inner.c.started_at)).where(inner.c.task_id == tasks.c.id).scalar_subquery()
    )
    query = sa.select(
        tasks.c.id, tasks.c.name, last_success.label("last_success_at"), last_start.label("last_start_at")
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def minute_counts(tx: Tx, *, finished_since: datetime) -> list[tuple[str, str, int]]:
    """(minute as ISO text, status, runs) for runs finished since then."""
    bucket = minute_bucket(tx, runs.c.finished_at).label("minute")
    query = (
        sa.select(bucket, runs.c.status, sa.func.count())
        .where(runs.c.finished_at >= finished_since)
        .group_by(bucket, runs.c.status)
    )
    return [(str(m), str(s), int(n)) for m, s, n in (await tx.execute(query)).all()]
