"""What will fire: the slots of every enabled task in a window, and one task's next fire times.

The times come from the domain's schedule rules (``domain/schedules.py``) applied to the tasks'
stored schedules, from each task's next slot on: what the scheduler will fire, before jitter.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime

from tasksched.domain import cron, schedules
from tasksched.domain.base import StrictModel
from tasksched.domain.schedules import CronSchedule, Planned, SchedulePreview
from tasksched.errors import InvalidInput, NotFound
from tasksched.services.context import Context
from tasksched.store import tasks as task_store
from tasksched.store.mapping import schedule_from_row

DEFAULT_WINDOW = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


class UpcomingRun(StrictModel):
    task_id: int
    task_name: str
    at: AwareDatetime
    """The slot, in UTC (a task with jitter starts up to its jitter later)."""
    local: AwareDatetime
    """The same instant in the schedule's zone (UTC for once and interval schedules)."""
    timezone: str


class Upcoming(StrictModel):
    start: AwareDatetime
    end: AwareDatetime
    items: list[UpcomingRun]
    """Soonest first; ties in task id order."""
    truncated: bool
    """More slots fall in the window than ``limit``: the last ones were left out."""


def _read_schedule(row: dict[str, Any]) -> schedules.Schedule:
    schedule = schedule_from_row(row)
    assert schedule is not None  # rows without a schedule are left out before
    return schedule


def _zone_name(schedule: schedules.Schedule) -> str:
    return schedule.timezone if isinstance(schedule, CronSchedule) else "UTC"


class PlanningService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def upcoming(
        self, *, start: datetime | None, end: datetime | None, limit: int, tag: str | None = None
    ) -> Upcoming:
        """The slots of every enabled task in ``[start, end)`` (default: the next 24 hours)."""
        start = (start or self.ctx.clock.now()).astimezone(UTC)
        end = (end or start + DEFAULT_WINDOW).astimezone(UTC)
        if end <= start:
            raise InvalidInput("`to` must be after `from`", field="to")
        if end - start > schedules.MAX_UPCOMING_WINDOW:
            days = schedules.MAX_UPCOMING_WINDOW.days
            raise InvalidInput(f"the window from `from` to `to` may be at most {days} days long", field="to")
        if not 1 <= limit <= schedules.MAX_UPCOMING_ITEMS:
            raise InvalidInput(f"limit must be between 1 and {schedules.MAX_UPCOMING_ITEMS}", field="limit")
        async with self.ctx.db.read() as tx:
            # limit + 1 slots tell whether the answer is truncated.
            rows = await task_store.plannable(tx, start, end, enough=limit + 1, tag=tag)
        by_id = {row["id"]: row for row in rows if row["schedule"] is not None}
        planned = [
            Planned(task_id, partial(_read_schedule, row), row["schedule_anchor"], row["next_run_at"])
            for task_id, row in by_id.items()
        ]
        slots, truncated = schedules.upcoming(planned, start, end, limit=limit)
        zones: dict[int, tuple[str, ZoneInfo]] = {}
        items = []
        for at, task_id in slots:
            row = by_id[task_id]
            if task_id not in zones:
                name = _zone_name(_read_schedule(row))
                zones[task_id] = (name, cron.load_zone(name))
            name, zone = zones[task_id]
            items.append(
                UpcomingRun(
                    task_id=task_id, task_name=row["name"], at=at, local=at.astimezone(zone), timezone=name
                )
            )
        return Upcoming(start=start, end=end, items=items, truncated=truncated)

    async def task_preview(self, task_id: int, *, count: int) -> SchedulePreview:
        """A task's next ``count`` fire times (from its next slot, counted from when its schedule
        was set), its schedule in words and the clock changes of the coming year."""
        async with self.ctx.db.read() as tx:
            found = await task_store.get_many(tx, [task_id], columns=task_store.PLANNING_COLUMNS)
        row = found.get(task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist")
        schedule = schedule_from_row(row)
        now = self.ctx.clock.now()
        if schedule is None:
            return SchedulePreview(
                description="no schedule: runs only when started", timezone="UTC", fire_times=[], dst_notes=[]
            )
        after = now
        due = row["next_run_at"]
        if row["enabled"] and due is not None and due <= now:
            after = due - _ONE_MICROSECOND  # due and not yet fired: still ahead
        # A paused task's stored next slot is where it stopped: from now is what resuming would give.
        return schedules.preview(schedule, count=count, after=after, anchor=row["schedule_anchor"])
