"""Cluster-wide figures read from the database: what ``/metrics`` exposes as gauges at scrape time,
and what ``GET /api/status`` shows.

They come from the database, not from the process answering, so every API process gives the same
answer and a restart resets nothing (a task's last success is the newest succeeded run on record).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tasksched import __version__
from tasksched.domain.runs import RunStatus
from tasksched.errors import DatabaseUnavailable
from tasksched.services.context import Context
from tasksched.services.heartbeats import STALE_AFTER, list_schedulers
from tasksched.services.stats import hour_buckets, minute_buckets, online_cutoff, status_totals
from tasksched.store import backups as backup_store
from tasksched.store import monitoring as monitoring_store
from tasksched.store import runs as run_store
from tasksched.store import schedulers as scheduler_store
from tasksched.store import tasks as task_store

REDIS_TIMEOUT = 1.0
FAILED = (RunStatus.FAILED.value, RunStatus.TIMED_OUT.value)


@dataclass(frozen=True)
class QueueFigures:
    queued: int
    oldest_age_seconds: float  # how long the earliest claimable run has waited (0: none waits)


@dataclass(frozen=True)
class TaskMarks:
    task_id: int
    name: str
    last_success_at: datetime | None
    last_start_at: datetime | None


@dataclass(frozen=True)
class Snapshot:
    """What a scrape reads from the database."""

    at: datetime
    queues: dict[str, QueueFigures]
    running: int
    workers_alive: int
    worker_slots: int
    worker_slots_busy: int
    schedulers_alive: int
    scheduler_last_tick: datetime | None
    overdue_seconds: float  # how far the earliest enabled slot is past due (0: none is)
    tasks: list[TaskMarks] = field(default_factory=list)
    backup_last_success: datetime | None = None  # when the newest successful backup finished
    backup_last_failed: bool = False  # the newest backup (manual or scheduled) failed


class MonitoringService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def snapshot(self, *, tasks: bool = True) -> Snapshot:
        """``tasks``: read each task's last success and last start too. Raises ``DatabaseUnavailable`` (or the driver's error) when the database cannot answer."""
        now = self.ctx.clock.now()
        async with self.ctx.db.read() as tx:
            queues = await monitoring_store.queues(tx)
            running = await monitoring_store.running(tx)
            alive, slots, busy = await monitoring_store.live_workers(
                tx, seen_since=online_cutoff(now, self.ctx.settings.lease_seconds)
            )
            schedulers = await scheduler_store.list_(tx, seen_since=now - STALE_AFTER)
            last_tick = await scheduler_store.last_tick(tx)
            earliest = await monitoring_store.earliest_due(tx)
            marks = await monitoring_store.task_marks(tx) if tasks else []
            newest = await backup_store.list_(tx, limit=1)
            succeeded = await backup_store.list_(tx, limit=1, status="succeeded")
        return Snapshot(
            at=now,
            queues={
                q: QueueFigures(n, _age(now, first) if n else 0.0) for q, (n, first) in sorted(queues.items())
            },
            running=running,
            workers_alive=alive,
            worker_slots=slots,
            worker_slots_busy=busy,
            schedulers_alive=sum(1 for s in schedulers if s["stopped_at"] is None),
            scheduler_last_tick=last_tick,
            overdue_seconds=_age(now, earliest),
            tasks=[TaskMarks(m["id"], m["name"], m["last_success_at"], m["last_start_at"]) for m in marks],
            backup_last_success=succeeded[0]["finished_at"] if succeeded else None,
            backup_last_failed=bool(newest) and newest[0]["status"] == "failed",
        )

    async def status(self) -> dict[str, Any]:
        """Everything the status page shows. A database that cannot answer is reported, not raised."""
        now = self.ctx.clock.now()
        base: dict[str, Any] = {
            "version": __version__,
            "at": now,
            "redis": await self._redis() if self.ctx.settings.redis_url else None,
            "last_backup": None,  # read with the database below; unknown while it is down
        }
        try:
            return {**base, **(await self._database_status(now))}
        except DatabaseUnavailable as exc:
            reason = exc.detail
        except Exception as exc:  # whatever else the driver raises: the page says the database is down
            reason = type(exc).__name__
        return {
            **base,
            "database": {"ok": False, "error": reason},
            "schedulers": [],
            "scheduler_last_tick": None,
            "workers": {"alive": 0, "slots": 0, "busy": 0},
            "backlog": {"queued": 0, "running": 0, "queues": []},
            "throughput": {"per_minute": [], "per_hour": []},
            "last_hour": {},
            "last_day": {},
            "next_due": [],
        }

    async def _redis(self) -> dict[str, Any]:
        """PING the configured Redis, briefly: the status page must answer when Redis does not."""
        import redis.asyncio as aioredis

        client = aioredis.from_url(
            str(self.ctx.settings.redis_url),
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
        )
        try:
            await asyncio.wait_for(client.ping(), REDIS_TIMEOUT)
        except Exception as exc:  # refused, timed out, bad auth: all mean "not usable now"
            return {"ok": False, "error": str(exc) or type(exc).__name__}
        finally:
            await client.aclose()
        return {"ok": True, "error": None}

    async def _database_status(self, now: datetime) -> dict[str, Any]:
        hour_ago, day_ago = now - timedelta(hours=1), now - timedelta(days=1)
        snap = await self.snapshot(tasks=False)
        schedulers = await list_schedulers(self.ctx)
        async with self.ctx.db.read() as tx:
            minutes = await monitoring_store.minute_counts(tx, finished_since=hour_ago)
            hours = await run_store.hourly_counts(tx, finished_since=day_ago)
            next_due = await task_store.next_due(tx, 5)
            backups = await backup_store.list_(tx, limit=1)
        # The same windows as the minute and hour counts: added up, not read again.
        last_hour, last_day = status_totals(minutes), status_totals(hours)
        return {
            "last_backup": backups[0] if backups else None,
            "database": {"ok": True, "error": None},
            "schedulers": [
                {
                    "name": s["name"],
                    "hostname": s["hostname"],
                    "pid": s["pid"],
                    "alive": s["alive"],
                    "started_at": s["started_at"],
                    "last_tick_at": s["heartbeat_at"],
                }
                for s in schedulers
            ],
            "scheduler_last_tick": snap.scheduler_last_tick,
            "workers": {
                "alive": snap.workers_alive,
                "slots": snap.worker_slots,
                "busy": snap.worker_slots_busy,
            },
            "backlog": {
                "queued": sum(q.queued for q in snap.queues.values()),
                "running": snap.running,
                "queues": [
                    {"queue": name, "queued": q.queued, "oldest_age_seconds": q.oldest_age_seconds}
                    for name, q in snap.queues.items()
                ],
            },
            "throughput": {
                "per_minute": [_split(b, "minute") for b in minute_buckets(minutes, now, key="minute")],
                "per_hour": [_split(b, "hour") for b in hour_buckets(hours, now)],
            },
            "last_hour": _split(last_hour, None),
            "last_day": _split(last_day, None),
            "next_due": [
                {"task_id": t["id"], "task_name": t["name"], "next_run_at": t["next_run_at"]}
                for t in next_due
            ],
        }


def _age(now: datetime, since: datetime | None) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def _split(counts: dict[str, Any], key: str | None) -> dict[str, Any]:
    """A bucket's counts as finished (all final statuses), succeeded and failed (failed + timed out)."""
    statuses = [s.value for s in RunStatus if s.is_terminal]
    out: dict[str, Any] = {key: counts[key]} if key else {}
    out["finished"] = sum(int(counts.get(s, 0)) for s in statuses)
    out["succeeded"] = int(counts.get(RunStatus.SUCCEEDED.value, 0))
    out["failed"] = sum(int(counts.get(s, 0)) for s in FAILED)
    return out
