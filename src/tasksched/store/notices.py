"""The notification outbox: notices, their delivery attempts, the rules' per-task state, and the
reads the scheduler's checks make (late slots, long runs, tasks without a recent success).

Claiming is a lease, as for runs: a notice belongs to a notifier until ``lease_until``; one whose
notifier died is claimed again once its lease has lapsed. On PostgreSQL competing notifiers skip
each other's locked rows (``FOR UPDATE SKIP LOCKED``); on SQLite the claim is one UPDATE inside the
single writer's transaction, so it is atomic.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import insert_ignoring_conflicts, lock_rows, rows_source, upsert
from tasksched.store.tables import UTCDateTime, channels, notice_attempts, notices, notify_state, runs, tasks

NoticeRow = dict[str, Any]


async def insert(tx: Tx, rows: Sequence[dict[str, Any]]) -> int:
    """Write notices; one whose (channel, dedupe key) is already there is left as it is.

    Returns how many were new.
    """
    new = 0
    for row in rows:  # few per transaction; one by one so that the count is exact on both databases
        result = await tx.execute(insert_ignoring_conflicts(tx, notices).values(row))
        new += result.rowcount or 0
    return new


def _of_enabled_channels() -> sa.ColumnElement[bool]:
    """A disabled channel's notices wait for it to be enabled again."""
    return notices.c.channel_id.in_(sa.select(channels.c.id).where(channels.c.enabled.is_(True)))


async def claim(tx: Tx, *, worker: str, now: datetime, lease_until: datetime, limit: int) -> list[NoticeRow]:
    """Take up to ``limit`` notices due for an attempt: pending ones whose time has come, and ones
    whose notifier's lease lapsed, of enabled channels. Each claim counts as an attempt."""
    due = sa.or_(
        sa.and_(notices.c.status == "pending", notices.c.next_attempt_at <= now),
        sa.and_(notices.c.status == "sending", notices.c.lease_until < now),
    )
    candidates = lock_rows(
        tx, sa.select(notices.c.id).where(due, _of_enabled_channels()).order_by(notices.c.id).limit(limit)
    )
    stmt = (
        sa.update(notices)
        .where(notices.c.id.in_(candidates.scalar_subquery()))
        .values(status="sending", claimed_by=worker, lease_until=lease_until, attempts=notices.c.attempts + 1)
        .returning(*notices.c)
    )
    return sorted((dict(r) for r in (await tx.execute(stmt)).mappings()), key=lambda r: r["id"])


async def settle(tx: Tx, notice_id: int, *, worker: str, attempt: int, values: dict[str, Any]) -> bool:
    """Record the end of an attempt if ``worker`` still holds it (compare-and-set): a notifier whose
    lease lapsed and whose notice was claimed again cannot overwrite the newer attempt's outcome."""
    stmt = (
        notices.update()
        .where(
            notices.c.id == notice_id,
            notices.c.status == "sending",
            notices.c.claimed_by == worker,
            notices.c.attempts == attempt,
        )
        .values(values)
    )
    return bool((await tx.execute(stmt)).rowcount)


async def record_attempt(tx: Tx, values: dict[str, Any]) -> None:
    await tx.execute(notice_attempts.insert().values(values))


async def next_attempt_at(tx: Tx) -> datetime | None:
    """The earliest time a notice becomes due (pending, or a lease that lapses)."""
    enabled = _of_enabled_channels()
    pending = sa.select(sa.func.min(notices.c.next_attempt_at)).where(notices.c.status == "pending", enabled)
    leased = sa.select(sa.func.min(notices.c.lease_until)).where(notices.c.status == "sending", enabled)
    times = [(await tx.execute(q)).scalar_one_or_none() for q in (pending, leased)]
    known = [t for t in times if t is not None]
    return min(known) if known else None


async def get(tx: Tx, notice_id: int) -> NoticeRow | None:
    row = (await tx.execute(sa.select(notices).where(notices.c.id == notice_id))).mappings().first()
    return dict(row) if row else None


async def list_(
    tx: Tx,
    *,
    task_id: int | None,
    run_id: int | None,
    status: str | None,
    channel_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[NoticeRow], int]:
    conditions = []
    if task_id is not None:
        conditions.append(notices.c.task_id == task_id)
    if run_id is not None:
        conditions.append(notices.c.run_id == run_id)
    if status is not None:
        conditions.append(notices.c.status == status)
    if channel_id is not None:
        conditions.append(notices.c.channel_id == channel_id)
    query = sa.select(notices).where(*conditions).order_by(notices.c.id.desc()).limit(limit).offset(offset)
    rows = [dict(r) for r in (await tx.execute(query)).mappings()]
    total = (
        await tx.execute(sa.select(sa.func.count()).select_from(notices).where(*conditions))
    ).scalar_one()
    return rows, int(total)


