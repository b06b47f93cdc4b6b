"""Firing a crowded instant ahead of time (scheduler/fire_ahead.py), on both databases, frozen clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tasksched.clock import FrozenClock
from tasksched.domain.principals import CLI
from tasksched.domain.tasks import TaskPatch
from tasksched.scheduler.loop import Scheduler
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService
from tasksched.services.firing import FiringService
from tasksched.services.tasks import TaskService
from tests.integration.test_firing import runs_of

AHEAD = timedelta(seconds=30)


async def test_a_run_fired_ahead_is_claimable_at_its_slot_and_not_before(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60})
    slot = task.next_run_at
    assert slot is not None
    clock.advance(40)  # 20 s before the slot
    assert (await FiringService(frozen_ctx).fire_due(lookahead=AHEAD)).queued == 1
    (run,) = await runs_of(frozen_ctx, task.id)
    assert (run.status, run.scheduled_for, run.available_at) == ("queued", slot, slot)
    execution = ExecutionService(frozen_ctx)
    assert await execution.claim("w", None, 10) == []  # 20 s early: not even prefetched
    clock.advance(20)
    (claimed,) = await execution.claim("w", None, 10)
    assert claimed.id == run.id


async def test_pausing_withdraws_a_slot_fired_ahead_and_resuming_records_it(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60})
    slot = task.next_run_at
    clock.advance(40)
    await FiringService(frozen_ctx).fire_due(lookahead=AHEAD)
    service = TaskService(frozen_ctx)
    paused = await service.set_enabled(task.id, False, actor=CLI)
    assert await runs_of(frozen_ctx, task.id) == []
    assert paused.next_run_at == slot  # not fired after all: the pause owns it now
    clock.advance(30)  # the slot passes while paused
    assert (await FiringService(frozen_ctx).fire_due(lookahead=AHEAD)).tasks == 0
    await service.set_enabled(task.id, True, actor=CLI)
    (record,) = await runs_of(frozen_ctx, task.id)
    assert record.status == "skipped"
    assert record.scheduled_for == slot
    assert record.reason is not None
    assert record.reason.startswith("paused: 1 slot(s)")


async def test_a_new_schedule_withdraws_the_old_schedules_slot_fired_ahead(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60})
    clock.advance(40)
    await FiringService(frozen_ctx).fire_due(lookahead=AHEAD)
    await TaskService(frozen_ctx).patch(
        task.id, TaskPatch.model_validate({"schedule": {"type": "interval", "seconds": 600}}), actor=CLI
    )
    assert await runs_of(frozen_ctx, task.id) == []


async def test_a_run_that_has_come_is_not_withdrawn(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(schedule={"type": "interval", "seconds": 60})
    clock.advance(60)
    await FiringService(frozen_ctx).fire_due()
    await TaskService(frozen_ctx).set_enabled(task.id, False, actor=CLI)
    (run,) = await runs_of(frozen_ctx, task.id)
    assert run.status == "queued"  # its slot had come: it is history, and it runs


async def test_the_scheduler_wakes_early_enough_to_fire_a_crowd_in_time(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    crowd = [
        await make_task(name=f"crowd-{i}", schedule={"type": "interval", "seconds": 60}) for i in range(121)
    ]
    slot = crowd[0].next_run_at
    assert slot is not None
    scheduler = Scheduler(frozen_ctx, safety_poll=3600)
    scheduler.ahead.rate = 40.0  # slots a second, as if measured
    # 121 slots at 40/s with a margin of 2: fire 1 + 6.05 s ahead of the slot, 60 s from now.
    delay = await scheduler.tick()
    assert abs(delay - (60 - 1 - 2 * 121 / 40)) < 0.01
    clock.advance(delay)
    await scheduler.tick()
    runs = [r for t in crowd for r in await runs_of(frozen_ctx, t.id)]
    assert len(runs) == 121
    assert {(r.scheduled_for, r.available_at) for r in runs} == {(slot, slot)}


async def test_the_lead_never_passes_the_setting(frozen_ctx: Context, make_task: Any) -> None:
    for i in range(30):
        await make_task(name=f"crowd-{i}", schedule={"type": "interval", "seconds": 600})
    scheduler = Scheduler(frozen_ctx, safety_poll=3600)
    scheduler.ahead.rate = 1.0
    limit = frozen_ctx.settings.scheduler_fire_ahead_seconds
    assert abs(await scheduler.tick() - (600 - limit)) < 0.01
