"""The run history's monthly partitions on PostgreSQL: where rows land, months made, months dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
import sqlalchemy as sa

from tasksched.store import migrate, partitions
from tasksched.store import runs as run_store
from tasksched.store.engine import Database, connect
from tests.conftest import fresh_pg_database
from tests.store.rows import add_runs, add_task

pytestmark = pytest.mark.postgres

JAN_2020 = datetime(2020, 1, 1, tzinfo=UTC)
# The cut-off the drop tests use: everything finished before it is past retention.
BEFORE = datetime(2021, 1, 1, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def pg() -> AsyncIterator[Database]:
    with fresh_pg_database() as url:
        db = connect(url)
        try:
            await migrate.upgrade(db)
            yield db
        finally:
            await db.dispose()


async def where_is(db: Database, run_id: int) -> str:
    async with db.read() as tx:
        query = sa.text("SELECT tableoid::regclass::text FROM runs WHERE id = :id")
        return str((await tx.execute(query, {"id": run_id})).scalar_one())


async def test_the_migration_partitions_runs_by_month_with_months_ahead(pg: Database) -> None:
    async with pg.read() as tx:
        assert await partitions.is_partitioned(tx)
        names = [p.name for p in await partitions.monthly(tx)]
    wanted = [partitions.partition_for(m).name for m in partitions.months_from(datetime.now(UTC))]
    assert set(wanted) <= set(names)
    assert len(wanted) == partitions.MONTHS_AHEAD + 1


async def test_a_slot_outside_every_month_lands_in_the_default_and_moves_with_its_month(pg: Database) -> None:
    far_future = datetime(2100, 3, 4, 5, 6, tzinfo=UTC)
    far_past = datetime(1990, 7, 1, tzinfo=UTC)
    async with pg.write() as tx:
        task = await add_task(tx)
        future, past = await add_runs(tx, task, {"scheduled_for": far_future}, {"scheduled_for": far_past})
    assert await where_is(pg, future["id"]) == partitions.DEFAULT
    assert await where_is(pg, past["id"]) == partitions.DEFAULT

    async with pg.write() as tx:
        assert await partitions.ensure_months(tx, [far_future]) == ["runs_p210003"]
        assert await partitions.ensure_months(tx, [far_future]) == []  # made once
    assert await where_is(pg, future["id"]) == "runs_p210003"
    assert await where_is(pg, past["id"]) == partitions.DEFAULT
    async with pg.read() as tx:
        assert await partitions.default_rows(tx) == 1
        row = await run_store.get(tx, future["id"])
    assert row is not None
    assert row["scheduled_for"] == far_future

    # The slot key still holds across the move: the same slot again is not inserted.
    async with pg.write() as tx:
        again = await run_store.insert(tx, [{**_row_of(row), "status": "queued"}])
    assert again == []


def _row_of(row: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in row.items() if k != "id"}


async def old_month_with(pg: Database, *specs: dict[str, object]) -> tuple[dict[str, object], list[int]]:
    """A task whose runs are in January 2020 (finished in 2020 unless told), that month made."""
    async with pg.write() as tx:
        await partitions.ensure_months(tx, [JAN_2020])
        task = await add_task(tx)
        base = {"status": "succeeded", "finished_at": JAN_2020 + timedelta(days=2)}
        made = await add_runs(
            tx,
            task,
            *(
                {**base, "scheduled_for": JAN_2020 + timedelta(hours=i), **spec}
                for i, spec in enumerate(specs)
            ),
        )
    return task, [int(r["id"]) for r in made]


async def droppable(pg: Database, keep_last: int = 0) -> bool:
    part = partitions.partition_for(JAN_2020)
    async with pg.read() as tx:
        return await partitions.droppable(tx, part, finished_before=BEFORE, keep_last=keep_last)


async def test_a_month_whose_runs_are_all_expired_is_dropped(pg: Database) -> None:
    task, ids = await old_month_with(pg, {}, {"status": "failed"})
    async with pg.write() as tx:  # a newer run is the task's last, so the old ones are not kept
        [newer] = await add_runs(tx, task, {"scheduled_for": datetime.now(UTC), "status": "succeeded"})
        await tx.execute(sa.text("UPDATE tasks SET last_run_id = :id"), {"id": newer["id"]})
    assert await droppable(pg, keep_last=1)
    async with pg.write() as tx:
        assert await partitions.drop(tx, partitions.partition_for(JAN_2020), finished_before=BEFORE)
    async with pg.read() as tx:
        assert "runs_p202001" not in {p.name for p in await partitions.monthly(tx)}
        assert await run_store.get(tx, ids[0]) is None
        assert await run_store.get(tx, int(newer["id"])) is not None


@pytest.mark.parametrize(
    "kept",
    [
        {"status": "queued", "finished_at": None},
        {"status": "running", "finished_at": None},
        {"status": "skipped", "finished_at": None},
        # Scheduled in the old month, finished within retention (a late retry).
        {"status": "failed", "finished_at": BEFORE + timedelta(days=1)},
    ],
)
async def test_a_month_holding_a_run_retention_keeps_is_not_dropped(
    pg: Database, kept: dict[str, object]
) -> None:
    await old_month_with(pg, {}, kept)
    assert not await droppable(pg)
    async with pg.write() as tx:
        assert not await partitions.drop(tx, partitions.partition_for(JAN_2020), finished_before=BEFORE)
    async with pg.read() as tx:
        assert "runs_p202001" in {p.name for p in await partitions.monthly(tx)}


async def test_a_month_holding_a_tasks_last_run_or_its_newest_runs_is_not_dropped(pg: Database) -> None:
    task, ids = await old_month_with(pg, {}, {})
    async with pg.write() as tx:
        await tx.execute(sa.text("UPDATE tasks SET last_run_id = :id"), {"id": ids[1]})
    assert not await droppable(pg)

    async with pg.write() as tx:  # no longer its last run, but within its newest three
        await tx.execute(sa.text("UPDATE tasks SET last_run_id = NULL"))
        await add_runs(tx, task, {"scheduled_for": datetime.now(UTC), "status": "succeeded"})
    assert await droppable(pg, keep_last=1)
    assert not await droppable(pg, keep_last=3)


async def test_a_month_not_yet_past_retention_is_not_dropped(pg: Database) -> None:
    await old_month_with(pg, {})
    part = partitions.partition_for(JAN_2020)
    async with pg.read() as tx:
        assert not await partitions.droppable(
            tx, part, finished_before=JAN_2020 + timedelta(days=20), keep_last=0
        )
