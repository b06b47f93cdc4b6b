"""Figures for the status dashboard and for operators: one call, a handful of cheap queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from tasksched.domain.runs import RetryPolicy, RunStatus
from tasksched.errors import InvalidInput, NotFound
from tasksched.services.context import Context
from tasksched.services.workers import online_cutoff as online_cutoff  # re-exported
from tasksched.store import dashboard as dashboard_store
from tasksched.store import monitoring as monitoring_store
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store import workers as worker_store
from tasksched.store.mapping import run_from_row


class Bucket(StrEnum):
    """The dashboard chart's bars: a minute each for the last hour, or an hour each for the last day."""

    MINUTE = "minute"
    HOUR = "hour"


BUCKETS: dict[Bucket, tuple[timedelta, int]] = {
    Bucket.MINUTE: (timedelta(minutes=1), 60),
    Bucket.HOUR: (timedelta(hours=1), 24),
}
FAILING_LIMIT = 10
# A slot this long past its time and not started counts as late (the notices' check uses the same).
LATE_AFTER = timedelta(seconds=1)
# The timeline: a window of at most a week (and a little, for panning), at most this many spans.
SPAN_WINDOW_MAX = timedelta(days=8)
SPAN_LIMIT_MAX = 50_000
SPAN_LIMIT_DEFAULT = 20_000
# Runs that finished more than this after the window's end are not looked for (see store.dashboard).
SPAN_FINISH_SLACK = timedelta(days=1)


class StatsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def summary(self, bucket: Bucket = Bucket.HOUR) -> dict[str, Any]:
        """The dashboard's figures; ``bucket`` picks the chart's bars (and the window of the tasks
        that keep failing): 60 minutes or 24 hours."""
        now = self.ctx.clock.now()
        hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
        width, count = BUCKETS[bucket]
        chart_start = _floor(now, bucket) - width * (count - 1)
        async with self.ctx.db.read() as tx:
            tasks = await task_store.counts(tx)
            last_hour = await run_store.status_counts(tx, finished_since=hour_ago)
            hourly = await run_store.hourly_counts(tx, finished_since=day_ago)
            last_day = status_totals(hourly)  # the same runs: one scan of the day, not two
            queued, running, oldest = await run_store.active_counts(tx)
            workers = await worker_store.list_(
                tx, seen_since=online_cutoff(now, self.ctx.settings.lease_seconds)
            )
            next_due = await task_store.next_due(tx, 10)
            failures = await run_store.latest(
                tx, statuses=[RunStatus.FAILED.value, RunStatus.TIMED_OUT.value], limit=10, recent=day_ago
            )
            minutes = (
                await monitoring_store.minute_counts(tx, finished_since=chart_start)
                if bucket is Bucket.MINUTE
                else []
            )
            late = await dashboard_store.late_slots(tx, before=now - LATE_AFTER)
            failing = await dashboard_store.failing_tasks(tx, since=chart_start, limit=FAILING_LIMIT)
        succeeded = last_day.get(RunStatus.SUCCEEDED.value, 0)
        failed = last_day.get(RunStatus.FAILED.value, 0) + last_day.get(RunStatus.TIMED_OUT.value, 0)
        per_hour = hour_buckets(hourly, now)
        if bucket is Bucket.MINUTE:
            bars = minute_buckets(minutes, now)
        else:
            bars = [{**b, "start": b["hour"]} for b in per_hour]
        return {
            "now": now,
            "chart": {
                "bucket": bucket.value,
                "seconds": int(width.total_seconds()),
                "since": chart_start,
                "buckets": [_bar(b, width) for b in bars],
            },
            "late": {**late, "total": late["unfired"] + late["waiting"]},
            "failing_tasks": failing,
            "tasks": tasks,
            "runs_last_hour": last_hour,
            "runs_last_day": last_day,
            "runs_per_hour": per_hour,
            "success_rate_last_day": round(succeeded / (succeeded + failed), 4)
            if succeeded + failed
            else None,
            "queued": queued,
            "running": running,
            "oldest_queued_at": oldest,
            "workers_online": sum(1 for w in workers if w["stopped_at"] is None),
            "next_due": [
                {"task_id": t["id"], "task_name": t["name"], "next_run_at": t["next_run_at"]}
                for t in next_due
            ],
            "latest_failures": [run_from_row(r) for r in failures],
        }

    async def spans(
        self, *, start: datetime, end: datetime, task_id: int | None = None, limit: int = SPAN_LIMIT_DEFAULT
    ) -> dict[str, Any]:
        """The runs overlapping [start, end) as parallel arrays (times in Unix milliseconds), for a
        timeline: when each could start (``ready``: queued and due), started, finished; its task,
        attempt and status. At most ``limit``; ``truncated`` says more matched."""
        if end <= start:
            raise InvalidInput("`to` must be later than `from`")
        if end - start > SPAN_WINDOW_MAX:
            raise InvalidInput(f"the window from `from` to `to` may span at most {SPAN_WINDOW_MAX.days} days")
        if not 1 <= limit <= SPAN_LIMIT_MAX:
            raise InvalidInput(f"`limit` must be between 1 and {SPAN_LIMIT_MAX}")
        async with self.ctx.db.read() as tx:
            if task_id is not None and await task_store.get(tx, task_id) is None:
                raise NotFound(f"task {task_id} does not exist")
            rows, truncated = await dashboard_store.spans(
                tx,
                start=start,
                end=end,
                finished_before=end + SPAN_FINISH_SLACK,
                task_id=task_id,
                limit=limit,
            )
            # Each task's planned attempts ("attempt 2 of 3"): one read of the tasks listed.
            retries = await task_store.get_many(
                tx, sorted({int(r["task_id"]) for r in rows}), columns=task_store.RETRY_COLUMNS
            )
        rows.sort(key=lambda r: (r["available_at"], r["id"]))
        names: dict[int, str] = {}
        for r in rows:
            names[int(r["task_id"])] = str(r["task_name"])
        return {
            "from": start,
            "to": end,
            "now": self.ctx.clock.now(),
            "truncated": truncated,
            "limit": limit,
            "tasks": [
                {"id": i, "name": names[i], "max_attempts": _max_attempts(retries.get(i))}
                for i in sorted(names, key=lambda i: (names[i], i))
            ],
            "id": [int(r["id"]) for r in rows],
            "task_id": [int(r["task_id"]) for r in rows],
            "attempt": [int(r["attempt"]) for r in rows],
            "status": [str(r["status"]) for r in rows],
            "ready": [_ms(r["available_at"]) for r in rows],
            "started": [_ms(r["started_at"]) if r["started_at"] else None for r in rows],
            "finished": [_ms(r["finished_at"]) if r["finished_at"] else None for r in rows],
        }


