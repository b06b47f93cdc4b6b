"""Run rows: recording slots, claiming with leases, finishing by compare-and-set, recovery."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.dialect import (
    hour_bucket,
    insert_ignoring_conflicts,
    insert_ignoring_conflicts_for,
    lock_first,
    lock_rows,
    rows_source,
    unindexed,
)
from tasksched.store.tables import UTCDateTime, run_keys, runs, tasks

RunRow = dict[str, Any]

ACTIVE = ("queued", "running")
# Lists leave the (up to 64 KiB) output out; one run's page shows it.
_LIST_COLUMNS = [c for c in runs.c if c.name != "output"]
# What a worker needs back from a claim: fewer columns, less to convert per run.
_CLAIM_COLUMNS = [
    runs.c[name]
    for name in (
        "id",
        "task_id",
        "task_name",
        "attempt",
        "trigger",
        "scheduled_for",
        "started_at",
        "available_at",
        "input",
    )
]


async def insert(tx: Tx, rows: Sequence[dict[str, Any]]) -> list[RunRow]:
    """Insert runs; a row whose (task, scheduled_for, attempt) exists already is skipped.

    Returns the rows actually inserted: the caller learns which slots it won.
    """
    if not rows:
        return []
    stmt = insert_ignoring_conflicts(tx, runs).returning(
        runs.c.id, runs.c.task_id, runs.c.scheduled_for, runs.c.attempt, runs.c.status
    )
    result = await tx.execute(stmt, list(rows))
    return [dict(r) for r in result.mappings()]


@functools.cache
def _manual_insert(dialect: str, *, with_input: bool, with_type: bool) -> Any:
    """The statement of ``insert_manual``, built once per dialect and form: building it for each
    call (a dozen literals, a SELECT, its cache key) cost more CPU than running it."""
    values: dict[str, sa.ColumnElement[Any]] = {
        "task_id": tasks.c.id,
        "task_name": tasks.c.name,
        "queue": tasks.c.queue,
        "priority": tasks.c.priority,
        "trigger": sa.literal("manual", sa.String),
        "scheduled_for": sa.bindparam("scheduled_for", type_=UTCDateTime()),
        "attempt": sa.literal(1, sa.Integer),
        "status": sa.literal("queued", sa.String),
        "queued_at": sa.bindparam("now", type_=UTCDateTime()),
        "available_at": sa.bindparam("now", type_=UTCDateTime()),
        "cancel_requested": sa.false(),
    }
    where = [tasks.c.id == sa.bindparam("task_id", type_=sa.BigInteger)]
    if with_input:
        values["input"] = sa.bindparam("run_input", type_=runs.c.input.type)
    if with_type:
        where.append(tasks.c.action["type"].as_string() == sa.bindparam("action_type", type_=sa.String))
    select = sa.select(*(v.label(k) for k, v in values.items())).where(*where)
    # The task's retry policy comes back too (a primary-key lookup inside the same statement), so
    # that the answer says "attempt 1 of N" like every other view of a run.
    # SQLAlchemy neither correlates a subquery in RETURNING with the inserted table nor qualifies
    # columns there on SQLite, so both sides are spelled out.
    task = tasks.alias("t")
    retry = (
        sa.select(task.c.retry)
        .where(sa.literal_column("t.id") == sa.literal_column("runs.task_id"))
        .scalar_subquery()
    )
    return (
        insert_ignoring_conflicts_for(dialect, runs)
        .from_select(list(values), select)
        .returning(*runs.c, retry.label("task_retry"))
    )


async def insert_manual(
    tx: Tx,
    task_id: int,
    *,
    scheduled_for: datetime,
    now: datetime,
    run_input: dict[str, Any] | None,
    action_type: str | None,
) -> RunRow | None:
    """Queue a manual run of a task in one statement: INSERT … SELECT from the task's row …
    RETURNING every column, and the task's retry policy as ``task_retry``. None when nothing was inserted: the task does not exist, its action
    is not ``action_type`` (when given), or the slot is taken (the caller tells which)."""
    params: dict[str, Any] = {"task_id": task_id, "scheduled_for": scheduled_for, "now": now}
    if run_input is not None:
        params["run_input"] = run_input
    if action_type is not None:
        params["action_type"] = action_type
    stmt = _manual_insert(
        tx.dialect.name, with_input=run_input is not None, with_type=action_type is not None
    )
    row = (await tx.execute(stmt, params)).mappings().first()
    return dict(row) if row else None


async def claim_key(
    tx: Tx, *, task_id: int, key: str, run_id: int, scheduled_for: datetime, digest: str, now: datetime
) -> bool:
    """Record that ``key`` made run ``run_id`` of the task; False when the key is taken already
    (the primary key decides: on PostgreSQL a concurrent holder of the key is waited for)."""
    stmt = (
        insert_ignoring_conflicts(tx, run_keys)
        .values(
            task_id=task_id,
            key=key,
            run_id=run_id,
            scheduled_for=scheduled_for,
            input_digest=digest,
            created_at=now,
        )
        .returning(run_keys.c.task_id)
    )
    return (await tx.execute(stmt)).first() is not None


async def claim_keys(tx: Tx, rows: Sequence[dict[str, Any]]) -> set[tuple[int, str]]:
    """Record many keys at once ({task_id, key, run_id, scheduled_for, input_digest, created_at});
    returns the (task_id, key) pairs recorded (the others were taken)."""
    if not rows:
        return set()
    stmt = insert_ignoring_conflicts(tx, run_keys).returning(run_keys.c.task_id, run_keys.c.key)
    return {(int(t), str(k)) for t, k in (await tx.execute(stmt, list(rows))).all()}


async def keyed_runs(tx: Tx, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], RunRow]:
    """The key rows of the (task_id, key) pairs that exist, each with its run's row under "run"
    (None if the run is gone)."""
    if not keys:
        return {}
    pairs = list(set(keys))
    found: dict[tuple[int, str], RunRow] = {}
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        query = sa.select(run_keys).where(sa.tuple_(run_keys.c.task_id, run_keys.c.key).in_(chunk))
        for row in (await tx.execute(query)).mappings():
            found[(row["task_id"], row["key"])] = {**row, "run": None}
    ids = [(r["run_id"], r["scheduled_for"]) for r in found.values()]
    by_id: dict[int, RunRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = sa.select(runs).where(
            runs.c.id.in_([i for i, _ in chunk]), runs.c.scheduled_for.in_(list({s for _, s in chunk}))
        )
        by_id.update({r["id"]: dict(r) for r in (await tx.execute(query)).mappings()})
    for key_row in found.values():
        key_row["run"] = by_id.get(key_row["run_id"])
    return found


async def latest_slots(tx: Tx, task_ids: Sequence[int], *, not_before: datetime) -> dict[int, datetime]:
    """The newest ``scheduled_for`` at or after ``not_before`` of each task that has one."""
    if not task_ids:
        return {}
    query = (
        sa.select(runs.c.task_id, sa.func.max(runs.c.scheduled_for))
        .where(runs.c.task_id.in_(list(set(task_ids))), runs.c.scheduled_for >= not_before)
        .group_by(runs.c.task_id)
    )
    return {int(t): latest for t, latest in (await tx.execute(query)).all() if latest is not None}


async def get(tx: Tx, run_id: int) -> RunRow | None:
    row = (await tx.execute(sa.select(runs).where(runs.c.id == run_id))).mappings().first()
    return dict(row) if row else None


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list (or a bulk action) is about; every field narrows, none means all runs."""

    task_id: int | None = None
    statuses: Sequence[str] = ()
    triggers: Sequence[str] = ()
    scheduled_from: datetime | None = None  # inclusive
    scheduled_to: datetime | None = None  # exclusive
    error_contains: str | None = None  # a substring of the error text, case-insensitive
    finished_from: datetime | None = None  # inclusive; what the dashboard's bars count by
    finished_to: datetime | None = None  # exclusive


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(tx: Tx, f: RunFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if f.task_id is not None:
        conditions.append(runs.c.task_id == f.task_id)
    if f.statuses:
        conditions.append(runs.c.status.in_(list(f.statuses)))
    if f.triggers:
        conditions.append(runs.c.trigger.in_(list(f.triggers)))
    if f.scheduled_from is not None:
        conditions.append(runs.c.scheduled_for >= f.scheduled_from)
    if f.scheduled_to is not None:
        conditions.append(runs.c.scheduled_for < f.scheduled_to)
    if f.finished_from is not None:
        conditions.append(runs.c.finished_at >= f.finished_from)
    if f.finished_to is not None:
        conditions.append(runs.c.finished_at < f.finished_to)
    if f.error_contains:
        pattern = f"%{_like_escaped(f.error_contains)}%"
        if tx.dialect.name == "postgresql":
            # ILIKE is what the trigram GIN index (migration 0010) answers.
            conditions.append(runs.c.error.ilike(pattern, escape="\\"))
        else:
            # SQLite's LIKE is case-insensitive for ASCII already; a plain LIKE (not lower(error))
            # lets the planner scan the partial index of runs with an error instead of the table.
            conditions.append(runs.c.error.isnot(None))
            conditions.append(runs.c.error.like(pattern, escape="\\"))
    return conditions


async def list_(
    tx: Tx,
    *,
    task_id: int | None = None,
    statuses: Sequence[str] = (),
    trigger: str | None = None,
    limit: int = 50,
    offset: int = 0,
    where: RunFilter | None = None,
    count_at_most: int | None = None,
) -> tuple[list[RunRow], int]:
    """A page of runs, newest first, and how many match. ``where`` is the full filter; the older
    keyword filters still work (and narrow it further). With ``count_at_most``, counting stops
    there (a count over a long history reads every matching row)."""
    conditions = _conditions(tx, where or RunFilter())
    if task_id is not None:
        conditions.append(runs.c.task_id == task_id)
    if statuses:
        conditions.append(runs.c.status.in_(list(statuses)))
    if trigger:
        conditions.append(runs.c.trigger == trigger)
    query = (
        sa.select(*_LIST_COLUMNS).where(*conditions).order_by(runs.c.id.desc()).limit(limit).offset(offset)
    )
    rows = [dict(r) for r in (await tx.execute(query)).mappings()]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    count = sa.select(sa.func.count()).select_from(runs).where(*conditions)
    if count_at_most is not None:
        matching = sa.select(runs.c.id).where(*conditions).limit(count_at_most).subquery()
        count = sa.select(sa.func.count()).select_from(matching)
    return rows, int((await tx.execute(count)).scalar_one())


async def matching(tx: Tx, where: RunFilter, *, limit: int) -> list[RunRow]:
    """Up to ``limit`` runs matching ``where`` (without their output), oldest first, locked on
    PostgreSQL for the bulk change that reads them."""
    query = sa.select(*_LIST_COLUMNS).where(*_conditions(tx, where)).order_by(runs.c.id).limit(limit)
    return [dict(r) for r in (await tx.execute(lock_rows(tx, query, skip_locked=False))).mappings()]


async def by_ids(tx: Tx, run_ids: Sequence[int]) -> list[RunRow]:
    if not run_ids:
        return []
    query = sa.select(*_LIST_COLUMNS).where(runs.c.id.in_(list(set(run_ids)))).order_by(runs.c.id)
    return [dict(r) for r in (await tx.execute(lock_rows(tx, query, skip_locked=False))).mappings()]


async def slot_attempts(
    tx: Tx, slots: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], list[RunRow]]:
    """Every attempt (id, attempt, status) of each (task_id, scheduled_for) slot, by attempt."""
    if not slots:
        return {}
    found: dict[tuple[int, datetime], list[RunRow]] = {}
    wanted = set(slots)
    for task_id in {t for t, _ in wanted}:
        times = [s for t, s in wanted if t == task_id]
        query = (
            sa.select(runs.c.id, runs.c.task_id, runs.c.scheduled_for, runs.c.attempt, runs.c.status)
            .where(runs.c.task_id == task_id, runs.c.scheduled_for.in_(times))
            .order_by(runs.c.attempt)
        )
        for row in (await tx.execute(query)).mappings():
            found.setdefault((row["task_id"], row["scheduled_for"]), []).append(dict(row))
    return found


