"""Run rows: recording slots once, claiming by priority with leases, finishing, cancelling, recovery."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store.engine import Database
from tasksched.store.tables import runs
from tests.store.rows import T0, add_runs, add_task, at, make_run_values

LEASE = at(30)


@contextlib.contextmanager
def statements_sent(engine: AsyncEngine, verb: str) -> Iterator[list[tuple[str, Any]]]:
    """The (statement, parameters) of each statement beginning with ``verb`` sent meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(verb):
            seen.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextlib.asynccontextmanager
async def rolled_back(db: Database) -> AsyncIterator[Tx]:
    """A write transaction that is thrown away: several cases can start from the same rows."""
    async with db.write_engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


async def all_runs(db: Database) -> dict[int, dict[str, Any]]:
    async with db.read() as tx:
        return {r["id"]: dict(r) for r in (await tx.execute(sa.select(runs))).mappings()}


# -- insert ---------------------------------------------------------------------------------------


async def test_insert_returns_only_rows_actually_inserted(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        first = await run_store.insert(
            tx, [make_run_values(task, scheduled_for=at(0)), make_run_values(task, scheduled_for=at(60))]
        )
    assert [(r["scheduled_for"], r["attempt"], r["status"]) for r in first] == [
        (at(0), 1, "queued"),
        (at(60), 1, "queued"),
    ]
    assert all(r["task_id"] == task["id"] and isinstance(r["id"], int) for r in first)

    async with db.write() as tx:  # the slot at(0) again (as another scheduler would), a new one, a retry
        again = await run_store.insert(
            tx,
            [
                make_run_values(task, scheduled_for=at(0), status="skipped", reason="second scheduler"),
                make_run_values(task, scheduled_for=at(120)),
                make_run_values(task, scheduled_for=at(0), attempt=2, trigger="retry"),
            ],
        )
    assert [(r["scheduled_for"], r["attempt"]) for r in again] == [(at(120), 1), (at(0), 2)]
    stored = await all_runs(db)
    assert len(stored) == 4
    original = stored[first[0]["id"]]
    assert (original["status"], original["reason"]) == ("queued", None)  # the first record stands


async def test_a_slot_twice_in_one_batch_is_recorded_once(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        inserted = await run_store.insert(tx, [make_run_values(task, scheduled_for=at(5))] * 3)
    assert len(inserted) == 1
    assert len(await all_runs(db)) == 1


async def test_the_same_instant_in_another_offset_is_the_same_slot(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        await run_store.insert(tx, [make_run_values(task, scheduled_for=at(0))])
        elsewhere = at(0).astimezone(timezone(timedelta(hours=9)))
        assert await run_store.insert(tx, [make_run_values(task, scheduled_for=elsewhere)]) == []
        # One microsecond later is another slot.
        later = await run_store.insert(tx, [make_run_values(task, scheduled_for=at(0) + timedelta(0, 0, 1))])
    assert len(later) == 1


async def test_the_same_slot_of_different_tasks_is_no_conflict(db: Database) -> None:
    async with db.write() as tx:
        one, two = await add_task(tx), await add_task(tx)
        inserted = await run_store.insert(tx, [make_run_values(one), make_run_values(two)])
    assert len(inserted) == 2


async def test_insert_of_nothing(db: Database) -> None:
    async with db.write() as tx:
        assert await run_store.insert(tx, []) == []


async def test_a_large_batch_comes_back_whole(db: Database) -> None:
    """Many rows in one call (more than SQLite's bound-parameter limit per statement)."""
    async with db.write() as tx:
        task = await add_task(tx)
        rows = [make_run_values(task, scheduled_for=at(i)) for i in range(1500)]
        inserted = await run_store.insert(tx, rows)
        again = await run_store.insert(tx, [*rows[1000:], make_run_values(task, scheduled_for=at(-1))])
    assert sorted(r["scheduled_for"] for r in inserted) == [at(i) for i in range(1500)]
    assert [r["scheduled_for"] for r in again] == [at(-1)]


# -- claim ----------------------------------------------------------------------------------------

# name → overrides. Claimable at T0 in claim order: other-hi, q-hi, tie-a, tie-b, lo-old, lo-new, now.
CLAIM_ROWS: dict[str, dict[str, Any]] = {
    "lo-new": {"priority": 0, "available_at": at(-1)},
    "q-hi": {"priority": 10, "available_at": at(-10)},
    "now": {"priority": 0, "available_at": at(0)},
    "tie-a": {"priority": 5, "available_at": at(-3)},
    "lo-old": {"priority": 0, "available_at": at(-100)},
    "tie-b": {"priority": 5, "available_at": at(-3)},
    "soon": {"priority": 100, "available_at": at(0.5)},
    "later": {"priority": 100, "available_at": at(60)},
    "other-hi": {"priority": 50, "available_at": at(-5), "queue": "other"},
    "running": {"priority": 999, "available_at": at(-999), "status": "running", "worker": "w0"},
    "done": {"priority": 999, "available_at": at(-999), "status": "succeeded", "finished_at": at(-9)},
    "cancelled": {"priority": 999, "available_at": at(-999), "status": "cancelled", "finished_at": at(-9)},
    "skipped": {"priority": 999, "available_at": at(-999), "status": "skipped", "finished_at": at(-9)},
}
IN_ORDER = ["other-hi", "q-hi", "tie-a", "tie-b", "lo-old", "lo-new", "now"]

CLAIM_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"queues": None, "limit": 100}, IN_ORDER),
    ({"queues": None, "limit": 1}, IN_ORDER[:1]),
    ({"queues": None, "limit": 3}, IN_ORDER[:3]),  # tie on priority and time: id decides
    ({"queues": None, "limit": 5}, IN_ORDER[:5]),  # equal priority: oldest available first
    ({"queues": ["default"], "limit": 2}, ["q-hi", "tie-a"]),
    ({"queues": ["other"], "limit": 100}, ["other-hi"]),
    ({"queues": ["default", "other"], "limit": 100}, IN_ORDER),
    ({"queues": [], "limit": 100}, []),
    ({"queues": ["nope"], "limit": 100}, []),
    ({"queues": None, "limit": 100, "now": at(-50)}, ["lo-old"]),
    ({"queues": None, "limit": 1, "prefetch_until": at(1)}, ["soon"]),
    ({"queues": None, "limit": 100, "prefetch_until": at(1)}, ["soon", *IN_ORDER]),
    ({"queues": None, "limit": 100, "prefetch_until": at(0.4)}, IN_ORDER),
    ({"queues": ["other"], "limit": 100, "prefetch_until": at(100)}, ["other-hi"]),
]


