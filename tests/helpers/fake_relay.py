"""A relay between buses of one process, for the relay contract suite: a hub stands for the
server, and events cross it in the same wire format as the real relays' (so they must be JSON)."""

from __future__ import annotations

import asyncio
import uuid

from tasksched.events import wire
from tasksched.events.bus import RESYNC, Event, EventBus

# What one message may carry (as Redis's relay allows).
MAX_PAYLOAD = 64 * 1024


class FakeHub:
    def __init__(self) -> None:
        self.members: set[FakeRelay] = set()


class FakeRelay:
    def __init__(self, hub: FakeHub, bus: EventBus) -> None:
        self._hub = hub
        self._bus = bus
        self._origin = uuid.uuid4().hex
        self.client_name = f"fake-relay-{self._origin[:12]}"
        self._reconnect: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        self._hub.members.add(self)

    def stop(self) -> None:
        self._hub.members.discard(self)
        if self._reconnect is not None:
            self._reconnect.cancel()

    async def wait_closed(self) -> None:
        return None

    def cut(self) -> None:
        """The hub drops this member; it rejoins a moment later and says events may be lost."""
        self._hub.members.discard(self)
        self._reconnect = asyncio.get_running_loop().call_later(0.05, self._rejoin)

    def _rejoin(self) -> None:
        self._hub.members.add(self)
        self._bus.deliver_local([Event(RESYNC)])

    async def send(self, events: list[Event]) -> None:
        if self not in self._hub.members:
            return
        loop = asyncio.get_running_loop()
        for payload in wire.encode(self._origin, events, MAX_PAYLOAD, oversized=Event(RESYNC)):
            for member in list(self._hub.members):
                loop.call_soon(member._receive, payload)

    def _receive(self, payload: str) -> None:
        if self in self._hub.members and (events := wire.decode(self._origin, payload)):
            self._bus.deliver_local(events)
