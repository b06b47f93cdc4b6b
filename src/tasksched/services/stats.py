"""Figures for the status dashboard and for operators: one call, a handful of cheap queries."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store import workers as worker_store
from tasksched.store.mapping import run_from_row


def online_cutoff(now: datetime, lease_seconds: float) -> datetime:
    """A worker heartbeats every second; one whole lease without a beat and it counts as offline."""
    return now - timedelta(seconds=lease_seconds)


class StatsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def summary(self) -> dict[str, Any]:
        now = self.ctx.clock.now()
        hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
        async with self.ctx.db.read() as tx:
            tasks = await task_store.counts(tx)
            last_hour = await run_store.status_counts(tx, finished_since=hour_ago)
            last_day = await run_store.status_counts(tx, finished_since=day_ago)
            hourly = await run_store.hourly_counts(tx, finished_since=day_ago)
            queued, running, oldest = await run_store.active_counts(tx)
            workers = await worker_store.list_(
                tx, seen_since=online_cutoff(now, self.ctx.settings.lease_seconds)
            )
            next_due = await task_store.next_due(tx, 10)
            failures = await run_store.latest(
                tx, statuses=[RunStatus.FAILED.value, RunStatus.TIMED_OUT.value], limit=10
            )
        succeeded = last_day.get(RunStatus.SUCCEEDED.value, 0)
        failed = last_day.get(RunStatus.FAILED.value, 0) + last_day.get(RunStatus.TIMED_OUT.value, 0)
        return {
            "tasks": tasks,
            "runs_last_hour": last_hour,
            "runs_last_day": last_day,
            "runs_per_hour": hour_buckets(hourly, now),
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
