"""Workers on both databases: outcomes, retries, timeouts, cancellation, leases, draining."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import structlog

from tasksched.clock import FrozenClock
from tasksched.domain.actions import RunInput
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.execution import PREFETCH, ExecutionService, Recorded
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskService
from tasksched.store import runs as run_store
from tasksched.worker import loop as worker_loop
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker
from tests.helpers.procfs import alive
from tests.integration.conftest import spec


async def burst(ctx: Context, **kwargs: Any) -> Any:
    executors = ExecutorSet(ctx.settings)
    try:
        return await Worker(ctx, executors, burst=True, **kwargs).run()
    finally:
        await executors.aclose()


async def all_runs(ctx: Context, task_id: int) -> list[Any]:
    items, *_ = await RunService(ctx).list(RunQuery(task_id=task_id, limit=500))
    return sorted(items, key=lambda r: r.id)


async def test_runs_a_python_function_and_records_output(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.echo", "args": [1], "kwargs": {"a": "b"}}
    )
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    stats = await burst(frozen_ctx)
    assert stats.finished == 1
    done = await RunService(frozen_ctx).get(run.id)
    assert done.status == "succeeded"
    assert done.worker == "test-worker"
    assert done.output is not None
    assert '"kwargs": {"a": "b"}' in done.output
    assert done.started_at is not None
    assert done.finished_at is not None


async def test_failure_is_retried_with_backoff_until_success(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.fail_until", "args": [3]},
        retry={"max_attempts": 5, "backoff_seconds": 10, "backoff_factor": 2, "jitter": 0},
    )
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await burst(frozen_ctx)
    runs = await all_runs(frozen_ctx, task.id)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "queued")]
    assert runs[0].error == "RuntimeError: attempt 1 fails on purpose"
    assert runs[1].available_at - runs[0].finished_at == timedelta(seconds=10)
    assert runs[1].trigger == "retry"
    assert runs[1].scheduled_for == runs[0].scheduled_for
    await burst(frozen_ctx)  # not due yet: nothing happens
    assert len(await all_runs(frozen_ctx, task.id)) == 2
    clock.advance(10)
    await burst(frozen_ctx)
    clock.advance(20)
    await burst(frozen_ctx)
    runs = await all_runs(frozen_ctx, task.id)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert runs[2].available_at - runs[1].finished_at == timedelta(seconds=20)


async def test_retries_stop_at_max_attempts(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.fail"},
        retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0},
    )
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await burst(frozen_ctx)
    await burst(frozen_ctx)
    runs = await all_runs(frozen_ctx, task.id)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed")]


async def test_retry_exception_sets_the_delay(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(action={"type": "python", "function": "tests.retry_later", "args": [42]})
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await burst(frozen_ctx)
    first, second = await all_runs(frozen_ctx, task.id)
    assert second.available_at - first.finished_at == timedelta(seconds=42)


async def test_timeout_stops_the_run(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.sleep", "args": [30]},
        timeout_seconds=0.2,
        retry={"max_attempts": 1},
    )
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await asyncio.wait_for(burst(frozen_ctx), 10)
    (run,) = await all_runs(frozen_ctx, task.id)
    assert run.status == "timed_out"
    assert run.error is not None
    assert "timed out after 0.2 s" in run.error


async def test_cancel_reaches_a_running_run(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(action={"type": "python", "function": "tests.blocking_sleep", "args": [30]})
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    worker_task = asyncio.create_task(burst(frozen_ctx))
    for _ in range(200):
        if (await RunService(frozen_ctx).get(run.id)).status == "running":
            break
        await asyncio.sleep(0.02)
    await RunService(frozen_ctx).cancel(run.id, actor=CLI)
    await asyncio.wait_for(worker_task, 10)
    done = await RunService(frozen_ctx).get(run.id)
    assert done.status == "cancelled"
    assert len(await all_runs(frozen_ctx, task.id)) == 1  # a cancelled run is not retried


async def test_priority_orders_claims(frozen_ctx: Context, make_task: Any) -> None:
    low = await make_task(name="low", priority=-5)
    high = await make_task(name="high", priority=5)
    runs = RunService(frozen_ctx)
    await runs.run_now(low.id, actor=CLI)
    await runs.run_now(high.id, actor=CLI)
    claimed = await ExecutionService(frozen_ctx).claim("w", None, 1)
    assert [c.task_id for c in claimed] == [high.id]


async def test_queues_route_runs(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(queue="reports")
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await burst(frozen_ctx, queues=["default"])
    assert (await RunService(frozen_ctx).get(run.id)).status == "queued"
    await burst(frozen_ctx, queues=["reports"])
    assert (await RunService(frozen_ctx).get(run.id)).status == "succeeded"


async def test_expired_lease_is_reaped_and_retried(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0})
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    execution = ExecutionService(frozen_ctx)
    (claimed,) = await execution.claim("crashed-worker", None, 10)
    assert await execution.reap() == 0  # lease still valid
    # A claim's lease also covers the prefetch window (a run may be claimed that long ahead).
    clock.advance(frozen_ctx.settings.lease_seconds + PREFETCH.total_seconds() + 1)
    assert await execution.reap() == 1
    runs = await all_runs(frozen_ctx, task.id)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "queued")]
    assert runs[0].error is not None
    assert "crashed-worker" in runs[0].error
    # The crashed worker comes back and tries to finish: the compare-and-set refuses it.
    from tasksched.domain.runs import RunStatus
    from tasksched.services.execution import Outcome

    recorded = await execution.finish(
        "crashed-worker", [Outcome(run=claimed, status=RunStatus.SUCCEEDED, finished_at=clock.now())]
    )
    assert recorded.held == set()
    assert (await RunService(frozen_ctx).get(runs[0].id)).status == "failed"


async def test_heartbeat_extends_the_lease(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    task = await make_task()
    await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    execution = ExecutionService(frozen_ctx)
    (claimed,) = await execution.claim("w", None, 10)
    clock.advance(frozen_ctx.settings.lease_seconds - 1)
    held, cancel = await execution.heartbeat("w", [claimed.id], [(claimed.id, "partial output")], running=1)
    assert (held, cancel) == ({claimed.id}, set())
    clock.advance(frozen_ctx.settings.lease_seconds - 1)
    assert await execution.reap() == 0
    assert (await RunService(frozen_ctx).get(claimed.id)).output == "partial output"


@dataclass
class _Draining:
    """A worker with a short drain, running one long run of ``task``."""

    ctx: Context
    task: Any
    run: Any
    worker: Worker
    running: asyncio.Task[object]
    executors: ExecutorSet

    async def stop(self) -> None:
        self.worker.stop()
        await asyncio.wait_for(self.running, 10)
        await self.executors.aclose()


async def _a_long_run_on_a_draining_worker(frozen_ctx: Context, make_task: Any) -> _Draining:
    settings = frozen_ctx.settings.model_copy(update={"drain_seconds": 0.2})
    ctx = Context(db=frozen_ctx.db, settings=settings, clock=frozen_ctx.clock, bus=frozen_ctx.bus)
    task = await make_task(action={"type": "python", "function": "tests.sleep", "args": [30]})
    run = await RunService(ctx).run_now(task.id, actor=CLI)
    executors = ExecutorSet(settings)
    worker = Worker(ctx, executors)
    running: asyncio.Task[object] = asyncio.create_task(worker.run())
    for _ in range(200):
        if (await RunService(ctx).get(run.id)).status == "running":
            break
        await asyncio.sleep(0.02)
    return _Draining(ctx, task, run, worker, running, executors)


async def test_drain_releases_unfinished_runs(frozen_ctx: Context, make_task: Any) -> None:
    draining = await _a_long_run_on_a_draining_worker(frozen_ctx, make_task)
    await draining.stop()
    released = await RunService(draining.ctx).get(draining.run.id)
    assert released.status == "queued"
    assert released.worker is None
    assert released.attempt == 1


async def test_many_runs_all_recorded(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.async_noop"}, concurrency_policy="allow"
    )
    service = RunService(frozen_ctx)
    for _ in range(300):
        await service.run_now(task.id, actor=CLI)
    stats = await burst(frozen_ctx, concurrency=50)
    assert stats.finished == 300
    total = await service.count(RunQuery(task_id=task.id, statuses=[RunStatus.SUCCEEDED]))
    assert total == 300


async def test_leases_of_runs_awaiting_their_outcome_record_are_renewed(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    """A run whose work is done but whose outcome the database has not taken yet (a slow commit)
    is still the worker's: its lease is renewed, so the reaper does not fail and retry it, and its
    outcome lands once the database answers."""
    task = await make_task(action={"type": "python", "function": "tests.async_noop"})
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    executors = ExecutorSet(frozen_ctx.settings)
    worker = Worker(frozen_ctx, executors, burst=True)
    record = worker.execution.finish
    writing, database_answers = asyncio.Event(), asyncio.Event()

    async def slow_finish(name: str, outcomes: Any) -> Recorded:
        writing.set()
        await database_answers.wait()
        return await record(name, outcomes)

    worker.execution.finish = slow_finish  # type: ignore[method-assign,assignment]
    working = asyncio.create_task(worker.run())
    await asyncio.wait_for(writing.wait(), 10)
    assert worker.running == 0  # its slot is free already
    clock.advance(frozen_ctx.settings.lease_seconds - 1)
    await worker.heartbeat()
    clock.advance(frozen_ctx.settings.lease_seconds - 1)
    assert await ExecutionService(frozen_ctx).reap() == 0
    database_answers.set()
    stats = await asyncio.wait_for(working, 10)
    await executors.aclose()
    assert stats.finished == 1
    recorded = await RunService(frozen_ctx).get(run.id)
    assert (recorded.status, recorded.attempt) == ("succeeded", 1)


def _logged(captured: list[MutableMapping[str, Any]], run_id: int) -> list[str]:
    return [str(e["event"]) for e in captured if e.get("run_id") == run_id]


async def test_an_outcome_is_logged_only_once_it_is_stored(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database said failed (reaped) while the log said succeeded: the log line must wait for
    the commit, and say what was stored. Here the first attempt to record fails, and meanwhile the
    reaper takes the run back; the worker's second attempt finds the run no longer its own."""
    task = await make_task(
        action={"type": "python", "function": "tests.async_noop"}, retry={"max_attempts": 1}
    )
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    executors = ExecutorSet(frozen_ctx.settings)
    worker = Worker(frozen_ctx, executors, burst=True)
    record = worker.execution.finish
    logged_before_commit: list[list[str]] = []
    tries = 0

    async def finish(name: str, outcomes: Any) -> Recorded:
        nonlocal tries
        tries += 1
        logged_before_commit.append(_logged(captured, run.id))
        if tries == 1:
            raise OSError("the database went away mid-commit")
        # Meanwhile the lease lapses (the clock jumps past it) and the reaper takes the run back; the
        # worker's heartbeat may renew the lease just before, so jump again until the reaper wins.
        for _ in range(10):
            clock.advance(frozen_ctx.settings.lease_seconds + PREFETCH.total_seconds() + 1)
            if await ExecutionService(frozen_ctx).reap():
                break
        return await record(name, outcomes)

    worker.execution.finish = finish  # type: ignore[method-assign,assignment]
    with structlog.testing.capture_logs() as captured:
        # A fresh logger: one cached before the capture began would write past it.
        monkeypatch.setattr(worker_loop, "log", structlog.get_logger("tasksched.worker"))
        await asyncio.wait_for(worker.run(), 20)
    await executors.aclose()
    assert tries >= 2
    assert all(lines == [] for lines in logged_before_commit)  # nothing logged before the commit
    (line,) = _logged(captured, run.id)
    assert line.startswith("run outcome not recorded: the run was no longer this worker's")
    assert (await RunService(frozen_ctx).get(run.id)).status == "failed"


