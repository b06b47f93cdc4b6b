"""What every service needs: the database, settings, the clock and the event bus."""

from __future__ import annotations

from dataclasses import dataclass, field

from tasksched.clock import Clock, SystemClock
from tasksched.config import Settings
from tasksched.services.events import EventBus
from tasksched.store.engine import Database, connect


@dataclass
class Context:
    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    bus: EventBus = field(default_factory=EventBus)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None) -> Context:
        return cls(db=connect(settings.database_url), settings=settings, clock=clock or SystemClock())

    async def close(self) -> None:
        await self.db.dispose()
