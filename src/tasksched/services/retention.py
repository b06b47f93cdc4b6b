"""Retention: finished runs older than their task's limits are deleted, in small batches.

Each batch is one short write transaction (at most ``batch`` rows), followed by a pause, so the
API and the workers wait for the database lock at most one batch's time. Several schedulers may
prune at once: a delete is idempotent, and on PostgreSQL each skips the rows another has locked.

What is kept: every queued or running run; the newest ``keep_last`` runs of each task; the run a
task shows as its last; succeeded runs younger than ``success_days`` and other final runs
(failed, timed out, skipped, cancelled) younger than ``failure_days``. A limit of 0 days keeps
those runs forever. A task's ``retention`` overrides each server setting it names.

On a partitioned PostgreSQL history, each pass first drops the months whose runs would all be
deleted (services/partitions.py says exactly when); the batches then deal with the rest.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from tasksched.domain.base import STORED
from tasksched.domain.tasks import Retention
from tasksched.observability.outage import log_failure
from tasksched.services.context import Context
from tasksched.services.partitions import Horizon, PartitionService
from tasksched.store import retention as retention_store

log = structlog.get_logger("tasksched.retention")

BATCH_ROWS = 1000
# Between two batches: room for everyone else's writes (SQLite has one writer at a time). The
# pause is at least this, and at least YIELD times what the batch took (up to MAX_PAUSE): on a busy
# database, where batches get slower, pruning takes at most a third of the writer's time.
PAUSE_SECONDS = 0.05
YIELD = 2.0
MAX_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Limits:
    """One task's effective retention."""

    success_days: int
    failure_days: int
    keep_last: int


@dataclass(frozen=True)
class PruneReport:
    deleted: int
    batches: int
    tasks: int
    # Whole months of history dropped (PostgreSQL's partitions), their runs not counted in deleted.
    partitions: tuple[str, ...] = ()


class RetentionService:
    def __init__(self, ctx: Context, *, batch: int = BATCH_ROWS, pause: float = PAUSE_SECONDS) -> None:
        self.ctx = ctx
        self.batch = batch
        self.pause = pause
        self.partitions = PartitionService(ctx)

    def limits(self, override: Any) -> Limits:
        """The server's settings with a task's stored override applied."""
        settings = self.ctx.settings
        own = Retention.model_validate(override, context=STORED) if override else Retention()
        return Limits(
            success_days=settings.retention_days if own.success_days is None else own.success_days,
            failure_days=settings.retention_failed_days if own.failure_days is None else own.failure_days,
            keep_last=settings.retention_keep_last if own.keep_last is None else own.keep_last,
        )

    async def prune(self, stop: asyncio.Event | None = None) -> PruneReport:
        """One pass over every task; returns what it deleted. ``stop`` ends it between batches."""
        now = self.ctx.clock.now()
        async with self.ctx.db.read() as tx:
            policies = await retention_store.task_policies(tx)
        dropped = await self._drop_partitions(policies)
        deleted = batches = touched = 0
        for policy in policies:
            if stop is not None and stop.is_set():
                break
            n, b = await self._prune_task(policy, now, stop)
            deleted, batches, touched = deleted + n, batches + b, touched + (1 if n else 0)
        return PruneReport(deleted=deleted, batches=batches, tasks=touched, partitions=tuple(dropped))

    def horizon(self, policies: list[dict[str, Any]]) -> Horizon:
        """The longest age limit and the largest keep_last in force, over the server's settings and
        every task's override; a limit of 0 days anywhere makes the longest 0 (forever)."""
        every = [self.limits(None), *(self.limits(p["retention"]) for p in policies)]
        days = [d for limits in every for d in (limits.success_days, limits.failure_days)]
        longest = 0 if any(d <= 0 for d in days) else max(days)
        return Horizon(longest_days=longest, keep_last=max(limits.keep_last for limits in every))

    async def _drop_partitions(self, policies: list[dict[str, Any]]) -> list[str]:
        try:
            return await self.partitions.drop_expired(self.horizon(policies))
        except Exception as exc:  # e.g. the lock not had in time: the batches still run
            log_failure(log, "dropping expired run partitions failed", exc)
            return []

    async def _prune_task(
        self, policy: dict[str, Any], now: datetime, stop: asyncio.Event | None
    ) -> tuple[int, int]:
        limits = self.limits(policy["retention"])
        succeeded_before = _cutoff(now, limits.success_days)
        others_before = _cutoff(now, limits.failure_days)
        if succeeded_before is None and others_before is None:
            return 0, 0
        below: int | None = None
        if limits.keep_last > 0:
            async with self.ctx.db.read() as tx:
                below = await retention_store.keep_boundary(tx, policy["id"], limits.keep_last)
            if below is None:
                return 0, 0
        deleted = batches = 0
        clock = self.ctx.clock
        while stop is None or not stop.is_set():
            began = clock.monotonic()
            async with self.ctx.db.write() as tx:
                n = await retention_store.delete_batch(
                    tx,
                    policy["id"],
                    below_id=below,
                    succeeded_before=succeeded_before,
                    others_before=others_before,
                    last_run_id=policy["last_run_id"],
                    limit=self.batch,
                )
            deleted, batches = deleted + n, batches + 1
            if n < self.batch:
                break
            if self.pause > 0:
                await asyncio.sleep(
                    max(self.pause, min(MAX_PAUSE_SECONDS, YIELD * (clock.monotonic() - began)))
                )
        return deleted, batches


def _cutoff(now: datetime, days: int) -> datetime | None:
    return None if days <= 0 else now - timedelta(days=days)
