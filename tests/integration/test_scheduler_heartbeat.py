"""A running scheduler records its passes in the database, and says when it stops."""

from __future__ import annotations

import asyncio

from tasksched.scheduler.loop import Scheduler
from tasksched.services.context import Context
from tasksched.services.heartbeats import list_schedulers


async def test_the_scheduler_loop_beats_while_it_runs_and_records_its_stop(ctx: Context) -> None:
    scheduler = Scheduler(ctx, safety_poll=0.05)
    running = asyncio.create_task(scheduler.run())
    try:
        first = None
        for _ in range(200):
            rows = await list_schedulers(ctx)
            if rows and first is None:
                first = rows[0]["heartbeat_at"]
            if rows and first is not None and rows[0]["heartbeat_at"] > first:
                break  # it moved: the loop beats on its passes, not only at start
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the scheduler's heartbeat did not move: {await list_schedulers(ctx)}")
        (row,) = rows
        assert row["name"] == scheduler.heartbeats.name
        assert row["alive"] is True
    finally:
        scheduler.stop()
        await running
    (row,) = await list_schedulers(ctx)
    assert row["stopped_at"] is not None
    assert row["alive"] is False
