"""The dashboard's and the timeline's reads of run history: late slots, tasks that keep failing, and
the compact spans a timeline draws. Each reads a bounded range of an index (``ix_runs_finished_at``,
the claim index for queued runs, the tasks' due index), never the whole history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import unindexed
from tasksched.store.tables import runs, tasks

FAILED = ("failed", "timed_out")
ACTIVE = ("queued", "running")
SPAN_COLUMNS = [
    runs.c.id,
    runs.c.task_id,
    runs.c.task_name,
    runs.c.attempt,
    runs.c.status,
    runs.c.available_at,
    runs.c.started_at,
    runs.c.finished_at,
]


async def late_slots(tx: Tx, *, before: datetime) -> dict[str, Any]:
    """Slots due before ``before`` and not started: not fired yet (an enabled task whose next slot
    has passed) or fired and queued but not claimed (claimable since before then)."""
    unfired = (
        await tx.execute(
            sa.select(sa.func.count(), sa.func.min(tasks.c.next_run_at)).where(
                tasks.c.enabled.is_(True), tasks.c.next_run_at <= before
            )
        )
    ).one()
    waiting = (
        await tx.execute(
            sa.select(sa.func.count(), sa.func.min(runs.c.available_at)).where(
                runs.c.status == "queued", runs.c.available_at <= before
            )
        )
    ).one()
    oldest = [t for t in (unfired[1], waiting[1]) if t is not None]
    return {
        "unfired": int(unfired[0]),
        "waiting": int(waiting[0]),
        "oldest_due_at": min(oldest) if oldest else None,
    }


async def failing_tasks(tx: Tx, *, since: datetime, limit: int) -> list[dict[str, Any]]:
    """Tasks with failed or timed-out runs finished since ``since``, most failures first: per task
    the failures, the runs finished, and its latest failed run (id, status, when, error)."""
    failed = sa.case((runs.c.status.in_(FAILED), 1), else_=0)
    failures = sa.func.sum(failed).label("failures")
    last_failed_at = sa.func.max(sa.case((runs.c.status.in_(FAILED), runs.c.finished_at), else_=None))
    # One range of ix_runs_finished_at_status_task_id, grouped in a temporary b-tree. Grouped by the
    # column as such, SQLite (without statistics) walks a task-first index instead: every run there is.
    task_id = unindexed(tx, runs.c.task_id)
    grouped = (
        sa.select(task_id.label("task_id"), failures, sa.func.count().label("finished"))
        .where(runs.c.finished_at >= since)
        .group_by(task_id)
        .having(sa.func.sum(failed) > 0)
        .order_by(failures.desc(), last_failed_at.desc(), task_id)
        .limit(limit)
        .subquery("g")
    )
    # Each task's latest failure: one seek down (task_id, status, finished_at) per task listed.
    inner = runs.alias("r")
    last_run = (
        sa.select(inner.c.id)
        .where(inner.c.task_id == grouped.c.task_id, inner.c.status.in_(FAILED), inner.c.finished_at >= since)
        .order_by(inner.c.finished_at.desc(), inner.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    query = sa.select(
        grouped.c.task_id, grouped.c.failures, grouped.c.finished, last_run.label("last_run_id")
    )
    groups = [dict(r) for r in (await tx.execute(query)).mappings()]
    if not groups:
        return []
    last_ids = [int(g["last_run_id"]) for g in groups]
    latest = {
        int(r["id"]): dict(r)
        for r in (
            await tx.execute(
                sa.select(runs.c.id, runs.c.task_name, runs.c.status, runs.c.finished_at, runs.c.error).where(
                    runs.c.id.in_(last_ids)
                )
            )
        ).mappings()
    }
    out = []
    for g in groups:
        last = latest.get(int(g["last_run_id"]))
        if last is None:  # pruned between the two statements
            continue
        out.append(
            {
                "task_id": int(g["task_id"]),
                "task_name": last["task_name"],
                "failures": int(g["failures"]),
                "finished": int(g["finished"]),
                "last_run_id": int(last["id"]),
                "last_status": last["status"],
                "last_failed_at": last["finished_at"],
                "last_error": last["error"],
            }
        )
    # A subquery's order is not kept: sort again as the grouping did.
    out.sort(key=lambda t: (-t["failures"], -t["last_failed_at"].timestamp(), t["task_id"]))
    return out


async def spans(
    tx: Tx,
    *,
    start: datetime,
    end: datetime,
    finished_before: datetime,
    task_id: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Runs that overlap [start, end): finished in [start, ``finished_before``) and queued before
    ``end``, plus the queued and running ones queued before ``end``. At most ``limit`` (the latest
    finished kept, active ones first) and whether more matched.

    ``finished_before`` bounds the index range read: a run that finished much later than ``end``
    (a day later, say) is left out rather than reading every run finished since.
    """
    narrow: list[sa.ColumnElement[bool]] = [runs.c.queued_at < end]
    if task_id is not None:
        narrow.append(runs.c.task_id == task_id)
    active_query = (
        sa.select(*SPAN_COLUMNS)
        .where(runs.c.status.in_(ACTIVE), *narrow)
        .order_by(runs.c.id.desc())
        .limit(limit + 1)
    )
    rows = [dict(r) for r in (await tx.execute(active_query)).mappings()]
    room = limit + 1 - len(rows)
    if room > 0:
        finished_query = (
            sa.select(*SPAN_COLUMNS)
            .where(runs.c.finished_at >= start, runs.c.finished_at < finished_before, *narrow)
            .order_by(runs.c.finished_at.desc(), runs.c.id.desc())
            .limit(room)
        )
        rows += [dict(r) for r in (await tx.execute(finished_query)).mappings()]
    truncated = len(rows) > limit
    return rows[:limit], truncated