async def load_claim_rows(db: Database) -> dict[int, str]:
    async with db.write() as tx:
        task = await add_task(tx)
        inserted = await add_runs(tx, task, *CLAIM_ROWS.values())
    return {r["id"]: name for r, name in zip(inserted, CLAIM_ROWS, strict=True)}


async def test_claim_takes_due_queued_runs_by_priority_then_time(db: Database) -> None:
    names = await load_claim_rows(db)
    before = await all_runs(db)
    wrong = []
    for case, expected in CLAIM_CASES:
        args = {"now": T0, **case}
        async with rolled_back(db) as tx:
            claimed = await run_store.claim(tx, worker="w1", lease_until=LEASE, **args)
            after = {r["id"]: dict(r) for r in (await tx.execute(sa.select(runs))).mappings()}
        got = sorted(names[r["id"]] for r in claimed)
        if got != sorted(expected):
            wrong.append(f"{case}: claimed {got}, expected {sorted(expected)}")
            continue
        for row in claimed:
            old, new = before[row["id"]], after[row["id"]]
            started = max(args["now"], old["available_at"])
            want = {"status": "running", "worker": "w1", "lease_until": LEASE, "started_at": started}
            if {k: new[k] for k in want} != want or row["started_at"] != started:
                wrong.append(f"{case}: {names[row['id']]} claimed as {new}")
        unclaimed = {i: after[i] for i in after if i not in {r["id"] for r in claimed}}
        if unclaimed != {i: before[i] for i in unclaimed}:
            wrong.append(f"{case}: a run it did not return changed")
    assert wrong == []


