"""The limiter storage seam's backends, for the contract suite in test_store_contract.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from tasksched.services.ratelimit import CounterStore, FailoverStore, memory_store, redis_store
from tests.ratelimit.fake import FakeCounterStore


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def unreachable_redis_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


@dataclass
class Backend:
    store: CounterStore
    wait: Callable[[float], Awaitable[None]]
    """Let ``seconds`` pass for the store (real time for real stores; the fake's clock)."""
    shared: Callable[[], CounterStore] | None = None
    """A second store on the same counters (another API process), for backends that share."""


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture(params=["memory", "redis", "redis-down", "fake"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    kind = request.param
    opened: list[CounterStore] = []
    if kind == "memory":
        found = Backend(memory_store(), _sleep)
    elif kind == "redis":
        url: str = request.getfixturevalue("redis_url")
        prefix: str = request.getfixturevalue("redis_prefix")

        def another() -> CounterStore:
            store = redis_store(url, prefix)
            opened.append(store)
            return store

        found = Backend(redis_store(url, prefix), _sleep, shared=another)
    elif kind == "redis-down":  # fails open: counts in memory while Redis is unreachable
        found = Backend(
            FailoverStore(redis_store(unreachable_redis_url(), "unused:"), memory_store()), _sleep
        )
    else:
        fake = FakeCounterStore()

        async def advance(seconds: float) -> None:
            fake.advance(seconds)

        found = Backend(fake, advance)
    opened.append(found.store)
    try:
        yield found
    finally:
        for store in opened:
            await store.close()