async def active_for_tasks(tx: Tx, task_ids: Sequence[int]) -> dict[int, list[RunRow]]:
    if not task_ids:
        return {}
    query = sa.select(runs.c.id, runs.c.task_id, runs.c.status, runs.c.worker).where(
        runs.c.task_id.in_(list(set(task_ids))), runs.c.status.in_(ACTIVE)
    )
    found: dict[int, list[RunRow]] = {}
    for row in (await tx.execute(query)).mappings():
        found.setdefault(row["task_id"], []).append(dict(row))
    return found


async def withdraw_fired_ahead(tx: Tx, task_id: int, *, now: datetime) -> list[datetime]:
    """Delete the task's scheduled runs fired ahead of a slot that has not come yet (still queued,
    not claimable before ``now``); returns their slots. Such a run is the scheduler's preparation,
    not yet an event in the task's history."""
    stmt = (
        sa.delete(runs)
        .where(
            runs.c.task_id == task_id,
            runs.c.status == "queued",
            runs.c.trigger == "schedule",
            runs.c.attempt == 1,
            runs.c.scheduled_for > now,
            runs.c.available_at > now,
        )
        .returning(runs.c.scheduled_for)
    )
    return [r[0] for r in (await tx.execute(stmt)).all()]


async def recent_for_tasks(tx: Tx, task_ids: Sequence[int], per_task: int) -> dict[int, list[RunRow]]:
    """The latest ``per_task`` runs of each task, newest first: one statement, one short index range
    (task_id, id) per task, however many runs a task has."""
    ids = sorted(set(task_ids))
    if not ids or per_task < 1:
        return {}
    columns = (runs.c.id, runs.c.task_id, runs.c.status, runs.c.duration_ms, runs.c.finished_at)
    query: sa.Select[Any] | sa.CompoundSelect[Any]
    if tx.dialect.name == "postgresql":
        # A lateral join over the ids: planned once, whatever the page size.
        wanted = sa.values(sa.column("wanted_id", sa.BigInteger), name="wanted").data([(i,) for i in ids])
        latest = (
            sa.select(*columns)
            .where(runs.c.task_id == wanted.c.wanted_id)
            .order_by(runs.c.id.desc())
            .limit(per_task)
            .lateral("latest")
        )
        query = sa.select(latest).select_from(wanted.join(latest, sa.true()))
    else:
        parts = [
            sa.select(*columns).where(runs.c.task_id == task_id).order_by(runs.c.id.desc()).limit(per_task)
            for task_id in ids
        ]
        # Each part needs its own ORDER BY ... LIMIT: SQLite takes that only inside a subquery.
        query = sa.union_all(*(sa.select(part.subquery()) for part in parts)) if len(parts) > 1 else parts[0]
    found: dict[int, list[RunRow]] = {task_id: [] for task_id in ids}
    for row in (await tx.execute(query)).mappings():
        found[row["task_id"]].append(dict(row))
    for rows in found.values():
        rows.sort(key=lambda row: row["id"], reverse=True)
    return found


