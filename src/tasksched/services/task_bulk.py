"""Bulk actions on tasks: pause, resume, run now or delete many at once, named by id or by the
list's filter ("select all matching"), in one transaction with one audit row.

Each task gets what the single-task action would do to it (a resume records the slots its pause
skipped and takes its next slot from now), but in a few statements for the whole batch rather than a
few per task: a selection of thousands is one request and a second or so, not thousands of requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from tasksched.domain import schedules
from tasksched.domain.audit import Target
from tasksched.domain.principals import Actor
from tasksched.domain.runs import RunStatus, RunTrigger
from tasksched.errors import Conflict, InvalidInput
from tasksched.events.bus import (
    RUN_CANCEL_REQUESTED,
    RUN_CREATED,
    TASK_DELETED,
    TASK_UPDATED,
    Event,
)
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.services.run_rows import new_run_row
from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import schedule_from_row

BulkAction = Literal["pause", "resume", "run", "delete"]

# How many tasks one bulk action may touch: "all matching" over a wider filter must be narrowed.
MAX_BULK_TASKS = 10_000

_DONE = {"pause": "paused", "resume": "resumed", "run": "run", "delete": "deleted"}


@dataclass(frozen=True)
class TaskFilter:
    """The task list's filter (GET /api/tasks), as a bulk action's selection."""

    q: str | None = None
    tags: tuple[str, ...] = ()
    enabled: bool | None = None
    last_status: RunStatus | None = None

    def document(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "tags": list(self.tags),
            "enabled": self.enabled,
            "last_status": self.last_status.value if self.last_status else None,
        }


@dataclass(frozen=True)
class BulkResult:
    action: BulkAction
    matched: int  # tasks selected
    done: list[int]  # the tasks the action changed (or ran), in id order
    unchanged: list[int] = field(default_factory=list)  # already paused (or resumed): left alone
    run_ids: list[int] = field(default_factory=list)  # "run": the runs queued, one per task


class TaskBulkService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def apply(
        self,
        action: BulkAction,
        *,
        actor: Actor,
        task_ids: Sequence[int] = (),
        where: TaskFilter | None = None,
    ) -> BulkResult:
        """Apply ``action`` to the tasks named (``task_ids``) or to every task ``where`` matches."""
        if bool(task_ids) == (where is not None):
            raise InvalidInput("give either task_ids or a filter, not both and not neither", field="body")
        if len(task_ids) > MAX_BULK_TASKS:
            raise InvalidInput(f"at most {MAX_BULK_TASKS} tasks at once", field="task_ids")
        now = self.ctx.clock.now()
        events: list[Event] = []
        async with self.ctx.db.write() as tx:
            if where is not None:
                ids = await task_store.matching_ids(
                    tx,
                    q=(where.q or "").strip() or None,
                    tags=where.tags,
                    enabled=where.enabled,
                    last_status=where.last_status.value if where.last_status else None,
                    limit=MAX_BULK_TASKS + 1,
                )
                if len(ids) > MAX_BULK_TASKS:
                    raise InvalidInput(
                        f"more than {MAX_BULK_TASKS} tasks match; narrow the filter to {action} them at once",
                        field="filter",
                    )
            else:
                ids = list(task_ids)
            rows = await task_store.lock_many(tx, ids)
            if where is None:
                found = {r["id"] for r in rows}
                for i, task_id in enumerate(task_ids):
                    if task_id not in found:
                        raise InvalidInput(f"task {task_id} does not exist", field=f"task_ids.{i}")
            if action in ("pause", "resume"):
                result = await self._set_enabled(tx, rows, action == "resume", now, events)
            elif action == "run":
                result = await self._run(tx, rows, now, events)
            else:
                result = await self._delete(tx, rows, events)
            selection = {"filter": where.document()} if where is not None else {"task_ids": sorted(set(ids))}
            after: dict[str, Any] = {**selection, "action": action, "done": result.done}
            if result.unchanged:
                after["unchanged"] = result.unchanged
            if result.run_ids:
                after["run_ids"] = result.run_ids
            before = (
                {"tasks": [{"id": r["id"], "name": r["name"]} for r in rows]} if action == "delete" else None
            )
            n = len(result.done)
            name = f"{n} task{'' if n == 1 else 's'} {_DONE[action]}"
            await audit.record(
                tx, actor, f"tasks.{action}", Target("tasks", None, name), before, after, at=now
            )
        self.ctx.bus.publish(*events)
        return result

    async def _set_enabled(
        self, tx: Tx, rows: list[dict[str, Any]], enabled: bool, now: datetime, events: list[Event]
    ) -> BulkResult:
        action: BulkAction = "resume" if enabled else "pause"
        changing = [r for r in rows if r["enabled"] != enabled]
        changes: list[dict[str, Any]] = []
        skipped_runs: list[dict[str, Any]] = []
        for row in changing:
            if not enabled:
                # A slot fired ahead of its time goes back to the task, as single pauses do
                # (services/tasks.py, scheduler/fire_ahead.py).
                withdrawn = await run_store.withdraw_fired_ahead(tx, row["id"], now=now)
                following = min(withdrawn) if withdrawn else row["next_run_at"]
                changes.append(
                    {"id": row["id"], "enabled": False, "paused_at": now, "next_run_at": following}
                )
                continue
            schedule = schedule_from_row(row)
            first = row["next_run_at"]
            anchor = row["schedule_anchor"]
            if schedule is not None and first is not None and first <= now:
                skipped_runs.append(_paused_slots_row(row, schedule, first, now))
            following = schedules.next_fire_after(schedule, now, anchor=anchor) if schedule else None
            changes.append({"id": row["id"], "enabled": True, "paused_at": None, "next_run_at": following})
        await run_store.insert(tx, skipped_runs)
        versions = await task_store.set_enabled_many(tx, changes, now=now)
        events.extend(
            Event(TASK_UPDATED, {"task_id": c["id"], "enabled": enabled, "version": versions[c["id"]]})
            for c in changes
        )
        changed = {r["id"] for r in changing}
        return BulkResult(
            action,
            matched=len(rows),
            done=[r["id"] for r in changing],
            unchanged=[r["id"] for r in rows if r["id"] not in changed],
        )

    async def _run(
        self, tx: Tx, rows: list[dict[str, Any]], now: datetime, events: list[Event]
    ) -> BulkResult:
        """One manual run of each task, as run-now queues it: a slot at the request time, or just
        after the task's newest slot when that is taken."""
        by_id = {r["id"]: r for r in rows}
        pending = list(by_id)
        queued: dict[int, int] = {}  # task id -> its new run
        for _ in range(3):
            if not pending:
                break
            latest = await run_store.latest_slots(tx, pending, not_before=now)
            new_rows = [
                new_run_row(
                    by_id[t],
                    trigger=RunTrigger.MANUAL,
                    scheduled_for=latest[t] + timedelta(microseconds=1) if t in latest else now,
                    attempt=1,
                    now=now,
                )
                for t in pending
            ]
            for got in await run_store.insert(tx, new_rows):
                queued[int(got["task_id"])] = int(got["id"])
                events.append(
                    Event(RUN_CREATED, {"run_id": got["id"], "task_id": got["task_id"], "status": "queued"})
                )
            pending = [t for t in pending if t not in queued]
        if pending:  # pragma: no cover - racing writers on every try
            raise Conflict("too many manual runs at once; try again")
        done = sorted(queued)
        return BulkResult("run", matched=len(rows), done=done, run_ids=[queued[t] for t in done])

    async def _delete(self, tx: Tx, rows: list[dict[str, Any]], events: list[Event]) -> BulkResult:
        ids = [r["id"] for r in rows]
        active = await run_store.active_for_tasks(tx, ids)
        running = [(r["id"], t) for t, found in active.items() for r in found if r["status"] == "running"]
        await run_store.request_cancel(tx, [r for r, _ in running])
        await task_store.delete_many(tx, ids)
        events.extend(Event(TASK_DELETED, {"task_id": t}) for t in ids)
        events.extend(Event(RUN_CANCEL_REQUESTED, {"run_id": r, "task_id": t}) for r, t in running)
        return BulkResult("delete", matched=len(rows), done=ids)


def _paused_slots_row(row: dict[str, Any], schedule: Any, first: datetime, now: datetime) -> dict[str, Any]:
    """The one skipped record a resume leaves, saying how many slots the pause skipped (as
    ``TaskService`` leaves for a single task)."""
    missed = 1 + schedules.count_slots_between(schedule, first, now, anchor=row["schedule_anchor"])
    since = row["paused_at"] or first
    return new_run_row(
        row,
        trigger=RunTrigger.SCHEDULE,
        scheduled_for=first,
        attempt=1,
        now=now,
        status=RunStatus.SKIPPED,
        reason=f"paused: {missed} slot(s) from {first.isoformat()} to {now.isoformat()} "
        f"not run (paused since {since.isoformat()})",
    )