async def test_a_stored_outcome_is_logged_with_its_next_attempt(
    frozen_ctx: Context, make_task: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.fail"},
        retry={"max_attempts": 2, "backoff_seconds": 30, "jitter": 0},
    )
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    with structlog.testing.capture_logs() as captured:
        monkeypatch.setattr(worker_loop, "log", structlog.get_logger("tasksched.worker"))
        await burst(frozen_ctx)
    (line,) = [e for e in captured if e.get("run_id") == run.id]
    _, second = await all_runs(frozen_ctx, task.id)
    assert line["event"] == "run did not succeed"
    assert (line["status"], line["error"]) == ("failed", "RuntimeError: boom")
    assert (line["next_run_id"], line["next_attempt_at"]) == (second.id, second.available_at.isoformat())


async def _shell_run_leaves_nothing(frozen_ctx: Context, *, cancel: bool) -> tuple[str, list[int]]:
    """A shell run whose background process left the group (setsid); stopped by its timeout or by
    a cancel request. Returns the run's status and the pids it printed that are still alive."""
    settings = frozen_ctx.settings.model_copy(update={"enable_shell": True})
    ctx = Context(db=frozen_ctx.db, settings=settings, clock=frozen_ctx.clock, bus=frozen_ctx.bus)
    task = await TaskService(ctx).create(
        spec(
            name="detaches",
            action={
                "type": "shell",
                "command": ["sh", "-c", "setsid sleep 300 & echo $!; echo $$; sleep 300"],
            },
            timeout_seconds=30 if cancel else 1,
            retry={"max_attempts": 1},
        ),
        actor=CLI,
    )
    run = await RunService(ctx).run_now(task.id, actor=CLI)
    executors = ExecutorSet(settings)
    worker = asyncio.create_task(Worker(ctx, executors, burst=True).run())
    if cancel:  # once both processes are up (the heartbeat saves the output every second)
        for _ in range(500):
            output = (await RunService(ctx).get(run.id)).output or ""
            if len(output.split()) >= 2:
                break
            await asyncio.sleep(0.02)
        await RunService(ctx).cancel(run.id, actor=CLI)
    await asyncio.wait_for(worker, 20)
    await executors.aclose()
    done = await RunService(ctx).get(run.id)
    pids = [int(word) for word in (done.output or "").split()]
    assert len(pids) == 2, done.output
    return done.status.value, [pid for pid in pids if alive(pid)]