async def test_claimed_rows_carry_what_the_worker_needs(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        await add_runs(tx, task, {})
        (row,) = await run_store.claim(tx, worker="w", queues=None, limit=1, now=T0, lease_until=LEASE)
    # What the worker needs to start it; never the (possibly large) output.
    assert "output" not in row
    assert {"id", "task_id", "task_name", "attempt", "trigger", "scheduled_for", "started_at"} <= set(row)


def _sql_literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def test_the_claims_generic_plan_knows_it_looks_for_queued_runs_on_postgresql(db: Database) -> None:
    """PostgreSQL reuses one generic plan for a prepared statement once it costs no more than the
    custom ones, instead of planning every call (on a partitioned history the planning cost more
    than the claim). That plan is made without the bound values: a bound status would leave it not
    knowing that the claim wants the few queued runs (it scanned a partition, 0.45 s a claim at
    3 M runs), so the status must be in the statement itself."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    async with db.write() as tx:
        task = await add_task(tx)
        await add_runs(tx, task, {})
    with statements_sent(db.write_engine, "UPDATE") as seen:
        async with rolled_back(db) as tx:
            await run_store.claim(tx, worker="w", queues=["default"], limit=1, now=T0, lease_until=LEASE)
    ((statement, parameters),) = seen
    async with rolled_back(db) as tx:
        await tx.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await tx.exec_driver_sql(f"PREPARE claim_plan AS {statement}")
        values = ", ".join(_sql_literal(v) for v in parameters)
        plan = "\n".join(
            str(row[0]) for row in await tx.exec_driver_sql(f"EXPLAIN EXECUTE claim_plan({values})")
        )
        await tx.exec_driver_sql("DEALLOCATE claim_plan")
    assert "$" in plan, plan  # a generic plan: the bound values are not in it
    assert "(status)::text = 'queued'::text" in plan, plan


async def test_a_claimed_run_is_not_claimed_again(db: Database) -> None:
    async with db.write() as tx:
        task = await add_task(tx)
        await add_runs(tx, task, {}, {})
    async with db.write() as tx:
        first = await run_store.claim(tx, worker="a", queues=None, limit=1, now=T0, lease_until=LEASE)
    async with db.write() as tx:
        second = await run_store.claim(tx, worker="b", queues=None, limit=5, now=T0, lease_until=LEASE)
        third = await run_store.claim(tx, worker="c", queues=None, limit=5, now=T0, lease_until=LEASE)
    assert len(first) == len(second) == 1
    assert first[0]["id"] != second[0]["id"]
    assert third == []


# -- the worker's side: ownership, finishing, leases, output, cancelling, releasing ---------------


@pytest_asyncio.fixture(loop_scope="session")
async def held(db: Database) -> dict[str, int]:
    """Runs in every state that matters: two held by w1, one by w2, one queued, one finished."""
    async with db.write() as tx:
        task = await add_task(tx)
        rows = await add_runs(
            tx,
            task,
            {"status": "running", "worker": "w1", "lease_until": at(10), "started_at": at(-5)},
            {"status": "running", "worker": "w1", "lease_until": at(20), "started_at": at(-5)},
            {"status": "running", "worker": "w2", "lease_until": at(-1), "started_at": at(-50)},
            {"status": "queued"},
            {"status": "succeeded", "worker": "w1", "finished_at": at(-1)},
        )
    return dict(zip(["w1a", "w1b", "w2", "queued", "done"], [r["id"] for r in rows], strict=True))


async def test_finish_for_a_worker_records_only_the_runs_it_holds(db: Database, held: dict[str, int]) -> None:
    everything = [*held.values(), 9999]
    before = await all_runs(db)
    async with db.write() as tx:
        assert await run_store.finish(tx, [], worker="w1") == set()
        assert (
            await run_store.finish(
                tx, [{"id": i, "status": "failed", "finished_at": at(1)} for i in everything], worker="w3"
            )
            == set()
        )
        recorded = await run_store.finish(
            tx, [{"id": i, "status": "succeeded", "finished_at": at(1)} for i in everything], worker="w1"
        )
    assert recorded == {held["w1a"], held["w1b"]}
    after = await all_runs(db)
    assert {after[i]["status"] for i in recorded} == {"succeeded"}
    for name in ("w2", "queued", "done"):
        assert after[held[name]] == before[held[name]], name


async def test_finish_records_outcomes_of_running_runs_only(db: Database, held: dict[str, int]) -> None:
    outcome = {
        "status": "failed",
        "finished_at": at(3),
        "duration_ms": 8000,
        "exit_code": 2,
        "http_status": 503,
        "output": "out" * 10,
        "error": "boom",
        "reason": "because",
    }
    before = await all_runs(db)
    async with db.write() as tx:
        assert await run_store.finish(tx, []) == set()
        recorded = await run_store.finish(
            tx,
            [
                {"id": held["w1a"], **outcome},
                {"id": held["w1b"], "status": "succeeded", "finished_at": at(4)},  # the rest optional
                {"id": held["queued"], **outcome},  # not running: left alone
                {"id": held["done"], **outcome},  # finished already: left alone
            ],
        )
    assert recorded == {held["w1a"], held["w1b"]}
    after = await all_runs(db)
    assert {k: after[held["w1a"]][k] for k in outcome} == outcome
    assert after[held["w1a"]]["lease_until"] is None
    assert after[held["w1a"]]["worker"] == "w1"  # who ran it stays on record
    w1b = after[held["w1b"]]
    assert (w1b["status"], w1b["finished_at"], w1b["error"], w1b["duration_ms"]) == (
        "succeeded",
        at(4),
        None,
        None,
    )
    for name in ("queued", "done", "w2"):
        assert after[held[name]] == before[held[name]], name


async def test_extend_leases_only_for_the_owner(db: Database, held: dict[str, int]) -> None:
    everything = list(held.values())
    async with db.write() as tx:
        extended = await run_store.extend_leases(tx, "w1", everything, at(90))
        assert await run_store.extend_leases(tx, "w1", [], at(90)) == set()
        assert await run_store.extend_leases(tx, "w3", everything, at(90)) == set()
    assert extended == {held["w1a"], held["w1b"]}
    after = await all_runs(db)
    assert [after[held[n]]["lease_until"] for n in ("w1a", "w1b", "w2")] == [at(90), at(90), at(-1)]


async def test_save_outputs_of_running_runs(db: Database, held: dict[str, int]) -> None:
    async with db.write() as tx:
        await run_store.save_outputs(tx, [])
        await run_store.save_outputs(
            tx,
            [(held["w1a"], "partial ✓\nline 2"), (held["done"], "too late"), (held["queued"], "too early")],
        )
    after = await all_runs(db)
    assert after[held["w1a"]]["output"] == "partial ✓\nline 2"
    assert after[held["done"]]["output"] is None
    assert after[held["queued"]]["output"] is None


async def test_cancelling(db: Database, held: dict[str, int]) -> None:
    everything = list(held.values())
    async with db.write() as tx:
        assert await run_store.cancel_requested(tx, everything) == set()
        flagged = await run_store.request_cancel(tx, [held["w1a"], held["queued"], held["done"]])
        assert await run_store.request_cancel(tx, []) == []
    assert flagged == [held["w1a"]]  # only running runs are flagged; queued ones are cancelled outright
    async with db.write() as tx:
        cancelled = await run_store.cancel_queued(
            tx, [held["queued"], held["w1b"], held["done"]], reason="replaced", now=at(7)
        )
        assert await run_store.cancel_queued(tx, [], reason="x", now=at(7)) == []
    queued_row = (await all_runs(db))[held["queued"]]
    assert cancelled == [
        {
            "id": held["queued"],
            "task_id": queued_row["task_id"],
            "task_name": queued_row["task_name"],
            "status": "cancelled",
        }
    ]
    async with db.read() as tx:
        assert await run_store.cancel_requested(tx, everything) == {held["w1a"], held["queued"]}
        assert await run_store.cancel_requested(tx, []) == set()
    after = await all_runs(db)
    queued = after[held["queued"]]
    assert (queued["status"], queued["reason"], queued["finished_at"]) == ("cancelled", "replaced", at(7))
    assert after[held["w1a"]]["status"] == "running"  # the worker stops it and records the outcome
    assert after[held["w1b"]]["status"] == "running"
    assert after[held["done"]]["status"] == "succeeded"


async def test_release_hands_runs_back_to_the_queue(db: Database, held: dict[str, int]) -> None:
    async with db.write() as tx:
        await run_store.save_outputs(tx, [(held["w1a"], "half")])
    async with db.write() as tx:
        released = await run_store.release(
            tx, "w1", [held["w1a"], held["w2"], held["done"], held["queued"]], now=at(8)
        )
        assert await run_store.release(tx, "w1", [], now=at(8)) == []
    assert released == [held["w1a"]]
    row = (await all_runs(db))[held["w1a"]]
    assert (row["status"], row["worker"], row["lease_until"], row["started_at"], row["output"]) == (
        "queued",
        None,
        None,
        None,
        None,
    )
    async with db.write() as tx:  # and it can be claimed again
        again = await run_store.claim(tx, worker="w9", queues=None, limit=10, now=T0, lease_until=LEASE)
    assert {r["id"] for r in again} == {held["w1a"], held["queued"]}


async def test_release_ends_a_run_whose_cancel_was_asked(db: Database, held: dict[str, int]) -> None:
    async with db.write() as tx:
        await run_store.request_cancel(tx, [held["w1a"]])
        released = await run_store.release(tx, "w1", [held["w1a"], held["w1b"]], now=at(8))
    assert released == [held["w1b"]]
    row = (await all_runs(db))[held["w1a"]]
    assert (row["status"], row["finished_at"]) == ("cancelled", at(8))


@pytest.mark.parametrize(
    ("now", "limit", "expected"),
    [
        (at(-1), 10, []),  # a lease ending exactly now has not expired
        (at(0), 10, ["w2"]),
        (at(15), 10, ["w2", "w1a"]),  # oldest lease first
        (at(25), 10, ["w2", "w1a", "w1b"]),
        (at(25), 2, ["w2", "w1a"]),
    ],
)
async def test_expired_leases(
    db: Database, held: dict[str, int], now: datetime, limit: int, expected: list[str]
) -> None:
    async with db.write() as tx:
        expired = await run_store.expired_leases(tx, now, limit)
    assert [r["id"] for r in expired] == [held[n] for n in expected]
    assert all("output" not in r for r in expired)


async def test_next_available_at(db: Database) -> None:
    async with db.read() as tx:
        assert await run_store.next_available_at(tx, None) is None
    async with db.write() as tx:
        task = await add_task(tx)
        await add_runs(
            tx,
            task,
            {"available_at": at(50)},
            {"available_at": at(20), "queue": "other"},
            {"available_at": at(-10), "status": "running", "worker": "w"},
            {"available_at": at(-20), "status": "cancelled", "finished_at": T0},
        )
    async with db.read() as tx:
        assert await run_store.next_available_at(tx, None) == at(20)
        assert await run_store.next_available_at(tx, ["default"]) == at(50)
        assert await run_store.next_available_at(tx, ["other", "default"]) == at(20)
        assert await run_store.next_available_at(tx, ["nope"]) is None
        assert await run_store.next_available_at(tx, []) is None


async def test_active_for_tasks(db: Database) -> None:
    async with db.write() as tx:
        one, two, idle = await add_task(tx), await add_task(tx), await add_task(tx)
        r1 = await add_runs(
            tx, one, {"status": "queued"}, {"status": "running", "worker": "w"}, {"status": "failed"}
        )
        r2 = await add_runs(tx, two, {"status": "queued"})
        await add_runs(tx, idle, {"status": "succeeded"}, {"status": "skipped"})
    async with db.read() as tx:
        active = await run_store.active_for_tasks(tx, [one["id"], two["id"], idle["id"], one["id"], 999])
        assert await run_store.active_for_tasks(tx, []) == {}
    assert set(active) == {one["id"], two["id"]}
    assert sorted((r["id"], r["status"], r["worker"]) for r in active[one["id"]]) == [
        (r1[0]["id"], "queued", None),
        (r1[1]["id"], "running", "w"),
    ]
    assert [r["id"] for r in active[two["id"]]] == [r2[0]["id"]]


async def test_get_list_and_latest_slot(db: Database) -> None:
    async with db.write() as tx:
        task, other = await add_task(tx), await add_task(tx)
        rows = await add_runs(
            tx,
            task,
            {"scheduled_for": at(0), "output": "big"},
            {"scheduled_for": at(60), "trigger": "manual"},
            {"scheduled_for": at(120), "status": "failed", "finished_at": at(121)},
        )
        await add_runs(tx, other, {"scheduled_for": at(500)})
    async with db.read() as tx:
        one = await run_store.get(tx, rows[0]["id"])
        assert await run_store.get(tx, 99999) is None
        listed, total = await run_store.list_(tx, task_id=task["id"])
        page, page_total = await run_store.list_(tx, task_id=task["id"], limit=1, offset=1)
        manual, _ = await run_store.list_(tx, trigger="manual")
        failed, _ = await run_store.list_(tx, statuses=["failed", "cancelled"])
        assert await run_store.latest_slot(tx, task["id"], not_before=at(30)) == at(120)
        assert await run_store.latest_slot(tx, task["id"], not_before=at(121)) is None
    assert one is not None
    assert one["output"] == "big"
    assert [r["id"] for r in listed] == [r["id"] for r in reversed(rows)]  # newest first
    assert "output" not in listed[0]
    assert (total, page_total, [r["id"] for r in page]) == (3, 3, [rows[1]["id"]])
    assert [r["id"] for r in manual] == [rows[1]["id"]]
    assert [r["id"] for r in failed] == [rows[2]["id"]]


# -- figures for the dashboard --------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def history(db: Database) -> list[dict[str, Any]]:
    async with db.write() as tx:
        task = await add_task(tx)
        return await add_runs(
            tx,
            task,
            {"status": "succeeded", "finished_at": at(-7200)},  # 10:00
            {"status": "succeeded", "finished_at": at(-3600)},  # 11:00 exactly
            {"status": "failed", "finished_at": at(-1)},  # 11:59:59
            {"status": "failed", "finished_at": at(-1)},
            {"status": "timed_out", "finished_at": at(0)},  # 12:00
            {"status": "queued", "queued_at": at(-30)},
            {"status": "queued", "queued_at": at(-90)},
            {"status": "running", "queued_at": at(-300), "worker": "w"},
        )


async def test_status_counts(db: Database, history: list[dict[str, Any]]) -> None:
    async with db.read() as tx:
        assert await run_store.status_counts(tx, finished_since=at(-3600)) == {
            "succeeded": 1,
            "failed": 2,
            "timed_out": 1,
        }
        assert await run_store.status_counts(tx, finished_since=at(-86400)) == {
            "succeeded": 2,
            "failed": 2,
            "timed_out": 1,
        }
        assert await run_store.status_counts(tx, finished_since=at(1)) == {}


async def test_active_counts(db: Database, history: list[dict[str, Any]]) -> None:
    async with db.read() as tx:
        queued, running, oldest = await run_store.active_counts(tx)
    assert (queued, running, oldest) == (2, 1, at(-90))
    assert oldest is not None
    assert oldest.utcoffset() == timedelta(0)


async def test_active_counts_of_nothing(db: Database) -> None:
    async with db.read() as tx:
        assert await run_store.active_counts(tx) == (0, 0, None)


async def test_hourly_counts(db: Database, history: list[dict[str, Any]]) -> None:
    async with db.read() as tx:
        hourly = await run_store.hourly_counts(tx, finished_since=at(-86400))
        recent = await run_store.hourly_counts(tx, finished_since=at(-60))
    assert sorted(hourly) == [
        ("2026-06-01T10:00:00", "succeeded", 1),
        ("2026-06-01T11:00:00", "failed", 2),
        ("2026-06-01T11:00:00", "succeeded", 1),
        ("2026-06-01T12:00:00", "timed_out", 1),
    ]
    assert sorted(recent) == [("2026-06-01T11:00:00", "failed", 2), ("2026-06-01T12:00:00", "timed_out", 1)]


async def test_latest(db: Database, history: list[dict[str, Any]]) -> None:
    ids = [r["id"] for r in history]
    async with db.read() as tx:
        failures = await run_store.latest(tx, statuses=["failed", "timed_out"], limit=10)
        two = await run_store.latest(tx, statuses=["failed", "timed_out"], limit=2)
        none = await run_store.latest(tx, statuses=["cancelled"], limit=10)
    # Newest finish first; the two failures finished together, so the later id comes first.
    assert [r["id"] for r in failures] == [ids[4], ids[3], ids[2]]
    assert [r["id"] for r in two] == [ids[4], ids[3]]
    assert none == []
    assert all("output" not in r for r in failures)


async def test_dashboard_counts_read_one_range_of_the_finished_index_on_sqlite(
    db: Database, history: list[dict[str, Any]]
) -> None:
    """Without statistics SQLite once grouped these by walking a status- or task-first index whole
    (0.5 s at a million runs): each must search ix_runs_finished_at_status_task_id, covering."""
    if not db.is_sqlite:
        pytest.skip("SQLite's planner; PostgreSQL plans by its statistics")
    from tasksched.store import dashboard as dashboard_store

    with statements_sent(db.read_engine, "SELECT") as seen:
        async with db.read() as tx:
            await run_store.status_counts(tx, finished_since=at(-86400))
            await run_store.hourly_counts(tx, finished_since=at(-86400))
            await dashboard_store.failing_tasks(tx, since=at(-86400), limit=10)
    async with db.read() as tx:
        for statement, parameters in seen[:3]:
            plan = " ".join(
                str(row[-1])
                for row in (await tx.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            )
            assert "COVERING INDEX ix_runs_finished_at_status_task_id (finished_at>?)" in plan, (
                statement,
                plan,
            )


async def test_latest_looks_among_the_recent_first_and_falls_back_to_all(
    db: Database, history: list[dict[str, Any]]
) -> None:
    """With ``recent``, the answer is the same as without: taken from the recent runs when they
    are enough, else from every run in the statuses."""
    ids = [r["id"] for r in history]
    async with db.read() as tx:
        enough = await run_store.latest(tx, statuses=["failed", "timed_out"], limit=2, recent=at(-60))
        short = await run_store.latest(tx, statuses=["failed", "timed_out"], limit=10, recent=at(-0.5))
        older = await run_store.latest(tx, statuses=["succeeded"], limit=2, recent=at(-60))
    assert [r["id"] for r in enough] == [ids[4], ids[3]]
    # Only the timed-out run finished in the last half second: the failures before it still count.
    assert [r["id"] for r in short] == [ids[4], ids[3], ids[2]]
    # No success in the last minute: both come from before.
    assert [r["id"] for r in older] == [ids[1], ids[0]]
