"""Firing due slots: the scheduler's one transaction.

Each pass selects enabled tasks whose ``next_run_at`` has come (rows locked with SKIP LOCKED on
PostgreSQL; SQLite's single writer needs no lock), decides per slot what happens (queue it, skip it
under the concurrency or misfire policy), inserts the runs with ON CONFLICT DO NOTHING on the key
(task, scheduled_for, attempt), and advances ``next_run_at`` in the same transaction. Two schedulers
racing cannot fire a slot twice: the unique key decides, not luck.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain import schedules
from tasksched.domain.runs import RunStatus, RunTrigger
from tasksched.domain.schedules import Schedule
from tasksched.domain.tasks import ConcurrencyPolicy, MisfirePolicy
from tasksched.events.bus import RUN_CANCEL_REQUESTED, RUN_CREATED, RUN_UPDATED, Event
from tasksched.services.context import Context
from tasksched.services.runs import new_run_row
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import schedule_from_row

# run_all fires at most this many missed slots per task after downtime; the rest are recorded skipped.
RUN_ALL_LIMIT = 100
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


@dataclass
class _Plan:
    """What one task's due slots turn into."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    cancel_queued: list[int] = field(default_factory=list)
    cancel_running: list[int] = field(default_factory=list)


def _fmt(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


class FiringService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

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
            for task in due:
                early = task["next_run_at"] > now
                if early and task["id"] in active:
                    slot = task["next_run_at"]
                    report.deferred_until = min(report.deferred_until or slot, slot)
                    continue
                report.tasks += 1
                schedule = schedule_from_row(task)
                if schedule is None:  # the schedule was removed after next_run_at was set
                    advances.append({"id": task["id"], "next_run_at": None})
                    continue
                plan = self._plan(task, schedule, active.get(task["id"], []), now)
                rows.extend(plan.rows)
                cancel_queued.extend(plan.cancel_queued)
                cancel_running.extend(plan.cancel_running)
                after = max(now, task["next_run_at"])
                nxt = schedules.next_fire_after(schedule, after, anchor=task["schedule_anchor"])
                advances.append({"id": task["id"], "next_run_at": nxt})
            cancelled = await run_store.cancel_queued(
                tx, cancel_queued, reason="replaced by a newer run (concurrency_policy=replace)", now=now
            )
            flagged = await run_store.request_cancel(tx, cancel_running)
            inserted = await run_store.insert(tx, rows)
            await task_store.advance(tx, advances)
            skipped = [r for r in inserted if r["status"] == RunStatus.SKIPPED.value]
            await task_store.record_last_runs(
                tx,
                [{"id": r["task_id"], "run_id": r["id"], "status": r["status"], "at": now} for r in skipped],
            )
        for r in inserted:
            report.events.append(Event(RUN_CREATED, _event(r)))
            if r["status"] == RunStatus.QUEUED.value:
                report.queued += 1
            else:
                report.skipped += 1
        report.events.extend(Event(RUN_UPDATED, _event(r)) for r in cancelled)
        report.events.extend(Event(RUN_CANCEL_REQUESTED, {"run_id": run_id}) for run_id in flagged)
        self.ctx.bus.publish(*report.events)
        return report

    def _plan(
        self, task: dict[str, Any], schedule: Schedule, active: list[dict[str, Any]], now: datetime
    ) -> _Plan:
        first: datetime = task["next_run_at"]
        anchor: datetime = task["schedule_anchor"]
        grace = timedelta(seconds=task["misfire_grace_seconds"])
        slots = [first, *schedules.slots_between(schedule, first, now, anchor=anchor, limit=RUN_ALL_LIMIT)]
        on_time = [s for s in slots if now - s <= grace]
        missed = [s for s in slots if now - s > grace]
        plan = _Plan()
        to_fire: list[tuple[datetime, str | None]] = [(s, None) for s in on_time]
        if missed:
            total_missed = len(missed)
            if len(slots) > RUN_ALL_LIMIT:
                total_missed = len(missed) + schedules.count_slots_between(
                    schedule, slots[-1], now, anchor=anchor
                )
            span = f"{_fmt(missed[0])} to {_fmt(missed[-1])}" if len(missed) > 1 else _fmt(missed[0])
            policy = MisfirePolicy(task["misfire_policy"])
            if policy is MisfirePolicy.RUN_ALL:
                to_fire = [(s, "misfire: late slot run (misfire_policy=run_all)") for s in missed] + to_fire
                if total_missed > len(missed):
                    plan.rows.append(
                        self._skipped(
                            task,
                            missed[-1] + timedelta(microseconds=1),
                            now,
                            f"misfire: {total_missed - len(missed)} more missed slot(s) beyond the run_all "
                            f"limit of {RUN_ALL_LIMIT} not run",
                        )
                    )
            elif policy is MisfirePolicy.RUN_ONCE and not on_time:
                reason = f"misfire: {total_missed} missed slot(s) ({span}) coalesced into this run"
                to_fire = [(missed[-1], reason)]
            else:
                why = "covered by an on-time run" if on_time else "misfire_policy=skip"
                plan.rows.append(
                    self._skipped(
                        task,
                        missed[-1],
                        now,
                        f"misfire: {total_missed} missed slot(s) ({span}) not run ({why})",
                    )
                )
        self._apply_concurrency(task, schedule, active, to_fire, now, plan)
        return plan

    def _apply_concurrency(
        self,
        task: dict[str, Any],
        schedule: Schedule,
        active: list[dict[str, Any]],
        to_fire: list[tuple[datetime, str | None]],
        now: datetime,
        plan: _Plan,
    ) -> None:
        policy = ConcurrencyPolicy(task["concurrency_policy"])
        busy = bool(active)
        for index, (slot, reason) in enumerate(to_fire):
            last = index == len(to_fire) - 1
            if policy is ConcurrencyPolicy.FORBID and busy:
                holder = f"run {active[0]['id']}" if active else "an earlier slot's run"
                plan.rows.append(
                    self._skipped(
                        task, slot, now, f"overlap: {holder} still active (concurrency_policy=forbid)"
                    )
                )
                continue
            if policy is ConcurrencyPolicy.REPLACE:
                if not last:  # only the newest slot survives a replace
                    plan.rows.append(self._skipped(task, slot, now, "overlap: replaced by a newer slot"))
                    continue
                plan.cancel_queued.extend(r["id"] for r in active if r["status"] == RunStatus.QUEUED.value)
                plan.cancel_running.extend(r["id"] for r in active if r["status"] == RunStatus.RUNNING.value)
            jitter = schedules.jitter_offset(schedule, f"{task['id']}:{slot.isoformat()}")
            plan.rows.append(
                new_run_row(
                    task,
                    trigger=RunTrigger.SCHEDULE,
                    scheduled_for=slot,
                    attempt=1,
                    now=now,
                    available_at=slot + timedelta(seconds=jitter),
                    reason=reason,
                )
            )
            busy = True

    @staticmethod
    def _skipped(task: dict[str, Any], slot: datetime, now: datetime, reason: str) -> dict[str, Any]:
        return new_run_row(
            task,
            trigger=RunTrigger.SCHEDULE,
            scheduled_for=slot,
            attempt=1,
            now=now,
            status=RunStatus.SKIPPED,
            reason=reason,
        )

    async def next_due_at(self, *, after: datetime | None = None) -> datetime | None:
        async with self.ctx.db.read() as tx:
            return await task_store.earliest_next_run(tx, after=after)


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": row["id"], "task_id": row["task_id"], "status": row["status"]}
