"""The run history's monthly partitions on PostgreSQL: made ahead of time, dropped whole when expired.

On PostgreSQL the ``runs`` table is partitioned by RANGE of ``scheduled_for``, one partition per
calendar month (UTC), named ``runs_pYYYYMM``, plus ``runs_default`` for any slot outside them (a
once-schedule years ahead, history older than the migration found): no insert ever fails for want
of a partition. The scheduler's upkeep makes the current month and ``MONTHS_AHEAD`` more; a month
made while ``runs_default`` holds rows of it takes those rows over in the same transaction.

Monthly, not weekly: most statements find a run by id alone (finishing, heartbeats, the run page),
and each such statement probes every partition's index; a month keeps that a handful of probes
for the default retention (30/90 days) while still letting a whole month go with one DROP.

SQLite has no partitions; every function here is for PostgreSQL only (callers check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store.tables import UTCDateTime, run_keys, runs, tasks

PARENT = "runs"
DEFAULT = "runs_default"
MONTHS_AHEAD = 3
_PREFIX = "runs_p"
# Any constant; the same in every process: two schedulers making the same month wait in turn.
_LOCK_KEY = 7_254_008
# Dropping a partition takes the parent's strongest lock for a moment; behind a long transaction
# it gives up rather than stall every claim (the next upkeep pass tries again).
_DROP_LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class Partition:
    name: str
    start: datetime  # inclusive
    end: datetime  # exclusive


def month_start(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def partition_for(month: datetime) -> Partition:
    start = month_start(month)
    return Partition(f"{_PREFIX}{start:%Y%m}", start, next_month(start))


def _from_name(name: str) -> Partition | None:
    digits = name.removeprefix(_PREFIX)
    if name == digits or len(digits) != 6 or not digits.isdigit():
        return None
    return partition_for(datetime(int(digits[:4]), int(digits[4:]), 1, tzinfo=UTC))


def is_partition(table_name: str) -> bool:
    """Whether a table is one of the run history's partitions (schema comparisons leave them out:
    they are made at run time, not declared)."""
    return table_name == DEFAULT or _from_name(table_name) is not None


def _literal(at: datetime) -> str:
    # DDL takes no bind parameters; the value is our own datetime, never user text.
    return f"'{at.astimezone(UTC):%Y-%m-%d %H:%M:%S}+00'"


async def is_partitioned(tx: Tx) -> bool:
    """Whether ``runs`` is partitioned here (never on SQLite)."""
    if tx.dialect.name != "postgresql":
        return False
    query = sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid"
        " WHERE c.relname = :parent AND c.relnamespace = current_schema()::regnamespace)"
    )
    return bool((await tx.execute(query, {"parent": PARENT})).scalar_one())


async def monthly(tx: Tx) -> list[Partition]:
    """The month partitions that exist, oldest first (``runs_default`` is not one)."""
    query = sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " JOIN pg_class p ON p.oid = i.inhparent"
        " WHERE p.relname = :parent AND p.relnamespace = current_schema()::regnamespace"
    )
    names = (await tx.execute(query, {"parent": PARENT})).scalars()
    found = [p for p in (_from_name(n) for n in names) if p is not None]
    return sorted(found, key=lambda p: p.start)


async def default_rows(tx: Tx) -> int:
    return int((await tx.execute(sa.select(sa.func.count()).select_from(sa.table(DEFAULT)))).scalar_one())


def default_ddl() -> str:
    return f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF {PARENT} DEFAULT"


def month_ddl(part: Partition) -> str:
    """A new, empty month (the migration's way: nothing is in the default partition yet)."""
    return (
        f"CREATE TABLE {part.name} PARTITION OF {PARENT}"
        f" FOR VALUES FROM ({_literal(part.start)}) TO ({_literal(part.end)})"
    )


def months_from(now: datetime, *, ahead: int = MONTHS_AHEAD) -> list[datetime]:
    """This month's start and the ``ahead`` after it."""
    months = [month_start(now)]
    for _ in range(ahead):
        months.append(next_month(months[-1]))
    return months


def months_between(first: datetime, last: datetime) -> list[datetime]:
    """The start of every month from ``first``'s to ``last``'s, both included."""
    months = [month_start(first)]
    while months[-1] < month_start(last):
        months.append(next_month(months[-1]))
    return months


async def ensure_months(tx: Tx, months: list[datetime]) -> list[str]:
    """Make the partitions of ``months`` that are missing; returns the names made.

    Each new month is built beside the table, takes the rows ``runs_default`` holds for it, and is
    then attached (which checks its bounds): a slot that landed in the default partition before its
    month existed moves into it, and no row is ever in two places.
    """
    await tx.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    have = {p.name for p in await monthly(tx)}
    made: list[str] = []
    for part in sorted({partition_for(m) for m in months}, key=lambda p: p.start):
        if part.name in have:
            continue
        bounds = {"lo": part.start, "hi": part.end}
        await tx.execute(sa.text(f"CREATE TABLE {part.name} (LIKE {PARENT})"))
        # Both names are this module's own (a constant, digits of a month): nothing to inject.
        move = (
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE scheduled_for >= :lo AND scheduled_for < :hi"  # noqa: S608
            f" RETURNING *) INSERT INTO {part.name} SELECT * FROM moved"
        )
        await tx.execute(sa.text(move), bounds)
        await tx.execute(
            sa.text(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {part.name}"
                f" FOR VALUES FROM ({_literal(part.start)}) TO ({_literal(part.end)})"
            )
        )
        made.append(part.name)
    return made


async def create_ahead(tx: Tx, now: datetime, *, ahead: int = MONTHS_AHEAD) -> list[str]:
    """Make this month's partition and ``ahead`` more; returns the names made."""
    return await ensure_months(tx, months_from(now, ahead=ahead))


def _table(name: str) -> sa.TableClause:
    return sa.table(
        name,
        sa.column("id", sa.BigInteger),
        sa.column("task_id", sa.BigInteger),
        sa.column("status", sa.String),
        sa.column("finished_at", UTCDateTime),
        sa.column("scheduled_for", UTCDateTime),
    )


async def _holds_kept_run(tx: Tx, name: str, *, finished_since: datetime) -> bool:
    """Whether the partition holds a run that retention keeps whatever its month: queued or
    running, unfinished, finished at or after ``finished_since``, or a task's last run. Index
    seeks and one read of ``tasks``: this is re-checked under the parent's lock."""
    part = _table(name)
    one = sa.select(sa.literal(1)).limit(1)
    checks = [
        one.select_from(part).where(part.c.status.in_(("queued", "running"))),
        one.select_from(part).where(
            sa.or_(part.c.finished_at.is_(None), part.c.finished_at >= finished_since)
        ),
        one.select_from(tasks.join(part, part.c.id == tasks.c.last_run_id)),
    ]
    for check in checks:
        if (await tx.execute(check)).first() is not None:
            return True
    return False


async def _holds_newest_of_a_task(tx: Tx, name: str, keep_last: int) -> bool:
    """Whether some task has fewer than ``keep_last`` runs newer (by id) than its newest run in the
    partition, so that ``keep_last`` still keeps one of them."""
    part = _table(name)
    tops = (
        sa.select(part.c.task_id, sa.func.max(part.c.id).label("top")).group_by(part.c.task_id).subquery("p")
    )
    newer = (
        sa.select(sa.literal(1))
        .select_from(runs)
        .where(runs.c.task_id == tops.c.task_id, runs.c.id > tops.c.top)
        .limit(keep_last)
        .correlate(tops)
        .subquery("newer")
    )
    count = sa.select(sa.func.count()).select_from(newer).correlate(tops).scalar_subquery()
    query = sa.select(sa.literal(1)).select_from(tops).where(count < keep_last).limit(1)
    return (await tx.execute(query)).first() is not None


async def droppable(tx: Tx, part: Partition, *, finished_before: datetime, keep_last: int) -> bool:
    """Whether every run of the partition is one retention would delete: the month ended before
    ``finished_before``, and no run in it is kept (see ``_holds_kept_run``, ``keep_last``)."""
    if part.end > finished_before:
        return False
    if await _holds_kept_run(tx, part.name, finished_since=finished_before):
        return False
    return keep_last <= 0 or not await _holds_newest_of_a_task(tx, part.name, keep_last)


async def drop(tx: Tx, part: Partition, *, finished_before: datetime) -> bool:
    """Drop the partition if, under the parent's lock, it still holds no kept run; True if dropped.

    The caller checked ``droppable`` first, outside the lock (its ``keep_last`` check reads the
    whole partition); what could have changed since — a retry queued into the month, a task's
    last run — is checked again here (index seeks, one read of ``tasks``) while nothing can write to the table.
    """
    await tx.execute(sa.text(f"SET LOCAL lock_timeout = '{_DROP_LOCK_TIMEOUT}'"))
    await tx.execute(sa.text(f"LOCK TABLE {PARENT} IN ACCESS EXCLUSIVE MODE"))
    if await _holds_kept_run(tx, part.name, finished_since=finished_before):
        return False
    await tx.execute(sa.text(f"DROP TABLE {part.name}"))
    # The idempotency keys of the month's runs go with them.
    await tx.execute(
        sa.delete(run_keys).where(run_keys.c.scheduled_for >= part.start, run_keys.c.scheduled_for < part.end)
    )
    return True