def status_totals(counts: list[tuple[str, str, int]]) -> dict[str, int]:
    """Runs per status over (bucket, status, runs) counts: what ``status_counts`` answers for the same
    window, without reading it again."""
    totals: dict[str, int] = {}
    for _, status, count in counts:
        totals[status] = totals.get(status, 0) + count
    return totals


def hour_buckets(hourly: list[tuple[str, str, int]], now: datetime) -> list[dict[str, Any]]:
    """24 hourly buckets, oldest first, each with a count per status (zero-filled)."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    buckets: dict[str, dict[str, Any]] = {}
    for i in range(24):
        hour = start + timedelta(hours=i)
        key = hour.strftime("%Y-%m-%dT%H:00:00")
        buckets[key] = {"hour": hour, **{s.value: 0 for s in RunStatus if s.is_terminal}}
    for hour_key, status, count in hourly:
        if hour_key in buckets and status in buckets[hour_key]:
            buckets[hour_key][status] += count
    return list(buckets.values())


def _max_attempts(task: dict[str, Any] | None) -> int | None:
    """The attempts a task's retry policy plans; None for a task deleted since its runs were read."""
    return None if task is None else RetryPolicy.model_validate(task["retry"]).max_attempts


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _floor(now: datetime, bucket: Bucket) -> datetime:
    if bucket is Bucket.MINUTE:
        return now.replace(second=0, microsecond=0)
    return now.replace(minute=0, second=0, microsecond=0)


def _bar(bucket: dict[str, Any], width: timedelta) -> dict[str, Any]:
    """One bar of the chart: its start and end, and a count per final status (zero-filled)."""
    out: dict[str, Any] = {"start": bucket["start"], "end": bucket["start"] + width}
    for s in RunStatus:
        if s.is_terminal:
            out[s.value] = int(bucket.get(s.value, 0))
    return out


def minute_buckets(
    minutes: list[tuple[str, str, int]], now: datetime, *, key: str = "start"
) -> list[dict[str, Any]]:
    """60 minute buckets, oldest first, each its minute under ``key`` and a count per status (absent: zero)."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=59)
    buckets: dict[str, dict[str, Any]] = {}
    for i in range(60):
        minute = start + timedelta(minutes=i)
        buckets[minute.strftime("%Y-%m-%dT%H:%M:00")] = {key: minute}
    for key, status, n in minutes:
        if key in buckets:
            buckets[key][status] = buckets[key].get(status, 0) + n
    return list(buckets.values())
