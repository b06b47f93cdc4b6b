"""Task rows: insert, read, list (filters, sorting, paging), compare-and-set updates, due selection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from tasksched.domain.tasks import SORT_FIELDS, TaskSort
from tasksched.errors import Conflict
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.engine import Database
from tasksched.store.tables import runs, task_tags
from tests.store.rows import T0, add_runs, add_task, at, make_task_values


async def tags_of(db: Database, task_id: int) -> list[str]:
    async with db.read() as tx:
        query = sa.select(task_tags.c.tag).where(task_tags.c.task_id == task_id).order_by(task_tags.c.tag)
        return list((await tx.execute(query)).scalars())


async def names(db: Database, **filters: Any) -> list[str]:
    async with db.read() as tx:
        rows, _ = await task_store.list_(tx, limit=1000, **filters)
    return [r["name"] for r in rows]


# -- insert and read ----------------------------------------------------------------------------


async def test_insert_returns_the_stored_row(db: Database) -> None:
    values = make_task_values(
        name="report",
        description="nightly",
        tags=["b", "a"],
        action={"type": "http", "url": "https://example.com/hook", "headers": {"X": "1"}},
        schedule={"type": "cron", "expression": "0 3 * * *", "timezone": "Europe/Paris"},
        priority=7,
        queue="slow",
        timeout_seconds=12.5,
    )
    async with db.write() as tx:
        inserted = await task_store.insert(tx, values)
    async with db.read() as tx:
        fetched = await task_store.get(tx, inserted["id"])
    assert fetched == inserted
    assert isinstance(inserted["id"], int)
    for key, value in values.items():
        assert inserted[key] == value, key
    assert inserted["tags"] == ["a", "b"]  # TaskSpec sorts them
    assert inserted["last_run_id"] is None
    assert await tags_of(db, inserted["id"]) == ["a", "b"]


async def test_json_the_fast_parser_refuses_reads_back_unchanged(db: Database) -> None:
    """Stored JSON is read with orjson, which refuses integers beyond 64 bits; those still read back."""
    kwargs = {"big": 2**70, "negative": -(2**65), "text": "ünïcödé ✓", "nested": [{"x": 1.5}]}
    values = make_task_values(
        name="big numbers", action={"type": "python", "function": "f", "kwargs": kwargs}
    )
    async with db.write() as tx:
        inserted = await task_store.insert(tx, values)
    async with db.read() as tx:
        fetched = await task_store.get(tx, inserted["id"])
    assert fetched is not None
    assert fetched["action"]["kwargs"] == kwargs


async def test_insert_many_returns_ids_in_order_and_stores_tags(db: Database) -> None:
    rows = [make_task_values(name=f"bulk-{i:04d}", tags=[f"t{i % 3}"] if i % 2 else []) for i in range(300)]
    async with db.write() as tx:
        assert await task_store.insert_many(tx, []) == []
        ids = await task_store.insert_many(tx, rows)
    async with db.read() as tx:
        stored = await task_store.get_many(tx, ids)
        tagged, total = await task_store.list_(tx, tag="t1", limit=1000)
    assert len(set(ids)) == 300
    assert [stored[i]["name"] for i in ids] == [r["name"] for r in rows]
    assert total == len([i for i in range(300) if i % 2 and i % 3 == 1])
    assert all(t["tags"] == ["t1"] for t in tagged)


@pytest.mark.parametrize("clash", ["with-a-stored-task", "within-the-batch"])
async def test_insert_many_with_a_taken_name_inserts_nothing(db: Database, clash: str) -> None:
    async with db.write() as tx:
        await add_task(tx, name="taken")
    rows = [make_task_values(name="fresh", tags=["x"]), make_task_values(name="taken")]
    if clash == "within-the-batch":
        rows = [make_task_values(name="twice", tags=["x"]), make_task_values(name="twice")]
    with pytest.raises(Conflict):
        async with db.write() as tx:
            await task_store.insert_many(tx, rows)
    assert await names(db) == ["taken"]
    assert await names(db, tag="x") == []


async def test_get_of_a_missing_task_is_none(db: Database) -> None:
    async with db.read() as tx:
        assert await task_store.get(tx, 12345) is None
        assert await task_store.get_many(tx, []) == {}


async def test_get_many_reads_the_chosen_columns(db: Database) -> None:
    async with db.write() as tx:
        one = await add_task(tx, queue="q1")
        two = await add_task(tx, priority=3)
    async with db.read() as tx:
        found = await task_store.get_many(
            tx, [one["id"], two["id"], one["id"], 999], columns=task_store.EXECUTION_COLUMNS
        )
        everything = await task_store.get_many(tx, [two["id"]])
    assert set(found) == {one["id"], two["id"]}
    assert set(found[one["id"]]) == {c.name for c in task_store.EXECUTION_COLUMNS}
    assert found[one["id"]]["queue"] == "q1"
    assert found[two["id"]]["priority"] == 3
    assert everything[two["id"]] == two


async def test_a_duplicate_name_is_a_conflict(db: Database) -> None:
    async with db.write() as tx:
        await add_task(tx, name="same")
    with pytest.raises(Conflict) as caught:
        async with db.write() as tx:
            await add_task(tx, name="same")
    assert caught.value.field == "name"
    assert await names(db) == ["same"]


async def test_names_differing_in_case_are_distinct(db: Database) -> None:
    async with db.write() as tx:
        await add_task(tx, name="Same")
        await add_task(tx, name="same")
    assert await names(db) == ["Same", "same"]


async def test_concurrent_inserts_of_one_name_create_one_task(db: Database, other_db: Database) -> None:
    """Separate engines race to create the same name: one wins, the others get Conflict."""

    async def create(database: Database) -> str:
        try:
            async with database.write() as tx:
                await add_task(tx, name="raced")
        except Conflict:
            return "conflict"
        return "created"

    outcomes = await asyncio.gather(*(create(d) for d in [db, other_db] * 4))
    assert sorted(outcomes) == ["conflict"] * 7 + ["created"]
    assert await names(db) == ["raced"]


async def test_a_name_committed_during_an_insert_is_a_conflict(db: Database, other_db: Database) -> None:
    """The second insert starts before the first commits. On PostgreSQL its name pre-check cannot see
    the uncommitted row, so the unique index must decide; on SQLite it waits for the write lock."""
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(db.write())
        await add_task(first, name="raced")

        async def second() -> None:
            async with other_db.write() as tx:
                await add_task(tx, name="raced")

        racer = asyncio.create_task(second())
        await asyncio.sleep(0.2)  # the racer now waits on the first transaction (row or write lock)
        assert not racer.done()
    # The first transaction committed on leaving the stack.
    with pytest.raises(Conflict):
        await racer
    assert await names(db) == ["raced"]


# -- list: filters --------------------------------------------------------------------------------

CATALOGUE: list[dict[str, Any]] = [
    {"name": "alpha", "description": "Sends the REPORT", "tags": ["daily", "reports"], "st": "succeeded"},
    {"name": "Beta_job", "description": "", "tags": ["daily"], "enabled": False, "st": "failed"},
    {"name": "Betaxjob", "description": "a wildcard would match me"},
    {"name": "gamma%50", "description": "half done"},
    {"name": "zeta", "description": "done 100% of it", "tags": ["weekly"], "st": "failed"},
    {"name": "delta", "description": "an under_score", "enabled": False},
    {"name": "back\\slash", "description": "escapes"},
    {"name": "Äpfel", "description": "Grüße"},
]

# (filters, names expected in id order)
FILTER_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, [c["name"] for c in CATALOGUE]),
    ({"q": ""}, [c["name"] for c in CATALOGUE]),
    ({"q": "report"}, ["alpha"]),  # description, case-insensitively
    ({"q": "ALPH"}, ["alpha"]),  # name, case-insensitively
    ({"q": "beta"}, ["Beta_job", "Betaxjob"]),
    ({"q": "%"}, ["gamma%50", "zeta"]),  # % is a character, not a wildcard
    ({"q": "a%5"}, ["gamma%50"]),
    ({"q": "_"}, ["Beta_job", "delta"]),  # so is _
    ({"q": "a_j"}, ["Beta_job"]),
    ({"q": "\\"}, ["back\\slash"]),  # and the escape character itself
    ({"q": "nothing-like-it"}, []),
    ({"tag": "daily"}, ["alpha", "Beta_job"]),
    ({"tag": "weekly"}, ["zeta"]),
    ({"tag": "report"}, []),  # tags match exactly
    ({"enabled": True}, ["alpha", "Betaxjob", "gamma%50", "zeta", "back\\slash", "Äpfel"]),
    ({"enabled": False}, ["Beta_job", "delta"]),
    ({"last_status": "failed"}, ["Beta_job", "zeta"]),
    ({"last_status": "queued"}, []),
    ({"tag": "daily", "enabled": True}, ["alpha"]),
    ({"q": "beta", "last_status": "failed"}, ["Beta_job"]),
    ({"q": "a", "tag": "daily", "enabled": False, "last_status": "failed"}, ["Beta_job"]),
]


async def load_catalogue(db: Database) -> None:
    async with db.write() as tx:
        for entry in CATALOGUE:
            task = await add_task(tx, **{k: v for k, v in entry.items() if k != "st"})
            if "st" in entry:
                await task_store.record_last_runs(
                    tx, [{"id": task["id"], "run_id": 1, "status": entry["st"], "at": T0}]
                )


async def test_list_filters(db: Database) -> None:
    """Every case on one catalogue (loading it once keeps the suite fast); all mismatches reported."""
    await load_catalogue(db)
    wrong = []
    async with db.read() as tx:
        for filters, expected in FILTER_CASES:
            rows, total = await task_store.list_(tx, sort="id", limit=100, **filters)
            first, total_of_first = await task_store.list_(tx, sort="id", limit=1, **filters)
            got = ([r["name"] for r in rows], total, [r["name"] for r in first], total_of_first)
            if got != (expected, len(expected), expected[:1], len(expected)):
                wrong.append(f"{filters}: got {got}, expected {expected}")
    assert wrong == []


async def test_q_folds_case_beyond_ascii(db: Database) -> None:
    await load_catalogue(db)
    assert await names(db, q="äpfel") == ["Äpfel"]
    assert await names(db, q="GRÜ") == ["Äpfel"]  # in the description "Grüße"


# -- list: sorting and paging ---------------------------------------------------------------------

# Ties and NULLs on purpose: the order must still be total (id breaks ties) and NULLs come last.
# Paused tasks too, one with the earliest slot of all: by next run they still come last.
SORT_ROWS: list[dict[str, Any]] = [
    {
        "name": "paused-early",
        "enabled": False,
        "next_run_at": at(-50),
        "priority": 2,
        "created_at": at(5),
        "updated_at": at(4),
        "last": None,
    },
    {
        "name": "Paused-late",
        "enabled": False,
        "next_run_at": at(99),
        "priority": 2,
        "created_at": at(6),
        "updated_at": at(5),
        "last": at(3),
    },
    {
        "name": "m",
        "next_run_at": at(30),
        "priority": 1,
        "created_at": at(1),
        "updated_at": at(9),
        "last": at(5),
    },
    {"name": "B", "next_run_at": None, "priority": 5, "created_at": at(1), "updated_at": at(2), "last": None},
    {
        "name": "a",
        "next_run_at": at(10),
        "priority": 1,
        "created_at": at(3),
        "updated_at": at(2),
        "last": at(5),
    },
    {
        "name": "a-1",
        "next_run_at": at(10),
        "priority": -2,
        "created_at": at(0),
        "updated_at": at(7),
        "last": None,
    },
    {
        "name": "a_1",
        "next_run_at": None,
        "priority": 5,
        "created_at": at(3),
        "updated_at": at(1),
        "last": at(1),
    },
    {
        "name": "Zed",
        "next_run_at": at(-5),
        "priority": 0,
        "created_at": at(2),
        "updated_at": at(2),
        "last": at(9),
    },
    {
        "name": "ö",
        "next_run_at": at(30),
        "priority": 1,
        "created_at": at(1),
        "updated_at": at(0),
        "last": None,
    },
    {
        "name": "b",
        "next_run_at": at(10),
        "priority": 0,
        "created_at": at(4),
        "updated_at": at(7),
        "last": at(5),
    },
    {
        "name": "c c",
        "next_run_at": None,
        "priority": 1,
        "created_at": at(1),
        "updated_at": at(3),
        "last": at(0),
    },
    {
        "name": "z",
        "next_run_at": at(0),
        "priority": -2,
        "created_at": at(0),
        "updated_at": at(2),
        "last": None,
    },
    {
        "name": "A",
        "next_run_at": at(10),
        "priority": 5,
        "created_at": at(2),
        "updated_at": at(9),
        "last": at(9),
    },
]


def expected_order(rows: Sequence[dict[str, Any]], key: str, descending: bool) -> list[int]:
    """By ``key`` (NULLs last in both directions), ties by id ascending. By next run: paused tasks
    after all enabled ones (as if they had none), ties by name."""
    by_id = sorted(rows, key=lambda r: r["id"])
    if key == "next_run_at":
        by_id = sorted(by_id, key=lambda r: r["name"])
        present = [r for r in by_id if r["enabled"] and r[key] is not None]
        missing = [r for r in by_id if r["enabled"] and r[key] is None] + [
            r for r in by_id if not r["enabled"]
        ]
        return [r["id"] for r in sorted(present, key=lambda r: r[key], reverse=descending) + missing]
    present = [r for r in by_id if r[key] is not None]
    missing = [r for r in by_id if r[key] is None]
    # Python's sort is stable in both directions, so equal keys stay in id order.
    return [r["id"] for r in sorted(present, key=lambda r: r[key], reverse=descending) + missing]


async def test_every_sort_key_both_ways_with_stable_pages(db: Database) -> None:
    async with db.write() as tx:
        for entry in SORT_ROWS:
            task = await add_task(tx, **{k: v for k, v in entry.items() if k != "last"})
            if entry["last"] is not None:
                await task_store.record_last_runs(
                    tx, [{"id": task["id"], "run_id": 1, "status": "succeeded", "at": entry["last"]}]
                )
    wrong = []
    async with db.read() as tx:
        stored, _ = await task_store.list_(tx, limit=100)
        for key in SORT_FIELDS:
            for descending in (False, True):
                sort = cast(TaskSort, f"-{key}" if descending else key)
                expected = expected_order(stored, key, descending)
                everything, total = await task_store.list_(tx, sort=sort, limit=100)
                if ([r["id"] for r in everything], total) != (expected, len(SORT_ROWS)):
                    wrong.append(f"{sort}: {[r['name'] for r in everything]}, total {total}")
                # Pages never overlap and leave no gap; past the end comes an empty page.
                pages = []
                for offset in range(0, len(SORT_ROWS) + 3, 3):
                    page, page_total = await task_store.list_(tx, sort=sort, limit=3, offset=offset)
                    pages.append(([r["id"] for r in page], page_total))
                if [i for page, _ in pages for i in page] != expected or pages[-1][0] != []:
                    wrong.append(f"{sort} paged: {pages}")
                if {t for _, t in pages} != {len(SORT_ROWS)}:
                    wrong.append(f"{sort} page totals: {pages}")
    assert wrong == []


async def test_an_offset_past_the_end_still_counts_all(db: Database) -> None:
    async with db.write() as tx:
        for _ in range(3):
            await add_task(tx)
    async with db.read() as tx:
        assert await task_store.list_(tx, limit=10, offset=10) == ([], 3)
        rows, total = await task_store.list_(tx, limit=2, offset=2)
    assert (len(rows), total) == (1, 3)


# -- update and delete ----------------------------------------------------------------------------


async def test_update_is_a_compare_and_set_on_version(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx, name="v", description="one")
    async with db.write() as tx:
        updated = await task_store.update(
            tx, task["id"], {"description": "two", "updated_at": at(5)}, expected_version=1
        )
    assert updated is not None
    assert (updated["description"], updated["version"], updated["updated_at"]) == ("two", 2, at(5))

    async with db.write() as tx:  # stale: version 1 is gone
        assert await task_store.update(tx, task["id"], {"description": "three"}, expected_version=1) is None
    async with db.read() as tx:
        current = await task_store.get(tx, task["id"])
    assert current is not None
    assert (current["description"], current["version"]) == ("two", 2)

    async with db.write() as tx:  # no expectation: applies whatever the version
        forced = await task_store.update(tx, task["id"], {"description": "four"}, expected_version=None)
    assert forced is not None
    assert (forced["description"], forced["version"]) == ("four", 3)


async def test_update_of_a_missing_task_is_none(db: Database) -> None:
    async with db.write() as tx:
        assert await task_store.update(tx, 4242, {"description": "x"}, expected_version=None) is None
        assert await task_store.update(tx, 4242, {"description": "x"}, expected_version=1) is None


async def test_update_replaces_tags_only_when_given(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx, tags=["a", "b"])
    async with db.write() as tx:
        await task_store.update(tx, task["id"], {"description": "kept tags"}, expected_version=None)
    assert await tags_of(db, task["id"]) == ["a", "b"]

    async with db.write() as tx:
        updated = await task_store.update(tx, task["id"], {"tags": ["b", "c"]}, expected_version=None)
    assert updated is not None
    assert updated["tags"] == ["b", "c"]
    assert await tags_of(db, task["id"]) == ["b", "c"]
    assert await names(db, tag="a") == []
    assert await names(db, tag="c") == [task["name"]]

    async with db.write() as tx:
        await task_store.update(tx, task["id"], {"tags": []}, expected_version=None)
    assert await tags_of(db, task["id"]) == []


async def test_a_stale_update_leaves_tags_alone(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx, tags=["keep"])
    async with db.write() as tx:
        assert await task_store.update(tx, task["id"], {"tags": ["lost"]}, expected_version=9) is None
    assert await tags_of(db, task["id"]) == ["keep"]


async def test_renaming_onto_another_task_is_a_conflict(db: Database) -> None:
    async with db.write() as tx:
        await add_task(tx, name="taken")
        task = await add_task(tx, name="mine")
    with pytest.raises(Conflict):
        async with db.write() as tx:
            await task_store.update(tx, task["id"], {"name": "taken"}, expected_version=None)
    async with db.write() as tx:  # keeping one's own name is no conflict
        same = await task_store.update(tx, task["id"], {"name": "mine"}, expected_version=1)
    assert same is not None
    assert same["version"] == 2


async def test_delete_cascades_to_runs_and_tags(db: Database) -> None:
    async with db.write() as tx:
        doomed = await add_task(tx, tags=["x", "y"])
        kept = await add_task(tx, tags=["x"])
        await add_runs(tx, doomed, {}, {"status": "running", "worker": "w"}, {"status": "succeeded"})
        await add_runs(tx, kept, {})
    async with db.write() as tx:
        assert await task_store.delete(tx, doomed["id"]) is True
    async with db.write() as tx:
        assert await task_store.delete(tx, doomed["id"]) is False
    async with db.read() as tx:
        left_runs = (await tx.execute(sa.select(runs.c.task_id))).scalars().all()
        left_tags = (await tx.execute(sa.select(task_tags.c.task_id, task_tags.c.tag))).all()
        assert await task_store.get(tx, doomed["id"]) is None
    assert left_runs == [kept["id"]]
    assert [tuple(t) for t in left_tags] == [(kept["id"], "x")]


# -- due tasks and the scheduler's bookkeeping ----------------------------------------------------


async def test_due_returns_enabled_tasks_whose_slot_has_come_oldest_first(db: Database) -> None:
    async with db.write() as tx:
        later = await add_task(tx, next_run_at=at(0))  # exactly now: due
        oldest = await add_task(tx, next_run_at=at(-60))
        middle = await add_task(tx, next_run_at=at(-1))
        await add_task(tx, next_run_at=at(0) + timedelta(microseconds=1))  # not yet
        await add_task(tx, next_run_at=at(-100), enabled=False, paused_at=T0)  # paused
        await add_task(tx, next_run_at=None, schedule=None)  # no schedule
    async with db.write() as tx:
        due = await task_store.due(tx, T0, limit=10)
        two = await task_store.due(tx, T0, limit=2)
    assert [t["id"] for t in due] == [oldest["id"], middle["id"], later["id"]]
    assert [t["id"] for t in two] == [oldest["id"], middle["id"]]
    assert set(due[0]) >= {"id", "name", "schedule", "schedule_anchor", "next_run_at", "queue", "priority"}
    assert due[0]["next_run_at"] == at(-60)


async def test_due_on_an_empty_store_is_empty(db: Database) -> None:
    async with db.write() as tx:
        assert await task_store.due(tx, T0, limit=10) == []


@pytest.mark.parametrize(
    ("after", "expected"),
    [(None, at(-5)), (at(-5), at(7)), (at(7), None), (at(-100), at(-5))],
    ids=["earliest", "after-excludes-equal", "nothing-later", "after-before-all"],
)
async def test_earliest_next_run(db: Database, after: datetime | None, expected: datetime | None) -> None:
    async with db.write() as tx:
        await add_task(tx, next_run_at=at(7))
        await add_task(tx, next_run_at=at(-5))
        await add_task(tx, next_run_at=at(-50), enabled=False, paused_at=T0)
        await add_task(tx, next_run_at=None, schedule=None)
    async with db.read() as tx:
        assert await task_store.earliest_next_run(tx, after=after) == expected


async def test_earliest_next_run_of_an_empty_store_is_none(db: Database) -> None:
    async with db.read() as tx:
        assert await task_store.earliest_next_run(tx) is None


async def test_advance_sets_next_run_at_of_many_tasks(db: Database) -> None:
    async with db.write() as tx:
        one = await add_task(tx, next_run_at=at(0))
        two = await add_task(tx, next_run_at=at(0))
        three = await add_task(tx, next_run_at=at(0))
    async with db.write() as tx:
        await task_store.advance(tx, [])
        await task_store.advance(
            tx, [{"id": one["id"], "next_run_at": at(60)}, {"id": two["id"], "next_run_at": None}]
        )
    async with db.read() as tx:
        got = await task_store.get_many(tx, [one["id"], two["id"], three["id"]])
    assert [got[t["id"]]["next_run_at"] for t in (one, two, three)] == [at(60), None, at(0)]
    assert got[one["id"]]["version"] == 1  # the scheduler's bookkeeping is not an edit


async def test_record_last_runs_never_moves_backwards(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        other = await add_task(tx)

    async def summary(task_id: int) -> tuple[Any, ...]:
        async with db.read() as tx:
            row = await task_store.get(tx, task_id)
        assert row is not None
        return row["last_run_id"], row["last_run_status"], row["last_run_at"]

    async with db.write() as tx:
        await task_store.record_last_runs(tx, [])
        await task_store.record_last_runs(
            tx, [{"id": task["id"], "run_id": 5, "status": "running", "at": at(1)}]
        )
    assert await summary(task["id"]) == (5, "running", at(1))

    async with db.write() as tx:  # an older run finishing late does not win
        await task_store.record_last_runs(
            tx, [{"id": task["id"], "run_id": 3, "status": "failed", "at": at(2)}]
        )
    assert await summary(task["id"]) == (5, "running", at(1))

    async with db.write() as tx:  # the same run moving on, and a newer one in the same batch
        await task_store.record_last_runs(
            tx,
            [
                {"id": task["id"], "run_id": 5, "status": "succeeded", "at": at(3)},
                {"id": other["id"], "run_id": 9, "status": "failed", "at": at(3)},
                {"id": task["id"], "run_id": 4, "status": "failed", "at": at(4)},
            ],
        )
    assert await summary(task["id"]) == (5, "succeeded", at(3))
    assert await summary(other["id"]) == (9, "failed", at(3))


async def test_counts_and_next_due(db: Database) -> None:
    async with db.write() as tx:
        a = await add_task(tx, next_run_at=at(20))
        b = await add_task(tx, next_run_at=at(10))
        await add_task(tx, next_run_at=at(5), enabled=False, paused_at=T0)
        await add_task(tx, next_run_at=None, schedule=None)
    async with db.read() as tx:
        assert await task_store.counts(tx) == {"total": 4, "enabled": 3, "paused": 1}
        nxt = await task_store.next_due(tx, 10)
        assert [(t["id"], t["next_run_at"]) for t in nxt] == [(b["id"], at(10)), (a["id"], at(20))]
        assert len(await task_store.next_due(tx, 1)) == 1


async def test_runs_of_a_task_survive_its_update(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        await add_runs(tx, task, {}, {})
    async with db.write() as tx:
        await task_store.update(tx, task["id"], {"tags": ["new"], "priority": 9}, expected_version=1)
    async with db.read() as tx:
        assert (await run_store.list_(tx, task_id=task["id"]))[1] == 2