async def claim(
    tx: Tx,
    *,
    worker: str,
    queues: Sequence[str] | None,
    limit: int,
    now: datetime,
    lease_until: datetime,
    prefetch_until: datetime | None = None,
) -> list[RunRow]:
    """Take up to ``limit`` queued runs that are due, highest priority first, for ``worker``.

    With ``prefetch_until``, runs that become available by then are taken too; their
    ``started_at`` is their ``available_at``, when the worker will start them.
    """
    horizon = prefetch_until or now
    candidates = (
        sa.select(runs.c.id)
        # The status is written into the statement, not bound: PostgreSQL can then keep one generic
        # plan for the claim instead of planning it on every call (0.6 to 1 ms on a partitioned
        # history, more than running it); a generic plan with a bound status would not know it picks
        # the few queued runs (and scanned a partition: 0.45 s a claim with 3 M runs).
        .where(runs.c.status == sa.literal("queued", sa.String, literal_execute=True))
        .where(runs.c.available_at <= horizon)
        .order_by(runs.c.priority.desc(), runs.c.available_at, runs.c.id)
        .limit(limit)
    )
    if queues is not None:
        candidates = candidates.where(runs.c.queue.in_(list(queues)))
    candidates = lock_rows(tx, candidates)
    stmt = (
        sa.update(runs)
        .where(runs.c.id.in_(candidates.scalar_subquery()))
        .values(
            status="running",
            worker=worker,
            # Typed, or SQLite would store a non-UTC ``now`` as its wall-clock digits.
            started_at=sa.case(
                (runs.c.available_at > now, runs.c.available_at), else_=sa.literal(now, UTCDateTime())
            ),
            lease_until=lease_until,
        )
        .returning(*_CLAIM_COLUMNS)
    )
    return [dict(r) for r in (await tx.execute(stmt)).mappings()]


