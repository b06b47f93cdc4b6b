"""The notifier loop: deliver due notices, then sleep until the next is due (or a new one is written).

Several notifiers may run at once, in any processes: claims are leases taken with SKIP LOCKED on
PostgreSQL (one writer at a time on SQLite), so each notice is sent by one of them at a time.
"""

from __future__ import annotations

import asyncio

import httpx
import structlog

from tasksched.aio import wait_any
from tasksched.events.bus import NOTICE_CREATED
from tasksched.observability.outage import log_failure
from tasksched.services.context import Context
from tasksched.services.delivery import CLAIM_BATCH, DeliveryService

log = structlog.get_logger("tasksched.notifier")

# A safety net: new notices wake the loop by event (from other processes too, on PostgreSQL).
POLL_SECONDS = 2.0


class Notifier:
    def __init__(self, ctx: Context, *, poll: float = POLL_SECONDS) -> None:
        self.ctx = ctx
        self.delivery = DeliveryService(ctx, name=ctx.settings.worker_name)
        self.poll = poll
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        log.info("notifier started", name=self.delivery.name)
        async with (
            httpx.AsyncClient() as client,
            self.ctx.bus.subscription(frozenset({NOTICE_CREATED}), maxsize=1) as created,
        ):
            while not self._stop.is_set():
                delay = self.poll
                try:
                    done = await self.delivery.deliver_due(client)
                    failed = [d for d in done if not d.ok]
                    if failed:
                        log.warning(
                            "notices not delivered; retrying later",
                            notices=len(failed),
                            error=failed[0].error,
                        )
                    if len(done) == CLAIM_BATCH:
                        continue  # more may be due now
                    nxt = await self.delivery.next_due_at()
                    if nxt is not None:
                        delay = min(max((nxt - self.ctx.clock.now()).total_seconds(), 0.05), self.poll)
                except Exception as exc:  # a database outage must not end the loop
                    log_failure(log, "notifier pass failed; retrying", exc)
                    delay = 1.0
                await wait_any(self._stop.wait(), created.get(), timeout=delay)
                created.drain()
        log.info("notifier stopped")
