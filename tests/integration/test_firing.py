"""The scheduler's firing rules, on both databases, with a frozen clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from tasksched.clock import FrozenClock
from tasksched.domain.policies import RUN_ALL_LIMIT
from tasksched.domain.principals import CLI
from tasksched.services.context import Context
from tasksched.services.firing import FiringService
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskService
from tasksched.store import migrate


async def runs_of(ctx: Context, task_id: int) -> list[Any]:
    items, *_ = await RunService(ctx).list(RunQuery(task_id=task_id, limit=500))
    return sorted(items, key=lambda r: (r.scheduled_for, r.attempt))


async def test_fires_each_slot_once(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60})
    firing = FiringService(frozen_ctx)
    assert (await firing.fire_due()).queued == 0  # not due yet
    clock.advance(60)
    first = await firing.fire_due()
    again = await firing.fire_due()
    assert (first.queued, again.queued) == (1, 0)
    runs = await runs_of(frozen_ctx, task.id)
    assert [r.scheduled_for for r in runs] == [task.next_run_at]
    assert runs[0].status == "queued"
    assert runs[0].trigger == "schedule"
    refreshed = await TaskService(frozen_ctx).get(task.id)
    assert refreshed.next_run_at == task.next_run_at + timedelta(seconds=60)


async def test_next_due_at_is_the_earliest_enabled_slot(frozen_ctx: Context, make_task: Any) -> None:
    a = await make_task(name="a", schedule={"type": "interval", "seconds": 30})
    await make_task(name="b", schedule={"type": "interval", "seconds": 10}, enabled=False)
    assert await FiringService(frozen_ctx).next_due_at() == a.next_run_at


async def test_once_fires_then_has_no_next_run(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    at = clock.now() + timedelta(seconds=5)
    task = await make_task(schedule={"type": "once", "at": at.isoformat()})
    assert task.next_run_at == at
    clock.advance(5)
    assert (await FiringService(frozen_ctx).fire_due()).queued == 1
    after = await TaskService(frozen_ctx).get(task.id)
    assert after.next_run_at is None


async def test_paused_task_fires_nothing_and_resume_records_the_gap(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 10})
    service = TaskService(frozen_ctx)
    await service.set_enabled(task.id, False, actor=CLI)
    clock.advance(35)
    assert (await FiringService(frozen_ctx).fire_due()).tasks == 0
    resumed = await service.set_enabled(task.id, True, actor=CLI)
    runs = await runs_of(frozen_ctx, task.id)
    assert len(runs) == 1
    assert runs[0].status == "skipped"
    assert runs[0].reason is not None
    assert runs[0].reason.startswith("paused: 3 slot(s)")
    assert resumed.next_run_at is not None
    assert resumed.next_run_at > clock.now()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("run_once", [("queued", "coalesced")]),
        ("skip", [("skipped", "not run")]),
        ("run_all", [("queued", "run_all")] * 5),
    ],
)
async def test_misfire_policies(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, policy: str, expected: list[tuple[str, str]]
) -> None:
    task = await make_task(
        schedule={"type": "interval", "seconds": 60},
        misfire_policy=policy,
        misfire_grace_seconds=30,
        concurrency_policy="allow",
    )
    clock.advance(60 * 5 + 45)  # five slots, the newest 45 s late: all past the 30 s grace
    await FiringService(frozen_ctx).fire_due()
    runs = await runs_of(frozen_ctx, task.id)
    assert len(runs) == len(expected)
    for (status, words), run in zip(expected, runs, strict=True):
        assert run.status == status
        assert run.reason is not None
        assert words in run.reason
    if policy == "run_once":
        assert "5 missed slot(s)" in (runs[0].reason or "")
        assert runs[0].scheduled_for == task.next_run_at + timedelta(seconds=240)


async def test_late_within_grace_is_just_fired(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(
        schedule={"type": "interval", "seconds": 60}, misfire_grace_seconds=30, misfire_policy="skip"
    )
    clock.advance(60 + 20)
    await FiringService(frozen_ctx).fire_due()
    runs = await runs_of(frozen_ctx, task.id)
    assert [(r.status, r.reason) for r in runs] == [("queued", None)]


async def test_run_all_is_bounded(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    task = await make_task(
        schedule={"type": "interval", "seconds": 1},
        misfire_policy="run_all",
        misfire_grace_seconds=0,
        concurrency_policy="allow",
    )
    clock.advance(RUN_ALL_LIMIT + 50)
    await FiringService(frozen_ctx).fire_due()
    runs = await runs_of(frozen_ctx, task.id)
    queued = [r for r in runs if r.status == "queued"]
    skipped = [r for r in runs if r.status == "skipped"]
    assert len(queued) == RUN_ALL_LIMIT + 1
    assert len(skipped) == 1
    assert skipped[0].reason is not None
    assert "beyond the run_all limit" in skipped[0].reason


async def test_forbid_skips_while_a_run_is_active(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 10}, concurrency_policy="forbid")
    firing = FiringService(frozen_ctx)
    clock.advance(10)
    await firing.fire_due()
    clock.advance(10)
    await firing.fire_due()
    runs = await runs_of(frozen_ctx, task.id)
    assert [r.status for r in runs] == ["queued", "skipped"]
    assert runs[1].reason is not None
    assert f"run {runs[0].id} still active" in runs[1].reason


async def test_allow_queues_alongside(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 10}, concurrency_policy="allow")
    firing = FiringService(frozen_ctx)
    for _ in range(3):
        clock.advance(10)
        await firing.fire_due()
    assert [r.status for r in await runs_of(frozen_ctx, task.id)] == ["queued"] * 3


async def test_replace_cancels_the_active_run(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 10}, concurrency_policy="replace")
    firing = FiringService(frozen_ctx)
    clock.advance(10)
    await firing.fire_due()
    clock.advance(10)
    await firing.fire_due()
    runs = await runs_of(frozen_ctx, task.id)
    assert [r.status for r in runs] == ["cancelled", "queued"]
    assert runs[0].reason is not None
    assert "replaced" in runs[0].reason
    # The cancel is an outcome like any other: the task's last-run summary follows it.
    last = (await TaskService(frozen_ctx).get(task.id)).last_run
    assert last is not None
    assert (last.id, last.status) == (runs[0].id, "cancelled")


async def test_jitter_delays_availability_not_the_slot(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60, "jitter_seconds": 30})
    clock.advance(60)
    await FiringService(frozen_ctx).fire_due()
    (run,) = await runs_of(frozen_ctx, task.id)
    assert run.scheduled_for == task.next_run_at
    assert run.scheduled_for <= run.available_at < run.scheduled_for + timedelta(seconds=30)


async def test_racing_schedulers_never_double_fire(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    """Several schedulers (separate connections) firing the same due slots at once."""
    tasks = [await make_task(name=f"t{i}", schedule={"type": "interval", "seconds": 1}) for i in range(40)]
    others = [Context.open(frozen_ctx.settings, clock=clock) for _ in range(3)]
    try:
        for other in others:
            await migrate.upgrade(other.db)
        firings = [FiringService(c) for c in [frozen_ctx, *others]]
        for _ in range(5):
            clock.advance(1)
            await asyncio.gather(*(f.fire_due() for f in firings for _ in range(2)))
    finally:
        for other in others:
            await other.close()
    for task in tasks:
        runs = await runs_of(frozen_ctx, task.id)
        slots = [r.scheduled_for for r in runs if r.status == "queued"]
        skipped = [r for r in runs if r.status == "skipped"]
        # forbid is the default: the first slot queues, the rest are skipped as overlaps — once each.
        assert len(runs) == 5
        assert len({r.scheduled_for for r in runs}) == 5
        assert len(slots) == 1
        assert len(skipped) == 4
