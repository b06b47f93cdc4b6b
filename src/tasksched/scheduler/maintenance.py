"""Upkeep that every scheduler process runs beside its loop: pruning old runs, scheduled backups,
and on PostgreSQL making the run history's partitions ahead of time.

Several schedulers may run it at once. Pruning is idempotent and each batch is a short
transaction, so two pruners only share the work. A scheduled backup is made by the one process
that claims its slot in the ``backups`` table; the others skip that slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

from tasksched.domain.principals import system
from tasksched.observability.outage import log_failure
from tasksched.services.audit import AuditService
from tasksched.services.backups import BackupService
from tasksched.services.context import Context
from tasksched.services.partitions import PartitionService
from tasksched.services.retention import RetentionService

log = structlog.get_logger("tasksched.maintenance")

PRUNE_EVERY_SECONDS = 600.0
# The first pass waits a little (a start is busy enough), spread so that schedulers started
# together do not prune in lock-step.
FIRST_PRUNE_AFTER = (30.0, 90.0)
# A far slot is waited for in steps, so that a wall clock set forward is noticed.
_LONGEST_WAIT = 60.0
ACTOR = system("scheduler")


class Maintenance:
    def __init__(
        self,
        ctx: Context,
        *,
        prune_every: float = PRUNE_EVERY_SECONDS,
        first_prune_after: tuple[float, float] = FIRST_PRUNE_AFTER,
    ) -> None:
        self.ctx = ctx
        self.retention = RetentionService(ctx)
        self.audit = AuditService(ctx)
        self.backups = BackupService(ctx)
        self.partitions = PartitionService(ctx)
        self.prune_every = prune_every
        self.first_prune_after = first_prune_after
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        jobs = [asyncio.create_task(self._prune_forever(), name="tasksched-prune")]
        if self.ctx.settings.backup_schedule is not None:
            jobs.append(asyncio.create_task(self._backup_forever(), name="tasksched-backup"))
        try:
            await self._stop.wait()
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job

    async def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopped; True when stopped."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), max(seconds, 0.0))
        return self._stop.is_set()

    async def _prune_forever(self) -> None:
        if await self._sleep(random.uniform(*self.first_prune_after)):
            return
        while True:
            # Months ahead first: MONTHS_AHEAD of them, so a pass or two missed changes nothing (and
            # a slot with no month yet lands in the default partition, moved when its month is made).
            try:
                await self.partitions.create_ahead()
            except Exception as exc:
                log_failure(log, "making run partitions failed", exc)
            try:
                report = await self.retention.prune(self._stop)
                if report.deleted:
                    log.info(
                        "pruned old runs", runs=report.deleted, tasks=report.tasks, batches=report.batches
                    )
            except Exception as exc:  # an outage must not end the loop: the next pass retries
                log_failure(log, "pruning old runs failed", exc)
            try:
                entries = await self.audit.prune()
                if entries:
                    log.info("pruned old audit entries", entries=entries)
            except Exception as exc:
                log_failure(log, "pruning the audit log failed", exc)
            if await self._sleep(self.prune_every):
                return

    async def _backup_forever(self) -> None:
        slot = self.backups.next_slot(self.ctx.clock.now())
        while slot is not None:
            wait = (slot - self.ctx.clock.now()).total_seconds()
            if wait > 0:
                if await self._sleep(min(wait, _LONGEST_WAIT)):
                    return
                continue
            try:
                made = await self.backups.run_scheduled(slot, actor=ACTOR)
                if made is not None:
                    log.info("backup made", file=made.get("file"), size_bytes=made.get("size_bytes"))
            except Exception as exc:
                log_failure(log, "scheduled backup failed", exc)
            # Slots missed while this one ran (or while the process was down) are not made up.
            slot = self.backups.next_slot(max(slot, self.ctx.clock.now()))
