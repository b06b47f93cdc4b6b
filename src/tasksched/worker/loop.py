"""The worker: claim runs in batches, execute them concurrently, record outcomes in batches.

- Claims take up to the free concurrency at once, highest priority first (one transaction).
- Outcomes are recorded by one finisher task: while a batch is being written, the next one fills
  up, so the database sees one transaction per batch rather than one per run. A run's slot is free
  as soon as its work ends: claiming the next runs overlaps with recording the last outcomes (the
  leases of runs whose outcome is not yet recorded are still renewed). At most twice
  ``concurrency`` outcomes wait to be recorded; past that, claiming pauses.
- A heartbeat renews leases, saves live output and picks up cancel requests from other processes.
- ``stop()`` drains: no new claims, running work gets ``drain_seconds`` to finish, the rest is
  released back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from tasksched.aio import wait_any
from tasksched.domain.runs import RunStatus
from tasksched.domain.secrets import redact, secret_values
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED
from tasksched.observability.outage import log_failure
from tasksched.services.context import Context
from tasksched.services.execution import PREFETCH, ClaimedRun, ExecutionService, Outcome, Recorded
from tasksched.services.workers import WorkerService
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult, OutputBuffer

log = structlog.get_logger("tasksched.worker")

HEARTBEAT_SECONDS = 1.0
MAX_CLAIM_BATCH = 500
REAP_EVERY_BEATS = 5
FINISH_BATCH = 200
FINISH_LINGER_SECONDS = 0.002
# How many finished runs per slot may wait for their outcome to be recorded before claiming pauses:
# with 2, one batch is written while the next one runs.
UNRECORDED_PER_SLOT = 2


def _time(limit: asyncio.Timeout, seconds: float, begun: bool) -> None:
    """Stop a run's timeout (``begun`` false) or start it afresh from now."""
    limit.reschedule(asyncio.get_running_loop().time() + seconds if begun else None)


@dataclass
class _Active:
    run: ClaimedRun
    ectx: ExecutionContext
    task: asyncio.Task[None] | None = None
    # Why we stopped it ourselves: "cancelled" (a user or the replace policy), "release" (draining).
    stop_reason: str | None = None
    flushed_version: int = 0


@dataclass
class WorkerStats:
    claimed: int = 0
    finished: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


