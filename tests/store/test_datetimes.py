"""Datetimes go in aware and come out aware UTC, exact to the microsecond; naive ones are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.engine import Database
from tests.store.rows import T0, add_runs, add_task, at, make_task_values

IST = timezone(timedelta(hours=5, minutes=30))
PST = timezone(timedelta(hours=-8))

INSTANTS = [
    pytest.param(datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC), id="whole-second"),
    pytest.param(datetime(2026, 6, 1, 12, 0, 0, 1, tzinfo=UTC), id="one-microsecond"),
    pytest.param(datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), id="last-microsecond-of-year"),
    pytest.param(datetime(2027, 3, 28, 1, 30, 0, 123_456, tzinfo=IST), id="non-utc-offset"),
    pytest.param(datetime(1970, 1, 1, 0, 0, 0, tzinfo=UTC), id="epoch"),
    pytest.param(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), id="far-future"),
]


@pytest.mark.parametrize("when", INSTANTS)
async def test_round_trip_is_aware_utc_and_exact(db: Database, when: datetime) -> None:
    async with db.write() as tx:
        inserted = await add_task(tx, next_run_at=when, created_at=when)
    async with db.read() as tx:
        row = await task_store.get(tx, inserted["id"])
    assert row is not None
    for got in (inserted["next_run_at"], row["next_run_at"], row["created_at"]):
        assert got == when
        assert got.utcoffset() == timedelta(0)
        assert got.tzinfo is not None
        assert got.microsecond == when.astimezone(UTC).microsecond


async def test_comparisons_are_by_instant_whatever_the_offset(db: Database) -> None:
    """due() compares in SQL: a non-UTC ``now`` must mean the same instant as its UTC form."""
    async with db.write() as tx:
        early = await add_task(tx, next_run_at=T0)
        await add_task(tx, next_run_at=T0 + timedelta(microseconds=1))
    async with db.write() as tx:
        due = await task_store.due(tx, T0.astimezone(PST), limit=10)
    assert [t["id"] for t in due] == [early["id"]]


@pytest.mark.parametrize("column", ["next_run_at", "created_at", "schedule_anchor"])
async def test_naive_datetimes_are_refused_on_write(db: Database, column: str) -> None:
    values = make_task_values(**{column: datetime(2026, 6, 1, 12, 0, 0)})
    with pytest.raises(sa.exc.StatementError, match="naive datetime") as caught:
        async with db.write() as tx:
            await task_store.insert(tx, values)
    assert isinstance(caught.value.orig, ValueError)
    async with db.read() as tx:
        assert (await task_store.list_(tx))[1] == 0


async def test_naive_datetimes_are_refused_in_queries(db: Database) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        async with db.read() as tx:
            await task_store.earliest_next_run(tx, after=datetime(2026, 6, 1))


def pst(seconds: float) -> datetime:
    """``at(seconds)`` written in another offset: the same instant, other wall-clock digits."""
    return at(seconds).astimezone(PST)


async def test_every_write_path_stores_the_instant_not_the_wall_clock(db: Database) -> None:
    """Values reach SQL as assignments, bound parameters of executemany, CASE branches…: each must
    be converted to UTC (SQLite stores naive UTC text, so a missed conversion shifts the time)."""
    async with db.write() as tx:
        task = await add_task(tx)
        queued = await add_runs(tx, task, {"available_at": at(-10)}, {"available_at": at(0.5)}, {})
    ran, prefetched, cancelled = (r["id"] for r in queued)
    async with db.write() as tx:
        await task_store.update(tx, task["id"], {"updated_at": pst(1)}, expected_version=None)
        await task_store.advance(tx, [{"id": task["id"], "next_run_at": pst(2)}])
        await task_store.record_last_runs(
            tx, [{"id": task["id"], "run_id": ran, "status": "x", "at": pst(3)}]
        )
        await run_store.cancel_queued(tx, [cancelled], reason="r", now=pst(4))
        claimed = await run_store.claim(
            tx, worker="w", queues=None, limit=5, now=pst(0), lease_until=pst(30), prefetch_until=pst(1)
        )
        await run_store.extend_leases(tx, "w", [prefetched], pst(40))
        await run_store.finish(tx, [{"id": ran, "status": "succeeded", "finished_at": pst(5)}])
    assert {r["id"]: r["started_at"] for r in claimed} == {ran: at(0), prefetched: at(0.5)}
    async with db.read() as tx:
        stored_task = await task_store.get(tx, task["id"])
        stored_runs = {r: await run_store.get(tx, r) for r in (ran, prefetched, cancelled)}
    assert stored_task is not None
    assert (stored_task["updated_at"], stored_task["next_run_at"], stored_task["last_run_at"]) == (
        at(1),
        at(2),
        at(3),
    )
    got = {
        name: {k: v for k, v in (stored_runs[i] or {}).items() if k.endswith(("_at", "_until"))}
        for name, i in (("ran", ran), ("prefetched", prefetched), ("cancelled", cancelled))
    }
    assert got["ran"] == {
        "queued_at": T0,
        "available_at": at(-10),
        "started_at": at(0),
        "finished_at": at(5),
        "lease_until": None,
    }
    assert got["prefetched"] == {
        "queued_at": T0,
        "available_at": at(0.5),
        "started_at": at(0.5),
        "finished_at": None,
        "lease_until": at(40),
    }
    assert got["cancelled"]["finished_at"] == at(4)
    async with db.write() as tx:  # and comparisons in SQL agree
        assert [r["id"] for r in await run_store.expired_leases(tx, pst(41), 10)] == [prefetched]
        assert await run_store.expired_leases(tx, pst(40), 10) == []
