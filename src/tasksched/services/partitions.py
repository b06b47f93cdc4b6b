"""The run history's partitions on PostgreSQL: months made ahead, expired months dropped whole.

A month is dropped (one ``DROP TABLE`` instead of millions of row deletes, and nothing left for
vacuum) only when retention would delete every run in it anyway: the month ended before the
longest age limit in force (the server's and every task's, succeeded and other runs alike), and
no run in it is queued or running, unfinished, finished within that limit, a task's last run, or
among the newest ``keep_last`` of its task (the largest ``keep_last`` in force). Any limit of 0
days (kept forever) anywhere turns dropping off. Whatever is not dropped is left to the batched
``DELETE`` of services/retention.py, which applies each task's own limits exactly.

On SQLite, and on a PostgreSQL database whose ``runs`` is not partitioned, nothing here does
anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from tasksched.services.context import Context
from tasksched.store import partitions as partition_store

log = structlog.get_logger("tasksched.partitions")


@dataclass(frozen=True)
class Horizon:
    """What a partition must be clear of to go: the longest age limit and the largest keep_last."""

    longest_days: int  # 0: some limit keeps runs forever (no partition is dropped)
    keep_last: int


class PartitionService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _partitioned(self) -> bool:
        if self.ctx.db.dialect != "postgresql":
            return False
        async with self.ctx.db.read() as tx:
            return await partition_store.is_partitioned(tx)

    async def create_ahead(self) -> list[str]:
        """Make this month's partition and the ones ahead that are missing; returns their names."""
        if not await self._partitioned():
            return []
        async with self.ctx.db.write() as tx:
            made = await partition_store.create_ahead(tx, self.ctx.clock.now())
        if made:
            log.info("made run partitions", partitions=made)
        return made

    async def drop_expired(self, horizon: Horizon) -> list[str]:
        """Drop every month whose runs retention would all delete (see the module); returns names."""
        if horizon.longest_days <= 0 or not await self._partitioned():
            return []
        before = self.ctx.clock.now() - timedelta(days=horizon.longest_days)
        async with self.ctx.db.read() as tx:
            months = await partition_store.monthly(tx)
        dropped: list[str] = []
        for part in months:
            if part.end > before:
                break
            if not await self._droppable(part, before, horizon.keep_last):
                continue
            async with self.ctx.db.write() as tx:
                if await partition_store.drop(tx, part, finished_before=before):
                    dropped.append(part.name)
        if dropped:
            log.info("dropped expired run partitions", partitions=dropped)
        return dropped

    async def _droppable(self, part: partition_store.Partition, before: datetime, keep_last: int) -> bool:
        async with self.ctx.db.read() as tx:
            return await partition_store.droppable(tx, part, finished_before=before, keep_last=keep_last)
