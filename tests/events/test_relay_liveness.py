"""Relays notice a connection that went silent (its server frozen with SIGSTOP: connections stay
open and nothing answers) within seconds, by their ping, and come back with ``resync``; a Redis
relay starts even when Redis is down and connects once it is up. Servers here are the tests' own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tasksched.events.bus import RESYNC, TASK_UPDATED, Event, EventBus, Subscription
from tasksched.events.pg import PgRelay
from tasksched.events.redis import RedisRelay
from tests.conftest import fresh_pg_database
from tests.helpers.pgbouncer import own_pgbouncer
from tests.helpers.redis_server import own_redis

PING = 0.5
TIMEOUT = 1.0
NOTICED_WITHIN = PING + TIMEOUT + 1.5


async def _next(sub: Subscription, timeout: float) -> Event:
    async with asyncio.timeout(timeout):
        return await sub.get()


async def _frozen_then_thawed(
    relay: PgRelay | RedisRelay, pause: Callable[[], None], resume: Callable[[], None], bus: EventBus
) -> None:
    sub = bus.subscribe()
    frozen_at = time.monotonic()
    pause()
    # Lost within the ping's bound: the reconnect cannot succeed while frozen, so nothing yet.
    await asyncio.sleep(NOTICED_WITHIN)
    assert not relay.connected
    resume()
    assert (await _next(sub, 15)).type == RESYNC
    assert time.monotonic() - frozen_at < NOTICED_WITHIN + 10


@pytest.mark.redis
async def test_a_redis_relay_notices_a_frozen_server_and_resyncs() -> None:
    with own_redis() as server:
        bus = EventBus()
        relay = RedisRelay(server.url, bus, ping_seconds=PING, ping_timeout=TIMEOUT)
        await relay.start()
        try:
            assert relay.connected
            await _frozen_then_thawed(relay, server.pause, server.resume, bus)
            assert relay.connected
        finally:
            relay.stop()
            await relay.wait_closed()


@pytest.mark.postgres
async def test_a_pg_relay_notices_a_frozen_connection_and_resyncs() -> None:
    # LISTEN through a PgBouncer in session mode (it works there), which the test can freeze.
    with fresh_pg_database() as url, own_pgbouncer(url, pool_mode="session") as bouncer:
        bus = EventBus()
        relay = PgRelay(bouncer.url, bus, ping_seconds=PING, ping_timeout=TIMEOUT)
        await relay.start()
        try:
            assert relay.connected
            await _frozen_then_thawed(relay, bouncer.pause, bouncer.resume, bus)
            assert relay.connected
        finally:
            relay.stop()
            await relay.wait_closed()


@pytest.mark.redis
async def test_a_redis_relay_starts_without_redis_and_connects_when_it_is_up() -> None:
    with own_redis() as server:
        server.stop()
        a, b = EventBus(), EventBus()
        relay_a = RedisRelay(server.url, a, ping_seconds=PING, ping_timeout=TIMEOUT)
        await relay_a.start()  # no error: a process starts without its Redis
        a.attach_relay(relay_a)
        on_a = a.subscribe()
        try:
            assert not relay_a.connected
            a.publish(Event(TASK_UPDATED, {"id": 1}))  # dropped, never raised
            assert (await _next(on_a, 1)).data == {"id": 1}
            server.start()
            assert (await _next(on_a, 10)).type == RESYNC
            relay_b = RedisRelay(server.url, b)
            await relay_b.start()
            b.attach_relay(relay_b)
            b.publish(Event(TASK_UPDATED, {"id": 2}))
            assert (await _next(on_a, 5)).data == {"id": 2}
            relay_b.stop()
            await relay_b.wait_closed()
        finally:
            relay_a.stop()
            await relay_a.wait_closed()