_OUTCOME_COLUMNS: list[sa.ColumnClause[Any]] = [
    sa.column("id", sa.BigInteger),
    sa.column("status", sa.String),
    sa.column("finished_at", UTCDateTime),
    sa.column("duration_ms", sa.BigInteger),
    sa.column("exit_code", sa.Integer),
    sa.column("http_status", sa.Integer),
    sa.column("output", sa.Text),
    sa.column("error", sa.Text),
    sa.column("reason", sa.Text),
]


async def finish(tx: Tx, outcomes: Sequence[dict[str, Any]], *, worker: str | None = None) -> set[int]:
    """Record outcomes of running runs: [{"id", "status", "finished_at", "duration_ms", …}].

    With ``worker``, only runs that worker still holds are recorded (a worker that lost its lease
    cannot overwrite what the reaper decided). Returns the ids recorded. One statement for the whole
    batch. On PostgreSQL the rows are locked first, in id order, so that two transactions finishing
    or renewing overlapping runs wait for each other instead of deadlocking; and a row locked by
    the worker's own heartbeat is waited for, not skipped (a skipped run would count as lost).
    """
    if not outcomes:
        return set()
    source = rows_source(
        tx,
        "outcome",
        _OUTCOME_COLUMNS,
        [[o["id"], *(o.get(c.name) for c in _OUTCOME_COLUMNS[1:])] for o in outcomes],
    )
    held: list[sa.ColumnElement[bool]] = [unindexed(tx, runs.c.status) == "running"]
    if worker is not None:
        held.append(unindexed(tx, runs.c.worker) == worker)
    stmt = lock_first(tx, sa.update(runs), runs.c.id, runs.c.id.in_(sa.select(source.c.id)), *held)
    stmt = (
        stmt.where(runs.c.id == source.c.id, *held)
        .values(
            status=source.c.status,
            finished_at=source.c.finished_at,
            duration_ms=source.c.duration_ms,
            exit_code=source.c.exit_code,
            http_status=source.c.http_status,
            output=source.c.output,
            error=source.c.error,
            # An outcome without a reason keeps the run's own (a cancel request's: who asked).
            reason=sa.func.coalesce(source.c.reason, runs.c.reason),
            lease_until=None,
        )
        .returning(runs.c.id)
    )
    return {int(r) for r in (await tx.execute(stmt)).scalars()}


