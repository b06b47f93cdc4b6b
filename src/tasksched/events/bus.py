"""A small publish/subscribe bus for task and run changes.

Within a process, subscribers (SSE streams, the scheduler's and the workers' wake-ups) get events
through bounded queues: a slow subscriber loses old events instead of slowing publishers down.
Across processes a ``Relay`` (PostgreSQL LISTEN/NOTIFY, see ``events/pg.py``) carries them.

``resync`` is an event of its own: it says "events may have been lost, re-read the database" (a
relay that reconnected, a subscriber that fell behind). Every subscriber gets it, whatever types it
asked for, because every subscriber keeps some state that a lost event leaves stale.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_DELETED = "task.deleted"
RUN_CREATED = "run.created"
RUN_UPDATED = "run.updated"
RUN_OUTPUT = "run.output"
RUN_CANCEL_REQUESTED = "run.cancel_requested"
NOTICE_CREATED = "notice.created"  # a notice was written to the outbox: wakes the notifiers
RESYNC = "resync"

TASK_EVENTS = frozenset({TASK_CREATED, TASK_UPDATED, TASK_DELETED})


@dataclass(frozen=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


class Relay(Protocol):
    """Carries events to other processes and brings theirs back."""

    async def send(self, events: list[Event]) -> None: ...


class Subscription:
    def __init__(self, bus: EventBus, types: frozenset[str] | None, maxsize: int) -> None:
        self._bus = bus
        self.types = types
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.types is not None and event.type not in self.types and event.type != RESYNC:
            return
        if self.queue.full():
            self.dropped += 1
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    def drain(self) -> list[Event]:
        events: list[Event] = []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return events

    def close(self) -> None:
        self._bus._subscriptions.discard(self)


class EventBus:
    def __init__(self) -> None:
        # Bumped by every event seen here (local or relayed): caches of read results compare it.
        self.version = 0
        # Bumped only by task events (and resyncs): what depends on tasks alone, not their runs.
        self.task_version = 0
        self._subscriptions: set[Subscription] = set()
        self._relay: Relay | None = None
        self._outbox: list[Event] = []
        self._flush_scheduled = False

    def attach_relay(self, relay: Relay | None) -> None:
        self._relay = relay

    def subscribe(self, types: Iterable[str] | None = None, *, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, frozenset(types) if types is not None else None, maxsize)
        self._subscriptions.add(sub)
        return sub

    @contextlib.asynccontextmanager
    async def subscription(
        self, types: Iterable[str] | None = None, *, maxsize: int = 10_000
    ) -> AsyncIterator[Subscription]:
        sub = self.subscribe(types, maxsize=maxsize)
        try:
            yield sub
        finally:
            sub.close()

    def wants(self, event_type: str) -> bool:
        """Whether anyone would receive an event of this type: hot paths skip building unwanted ones."""
        return self._relay is not None or any(
            sub.types is None or event_type in sub.types or event_type == RESYNC
            for sub in self._subscriptions
        )

    def publish(self, *events: Event) -> None:
        """Deliver locally now; hand to the relay in batches (one round trip per loop iteration)."""
        self.deliver_local(events)
        if self._relay is not None:
            self._outbox.extend(events)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                asyncio.get_running_loop().call_soon(self._schedule_flush)

    def deliver_local(self, events: Iterable[Event]) -> None:
        self.version += 1
        subs = list(self._subscriptions)
        for event in events:
            if event.type in TASK_EVENTS or event.type == RESYNC:
                self.task_version = self.version
            for sub in subs:
                sub.offer(event)

    def _schedule_flush(self) -> None:
        self._flush_scheduled = False
        batch, self._outbox = self._outbox, []
        if batch and self._relay is not None:
            task = asyncio.get_running_loop().create_task(self._relay.send(batch))
            task.add_done_callback(_ignore_result)


def _ignore_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # relay errors are logged by the relay itself
