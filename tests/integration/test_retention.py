"""Retention on both databases, with a frozen clock: exactly the runs past their limits go."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tasksched.clock import FrozenClock
from tasksched.config import Settings
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskPatch
from tasksched.scheduler.maintenance import Maintenance
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tasksched.services.retention import RetentionService
from tasksched.services.runs import RunService
from tasksched.services.tasks import TaskService
from tasksched.store import partitions
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tests.conftest import make_settings
from tests.integration.conftest import spec

STATUSES = ("succeeded", "failed", "timed_out", "skipped", "cancelled", "queued", "running")
AGES_DAYS = (0, 5, 20, 29, 31, 60, 89, 91, 400)


@dataclass(frozen=True)
class Made:
    id: int
    task_id: int
    status: str
    finished_at: datetime | None


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Small figures, so a few dozen runs cross every limit.
    return make_settings(database_url, retention_days=30, retention_failed_days=90, retention_keep_last=5)


async def add_runs(ctx: Context, task_id: int, name: str, now: datetime) -> list[Made]:
    """One run of every status at every age, oldest first (ids grow with time, as in life)."""
    rows: list[dict[str, Any]] = []
    slots = itertools.count()
    for age in sorted(AGES_DAYS, reverse=True):
        for status in STATUSES:
            when = now - timedelta(days=age, minutes=next(slots) % 7)
            active = status in ("queued", "running")
            rows.append(
                {
                    "task_id": task_id,
                    "task_name": name,
                    "trigger": "schedule",
                    "scheduled_for": when - timedelta(seconds=next(slots)),
                    "attempt": 1,
                    "status": status,
                    "queue": "default",
                    "priority": 0,
                    "queued_at": when,
                    "available_at": when,
                    "finished_at": None if active else when,
                    "output": "x" * 100,
                }
            )
    async with ctx.db.write() as tx:
        inserted = await run_store.insert(tx, rows)
    by_slot = {(r["scheduled_for"], r["attempt"]): r["id"] for r in inserted}
    return [Made(by_slot[(r["scheduled_for"], 1)], task_id, r["status"], r["finished_at"]) for r in rows]


def expected_kept(made: list[Made], now: datetime, *, ok_days: int, other_days: int, keep_last: int,
                  last_run_id: int | None) -> set[int]:  # fmt: skip
    """The rule, written out independently of the store's query."""
    newest = {m.id for m in sorted(made, key=lambda m: m.id, reverse=True)[:keep_last]}
    kept = set()
    for m in made:
        days = ok_days if m.status == "succeeded" else other_days
        old = m.finished_at is not None and days > 0 and m.finished_at < now - timedelta(days=days)
        if not old or m.id in newest or m.id == last_run_id or m.status in ("queued", "running"):
            kept.add(m.id)
    return kept


async def remaining(ctx: Context, task_id: int) -> set[int]:
    async with ctx.db.read() as tx:
        rows, _ = await run_store.list_(tx, task_id=task_id, limit=10_000)
    return {r["id"] for r in rows}


async def test_prune_deletes_exactly_the_runs_past_their_limits(
    frozen_ctx: Context, clock: FrozenClock
) -> None:
    now = clock.now()
    tasks = TaskService(frozen_ctx)
    plain = await tasks.create(spec(name="plain"), actor=CLI)
    custom = await tasks.create(
        spec(name="custom", retention={"success_days": 3, "failure_days": 0, "keep_last": 2}), actor=CLI
    )
    plain_runs = await add_runs(frozen_ctx, plain.id, "plain", now)
    custom_runs = await add_runs(frozen_ctx, custom.id, "custom", now)
    # The task's last run is an old one: it is kept although it is past every limit.
    oldest_failed = next(m for m in plain_runs if m.status == "failed")
    async with frozen_ctx.db.write() as tx:
        await task_store.record_last_runs(
            tx,
            [
                {
                    "id": plain.id,
                    "run_id": oldest_failed.id,
                    "status": "failed",
                    "at": oldest_failed.finished_at,
                }
            ],
        )

    # Batches of 4 and two pruners at once: the result is the same as one pass.
    service = RetentionService(frozen_ctx, batch=4, pause=0)
    first, second = await asyncio.gather(
        service.prune(), RetentionService(frozen_ctx, batch=4, pause=0).prune()
    )

    want_plain = expected_kept(
        plain_runs, now, ok_days=30, other_days=90, keep_last=5, last_run_id=oldest_failed.id
    )
    want_custom = expected_kept(custom_runs, now, ok_days=3, other_days=0, keep_last=2, last_run_id=None)
    assert await remaining(frozen_ctx, plain.id) == want_plain
    assert await remaining(frozen_ctx, custom.id) == want_custom
    gone = len(plain_runs) + len(custom_runs) - len(want_plain) - len(want_custom)
    assert first.deleted + second.deleted == gone
    # By hand: plain loses its 5 succeeded runs older than 30 days and the 8 other final runs older
    # than 90, less its last run (12); custom its 8 succeeded runs older than 3 days (failures: forever).
    assert gone == 20
    assert oldest_failed.id in want_plain
    # Every queued and running run stays, whatever its age.
    assert {m.id for m in plain_runs if m.status in ("queued", "running")} <= want_plain

    # Nothing more to do now; a day later, the runs that crossed a limit meanwhile go.
    assert (await service.prune()).deleted == 0
    clock.advance(86_400 * 2)
    later = clock.now()
    await service.prune()
    assert await remaining(frozen_ctx, plain.id) == expected_kept(
        [m for m in plain_runs if m.id in want_plain], later, ok_days=30, other_days=90, keep_last=5,
        last_run_id=oldest_failed.id,
    )  # fmt: skip