async def extend_leases(tx: Tx, worker: str, run_ids: Sequence[int], lease_until: datetime) -> set[int]:
    """Heartbeat: push the lease of runs the worker still holds; returns those it holds."""
    if not run_ids:
        return set()
    held = (runs.c.id.in_(list(run_ids)), runs.c.worker == worker, runs.c.status == "running")
    # Locked in id order, as finishing does: the worker's heartbeat and finisher overlap.
    stmt = lock_first(tx, sa.update(runs), runs.c.id, *held)
    stmt = stmt.where(*held).values(lease_until=lease_until).returning(runs.c.id)
    return {int(r) for r in (await tx.execute(stmt)).scalars()}


async def save_outputs(tx: Tx, outputs: Sequence[tuple[int, str]]) -> None:
    if not outputs:
        return
    stmt = (
        sa.update(runs)
        .where(runs.c.id == sa.bindparam("b_id"), runs.c.status == "running")
        .values(output=sa.bindparam("b_output"))
    )
    await tx.execute(stmt, [{"b_id": run_id, "b_output": text} for run_id, text in outputs])


async def cancel_requested(tx: Tx, run_ids: Sequence[int]) -> set[int]:
    if not run_ids:
        return set()
    query = sa.select(runs.c.id).where(runs.c.id.in_(list(run_ids)), runs.c.cancel_requested.is_(True))
    return {int(r) for r in (await tx.execute(query)).scalars()}