async def test_a_timed_out_shell_run_leaves_no_process_behind(frozen_ctx: Context) -> None:
    assert await _shell_run_leaves_nothing(frozen_ctx, cancel=False) == ("timed_out", [])


async def test_a_cancelled_shell_run_leaves_no_process_behind(frozen_ctx: Context) -> None:
    assert await _shell_run_leaves_nothing(frozen_ctx, cancel=True) == ("cancelled", [])


async def test_a_run_cancelled_while_its_worker_drains_ends_like_any_other_outcome(
    frozen_ctx: Context, make_task: Any
) -> None:
    """The cancel request reaches the database but not the worker (no event, no heartbeat yet)
    before the worker stops: releasing ends the run cancelled, and what follows an outcome follows."""
    draining = await _a_long_run_on_a_draining_worker(frozen_ctx, make_task)
    ctx, run = draining.ctx, draining.run
    async with ctx.db.write() as tx:
        await run_store.request_cancel(tx, [run.id])
    await draining.stop()
    assert (await RunService(ctx).get(run.id)).status == "cancelled"
    last = (await TaskService(ctx).get(draining.task.id)).last_run
    assert last is not None
    assert (last.id, last.status) == (run.id, "cancelled")


async def test_a_run_claimed_ahead_never_starts_before_its_slot(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any, tmp_path: Any
) -> None:
    """The clock at the slot's edge: 0.3 ms before it. The worker's sleep ends (on the real
    clock) but the slot has not come, so the body must wait until the clock reaches it."""
    record = tmp_path / "ran.txt"
    task = await make_task(action={"type": "python", "function": "tests.record", "args": [str(record)]})
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    clock.set(run.queued_at - timedelta(microseconds=300))
    early: list[bool] = []

    async def reach_the_slot() -> None:
        await asyncio.sleep(0.1)  # far longer than the 0.3 ms the worker would sleep
        early.append(record.exists())
        clock.set(run.queued_at)

    mover = asyncio.create_task(reach_the_slot())
    stats = await burst(frozen_ctx)
    await mover
    assert stats.finished == 1
    assert early == [False], "the body ran before the clock reached its slot"
    assert record.exists()
    assert (await RunService(frozen_ctx).get(run.id)).status == RunStatus.SUCCEEDED


