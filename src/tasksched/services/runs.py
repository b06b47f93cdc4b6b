"""Runs as users see them: history, one run, run-now and cancel."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tasksched.domain.audit import Target
from tasksched.domain.principals import Actor
from tasksched.domain.runs import Run, RunStatus, RunTrigger
from tasksched.errors import Conflict, NotFound
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED, RUN_UPDATED, Event
from tasksched.observability import metrics
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.services.outcomes import Ended, after_outcomes
from tasksched.services.run_rows import new_run_row
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import run_from_row

# A list counts its matches this far past the page asked for, no further (see RunService.list).
COUNT_AHEAD = 1000


@dataclass(frozen=True)
class RunQuery:
    task_id: int | None = None
    statuses: Sequence[RunStatus] = ()
    trigger: RunTrigger | None = None
    limit: int = 50
    offset: int = 0


class RunService:
    def __init__(self, ctx: Context, *, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self._rng = rng or random.Random()  # what follows an outcome takes one (a cancel retries nothing)

    async def get(self, run_id: int) -> Run:
        async with self.ctx.db.read() as tx:
            row = await run_store.get(tx, run_id)
        if row is None:
            raise NotFound(f"run {run_id} does not exist")
        return run_from_row(row)

    async def list(self, query: RunQuery) -> tuple[list[Run], int, bool]:
        """A page of runs, how many match, and whether that count is exact: counting stops
        ``COUNT_AHEAD`` runs past the page (the count is then a lower bound), so that a list costs
        the same on a history of fifty million runs as on an empty one."""
        # Bounded by what a database integer holds (the offset may be the largest there is).
        count_at_most = min(query.offset + query.limit + COUNT_AHEAD, 2**63 - 1)
        async with self.ctx.db.read() as tx:
            if query.task_id is not None and await task_store.get(tx, query.task_id) is None:
                raise NotFound(f"task {query.task_id} does not exist")
            rows, total = await run_store.list_(
                tx,
                task_id=query.task_id,
                statuses=[s.value for s in query.statuses],
                trigger=query.trigger.value if query.trigger else None,
                limit=query.limit,
                offset=query.offset,
                count_at_most=count_at_most,
            )
        return [run_from_row(r) for r in rows], total, total < count_at_most

    async def run_now(self, task_id: int, *, actor: Actor) -> Run:
        """Queue a manual run now, whatever the schedule, pause state or concurrency policy.

        Recorded in the audit log as ``task.run`` on the task, with the queued run as ``after``."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            task = await task_store.get(tx, task_id)
            if task is None:
                raise NotFound(f"task {task_id} does not exist")
            # The slot key is the request time; if that slot is taken (runs requested within the same
            # microsecond), the run goes just after the newest one.
            slot = now
            for _ in range(3):
                inserted = await run_store.insert(
                    tx, [new_run_row(task, trigger=RunTrigger.MANUAL, scheduled_for=slot, attempt=1, now=now)]
                )
                if inserted:
                    break
                latest = await run_store.latest_slot(tx, task_id, not_before=now)
                slot = (latest or now) + timedelta(microseconds=1)
            else:  # pragma: no cover - only a concurrent writer on every try could get here
                raise Conflict("too many manual runs at once; try again")
            row = await run_store.get(tx, inserted[0]["id"])
            assert row is not None
            run = run_from_row(row)
            target = Target("task", task_id, task["name"])
            await audit.record(tx, actor, "task.run", target, None, audit.run_document(run), at=now)
        self.ctx.bus.publish(Event(RUN_CREATED, _run_event(run)))
        return run

    async def cancel(self, run_id: int, *, actor: Actor) -> Run:
        """Cancel a queued run, or ask a running run's worker to stop it; the run's ``reason`` says
        who asked (a running run keeps it when its worker records the cancellation)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            row = await run_store.get(tx, run_id)
            if row is None:
                raise NotFound(f"run {run_id} does not exist")
            before = run_from_row(row)
            status = RunStatus(row["status"])
            aftermath = None
            if status is RunStatus.QUEUED:
                await run_store.cancel_queued(tx, [run_id], reason=f"cancelled by {actor}", now=now)
                # A user's cancel is an outcome like any other: the task's last run says so. No
                # attempt follows (a cancelled run is not retried), hence no Attempt.
                ended = [Ended(run_id=run_id, task_id=row["task_id"], status=RunStatus.CANCELLED, at=now)]
                aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
            elif status is RunStatus.RUNNING:
                await run_store.request_cancel(tx, [run_id], reason=f"cancel requested by {actor}")
            else:
                raise Conflict(f"run {run_id} has already finished ({status.value}); nothing to cancel")
            row = await run_store.get(tx, run_id)
            assert row is not None
            run = run_from_row(row)
            await audit.record(
                tx,
                actor,
                "run.cancel",
                Target("run", run_id, run.task_name),
                audit.run_document(before),
                audit.run_document(run),
                at=now,
            )
        if aftermath is not None:
            metrics.run_finished(run.task_name, RunStatus.CANCELLED.value)
        events = [Event(RUN_UPDATED, _run_event(run))]
        if aftermath is not None:  # its own RUN_UPDATED carries less than the one above
            events.extend(e for e in aftermath.events if e.type != RUN_UPDATED)
        if status is RunStatus.RUNNING:
            events.append(Event(RUN_CANCEL_REQUESTED, _run_event(run)))
        self.ctx.bus.publish(*events)
        return run


def _run_event(run: Run) -> dict[str, Any]:
    return {"run_id": run.id, "task_id": run.task_id, "status": run.status.value}
