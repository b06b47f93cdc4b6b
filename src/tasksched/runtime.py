"""Starting the long-running parts (scheduler, worker, event relay) inside one process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from tasksched.registry import import_modules
from tasksched.scheduler.loop import Scheduler
from tasksched.services.context import Context
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.loop import Worker

log = structlog.get_logger("tasksched")


async def start_relay(ctx: Context) -> Callable[[], None] | None:
    """On PostgreSQL, carry events between processes with LISTEN/NOTIFY."""
    if ctx.db.is_sqlite:
        return None
    from tasksched.events.pg import PgRelay

    relay = PgRelay(ctx.db.url, ctx.bus)
    await relay.start()
    ctx.bus.attach_relay(relay)
    return relay.stop


async def start_background(
    ctx: Context, *, scheduler: bool, worker: bool
) -> tuple[list[asyncio.Task[object]], list[Callable[[], None]]]:
    tasks: list[asyncio.Task[object]] = []
    stoppers: list[Callable[[], None]] = []
    relay_stop = await start_relay(ctx)
    if scheduler:
        sched = Scheduler(ctx)
        tasks.append(asyncio.create_task(sched.run(), name="tasksched-scheduler"))
        stoppers.append(sched.stop)
    if worker:
        import_modules(ctx.settings.import_list)
        executors = ExecutorSet(ctx.settings)
        wrk = Worker(ctx, executors, queues=ctx.settings.queue_list)

        async def _run_worker() -> object:
            try:
                return await wrk.run()
            finally:
                await executors.aclose()

        tasks.append(asyncio.create_task(_run_worker(), name="tasksched-worker"))
        stoppers.append(wrk.stop)
    if relay_stop is not None:
        stoppers.append(relay_stop)
    return tasks, stoppers