async def test_a_runs_input_reaches_the_function(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.echo", "args": [1], "kwargs": {"a": "task", "b": "task"}}
    )
    given = RunInput.model_validate({"args": [2, 3], "kwargs": {"a": "run"}})
    run = await RunService(frozen_ctx).run_now(task.id, actor=CLI, run_input=given)
    plain = await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    await burst(frozen_ctx)
    done = await RunService(frozen_ctx).get(run.id)
    assert done.status == "succeeded"
    assert done.output is not None
    assert '"args": [2, 3]' in done.output
    assert '"kwargs": {"a": "run", "b": "task"}' in done.output  # merged over the task's
    untouched = await RunService(frozen_ctx).get(plain.id)
    assert untouched.output is not None
    assert '"args": [1]' in untouched.output
    assert '"kwargs": {"a": "task", "b": "task"}' in untouched.output


async def test_a_retry_takes_its_runs_input(frozen_ctx: Context, clock: FrozenClock, make_task: Any) -> None:
    """The task's own args would succeed at once; the run's input makes it fail until attempt 3."""
    task = await make_task(
        action={"type": "python", "function": "tests.fail_until", "args": [1]},
        retry={"max_attempts": 5, "backoff_seconds": 10, "backoff_factor": 1, "jitter": 0},
    )
    given = RunInput.model_validate({"args": [3]})
    await RunService(frozen_ctx).run_now(task.id, actor=CLI, run_input=given)
    for _ in range(3):
        await burst(frozen_ctx)
        clock.advance(10)
    runs = await all_runs(frozen_ctx, task.id)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert [r.input for r in runs] == [{"args": [3]}] * 3
    output = (await RunService(frozen_ctx).get(runs[2].id)).output
    assert output is not None
    assert "succeeded on attempt 3" in output


