"""Worker registrations: the Workers page and ``workers_online`` read them."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from tasksched.services.context import Context
from tasksched.store import workers as worker_store

# The Workers page shows workers seen in the last day; older rows are history.
_HISTORY = timedelta(days=1)


# Here, not in stats.py (which re-exports it): a worker registers through this module and need not
# load the dashboard's queries and their models (issue 10, point 5).
def online_cutoff(now: datetime, lease_seconds: float) -> datetime:
    """A worker heartbeats every second; one whole lease without a beat and it counts as offline."""
    return now - timedelta(seconds=lease_seconds)


class WorkerService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def register(self, name: str, queues: Sequence[str] | None, concurrency: int) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            await worker_store.register(
                tx,
                {
                    "name": name,
                    "hostname": socket.gethostname(),
                    "pid": os.getpid(),
                    "queues": list(queues) if queues is not None else ["*"],
                    "concurrency": concurrency,
                    "running": 0,
                    "started_at": now,
                    "heartbeat_at": now,
                    "stopped_at": None,
                },
            )

    async def stopped(self, name: str) -> None:
        async with self.ctx.db.write() as tx:
            await worker_store.stopped(tx, name, self.ctx.clock.now())

    async def list(self) -> list[dict[str, Any]]:
        now = self.ctx.clock.now()
        cutoff = online_cutoff(now, self.ctx.settings.lease_seconds)
        async with self.ctx.db.read() as tx:
            rows = await worker_store.list_(tx, seen_since=now - _HISTORY)
        for row in rows:
            row["online"] = row["stopped_at"] is None and row["heartbeat_at"] >= cutoff
        return rows
