"""Plain (sync) functions run in a bounded pool of threads, whatever the worker's concurrency.

``TASKSCHED_WORKER_CONCURRENCY`` runs are in flight at once; only ``TASKSCHED_WORKER_THREADS`` plain
functions run at once (the others wait for a thread, their timeout not yet counting); async
functions are not bound by the threads. Timeouts and cancellation reach waiting and running ones.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tasksched.domain.principals import CLI
from tasksched.services.context import Context
from tasksched.services.runs import RunQuery, RunService
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker
from tests.helpers.tasks import CENSUS, GATHERING


def executors_with(ctx: Context, threads: int) -> ExecutorSet:
    return ExecutorSet(ctx.settings.model_copy(update={"worker_threads": threads}))


async def statuses(ctx: Context, task_id: int) -> list[str]:
    items, *_ = await RunService(ctx).list(RunQuery(task_id=task_id, limit=500))
    return [r.status for r in sorted(items, key=lambda r: r.id)]


async def until_status(ctx: Context, run_id: int, status: str) -> None:
    for _ in range(500):
        if (await RunService(ctx).get(run_id)).status == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never became {status}")


async def test_a_large_concurrency_uses_no_more_threads_than_the_bound(
    frozen_ctx: Context, make_task: Any
) -> None:
    task = await make_task(
        action={"type": "python", "function": "tests.count_threads"}, concurrency_policy="allow"
    )
    service = RunService(frozen_ctx)
    for _ in range(200):
        await service.run_now(task.id, actor=CLI)
    CENSUS.reset()
    executors = executors_with(frozen_ctx, 8)
    try:
        stats = await Worker(frozen_ctx, executors, concurrency=200, burst=True).run()
        pool = executors.python.threads
        assert pool.max_threads == 8
        assert pool.threads <= 8
    finally:
        await executors.aclose()
    assert stats.by_status == {"succeeded": 200}
    assert CENSUS.calls == 200
    assert len(CENSUS.idents) <= 8, f"{len(CENSUS.idents)} threads ran the function"
    assert CENSUS.most_at_once <= 8


async def test_async_functions_are_not_bound_by_the_threads(frozen_ctx: Context, make_task: Any) -> None:
    """50 async runs that each wait until all 50 are running at once: all succeed with 2 threads."""
    task = await make_task(
        action={"type": "python", "function": "tests.gather", "args": [50]}, concurrency_policy="allow"
    )
    for _ in range(50):
        await RunService(frozen_ctx).run_now(task.id, actor=CLI)
    GATHERING.reset()
    executors = executors_with(frozen_ctx, 2)
    try:
        stats = await Worker(frozen_ctx, executors, concurrency=50, burst=True).run()
    finally:
        await executors.aclose()
    assert stats.by_status == {"succeeded": 50}


async def test_waiting_for_a_thread_does_not_count_against_the_timeout(
    frozen_ctx: Context, make_task: Any
) -> None:
    """One thread: the second run waits the first one's second for it, longer than its own timeout
    of 0.3 s, and still succeeds (the timeout counts from when it got the thread)."""
    first = await make_task(
        name="holds-the-thread",
        action={"type": "python", "function": "tests.blocking_sleep", "args": [1.0]},
        priority=5,
    )
    second = await make_task(name="waits", timeout_seconds=0.3, retry={"max_attempts": 1})
    await RunService(frozen_ctx).run_now(first.id, actor=CLI)
    await RunService(frozen_ctx).run_now(second.id, actor=CLI)
    executors = executors_with(frozen_ctx, 1)
    try:
        await asyncio.wait_for(Worker(frozen_ctx, executors, burst=True).run(), 30)
    finally:
        await executors.aclose()
    assert await statuses(frozen_ctx, first.id) == ["succeeded"]
    assert await statuses(frozen_ctx, second.id) == ["succeeded"]


async def test_a_timed_out_sync_function_gives_its_thread_back(frozen_ctx: Context, make_task: Any) -> None:
    """The timeout raises the function's cancellation flag; it returns, and the next run gets the
    one thread."""
    stuck = await make_task(
        name="stuck",
        action={"type": "python", "function": "tests.blocking_sleep", "args": [30]},
        timeout_seconds=0.3,
        retry={"max_attempts": 1},
        priority=5,
    )
    after = await make_task(name="after")
    await RunService(frozen_ctx).run_now(stuck.id, actor=CLI)
    await RunService(frozen_ctx).run_now(after.id, actor=CLI)
    executors = executors_with(frozen_ctx, 1)
    try:
        await asyncio.wait_for(Worker(frozen_ctx, executors, burst=True).run(), 30)
    finally:
        await executors.aclose()
    assert await statuses(frozen_ctx, stuck.id) == ["timed_out"]
    assert await statuses(frozen_ctx, after.id) == ["succeeded"]


async def test_a_run_cancelled_while_waiting_for_a_thread_never_starts(
    frozen_ctx: Context, make_task: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    holder = await make_task(
        name="holder", action={"type": "python", "function": "tests.blocking_sleep", "args": [30]}, priority=5
    )
    waiter = await make_task(
        name="waiter", action={"type": "python", "function": "tests.record", "args": [str(marker)]}
    )
    service = RunService(frozen_ctx)
    holding = await service.run_now(holder.id, actor=CLI)
    waiting = await service.run_now(waiter.id, actor=CLI)
    executors = executors_with(frozen_ctx, 1)
    worker = Worker(frozen_ctx, executors, burst=True)
    running = asyncio.create_task(worker.run())
    try:
        await until_status(frozen_ctx, waiting.id, "running")  # claimed, waiting for the one thread
        await service.cancel(waiting.id, actor=CLI)
        await until_status(frozen_ctx, waiting.id, "cancelled")
        await service.cancel(holding.id, actor=CLI)  # blocking_sleep polls its flag and returns
        await asyncio.wait_for(running, 30)
    finally:
        worker.stop()
        await executors.aclose()
    assert await statuses(frozen_ctx, holder.id) == ["cancelled"]
    assert await statuses(frozen_ctx, waiter.id) == ["cancelled"]
    assert not marker.exists(), "the cancelled run's function ran"