async def test_zero_days_keeps_forever_and_keep_last_holds(frozen_ctx: Context, clock: FrozenClock) -> None:
    tasks = TaskService(frozen_ctx)
    forever = await tasks.create(
        spec(name="forever", retention={"success_days": 0, "failure_days": 0}), actor=CLI
    )
    made = await add_runs(frozen_ctx, forever.id, "forever", clock.now())
    assert (await RetentionService(frozen_ctx, pause=0).prune()).deleted == 0
    assert await remaining(frozen_ctx, forever.id) == {m.id for m in made}

    # Changed to keep only the newest 3 with 1 day: all else old goes, queued and running stay.
    await tasks.patch(
        forever.id, TaskPatch(retention={"success_days": 1, "failure_days": 1, "keep_last": 3}), actor=CLI
    )
    await RetentionService(frozen_ctx, pause=0).prune()
    assert await remaining(frozen_ctx, forever.id) == expected_kept(
        made, clock.now(), ok_days=1, other_days=1, keep_last=3, last_run_id=None
    )


async def test_a_task_shows_and_validates_its_retention(frozen_ctx: Context) -> None:
    tasks = TaskService(frozen_ctx)
    task = await tasks.create(spec(name="shown", retention={"keep_last": 7}), actor=CLI)
    again = await tasks.get(task.id)
    assert again.retention is not None
    assert again.retention.keep_last == 7
    assert again.retention.success_days is None
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        spec(name="bad", retention={"success_days": -1})


async def test_expired_months_are_dropped_whole_and_the_rest_pruned_by_the_same_rule(
    frozen_ctx: Context, clock: FrozenClock
) -> None:
    """PostgreSQL's partitions: a month of runs all past retention goes with one DROP; a month with
    a queued run in it stays and loses its old runs to the batches. What remains is exactly what
    the row-by-row rule keeps."""
    if frozen_ctx.db.is_sqlite:
        pytest.skip("the run history is partitioned on PostgreSQL only")
    now = clock.now()
    task = await TaskService(frozen_ctx).create(spec(name="history"), actor=CLI)
    rows: list[dict[str, Any]] = []
    # Runs every 10 days from 400 days ago to 200 (about seven months), then 6 recent ones
    # (keep_last is 5: the old ones are not among the newest).
    ages = [*range(400, 199, -10), 5, 4, 3, 2, 1, 0]
    for age in ages:
        when = now - timedelta(days=age)
        queued = age == 300  # one queued run holds its month
        rows.append(
            {
                "task_id": task.id, "task_name": "history", "trigger": "schedule",
                "scheduled_for": when, "attempt": 1, "status": "queued" if queued else "succeeded",
                "queue": "default", "priority": 0, "queued_at": when, "available_at": when,
                "finished_at": None if queued else when,
            }
        )  # fmt: skip
    async with frozen_ctx.db.write() as tx:
        await partitions.ensure_months(tx, [r["scheduled_for"] for r in rows])
        inserted = await run_store.insert(tx, rows)
    made = [
        Made(r["id"], task.id, r["status"], w["finished_at"]) for r, w in zip(inserted, rows, strict=True)
    ]
    held = partitions.partition_for(now - timedelta(days=300)).name

    report = await RetentionService(frozen_ctx, pause=0).prune()

    assert await remaining(frozen_ctx, task.id) == expected_kept(
        made, now, ok_days=30, other_days=90, keep_last=5, last_run_id=None
    )
    # Older than the longest limit (90 days) and without a kept run: dropped, not deleted row by row.
    assert len(report.partitions) >= 5
    assert held not in report.partitions
    async with frozen_ctx.db.read() as tx:
        left = {p.name for p in await partitions.monthly(tx)}
    assert held in left
    assert not left & set(report.partitions)


