"""Scheduler liveness: each scheduler process records when its loop last completed a pass.

A scheduler whose loop is stuck (or whose database writes fail) stops moving its ``heartbeat_at``;
``/metrics`` and ``/api/status`` read the rows, so any process can tell that no scheduler is ticking.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from tasksched.services.context import Context
from tasksched.store import schedulers as scheduler_store

# A scheduler beats at least every 10 s (each pass, and while a long wait lasts); a few missed beats and it counts as stale.
STALE_AFTER = timedelta(seconds=30)
# Rows of schedulers not seen for this long are history and are deleted when a scheduler starts.
_HISTORY = timedelta(days=1)


def scheduler_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class SchedulerHeartbeats:
    def __init__(self, ctx: Context, name: str | None = None) -> None:
        self.ctx = ctx
        self.name = name or scheduler_name()

    async def register(self) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            await scheduler_store.purge(tx, older_than=now - _HISTORY)
            await scheduler_store.register(
                tx,
                {
                    "name": self.name,
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": now,
                    "heartbeat_at": now,
                    "stopped_at": None,
                },
            )

    async def beat(self, now: datetime | None = None) -> None:
        async with self.ctx.db.write() as tx:
            await scheduler_store.heartbeat(tx, self.name, now or self.ctx.clock.now())

    async def stopped(self) -> None:
        async with self.ctx.db.write() as tx:
            await scheduler_store.stopped(tx, self.name, self.ctx.clock.now())


async def list_schedulers(ctx: Context) -> list[dict[str, Any]]:
    """Schedulers seen in the last day, each with ``alive`` (ticked recently, not stopped)."""
    now = ctx.clock.now()
    async with ctx.db.read() as tx:
        rows = await scheduler_store.list_(tx, seen_since=now - _HISTORY)
    for row in rows:
        row["alive"] = row["stopped_at"] is None and row["heartbeat_at"] >= now - STALE_AFTER
    return rows
