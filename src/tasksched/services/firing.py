"""Firing due slots: the scheduler's one transaction.

Each pass selects enabled tasks whose ``next_run_at`` has come (rows locked with SKIP LOCKED on
PostgreSQL; SQLite's single writer needs no lock), decides per slot what happens (queue it, skip it
under the concurrency or misfire policy), inserts the runs with ON CONFLICT DO NOTHING on the key
(task, scheduled_for, attempt), and advances ``next_run_at`` in the same transaction. Two schedulers
racing cannot fire a slot twice: the unique key decides, not luck.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain import policies, schedules
from tasksched.domain.runs import RunStatus, RunTrigger
from tasksched.domain.schedules import Schedule
from tasksched.domain.tasks import ConcurrencyPolicy, MisfirePolicy
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED, Event
from tasksched.observability import metrics
from tasksched.services.context import Context
from tasksched.services.outcomes import Ended, after_outcomes
from tasksched.services.run_rows import new_run_row
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import schedule_from_row

BATCH = 1000
# Slots this close are fired ahead of time, as runs that become claimable exactly at their slot: the
# firing transaction is then never the reason a run starts late. A task whose earlier run is still
# active under forbid/replace waits for its slot instead, so that the overlap is judged on time.
LOOKAHEAD = timedelta(seconds=1)


@dataclass
class FireReport:
    queued: int = 0
    skipped: int = 0
    tasks: int = 0
    more_due: bool = False
    # The earliest slot left for later because it was too early to judge its overlap.
    deferred_until: datetime | None = None
    events: list[Event] = field(default_factory=list)


class FiringService:
    def __init__(self, ctx: Context, *, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self._rng = rng or random.Random()  # for what follows an outcome (no skipped run is retried)

    async def fire_due(
        self, now: datetime | None = None, *, batch: int = BATCH, lookahead: timedelta = LOOKAHEAD
    ) -> FireReport:
        now = now or self.ctx.clock.now()
        report = FireReport()
        async with self.ctx.db.write() as tx:
            due = await task_store.due(tx, now + lookahead, batch)
            if not due:
                return report
            report.more_due = len(due) == batch
            watch = [t["id"] for t in due if t["concurrency_policy"] != ConcurrencyPolicy.ALLOW.value]
            active = await run_store.active_for_tasks(tx, watch)
            rows: list[dict[str, Any]] = []
            advances: list[dict[str, Any]] = []
            cancel_queued: list[int] = []
            cancel_running: list[int] = []
            for row in due:
                if row["next_run_at"] > now and row["id"] in active:
                    slot = row["next_run_at"]
                    report.deferred_until = min(report.deferred_until or slot, slot)
                    continue
                report.tasks += 1
                schedule = schedule_from_row(row)
                if schedule is None:  # the schedule was removed after next_run_at was set
                    advances.append({"id": row["id"], "next_run_at": None})
                    continue
                task = _due_task(row, schedule)
                plan = policies.plan_slots(task, _active_runs(active.get(task.id, [])), now)
                rows.extend(_run_row(row, task, planned, now) for planned in plan.runs)
                cancel_queued.extend(plan.cancel_queued)
                cancel_running.extend(plan.cancel_running)
                nxt = schedules.next_fire_after(schedule, max(now, task.next_run_at), anchor=task.anchor)
                advances.append({"id": task.id, "next_run_at": nxt})
            # Seam for the audit log: these cancels are tasksched's own (the replace policy), not a user's.
            cancelled = await run_store.cancel_queued(
                tx, cancel_queued, reason="replaced by a newer run (concurrency_policy=replace)", now=now
            )
            flagged = await run_store.request_cancel(tx, cancel_running)
            inserted = await run_store.insert(tx, rows)
            await task_store.advance(tx, advances)
            ended = [
                Ended(run_id=r["id"], task_id=r["task_id"], status=RunStatus(r["status"]), at=now)
                for r in cancelled
            ] + [
                Ended(run_id=r["id"], task_id=r["task_id"], status=RunStatus.SKIPPED, at=now, created=True)
                for r in inserted
                if r["status"] == RunStatus.SKIPPED.value
            ]
            aftermath = await after_outcomes(tx, ended, rng=self._rng, bus=self.ctx.bus)
        names = {row["id"]: row["name"] for row in due}
        reasons = {(r["task_id"], r["scheduled_for"], r["attempt"]): r["reason"] for r in rows}
        for r in inserted:
            if r["status"] == RunStatus.QUEUED.value:
                report.queued += 1
                report.events.append(Event(RUN_CREATED, _event(r)))
            else:
                report.skipped += 1
                reason = reasons.get((r["task_id"], r["scheduled_for"], r["attempt"]))
                metrics.SLOTS_SKIPPED.labels(metrics.skip_reason(reason)).inc()
                metrics.run_finished(names.get(r["task_id"], ""), RunStatus.SKIPPED.value)
        for r in cancelled:
            metrics.run_finished(r["task_name"], RunStatus.CANCELLED.value)
        report.events.extend(aftermath.events)
        report.events.extend(Event(RUN_CANCEL_REQUESTED, {"run_id": run_id}) for run_id in flagged)
        self.ctx.bus.publish(*report.events)
        return report

    async def crowd_at(self, slot: datetime, *, within: timedelta, cap: int) -> int:
        """How many slots come in ``[slot, slot + within]``, counted up to ``cap``."""
        async with self.ctx.db.read() as tx:
            return await task_store.count_due_between(tx, slot, slot + within, cap=cap)

    async def next_due_at(self, *, after: datetime | None = None) -> datetime | None:
        async with self.ctx.db.read() as tx:
            return await task_store.earliest_next_run(tx, after=after)


def _due_task(row: dict[str, Any], schedule: Schedule) -> policies.DueTask:
    return policies.DueTask(
        id=row["id"],
        schedule=schedule,
        next_run_at=row["next_run_at"],
        anchor=row["schedule_anchor"],
        misfire_policy=MisfirePolicy(row["misfire_policy"]),
        misfire_grace=timedelta(seconds=row["misfire_grace_seconds"]),
        concurrency_policy=ConcurrencyPolicy(row["concurrency_policy"]),
    )


def _active_runs(rows: list[dict[str, Any]]) -> list[policies.ActiveRun]:
    return [policies.ActiveRun(id=r["id"], status=RunStatus(r["status"])) for r in rows]


def _run_row(
    row: dict[str, Any], task: policies.DueTask, planned: policies.PlannedRun, now: datetime
) -> dict[str, Any]:
    """The row of a planned run; a queued one becomes claimable at its slot plus its jitter."""
    available_at = None
    if planned.status is RunStatus.QUEUED:
        jitter = schedules.jitter_offset(task.schedule, f"{task.id}:{planned.slot.isoformat()}")
        available_at = planned.slot + timedelta(seconds=jitter)
    return new_run_row(
        row,
        trigger=RunTrigger.SCHEDULE,
        scheduled_for=planned.slot,
        attempt=1,
        now=now,
        available_at=available_at,
        status=planned.status,
        reason=planned.reason,
    )


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": row["id"], "task_id": row["task_id"], "status": row["status"]}