async def request_cancel(tx: Tx, run_ids: Sequence[int], *, reason: str | None = None) -> list[int]:
    """Flag running runs for cancellation; their worker sees the flag and stops them. ``reason``
    (who asked) is kept as the run's reason."""
    if not run_ids:
        return []
    values: dict[str, Any] = {"cancel_requested": True}
    if reason is not None:
        values["reason"] = reason
    stmt = (
        sa.update(runs)
        .where(runs.c.id.in_(list(run_ids)), runs.c.status == "running")
        .values(values)
        .returning(runs.c.id)
    )
    return [int(r) for r in (await tx.execute(stmt)).scalars()]


async def cancel_queued(tx: Tx, run_ids: Sequence[int], *, reason: str, now: datetime) -> list[RunRow]:
    if not run_ids:
        return []
    stmt = (
        sa.update(runs)
        .where(runs.c.id.in_(list(run_ids)), runs.c.status == "queued")
        .values(status="cancelled", reason=reason, finished_at=now, cancel_requested=True)
        .returning(runs.c.id, runs.c.task_id, runs.c.task_name, runs.c.status)
    )
    return [dict(r) for r in (await tx.execute(stmt)).mappings()]


async def end_cancel_requested(tx: Tx, worker: str, run_ids: Sequence[int], *, now: datetime) -> list[RunRow]:
    """Of the runs ``worker`` holds, end those whose cancellation was asked for (a draining worker
    stopped them before it saw the request); returns them (id, task_id, status)."""
    if not run_ids:
        return []
    held = (runs.c.id.in_(list(run_ids)), runs.c.worker == worker, runs.c.status == "running")
    stmt = (
        sa.update(runs)
        .where(*held, runs.c.cancel_requested.is_(True))
        .values(
            status="cancelled",
            reason="cancelled while its worker was stopping",
            lease_until=None,
            finished_at=now,
        )
        .returning(runs.c.id, runs.c.task_id, runs.c.task_name, runs.c.status)
    )
    return [dict(r) for r in (await tx.execute(stmt)).mappings()]


async def release(tx: Tx, worker: str, run_ids: Sequence[int], *, now: datetime) -> list[int]:
    """Hand runs back to the queue unfinished (a draining worker that ran out of grace time).

    A run whose cancellation was already asked for is not queued again: it ends cancelled (see
    ``end_cancel_requested``, which a caller that needs those runs calls first).
    """
    if not run_ids:
        return []
    await end_cancel_requested(tx, worker, run_ids, now=now)
    held = (runs.c.id.in_(list(run_ids)), runs.c.worker == worker, runs.c.status == "running")
    stmt = (
        sa.update(runs)
        .where(*held)
        .values(status="queued", worker=None, lease_until=None, started_at=None, output=None)
        .returning(runs.c.id)
    )
    return [int(r) for r in (await tx.execute(stmt)).scalars()]


async def expired_leases(tx: Tx, now: datetime, limit: int) -> list[RunRow]:
    query = (
        sa.select(*_LIST_COLUMNS)
        .where(runs.c.status == "running", runs.c.lease_until < now)
        .order_by(runs.c.lease_until)
        .limit(limit)
    )
    return [dict(r) for r in (await tx.execute(lock_rows(tx, query))).mappings()]