async def attempts_of(tx: Tx, notice_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {i: [] for i in notice_ids}
    if not notice_ids:
        return found
    query = (
        sa.select(notice_attempts)
        .where(notice_attempts.c.notice_id.in_(list(notice_ids)))
        .order_by(notice_attempts.c.notice_id, notice_attempts.c.attempt, notice_attempts.c.id)
    )
    for row in (await tx.execute(query)).mappings():
        found[row["notice_id"]].append(dict(row))
    return found


# -- the rules' state --------------------------------------------------------------------------


async def lock_states(tx: Tx, task_ids: Sequence[int], now: datetime) -> dict[int, dict[str, Any]]:
    """The rules' state of these tasks, locked until the transaction ends (created when missing).

    Two workers finishing runs of one task at once must not both count from the same number of
    failures in a row: on PostgreSQL the second waits for the first's commit. (Today the task's
    last-run update already makes it wait earlier; this lock keeps the count right without relying
    on that.) Rows are created, then locked, in task order, so two such transactions cannot deadlock.
    """
    ids = sorted(set(task_ids))
    if not ids:
        return {}
    for task_id in ids:
        # A new row starts from the task's last success so far (a "no success" check needs it).
        last_success = (
            sa.select(sa.func.max(runs.c.finished_at))
            .where(runs.c.task_id == task_id, runs.c.status == "succeeded")
            .scalar_subquery()
        )
        fresh = {
            "task_id": task_id,
            "consecutive_failures": 0,
            "failure_noticed": False,
            "last_success_at": last_success,
            "updated_at": now,
        }
        await tx.execute(insert_ignoring_conflicts(tx, notify_state).values(fresh))
    query = sa.select(notify_state).where(notify_state.c.task_id.in_(ids)).order_by(notify_state.c.task_id)
    query = lock_rows(tx, query, skip_locked=False)
    return {r["task_id"]: dict(r) for r in (await tx.execute(query)).mappings()}


async def failing(tx: Tx, task_ids: Sequence[int]) -> dict[int, bool]:
    """Of these tasks, those whose state counts failures or a noticed failure, with whether one was
    noticed (rows locked: see lock_states). Usually none."""
    if not task_ids:
        return {}
    query = (
        sa.select(notify_state.c.task_id, notify_state.c.failure_noticed)
        .where(
            notify_state.c.task_id.in_(sorted(set(task_ids))),
            sa.or_(notify_state.c.failure_noticed.is_(True), notify_state.c.consecutive_failures > 0),
        )
        .order_by(notify_state.c.task_id)
    )
    rows = await tx.execute(lock_rows(tx, query, skip_locked=False))
    return {int(task_id): bool(noticed) for task_id, noticed in rows}


async def record_successes(tx: Tx, last: dict[int, datetime]) -> None:
    """Tasks that succeeded at these times: no failure in a row, nothing noticed. One statement."""
    if not last:
        return
    source = rows_source(
        tx,
        "succeeded",
        [sa.column("task_id", sa.BigInteger), sa.column("at", UTCDateTime)],
        sorted(last.items()),
    )
    stmt = (
        notify_state.update()
        .where(notify_state.c.task_id == source.c.task_id)
        .values(
            consecutive_failures=0, failure_noticed=False, last_success_at=source.c.at, updated_at=source.c.at
        )
    )
    await tx.execute(stmt)


async def save_states(tx: Tx, rows: Sequence[dict[str, Any]]) -> None:
    for row in rows:
        await tx.execute(upsert(tx, notify_state, ["task_id"], row))


# -- what the scheduler's checks read ----------------------------------------------------------

# What a rule needs of a task: whom to tell (tags), which rules (notify).
TASK_COLUMNS = tuple(tasks.c[name] for name in ("id", "name", "tags", "notify"))
LAST_RUN_COLUMNS = (tasks.c.last_run_status, tasks.c.last_run_at)


async def late_queued(tx: Tx, *, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Scheduled first attempts still queued although they became available before ``before``."""
    query = (
        sa.select(runs.c.id, runs.c.task_id, runs.c.scheduled_for, runs.c.available_at)
        .where(
            runs.c.status == "queued",
            runs.c.trigger == "schedule",
            runs.c.attempt == 1,
            runs.c.available_at <= before,
        )
        .order_by(runs.c.available_at)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def overdue_tasks(tx: Tx, *, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Enabled tasks whose next slot was due before ``before`` and has not been fired."""
    query = (
        sa.select(*TASK_COLUMNS, tasks.c.next_run_at)
        .where(tasks.c.enabled.is_(True), tasks.c.next_run_at <= before)
        .order_by(tasks.c.next_run_at)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def running_since(tx: Tx, *, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Runs still running that started before ``before``."""
    query = (
        sa.select(runs.c.id, runs.c.task_id, runs.c.started_at, runs.c.attempt)
        .where(runs.c.status == "running", runs.c.started_at <= before)
        .order_by(runs.c.started_at)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def success_watch(tx: Tx, *, own_rule_only: bool, limit: int) -> list[dict[str, Any]]:
    """Enabled tasks with when they were created and last succeeded, as the rules' state knows it
    (``last_success_at``) and as the task's last run says (``last_run_success_at``): the state is
    kept only while a channel exists, the last run only until the next one. ``own_rule_only``:
    only tasks whose own rules set ``no_success_hours`` (the global rules do not)."""
    last_ok = sa.case((tasks.c.last_run_status == "succeeded", tasks.c.last_run_at), else_=sa.null())
    query = (
        sa.select(
            *TASK_COLUMNS,
            tasks.c.created_at,
            notify_state.c.last_success_at,
            sa.type_coerce(last_ok, UTCDateTime()).label("last_run_success_at"),
        )
        .select_from(tasks.outerjoin(notify_state, notify_state.c.task_id == tasks.c.id))
        .where(tasks.c.enabled.is_(True))
        .order_by(tasks.c.id)
        .limit(limit)
    )
    if own_rule_only:
        query = query.where(tasks.c.notify["no_success_hours"].as_float().is_not(None))
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def run_summaries(tx: Tx, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What a notice says about a run: its attempt, slot, start and error."""
    if not run_ids:
        return {}
    query = sa.select(runs.c.id, runs.c.attempt, runs.c.scheduled_for, runs.c.started_at, runs.c.error).where(
        runs.c.id.in_(list(set(run_ids)))
    )
    return {r["id"]: dict(r) for r in (await tx.execute(query)).mappings()}


async def existing_task_ids(tx: Tx, task_ids: Sequence[int]) -> set[int]:
    query = sa.select(tasks.c.id).where(tasks.c.id.in_(list(set(task_ids))))
    return {int(i) for i in (await tx.execute(query)).scalars()}