async def test_a_retry_by_hand_takes_its_runs_input(frozen_ctx: Context, make_task: Any) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.fail_until", "args": [1]}, retry={"max_attempts": 1}
    )
    service = RunService(frozen_ctx)
    run = await service.run_now(task.id, actor=CLI, run_input=RunInput.model_validate({"args": [2]}))
    await burst(frozen_ctx)
    assert (await service.get(run.id)).status == "failed"
    [again] = (await service.retry(actor=CLI, run_ids=[run.id])).queued
    assert (again.attempt, again.input) == (2, {"args": [2]})
    await burst(frozen_ctx)
    done = await service.get(again.id)
    assert done.status == "succeeded"
    assert done.output is not None
    assert "succeeded on attempt 2" in done.output


async def test_a_reaped_runs_retry_takes_its_input(
    frozen_ctx: Context, clock: FrozenClock, make_task: Any
) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.echo"}, retry={"max_attempts": 2, "backoff_seconds": 0}
    )
    await RunService(frozen_ctx).run_now(task.id, actor=CLI, run_input=RunInput.model_validate({"args": [9]}))
    execution = ExecutionService(frozen_ctx)
    [claimed] = await execution.claim("gone-worker", None, 10)
    assert claimed.input == {"args": [9]}
    clock.advance(frozen_ctx.settings.lease_seconds + 60)
    assert await execution.reap() == 1
    await burst(frozen_ctx)
    first, second = await all_runs(frozen_ctx, task.id)
    assert (first.status, second.status) == ("failed", "succeeded")
    assert second.input == {"args": [9]}
    output = (await RunService(frozen_ctx).get(second.id)).output
    assert output is not None
    assert '"args": [9]' in output
