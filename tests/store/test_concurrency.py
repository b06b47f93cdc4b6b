"""Racing writers through separate engines, as separate processes would race.

On PostgreSQL the claims run truly in parallel (row locks, SKIP LOCKED); on SQLite two ``Database``
objects on one file contend for its single write lock (BEGIN IMMEDIATE, then the busy timeout): no
"database is locked", and still no run handed out twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import sqlalchemy as sa

from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.engine import Database
from tasksched.store.tables import runs
from tests.store.rows import T0, add_task, at, make_run_values

RUNS = 500
BATCH = 7


async def claim_until_empty(db: Database, worker: str) -> list[list[int]]:
    batches: list[list[int]] = []
    while True:
        async with db.write() as tx:
            claimed = await run_store.claim(
                tx, worker=worker, queues=["default"], limit=BATCH, now=T0, lease_until=at(30)
            )
        if not claimed:
            return batches
        batches.append([r["id"] for r in claimed])
        await asyncio.sleep(0)


async def test_concurrent_claimers_never_share_a_run(db: Database, other_db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        rows = [make_run_values(task, scheduled_for=at(i), priority=i % 3) for i in range(RUNS)]
        await run_store.insert(tx, rows)
        other = await add_task(tx, queue="elsewhere")
        await run_store.insert(tx, [make_run_values(other)])

    # Two engines, two claim loops on each: four connections racing for the same queue.
    claimers = {f"{name}-{i}": database for name, database in (("a", db), ("b", other_db)) for i in range(2)}
    results = await asyncio.gather(*(claim_until_empty(d, w) for w, d in claimers.items()))

    got = {
        worker: [i for batch in batches for i in batch]
        for worker, batches in zip(claimers, results, strict=True)
    }
    every = [i for ids in got.values() for i in ids]
    assert [i for i, n in Counter(every).items() if n > 1] == []
    assert len(every) == RUNS
    assert all(len(batch) <= BATCH for batches in results for batch in batches)
    # Both engines took part (the race was real, not one claimer draining the queue alone).
    assert got["a-0"] + got["a-1"]
    assert got["b-0"] + got["b-1"]

    async with db.read() as tx:
        stored = (await tx.execute(sa.select(runs.c.id, runs.c.worker, runs.c.status))).all()
    owner = {i: worker for worker, ids in got.items() for i in ids}
    for run_id, worker, status in stored:
        if run_id in owner:
            assert (worker, status) == (owner[run_id], "running")
        else:  # the run in the other queue
            assert (worker, status) == (None, "queued")


async def test_racing_schedulers_record_each_slot_once(db: Database, other_db: Database) -> None:
    """Both insert the same slots (same order, as both follow next_run_at): each slot is won once."""
    async with db.write() as tx:
        task = await add_task(tx)
    slots = [make_run_values(task, scheduled_for=at(i)) for i in range(200)]

    async def fire(database: Database) -> list[Any]:
        won: list[Any] = []
        for start in range(0, len(slots), 20):
            async with database.write() as tx:
                won += [r["scheduled_for"] for r in await run_store.insert(tx, slots[start : start + 20])]
            await asyncio.sleep(0)
        return won

    results = await asyncio.gather(fire(db), fire(other_db), fire(db), fire(other_db))
    every = [s for won in results for s in won]
    assert sorted(every) == [at(i) for i in range(200)]


async def test_due_tasks_go_to_one_scheduler(db: Database, other_db: Database) -> None:
    """While one firing transaction holds the due tasks, another gets none of them."""
    async with db.write() as tx:
        for i in range(5):
            await add_task(tx, next_run_at=at(-i))
    first_has_them = asyncio.Event()
    release = asyncio.Event()

    async def first() -> list[int]:
        async with db.write() as tx:
            due = await task_store.due(tx, T0, limit=100)
            first_has_them.set()
            await release.wait()
            await task_store.advance(tx, [{"id": t["id"], "next_run_at": at(60)} for t in due])
        return [t["id"] for t in due]

    async def second() -> list[int]:
        await first_has_them.wait()
        async with other_db.write() as tx:
            return [t["id"] for t in await task_store.due(tx, T0, limit=100)]

    one = asyncio.create_task(first())
    two = asyncio.create_task(second())
    await first_has_them.wait()
    await asyncio.sleep(0.1)  # PostgreSQL: the second has skipped the locked rows; SQLite: it waits
    release.set()
    got_first, got_second = await one, await two
    assert len(got_first) == 5
    assert set(got_first).isdisjoint(got_second)


async def test_finishing_waits_for_the_workers_own_heartbeat(db: Database, other_db: Database) -> None:
    """A heartbeat transaction renewing a lease must not make finishing (which records only the
    runs the worker holds) answer "not yours": the worker would drop the outcome, and the reaper would
    later fail and retry a run that had succeeded."""
    async with db.write() as tx:
        task = await add_task(tx)
        await run_store.insert(tx, [make_run_values(task, status="running", worker="w", lease_until=at(30))])
        (run_id,) = (await tx.execute(sa.select(runs.c.id))).scalars()
    renewing = asyncio.Event()
    release = asyncio.Event()

    async def heartbeat() -> set[int]:
        async with db.write() as tx:
            held = await run_store.extend_leases(tx, "w", [run_id], at(60))
            renewing.set()
            await release.wait()
        return held

    async def finish() -> set[int]:
        await renewing.wait()
        async with other_db.write() as tx:
            return await run_store.finish(
                tx, [{"id": run_id, "status": "succeeded", "finished_at": at(1)}], worker="w"
            )

    beat, done = asyncio.create_task(heartbeat()), asyncio.create_task(finish())
    await renewing.wait()
    await asyncio.sleep(0.1)
    release.set()
    assert await beat == {run_id}
    assert await done == {run_id}
    async with db.read() as tx:
        assert (await run_store.get(tx, run_id) or {})["status"] == "succeeded"


async def test_reading_a_task_for_update_waits_for_the_scheduler(db: Database, other_db: Database) -> None:
    """Editing or deleting a task reads it ``for_update``: while a firing pass holds the row, that
    read must wait and find the task, not report it missing (the API would answer 404)."""
    async with db.write() as tx:
        task = await add_task(tx, next_run_at=at(-1))
    firing = asyncio.Event()
    release = asyncio.Event()

    async def fire() -> None:
        async with db.write() as tx:
            assert [t["id"] for t in await task_store.due(tx, T0, limit=10)] == [task["id"]]
            firing.set()
            await release.wait()
            await task_store.advance(tx, [{"id": task["id"], "next_run_at": at(59)}])

    async def edit() -> dict[str, Any] | None:
        await firing.wait()
        async with other_db.write() as tx:
            return await task_store.get(tx, task["id"], for_update=True)

    fired, edited = asyncio.create_task(fire()), asyncio.create_task(edit())
    await firing.wait()
    await asyncio.sleep(0.1)
    release.set()
    await fired
    row = await edited
    assert row is not None
    assert row["next_run_at"] == at(59)  # read after the scheduler's commit