async def test_two_schedulers_upkeep_makes_the_months_ahead_once(
    frozen_ctx: Context, clock: FrozenClock
) -> None:
    """The upkeep loop of each scheduler makes this month and the ones ahead (the clock's months,
    which the migration, made on today's date, did not); two at once make each month once, and a
    slot that had landed in the default partition moves into its month."""
    if frozen_ctx.db.is_sqlite:
        pytest.skip("the run history is partitioned on PostgreSQL only")
    task = await TaskService(frozen_ctx).create(spec(name="ahead"), actor=CLI)
    slot = clock.now() + timedelta(days=40)
    async with frozen_ctx.db.write() as tx:
        [row] = await run_store.insert(
            tx,
            [
                {
                    "task_id": task.id, "task_name": "ahead", "trigger": "schedule", "scheduled_for": slot,
                    "attempt": 1, "status": "queued", "queue": "default", "priority": 0,
                    "queued_at": slot, "available_at": slot,
                }
            ],
        )  # fmt: skip
    wanted = {partitions.partition_for(m).name for m in partitions.months_from(clock.now())}
    loops = [Maintenance(frozen_ctx, first_prune_after=(0, 0)) for _ in range(2)]
    running = [asyncio.create_task(m.run()) for m in loops]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            async with frozen_ctx.db.read() as tx:
                have = {p.name for p in await partitions.monthly(tx)}
            if wanted <= have:
                break
            await asyncio.sleep(0.1)
    finally:
        for m in loops:
            m.stop()
        await asyncio.gather(*running)
    assert wanted <= have
    async with frozen_ctx.db.read() as tx:
        assert await partitions.default_rows(tx) == 0
        assert (await run_store.get(tx, row["id"])) is not None


async def _keyed_runs(ctx: Context, task_id: int, keys: list[str]) -> list[int]:
    service = RunService(ctx)
    made = [(await service.enqueue(task_id, actor=CLI, idempotency_key=k)).run.id for k in keys]
    execution = ExecutionService(ctx)
    claimed = await execution.claim("w", None, 100)
    now = ctx.clock.now()
    await execution.finish(
        "w", [Outcome(run=c, status=RunStatus.SUCCEEDED, finished_at=now) for c in claimed]
    )
    return made


async def _keys_left(ctx: Context, task_id: int, keys: list[str]) -> set[str]:
    async with ctx.db.read() as tx:
        return {k for (_, k) in await run_store.keyed_runs(tx, [(task_id, k) for k in keys])}


async def test_an_idempotency_key_is_deleted_with_its_run(frozen_ctx: Context, clock: FrozenClock) -> None:
    task = await TaskService(frozen_ctx).create(spec(name="keyed"), actor=CLI)
    keys = ["a", "b", "c"]
    if not frozen_ctx.db.is_sqlite:
        async with frozen_ctx.db.write() as tx:
            await partitions.ensure_months(tx, [clock.now()])
    first = await _keyed_runs(frozen_ctx, task.id, keys)
    clock.advance(40 * 86_400)
    await _keyed_runs(frozen_ctx, task.id, [f"new-{i}" for i in range(6)])  # keep_last is 5

    report = await RetentionService(frozen_ctx, pause=0).prune()

    assert report.deleted == 3
    assert await _keys_left(frozen_ctx, task.id, keys) == set()
    assert await _keys_left(frozen_ctx, task.id, ["new-0", "new-5"]) == {"new-0", "new-5"}
    # The key is free again: it queues a new run.
    again = await RunService(frozen_ctx).enqueue(task.id, actor=CLI, idempotency_key="a")
    assert again.created
    assert again.run.id not in first


async def test_a_dropped_months_keys_go_with_it(frozen_ctx: Context, clock: FrozenClock) -> None:
    if frozen_ctx.db.is_sqlite:
        pytest.skip("the run history is partitioned on PostgreSQL only")
    task = await TaskService(frozen_ctx).create(spec(name="keyed"), actor=CLI)
    old = clock.now()
    async with frozen_ctx.db.write() as tx:
        await partitions.ensure_months(tx, [old, old + timedelta(days=400)])
    await _keyed_runs(frozen_ctx, task.id, ["a", "b"])
    clock.advance(400 * 86_400)
    await _keyed_runs(frozen_ctx, task.id, [f"new-{i}" for i in range(6)])

    report = await RetentionService(frozen_ctx, pause=0).prune()

    assert partitions.partition_for(old).name in report.partitions
    assert await _keys_left(frozen_ctx, task.id, ["a", "b"]) == set()
    assert await _keys_left(frozen_ctx, task.id, ["new-0"]) == {"new-0"}