async def status_counts(tx: Tx, *, finished_since: datetime) -> dict[str, int]:
    # One range of ix_runs_finished_at_status_task_id. Grouped by status as such, SQLite (without
    # statistics) walks a status-first index to skip the sort: every run there is, 0.5 s at 1M runs.
    status = unindexed(tx, runs.c.status)
    query = sa.select(status, sa.func.count()).where(runs.c.finished_at >= finished_since).group_by(status)
    return {status: int(n) for status, n in (await tx.execute(query)).all()}


async def active_counts(tx: Tx) -> tuple[int, int, datetime | None]:
    """(queued, running, oldest queued_at)."""
    query = (
        sa.select(runs.c.status, sa.func.count(), sa.func.min(runs.c.queued_at))
        .where(runs.c.status.in_(ACTIVE))
        .group_by(runs.c.status)
    )
    queued = running = 0
    oldest: datetime | None = None
    for status, n, first in (await tx.execute(query)).all():
        if status == "queued":
            queued, oldest = int(n), first
        else:
            running = int(n)
    return queued, running, oldest


async def hourly_counts(tx: Tx, *, finished_since: datetime) -> list[tuple[str, str, int]]:
    bucket = hour_bucket(tx, runs.c.finished_at).label("hour")
    query = (
        sa.select(bucket, runs.c.status, sa.func.count())
        .where(runs.c.finished_at >= finished_since)
        .group_by(bucket, runs.c.status)
    )
    return [(str(h), str(s), int(n)) for h, s, n in (await tx.execute(query)).all()]


async def latest(
    tx: Tx, *, statuses: Sequence[str], limit: int, recent: datetime | None = None
) -> list[RunRow]:
    """The ``limit`` runs in ``statuses`` that finished last. With ``recent``, those finished since
    then are looked for first, through the finished-at index: when they are enough they are the
    answer, and only otherwise is every run in ``statuses`` read and sorted (a status index range:
    110,000 runs at 1M runs with one in nine failing, 0.1 s on SQLite)."""

    def query(status: sa.ColumnElement[Any], *conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
        return (
            sa.select(*_LIST_COLUMNS)
            .where(status.in_(list(statuses)), *conditions)
            .order_by(runs.c.finished_at.desc(), runs.c.id.desc())
            .limit(limit)
        )

    if recent is not None:
        # The status unindexed: SQLite would otherwise take the claim index's status range.
        recently = query(unindexed(tx, runs.c.status), runs.c.finished_at >= recent)
        found = [dict(r) for r in (await tx.execute(recently)).mappings()]
        if len(found) >= limit:
            return found
    return [dict(r) for r in (await tx.execute(query(runs.c.status))).mappings()]


async def next_available_at(tx: Tx, queues: Sequence[str] | None) -> datetime | None:
    """When the earliest queued run becomes claimable (retries and jittered runs wait)."""
    query = sa.select(runs.c.available_at).where(runs.c.status == "queued")
    if queues is not None:
        query = query.where(runs.c.queue.in_(list(queues)))
    value: datetime | None = (
        await tx.execute(query.order_by(runs.c.available_at).limit(1))
    ).scalar_one_or_none()
    return value


async def latest_slot(tx: Tx, task_id: int, *, not_before: datetime) -> datetime | None:
    """The newest ``scheduled_for`` of a task at or after ``not_before`` (manual runs step past it)."""
    query = sa.select(sa.func.max(runs.c.scheduled_for)).where(
        runs.c.task_id == task_id, runs.c.scheduled_for >= not_before
    )
    value: datetime | None = (await tx.execute(query)).scalar_one_or_none()
    return value


async def slot_range(tx: Tx) -> tuple[datetime, datetime] | None:
    """The earliest and latest slot of any run (None without runs)."""
    row = (
        await tx.execute(sa.select(sa.func.min(runs.c.scheduled_for), sa.func.max(runs.c.scheduled_for)))
    ).one()
    return None if row[0] is None else (row[0], row[1])
