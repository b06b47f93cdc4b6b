"""What every service needs: the database, settings, the clock and the event bus."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from tasksched.clock import Clock, SystemClock
from tasksched.config import Settings
from tasksched.events.bus import EventBus
from tasksched.store import crypto
from tasksched.store.engine import Database, connect


@dataclass
class Context:
    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    bus: EventBus = field(default_factory=EventBus)
    # Bookkeeping writes no request waits for (an API key's last use): held until done.
    background: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        # The process's keys for secrets at rest (store/crypto.py): one configuration per process.
        crypto.use_keys(settings.secret_keys)
        db = connect(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            transaction_pooling=settings.database_pooling == "transaction",
        )
        return cls(db=db, settings=settings, clock=clock or SystemClock())

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background; ``settle`` and ``close`` wait for it. It must not raise."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def settle(self) -> None:
        """Wait until the background work started so far is done."""
        while self.background:
            await asyncio.gather(*self.background, return_exceptions=True)

    async def close(self) -> None:
        await self.settle()
        await self.db.dispose()