class Worker:
    def __init__(
        self,
        ctx: Context,
        executors: ExecutorSet,
        *,
        name: str | None = None,
        queues: list[str] | None = None,
        concurrency: int | None = None,
        burst: bool = False,
    ) -> None:
        self.ctx = ctx
        self.executors = executors
        self.execution = ExecutionService(ctx)
        self.workers = WorkerService(ctx)
        self.name = name or ctx.settings.worker_name
        self.queues = None if queues is None or "*" in queues else queues
        self.concurrency = concurrency or ctx.settings.worker_concurrency
        self.burst = burst
        # A safety net only: new runs wake an idle worker through the bus (and the relay).
        self.idle_poll = ctx.settings.worker_poll_seconds
        self.stats = WorkerStats()
        self._claim_threshold = max(1, self.concurrency // 4)
        self._active: dict[int, _Active] = {}  # executing now: these take the slots
        self._outcomes: list[Outcome] = []  # waiting for the finisher
        # Done, outcome not yet committed (waiting for the finisher or being written): still ours.
        self._unrecorded: dict[int, Outcome] = {}
        self._elapsed_ms: dict[int, float | None] = {}  # how long each run's work took, for its log line
        self._closing = False
        self._outcome_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """Begin draining (SIGTERM): stop claiming; ``run`` returns once work is finished or released."""
        self._stopping.set()

    def cancel_run(self, run_id: int, reason: str = "cancelled") -> bool:
        active = self._active.get(run_id)
        if active is None or active.task is None or active.stop_reason is not None:
            return False
        active.stop_reason = reason
        active.ectx.cancelled.set()
        active.task.cancel()
        return True

    # -- main loop -----------------------------------------------------------------------------

    async def run(self) -> WorkerStats:
        await self.workers.register(self.name, self.queues, self.concurrency)
        log.info(
            "worker started", worker=self.name, queues=self.queues or ["*"], concurrency=self.concurrency
        )
        finisher = asyncio.create_task(self._finish_forever(), name="tasksched-finisher")
        heartbeat = asyncio.create_task(self._heartbeat_forever(), name="tasksched-heartbeat")
        cancels = asyncio.create_task(self._watch_cancels(), name="tasksched-cancel-watch")
        try:
            async with self.ctx.bus.subscription({RUN_CREATED}, maxsize=1) as arrivals:
                await self._claim_loop(arrivals.get, arrivals.drain)
            await self._drain()
        finally:
            for task in (heartbeat, cancels):
                task.cancel()
            await asyncio.gather(heartbeat, cancels, return_exceptions=True)
            # The finisher records what is left, then returns (cancelling it mid-write would lose a batch).
            self._closing = True
            self._outcome_ready.set()
            await asyncio.gather(finisher, return_exceptions=True)
            await self._flush_outcomes()
            with contextlib.suppress(Exception):
                await self.workers.stopped(self.name)
            log.info("worker stopped", worker=self.name, finished=self.stats.finished)
        return self.stats

    async def _claim_loop(
        self, next_arrival: Callable[[], Awaitable[object]], drain_arrivals: Callable[[], object]
    ) -> None:
        while not self._stopping.is_set():
            free = self.concurrency - len(self._active)
            if len(self._unrecorded) >= self.concurrency * UNRECORDED_PER_SLOT:
                free = 0  # the database is behind with outcomes: let it catch up before claiming more
            claimed: list[ClaimedRun] = []
            # While busy, wait until a quarter of the slots are free and claim them in one
            # transaction, rather than one transaction per finished run; when idle, claim at once.
            if free > 0 and (not self._active or free >= self._claim_threshold):
                drain_arrivals()
                try:
                    claimed = await self.execution.claim(self.name, self.queues, min(free, MAX_CLAIM_BATCH))
                except Exception as exc:
                    log_failure(log, "claiming runs failed; retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                for run in claimed:
                    self._start(run)
                if len(claimed) == min(free, MAX_CLAIM_BATCH):
                    await asyncio.sleep(0)  # let the started runs get going, then claim again
                    continue
            if self.burst and not claimed and not self._active and not self._unrecorded:
                return
            timeout = await self._idle_timeout() if free > 0 and not self._active else self.idle_poll
            self._slot_free.clear()
            waits: list[Awaitable[object]] = [self._stopping.wait(), self._slot_free.wait()]
            if free > 0 and not self._active:
                waits.append(next_arrival())
            await wait_any(*waits, timeout=timeout)

    async def _idle_timeout(self) -> float:
        if self.burst:
            return 0.05
        try:
            nxt = await self.execution.next_available_at(self.queues)
        except Exception:
            return self.idle_poll
        if nxt is None:
            return self.idle_poll
        claimable = nxt - PREFETCH
        return min(max((claimable - self.ctx.clock.now()).total_seconds(), 0.001), self.idle_poll)

    def _start(self, run: ClaimedRun) -> None:
        self.stats.claimed += 1
        ectx = ExecutionContext(
            run_id=run.id,
            task_id=run.task_id,
            task_name=run.task_name,
            attempt=run.attempt,
            output=OutputBuffer(self.ctx.settings.output_limit_bytes),
        )
        active = _Active(run=run, ectx=ectx)
        self._active[run.id] = active
        active.task = asyncio.create_task(self._execute(active), name=f"tasksched-run-{run.id}")

    async def _execute(self, active: _Active) -> None:
        run, ectx = active.run, active.ectx
        status: RunStatus
        result = ExecutionResult(ok=False)
        started: float | None = None
        try:
            # Claimed ahead of its time (see PREFETCH): start on the dot, never before it. The
            # event loop's timers may wake a little early (uvloop rounds to the millisecond), so
            # the wall clock is asked again until the slot has come.
            while (wait := (run.started_at - self.ctx.clock.now()).total_seconds()) > 0:
                await asyncio.sleep(max(wait, 0.0005))
            started = time.monotonic()
            async with asyncio.timeout(run.timeout_seconds) as limit:
                if run.timeout_seconds is not None:
                    # A plain function waiting for one of the worker's threads has not begun yet: the
                    # timeout stops while it waits and counts from when it gets one.
                    ectx.on_timing = functools.partial(_time, limit, run.timeout_seconds)
                result = await self.executors.execute(run.action, ectx)
            status = RunStatus.SUCCEEDED if result.ok else RunStatus.FAILED
        except TimeoutError:
            ectx.cancelled.set()
            status = RunStatus.TIMED_OUT
            result = ExecutionResult(
                ok=False, error=f"timed out after {run.timeout_seconds:g} s and was stopped"
            )
        except asyncio.CancelledError:
            if active.stop_reason == "release":
                self._active.pop(run.id, None)
                self._slot_free.set()
                raise
            if active.stop_reason is None:
                raise
            status = RunStatus.CANCELLED
            result = ExecutionResult(ok=False, error=f"cancelled while running ({active.stop_reason})")
        # Logged by the finisher once it is stored (see _log_recorded), not here: a worker killed
        # before the commit must not have logged an outcome the database never took.
        self._elapsed_ms[run.id] = round((time.monotonic() - started) * 1000, 1) if started else None
        outcome = Outcome(
            run=run,
            status=status,
            finished_at=self.ctx.clock.now(),
            output=redact(ectx.output.text(), secret_values(run.action)) or None,
            error=result.error,
            exit_code=result.exit_code,
            http_status=result.http_status,
            retry_after=getattr(result, "retry_after", None),
        )
        self._active.pop(run.id, None)
        self._unrecorded[run.id] = outcome
        self._outcomes.append(outcome)
        self._outcome_ready.set()
        self._slot_free.set()

    # -- finishing -----------------------------------------------------------------------------

    async def _finish_forever(self) -> None:
        while not (self._closing and not self._outcomes):
            await self._outcome_ready.wait()
            self._outcome_ready.clear()
            if not self._closing and len(self._outcomes) < FINISH_BATCH and self._active:
                # Others are about to finish: a moment's wait turns many transactions into one.
                await asyncio.sleep(FINISH_LINGER_SECONDS)
            await self._flush_outcomes()

    async def _flush_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                recorded = await self.execution.finish(self.name, batch)
            except Exception as exc:
                # Keep them and try again: the leases are still ours while the heartbeat runs.
                log_failure(log, "recording outcomes failed; retrying", exc, runs=len(batch))
                self._outcomes = batch + self._outcomes
                await asyncio.sleep(1.0)
                continue
            self._log_recorded(batch, recorded)
            for outcome in batch:
                self._unrecorded.pop(outcome.run.id, None)
                self.stats.finished += 1
                key = outcome.status.value
                self.stats.by_status[key] = self.stats.by_status.get(key, 0) + 1
            self._slot_free.set()

    def _log_recorded(self, batch: list[Outcome], recorded: Recorded) -> None:
        """One line per outcome, saying what the database now holds (its transaction has committed)."""
        for outcome in batch:
            run = outcome.run
            fields: dict[str, Any] = {
                "run_id": run.id,
                "task_id": run.task_id,
                "task": run.task_name,
                "attempt": run.attempt,
                "ms": self._elapsed_ms.pop(run.id, None),
            }
            if run.id not in recorded.held:
                log.warning(
                    "run outcome not recorded: the run was no longer this worker's (its lease lapsed "
                    "and it was taken back, or it was deleted)",
                    **fields,
                    outcome=outcome.status.value,
                )
                continue
            if outcome.status is RunStatus.SUCCEEDED:
                log.info("run succeeded", **fields)
                continue
            retry = recorded.retries.get(run.id)
            if retry is not None:
                fields.update(next_run_id=retry.run_id, next_attempt_at=retry.available_at.isoformat())
            log.warning("run did not succeed", **fields, status=outcome.status.value, error=outcome.error)

    # -- heartbeat and cancellation ------------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            beats += 1
            try:
                await self.heartbeat()
                # Workers reap too, so a crashed peer's runs come back even with no scheduler running.
                if beats % REAP_EVERY_BEATS == 0 and await self.execution.reap():
                    self._slot_free.set()
            except Exception as exc:
                log_failure(log, "heartbeat failed", exc)

    async def heartbeat(self) -> None:
        running = [a for a in self._active.values() if a.stop_reason is None]
        outputs: list[tuple[int, str]] = []
        for active in running:
            version = active.ectx.output.version
            if version != active.flushed_version:
                active.flushed_version = version
                outputs.append(
                    (active.run.id, redact(active.ectx.output.text(), secret_values(active.run.action)))
                )
        ids = [a.run.id for a in running]
        # Runs whose outcome is not recorded yet are still ours: their leases must not lapse either.
        leases = ids + [run_id for run_id in self._unrecorded if run_id not in self._active]
        held, cancel = await self.execution.heartbeat(self.name, leases, outputs, running=len(self._active))
        for run_id in ids:
            if run_id in cancel:
                self.cancel_run(run_id, "cancel requested")
            elif run_id not in held and run_id in self._active:
                # Reaped or deleted: someone else owns its fate now; stop spending effort on it.
                self.cancel_run(run_id, "lease lost")

    async def _watch_cancels(self) -> None:
        async with self.ctx.bus.subscription({RUN_CANCEL_REQUESTED}) as sub:
            while True:
                event = await sub.get()
                run_id = event.data.get("run_id")
                if isinstance(run_id, int):
                    self.cancel_run(run_id, "cancel requested")

    # -- draining ------------------------------------------------------------------------------

    async def _drain(self) -> None:
        if not self._active:
            return
        grace = self.ctx.settings.drain_seconds
        log.info("draining", worker=self.name, running=len(self._active), grace_seconds=grace)
        deadline = time.monotonic() + grace
        while self._active and time.monotonic() < deadline:
            self._slot_free.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._slot_free.wait(), deadline - time.monotonic())
        leftover = [a for a in self._active.values() if a.stop_reason is None and a.task is not None]
        if not leftover:
            return
        for active in leftover:
            active.stop_reason = "release"
            active.ectx.cancelled.set()
            assert active.task is not None
            active.task.cancel()
        await asyncio.gather(*(a.task for a in leftover if a.task), return_exceptions=True)
        released = await self.execution.release(self.name, [a.run.id for a in leftover])
        log.warning("released unfinished runs back to the queue", worker=self.name, runs=len(released))

    @property
    def running(self) -> int:
        return len(self._active)
