"""The worker's side of a run's life: claim, heartbeat, finish (and retry), release, reap.

Claims are leases: a run belongs to a worker until ``lease_until``. Heartbeats extend the leases of
the runs a worker is executing; a run whose lease lapses (its worker died) is taken back by the
reaper, closed as failed and retried under its task's policy. Finishing is a compare-and-set on
(id, worker, status='running'), so a worker that lost its lease cannot overwrite the outcome.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from tasksched.domain.actions import Action, apply_input
from tasksched.domain.base import STORED
from tasksched.domain.runs import RetryPolicy, RunStatus, clip
from tasksched.events.bus import RUN_CREATED, RUN_OUTPUT, RUN_UPDATED, Event
from tasksched.observability import metrics
from tasksched.services.context import Context
from tasksched.services.outcomes import Attempt, Ended, Retry, after_outcomes
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store import workers as worker_store

_action_adapter: TypeAdapter[Action] = TypeAdapter(Action)
REAP_BATCH = 500
# Runs that become available this soon are claimed ahead and started by the worker on the dot (the
# scheduler queues slots this early too): the claim's round trip is then not the run's lateness.
PREFETCH = timedelta(seconds=1)


@functools.lru_cache(maxsize=4096)
def _parse_action(text: str) -> Action:
    return _action_adapter.validate_json(text, context=STORED)


@functools.lru_cache(maxsize=4096)
def _parse_retry(text: str) -> RetryPolicy:
    return RetryPolicy.model_validate_json(text)


@dataclass(frozen=True)
class ClaimedRun:
    id: int
    task_id: int
    task_name: str
    attempt: int
    trigger: str
    scheduled_for: datetime
    started_at: datetime
    available_at: datetime
    action: Action
    timeout_seconds: float | None
    retry: RetryPolicy
    task: dict[str, Any]  # the task row as claimed: retries are created from it
    input: dict[str, Any] | None = None  # the run's input, applied to ``action`` already; retries carry it


@dataclass(frozen=True)
class Outcome:
    run: ClaimedRun
    status: RunStatus
    finished_at: datetime
    output: str | None = None
    error: str | None = None
    exit_code: int | None = None
    http_status: int | None = None
    retry_after: float | None = None  # a function asked for another attempt after this many seconds


@dataclass(frozen=True)
class Recorded:
    """What ``finish`` stored: the outcomes taken, and the next attempts they queued."""

    held: set[int] = field(default_factory=set)  # runs whose outcome was recorded
    retries: dict[int, Retry] = field(default_factory=dict)  # by the id of the run that ended


def _event(run_id: int, task_id: int, status: str) -> Event:
    return Event(RUN_UPDATED, {"run_id": run_id, "task_id": task_id, "status": status})


class ExecutionService:
    def __init__(self, ctx: Context, *, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self._rng = rng or random.Random()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.ctx.settings.lease_seconds)

    async def claim(
        self,
        worker: str,
        queues: Sequence[str] | None,
        limit: int,
        now: datetime | None = None,
        *,
        prefetch: timedelta = PREFETCH,
    ) -> list[ClaimedRun]:
        now = now or self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            rows = await run_store.claim(
                tx,
                worker=worker,
                queues=queues,
                limit=limit,
                now=now,
                lease_until=now + prefetch + self.lease,
                prefetch_until=now + prefetch,
            )
            tasks = await task_store.get_many(
                tx, [r["task_id"] for r in rows], columns=task_store.EXECUTION_COLUMNS
            )
        # Parsed once per task, not once per run: a batch is often many runs of few tasks.
        parsed = {
            task_id: (_parse_action(json.dumps(t["action"])), _parse_retry(json.dumps(t["retry"])))
            for task_id, t in tasks.items()
        }
        claimed = [
            ClaimedRun(
                id=r["id"],
                task_id=r["task_id"],
                task_name=r["task_name"],
                attempt=r["attempt"],
                trigger=r["trigger"],
                scheduled_for=r["scheduled_for"],
                started_at=r["started_at"],
                available_at=r["available_at"],
                action=apply_input(parsed[r["task_id"]][0], r["input"]),
                timeout_seconds=tasks[r["task_id"]]["timeout_seconds"],
                retry=parsed[r["task_id"]][1],
                task=tasks[r["task_id"]],
                input=r["input"],
            )
            for r in rows
            if r["task_id"] in tasks
        ]
        for c in claimed:
            if (
                c.trigger == "schedule" and c.attempt == 1
            ):  # retries and manual runs have no slot to be late for
                lateness = (c.started_at - c.available_at).total_seconds()
                metrics.START_LATENESS.labels(c.task["queue"]).observe(max(0.0, lateness))
        if claimed and self.ctx.bus.wants(RUN_UPDATED):
            self.ctx.bus.publish(*(_event(c.id, c.task_id, RunStatus.RUNNING.value) for c in claimed))
        return claimed

    async def finish(self, worker: str, outcomes: Sequence[Outcome]) -> Recorded:
        """Record outcomes and what follows them, in one transaction; returns what was stored.

        A run the worker no longer held (reaped after its lease lapsed, or deleted) is left alone:
        whoever took it decided its fate. Nothing is published before the commit.
        """
        if not outcomes:
            return Recorded()
        limit = self.ctx.settings.output_limit_bytes
        async with self.ctx.db.write() as tx:
            held = await run_store.finish(
                tx,
                [
                    {
                        "id": o.run.id,
                        "status": o.status.value,
                        "finished_at": o.finished_at,
                        "duration_ms": max(0, int((o.finished_at - o.run.started_at).total_seconds() * 1000)),
                        "exit_code": o.exit_code,
                        "http_status": o.http_status,
                        # Whatever an executor hands over, no more than the tail limit is stored.
                        "output": clip(o.output, limit),
                        "error": clip(o.error, limit, keep="head"),
                    }
                    for o in outcomes
                ],
                worker=worker,
            )
            ended = [
                Ended(
                    run_id=o.run.id,
                    task_id=o.run.task_id,
                    status=o.status,
                    at=o.finished_at,
                    attempt=Attempt(
                        task=o.run.task,
                        scheduled_for=o.run.scheduled_for,
                        number=o.run.attempt,
                        policy=o.run.retry,
                        retry_after=o.retry_after,
                        input=o.run.input,
                    ),
                )
                for o in outcomes
                if o.run.id in held
            ]
            aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
        for o in outcomes:  # counted once committed: a rolled-back outcome did not happen
            if o.run.id in held:
                duration = (o.finished_at - o.run.started_at).total_seconds()
                metrics.run_finished(o.run.task_name, o.status.value, duration)
        self.ctx.bus.publish(*aftermath.events)
        return Recorded(held=held, retries=aftermath.retries)

    async def heartbeat(
        self, worker: str, run_ids: Sequence[int], outputs: Sequence[tuple[int, str]], running: int
    ) -> tuple[set[int], set[int]]:
        """Extend leases and save live output; returns (runs still held, runs asked to cancel)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            held = await run_store.extend_leases(tx, worker, run_ids, now + self.lease)
            limit = self.ctx.settings.output_limit_bytes
            await run_store.save_outputs(
                tx, [(rid, clip(text, limit) or "") for rid, text in outputs if rid in held]
            )
            cancel = await run_store.cancel_requested(tx, list(held))
            await worker_store.heartbeat(tx, worker, running=running, now=now)
        if outputs:
            self.ctx.bus.publish(*(Event(RUN_OUTPUT, {"run_id": rid}) for rid, _ in outputs if rid in held))
        return held, cancel

    async def release(self, worker: str, run_ids: Sequence[int]) -> list[int]:
        """Hand unfinished runs back to the queue; one whose cancellation was asked for ends cancelled."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            cancelled = await run_store.end_cancel_requested(tx, worker, run_ids, now=now)
            released = await run_store.release(tx, worker, run_ids, now=now)
            ended = [
                Ended(run_id=r["id"], task_id=r["task_id"], status=RunStatus.CANCELLED, at=now)
                for r in cancelled
            ]
            aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
        for r in cancelled:
            metrics.run_finished(r["task_name"], RunStatus.CANCELLED.value)
        self.ctx.bus.publish(
            *aftermath.events, *(Event(RUN_CREATED, {"run_id": r, "status": "queued"}) for r in released)
        )
        return released

    async def reap(self, now: datetime | None = None) -> int:
        """Close runs whose lease lapsed (their worker is gone) and retry them under their policy."""
        now = now or self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            expired = await run_store.expired_leases(tx, now, REAP_BATCH)
            if not expired:
                return 0
            tasks = await task_store.get_many(tx, [r["task_id"] for r in expired])
            await run_store.finish(
                tx,
                [
                    {
                        "id": r["id"],
                        "status": RunStatus.FAILED.value,
                        "finished_at": now,
                        "duration_ms": int((now - r["started_at"]).total_seconds() * 1000)
                        if r["started_at"]
                        else None,
                        "error": f"worker {r['worker']} stopped renewing its lease (it crashed or lost the "
                        "database); the run was taken back",
                    }
                    for r in expired
                ],
            )
            ended = [
                Ended(
                    run_id=r["id"],
                    task_id=r["task_id"],
                    status=RunStatus.FAILED,
                    at=now,
                    attempt=Attempt(
                        task=task,
                        scheduled_for=r["scheduled_for"],
                        number=r["attempt"],
                        policy=_parse_retry(json.dumps(task["retry"])),
                        input=r["input"],
                    )
                    if (task := tasks.get(r["task_id"])) is not None
                    else None,
                )
                for r in expired
            ]
            aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
        for r in expired:
            started = r["started_at"]
            metrics.run_finished(
                r["task_name"], RunStatus.FAILED.value, (now - started).total_seconds() if started else None
            )
        self.ctx.bus.publish(*aftermath.events)
        return len(expired)

    async def next_available_at(self, queues: Sequence[str] | None) -> datetime | None:
        async with self.ctx.db.read() as tx:
            return await run_store.next_available_at(tx, queues)
