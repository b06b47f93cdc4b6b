"""The scheduler process's loop.

No busy polling: it sleeps until the earliest ``next_run_at`` and wakes early when a task changes
(an in-process event, or one relayed from another process). A slow safety poll covers a
missed notification. It also runs the lease reaper, so a crashed worker's runs come back even when
no worker is left alive, and the notification checks that need no worker either (a slot late to
start, a run running too long, a task without a recent success).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog

from tasksched.aio import wait_any
from tasksched.events.bus import TASK_EVENTS, Subscription
from tasksched.observability.outage import log_failure
from tasksched.scheduler.fire_ahead import FireAhead
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService
from tasksched.services.firing import LOOKAHEAD, FiringService
from tasksched.services.heartbeats import SchedulerHeartbeats
from tasksched.services.notices import NoticeChecks

log = structlog.get_logger("tasksched.scheduler")

# A long wait (a long safety poll, TASKSCHED_SCHEDULER_POLL_SECONDS) still beats this often, so an
# idle scheduler is not taken for a stuck one (services/heartbeats.py: stale after 30 s).
IDLE_BEAT_SECONDS = 10.0
REAP_EVERY_SECONDS = 5.0
# A busy loop passes many times a second; its heartbeat is written at most this often.
HEARTBEAT_EVERY_SECONDS = 1.0
# Late starts, long runs, no recent success: checked this often (so a notice comes at most this late).
NOTICE_CHECK_SECONDS = 5.0


class Scheduler:
    def __init__(self, ctx: Context, *, safety_poll: float | None = None) -> None:
        self.ctx = ctx
        self.firing = FiringService(ctx)
        self.execution = ExecutionService(ctx)
        self.checks = NoticeChecks(ctx)
        # Only a safety net (a lost notification): one indexed query, so it may be frequent.
        self.safety_poll = ctx.settings.scheduler_poll_seconds if safety_poll is None else safety_poll
        self.heartbeats = SchedulerHeartbeats(ctx)
        self.ahead = FireAhead(timedelta(seconds=ctx.settings.scheduler_fire_ahead_seconds))
        self._last_beat: datetime | None = None
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def tick(self) -> float:
        """Fire everything due now (or within the lead); return how long to sleep."""
        deferred: datetime | None = None
        while True:
            started = self.ctx.clock.monotonic()
            report = await self.firing.fire_due(lookahead=self.ahead.lead)
            self.ahead.measured(report.tasks, self.ctx.clock.monotonic() - started)
            if report.tasks:
                log.info("fired", tasks=report.tasks, queued=report.queued, skipped=report.skipped)
            if report.deferred_until is not None:
                deferred = min(deferred or report.deferred_until, report.deferred_until)
            if not report.more_due:
                break
        now = self.ctx.clock.now()
        nxt = await self.firing.next_due_at(after=now + self.ahead.lead)
        if nxt is not None:
            # The next instant's crowd decides how early its firing starts (scheduler/fire_ahead.py).
            crowd = await self.firing.crowd_at(nxt, within=LOOKAHEAD, cap=self.ahead.crowd_cap)
            nxt -= self.ahead.lead_for(crowd)
        wakes = [t for t in (deferred, nxt) if t is not None]
        if not wakes:
            return self.safety_poll
        delay = (min(wakes) - now).total_seconds()
        return min(max(delay, 0.0), self.safety_poll)

    async def beat(self) -> None:
        """Record that the loop completed a pass (at most once per HEARTBEAT_EVERY_SECONDS)."""
        now = self.ctx.clock.now()
        if self._last_beat is not None and (now - self._last_beat).total_seconds() < HEARTBEAT_EVERY_SECONDS:
            return
        await self.heartbeats.beat(now)
        self._last_beat = now

    async def run(self) -> None:
        log.info("scheduler started", scheduler=self.heartbeats.name)
        try:
            await self.heartbeats.register()
        except Exception as exc:  # the first pass below retries the database; liveness follows
            log_failure(log, "registering the scheduler failed", exc)
        reaper = asyncio.create_task(self._reap_forever(), name="tasksched-reaper")
        checks = asyncio.create_task(self._check_forever(), name="tasksched-notice-checks")
        try:
            async with self.ctx.bus.subscription(TASK_EVENTS, maxsize=1) as changes:
                while not self._stop.is_set():
                    # Drained before the pass, not after: a change announced while the pass runs
                    # may postdate what it read, so it must wake the next wait at once.
                    changes.drain()
                    try:
                        delay = await self.tick()
                        await self.beat()
                    except Exception as exc:  # a database outage must not kill the loop: retry shortly
                        log_failure(log, "scheduler pass failed; retrying", exc)
                        delay = 1.0
                    await self._wait(changes, delay)
        finally:
            for task in (reaper, checks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            try:
                await self.heartbeats.stopped()
            except Exception as exc:
                log_failure(log, "recording the scheduler's stop failed", exc)
            log.info("scheduler stopped")

    async def _wait(self, changes: Subscription, delay: float) -> None:
        """Until a change, a stop, or ``delay`` seconds; beating meanwhile when the wait is long."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        changed = False

        async def change() -> None:
            nonlocal changed
            await changes.get()
            changed = True

        while not self._stop.is_set():
            left = deadline - loop.time()
            if left <= 0:
                return
            await wait_any(self._stop.wait(), change(), timeout=min(left, IDLE_BEAT_SECONDS))
            if changed or left <= IDLE_BEAT_SECONDS or self._stop.is_set():
                return
            try:
                await self.beat()  # idle, not stuck
            except Exception as exc:
                log_failure(log, "recording the scheduler's heartbeat failed", exc)

    async def _reap_forever(self) -> None:
        while not self._stop.is_set():
            try:
                reaped = await self.execution.reap()
                if reaped:
                    log.warning("reaped runs whose worker stopped heartbeating", runs=reaped)
            except Exception as exc:
                log_failure(log, "lease reaper pass failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), REAP_EVERY_SECONDS)

    async def _check_forever(self) -> None:
        while not self._stop.is_set():
            try:
                written = await self.checks.check()
                if written:
                    log.info("notices written by the scheduler's checks", notices=written)
            except Exception as exc:
                log_failure(log, "notification checks failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), NOTICE_CHECK_SECONDS)
