"""One contract for every event relay (PostgreSQL LISTEN/NOTIFY, Redis pub/sub, Unix datagram
sockets beside a SQLite file, and the fake): events published on one bus reach another bus (never
echoed back to their own), in order and in batches; a connection the server cuts comes back and
says ``resync``, and so does an event too large for one message; ``stop`` closes it all.

The socket relay has no server: its "connection" is its socket file in the directory beside the
database, which is what others send to. Cutting it is deleting that file (a clean-up of the folder
would); the connections a server sees are the relay's socket files there.

Each bus stands for a process; each test uses a channel (or a database file) of its own, so tests
do not collide.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from tasksched.events import local, pg
from tasksched.events import redis as redis_relay
from tasksched.events.bus import RESYNC, RUN_CREATED, TASK_UPDATED, Event, EventBus, Subscription
from tasksched.events.local import LocalRelay, events_dir
from tasksched.events.pg import PgRelay
from tasksched.events.redis import RedisRelay
from tests.conftest import PG_ADMIN_URL, fresh_pg_database
from tests.helpers import fake_relay
from tests.helpers.fake_relay import FakeHub, FakeRelay


class AnyRelay(Protocol):
    client_name: str

    async def start(self) -> None: ...
    def stop(self) -> None: ...
    async def wait_closed(self) -> None: ...
    async def send(self, events: list[Event]) -> None: ...


@dataclass
class Backend:
    make: Callable[[EventBus], AnyRelay]
    cut: Callable[[AnyRelay], Any]  # the server drops the relay's connections (a coroutine or not)
    connections: Callable[[AnyRelay], Any]  # how many the server sees, for the relay's name
    max_payload: int  # the most one message carries
    relays: list[AnyRelay] = field(default_factory=list)

    async def start(self, bus: EventBus) -> AnyRelay:
        relay = self.make(bus)
        await relay.start()
        bus.attach_relay(relay)
        self.relays.append(relay)
        return relay


async def _pg_fetch(sql: str, *args: object) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def _pg_backend(url: str) -> Backend:
    channel = f"tasksched_test_{uuid.uuid4().hex[:12]}"

    async def cut(relay: AnyRelay) -> None:
        sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1"
        await _pg_fetch(sql, relay.client_name)

    async def connections(relay: AnyRelay) -> int:
        rows = await _pg_fetch(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", relay.client_name
        )
        return int(rows[0][0])

    return Backend(lambda bus: PgRelay(url, bus, channel=channel), cut, connections, pg.MAX_PAYLOAD)


def _redis_backend(url: str, prefix: str) -> Backend:
    import redis.asyncio as aioredis

    async def clients(relay: AnyRelay) -> list[dict[str, Any]]:
        admin = aioredis.Redis.from_url(url)
        try:
            return [c for c in await admin.client_list() if c.get("name") == relay.client_name]
        finally:
            await admin.aclose()

    async def cut(relay: AnyRelay) -> None:
        admin = aioredis.Redis.from_url(url)
        try:
            for client in await clients(relay):
                await admin.client_kill_filter(_id=client["id"])
        finally:
            await admin.aclose()

    async def connections(relay: AnyRelay) -> int:
        return len(await clients(relay))

    return Backend(
        lambda bus: RedisRelay(url, bus, channel=f"{prefix}events"), cut, connections, redis_relay.MAX_PAYLOAD
    )


def _fake_backend() -> Backend:
    hub = FakeHub()

    def cut(relay: AnyRelay) -> None:
        assert isinstance(relay, FakeRelay)
        relay.cut()

    def connections(relay: AnyRelay) -> int:
        return 1 if relay in hub.members else 0

    return Backend(lambda bus: FakeRelay(hub, bus), cut, connections, fake_relay.MAX_PAYLOAD)


def _local_backend(database: Path) -> Backend:
    database.touch(mode=0o600)

    def sockets(relay: AnyRelay) -> list[Path]:
        return list(events_dir(database).glob(f"{relay.client_name}.sock"))

    def cut(relay: AnyRelay) -> None:
        for path in sockets(relay):
            path.unlink()

    def connections(relay: AnyRelay) -> int:
        return len(sockets(relay))

    return Backend(lambda bus: LocalRelay(database, bus), cut, connections, local.MAX_PAYLOAD)


@pytest.fixture(
    params=[
        "fake",
        "sockets",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "postgresql":
        with fresh_pg_database() as url:
            made = _pg_backend(url)
            yield made
            await _stop_all(made)
        return
    if request.param == "redis":
        made = _redis_backend(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    elif request.param == "sockets":
        made = _local_backend(request.getfixturevalue("tmp_path") / "tasks.db")
    else:
        made = _fake_backend()
    yield made
    await _stop_all(made)


async def _stop_all(backend: Backend) -> None:
    for relay in backend.relays:
        relay.stop()
    for relay in backend.relays:
        await asyncio.wait_for(relay.wait_closed(), 10)


async def _maybe_await(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


async def _receive(sub: Subscription, count: int, timeout: float = 5.0) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            events.append(await sub.get())
    return events


async def _quiet(sub: Subscription, seconds: float = 0.3) -> list[Event]:
    """What arrives within ``seconds`` (expected: nothing)."""
    await asyncio.sleep(seconds)
    return sub.drain()


async def test_an_event_published_on_one_bus_reaches_the_others_once(backend: Backend) -> None:
    a, b, c = EventBus(), EventBus(), EventBus()
    for bus in (a, b, c):
        await backend.start(bus)
    on_a, on_b, on_c = a.subscribe(), b.subscribe(), c.subscribe()
    a.publish(Event(TASK_UPDATED, {"id": 7, "name": "Äpfel"}))
    assert await _receive(on_b, 1) == [Event(TASK_UPDATED, {"id": 7, "name": "Äpfel"})]
    assert await _receive(on_c, 1) == [Event(TASK_UPDATED, {"id": 7, "name": "Äpfel"})]
    # The sender delivered it locally once; its own batch coming back is ignored.
    assert await _receive(on_a, 1) == [Event(TASK_UPDATED, {"id": 7, "name": "Äpfel"})]
    assert await _quiet(on_a) == []
    assert on_b.drain() == []
    assert on_c.drain() == []


async def test_many_events_arrive_in_order_across_batches(backend: Backend) -> None:
    a, b = EventBus(), EventBus()
    await backend.start(a)
    await backend.start(b)
    sub = b.subscribe({RUN_CREATED})
    sent = [Event(RUN_CREATED, {"id": i, "pad": "x" * 200}) for i in range(500)]  # > one NOTIFY's 8 kB
    a.publish(*sent)
    assert await _receive(sub, len(sent), timeout=10) == sent


async def test_an_event_too_large_for_one_message_arrives_as_resync(backend: Backend) -> None:
    # Receivers must hear that they missed something (and re-read the database), never nothing.
    a, b = EventBus(), EventBus()
    await backend.start(a)
    await backend.start(b)
    on_b = b.subscribe()
    huge = Event(TASK_UPDATED, {"id": 2, "pad": "x" * (backend.max_payload + 1)})
    a.publish(Event(TASK_UPDATED, {"id": 1}), huge, huge, Event(TASK_UPDATED, {"id": 3}))
    got = await _receive(on_b, 3)
    assert got == [Event(TASK_UPDATED, {"id": 1}), Event(RESYNC), Event(TASK_UPDATED, {"id": 3})]
    assert await _quiet(on_b) == []


async def test_a_cut_connection_comes_back_and_says_resync(backend: Backend) -> None:
    a, b = EventBus(), EventBus()
    relay_a = await backend.start(a)
    await backend.start(b)
    on_a, on_b = a.subscribe(), b.subscribe()
    cut_at = time.monotonic()
    await _maybe_await(backend.cut(relay_a))
    assert [e.type for e in await _receive(on_a, 1, timeout=10)] == [RESYNC]
    assert time.monotonic() - cut_at < 5
    assert await _quiet(on_b, 0.1) == []  # only the relay that lost its connection resynchronises
    # Both directions work again.
    b.publish(Event(TASK_UPDATED, {"id": 1}))
    assert await _receive(on_a, 1) == [Event(TASK_UPDATED, {"id": 1})]
    on_b.drain()  # its own, delivered locally
    a.publish(Event(TASK_UPDATED, {"id": 2}))
    assert await _receive(on_b, 1) == [Event(TASK_UPDATED, {"id": 2})]


async def test_stop_closes_the_connections_and_delivers_nothing_more(backend: Backend) -> None:
    a, b = EventBus(), EventBus()
    relay_a = await backend.start(a)
    await backend.start(b)
    on_a = a.subscribe()
    assert await _maybe_await(backend.connections(relay_a)) >= 1
    relay_a.stop()
    await asyncio.wait_for(relay_a.wait_closed(), 5)
    b.publish(Event(TASK_UPDATED, {"id": 1}))
    assert await _quiet(on_a) == []
    assert await _maybe_await(backend.connections(relay_a)) == 0
    a.publish(Event(TASK_UPDATED, {"id": 2}))  # a stopped relay is a no-op, never an error
    await asyncio.sleep(0.05)
    assert [e.data["id"] for e in on_a.drain()] == [2]
