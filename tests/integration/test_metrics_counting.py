"""What the services count into this process's metrics: skipped slots by reason, the runs that end
in the scheduler (skipped, reaped), start lateness and durations in the worker. Only committed
outcomes count."""

from __future__ import annotations

from typing import Any

from tasksched.clock import FrozenClock
from tasksched.domain.runs import RunStatus
from tasksched.observability import metrics
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tasksched.services.firing import FiringService


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


async def test_skipped_slots_are_counted_by_reason_and_as_finished_runs(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    firing = FiringService(frozen_ctx)
    # The registry is the process's: counted since the test session began, so compare differences.
    before = {r: sample("tasksched_slots_skipped_total", reason=r) for r in ("misfire", "overlap", "other")}
    missed_before = sample("tasksched_runs_finished_total", task="count-missed", status="skipped")
    busy_before = sample("tasksched_runs_finished_total", task="count-busy", status="skipped")
    missed = await make_task(
        name="count-missed",
        schedule={"type": "interval", "seconds": 60},
        misfire_grace_seconds=10,
        misfire_policy="skip",
    )
    clock.advance(60 * 5 + 20)  # five slots long past their grace: one skipped record says so
    await firing.fire_due()
    assert sample("tasksched_slots_skipped_total", reason="misfire") == before["misfire"] + 1
    assert sample("tasksched_runs_finished_total", task=missed.name, status="skipped") == missed_before + 1

    busy = await make_task(
        name="count-busy", schedule={"type": "interval", "seconds": 10}, concurrency_policy="forbid"
    )
    for _ in range(3):  # the first slot queues; the next two are skipped while its run is active
        clock.advance(10)
        await firing.fire_due()
    assert sample("tasksched_slots_skipped_total", reason="overlap") == before["overlap"] + 2
    assert sample("tasksched_runs_finished_total", task=busy.name, status="skipped") == busy_before + 2
    assert sample("tasksched_slots_skipped_total", reason="misfire") == before["misfire"] + 1
    assert sample("tasksched_slots_skipped_total", reason="other") == before["other"]


async def test_lateness_duration_and_reaped_runs_are_counted(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(
        name="count-late", schedule={"type": "interval", "seconds": 60}, misfire_grace_seconds=3600
    )
    late_count = sample("tasksched_run_start_lateness_seconds_count", queue="default")
    late_sum = sample("tasksched_run_start_lateness_seconds_sum", queue="default")
    ok_count = sample("tasksched_run_duration_seconds_count", status="succeeded")
    ok_sum = sample("tasksched_run_duration_seconds_sum", status="succeeded")
    failed = sample("tasksched_runs_finished_total", task=task.name, status="failed")
    execution = ExecutionService(frozen_ctx)
    clock.advance(60 + 7)  # the first slot fires 7 s late and is claimed at once
    await FiringService(frozen_ctx).fire_due()
    (run,) = await execution.claim("w1", None, 10)
    assert sample("tasksched_run_start_lateness_seconds_count", queue="default") == late_count + 1
    assert sample("tasksched_run_start_lateness_seconds_sum", queue="default") == late_sum + 7
    clock.advance(2.5)
    await execution.finish("w1", [Outcome(run=run, status=RunStatus.SUCCEEDED, finished_at=clock.now())])
    assert sample("tasksched_run_duration_seconds_count", status="succeeded") == ok_count + 1
    assert sample("tasksched_run_duration_seconds_sum", status="succeeded") == ok_sum + 2.5
    # A run whose outcome the worker no longer holds is not counted again.
    await execution.finish("w1", [Outcome(run=run, status=RunStatus.FAILED, finished_at=clock.now())])
    assert sample("tasksched_runs_finished_total", task=task.name, status="failed") == failed

    clock.advance(60)  # the next slot; its worker vanishes and the reaper takes the run back
    await FiringService(frozen_ctx).fire_due()
    await execution.claim("w-gone", None, 10)
    clock.advance(frozen_ctx.settings.lease_seconds + 5)
    assert await execution.reap() == 1
    assert sample("tasksched_runs_finished_total", task=task.name, status="failed") == failed + 1
