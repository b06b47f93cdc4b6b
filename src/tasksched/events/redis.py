"""Carrying events between processes through Redis pub/sub.

Used instead of PostgreSQL's LISTEN/NOTIFY when ``TASKSCHED_REDIS_URL`` is set: it works behind
PgBouncer in transaction mode and keeps the relay's traffic off the database. Each process
subscribes to one channel on a connection of its own and publishes its events there in batches
on another; it ignores its own batches on the way back.

Redis is transport only. While it is unreachable, events between processes are lost (never tasks
or runs: those are in the database), the scheduler and workers fall back to their safety polls,
and the relay retries with backoff; when it is back, subscribers get ``resync`` and re-read the
database. A subscription that stops answering its liveness ping within a few seconds (a frozen
server, a dead network path) counts as lost too. A process whose Redis is down at start starts
anyway and connects when it can. An event too large for one message goes as a ``resync`` in its
place.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tasksched.events import wire
from tasksched.events.bus import RESYNC, Event, EventBus

log = structlog.get_logger("tasksched.notify")

CHANNEL = "tasksched:events"
MAX_PAYLOAD = 64 * 1024
PING_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 3.0
MAX_BACKOFF_SECONDS = 5.0
_ERRORS = (RedisError, OSError, TimeoutError)


class RedisRelay:
    def __init__(
        self,
        url: str,
        bus: EventBus,
        *,
        channel: str = CHANNEL,
        ping_seconds: float = PING_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self._bus = bus
        self._channel = channel
        self._ping_seconds = ping_seconds
        self._ping_timeout = ping_timeout
        self._origin = uuid.uuid4().hex
        # Names this process's connections in CLIENT LIST (an operator's view; the tests cut them).
        self.client_name = f"tasksched-relay-{self._origin[:12]}"
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._stopped = asyncio.Event()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._lost.is_set()

    async def start(self) -> None:
        try:
            await self._connect()
        except _ERRORS as exc:
            log.warning(
                "event relay cannot reach Redis; wake-ups use the database's safety polls until it answers",
                error=str(exc),
            )
            self._lost.set()
        self._supervisor = asyncio.create_task(self._supervise(), name="tasksched-redis-relay")

    def stop(self) -> None:
        self._stopped.set()
        self._lost.set()

    async def wait_closed(self) -> None:
        if self._supervisor is not None:
            await self._supervisor

    async def _connect(self) -> None:
        client = aioredis.Redis.from_url(
            self._url,
            socket_connect_timeout=self._ping_timeout,
            socket_timeout=self._ping_timeout,
            client_name=self.client_name,
            retry=Retry(NoBackoff(), 0),  # our supervisor retries, with backoff
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._channel)
        except BaseException:
            await _quietly_close(pubsub, client)
            raise
        self._client, self._pubsub = client, pubsub
        self._lost.clear()
        self._closing = asyncio.Event()
        self._reader = asyncio.create_task(
            self._read(pubsub, self._closing), name="tasksched-redis-relay-read"
        )

    async def _read(self, pubsub: Any, closing: asyncio.Event) -> None:
        """Receive batches; ping the subscription and count it lost when no answer comes in time.

        It ends when ``closing`` is set (seen within half a second), never by cancellation: redis-py
        can lose a cancellation that arrives inside ``get_message``'s own timeout, and hang."""
        last_seen = next_ping = time.monotonic()
        try:
            while not closing.is_set():
                now = time.monotonic()
                if now - last_seen > self._ping_seconds + self._ping_timeout:
                    raise TimeoutError("the subscription did not answer its ping")
                if now >= next_ping:
                    await pubsub.ping()
                    next_ping = now + self._ping_seconds
                message = await pubsub.get_message(timeout=min(self._ping_seconds, 0.5))
                if message is None:
                    continue
                last_seen = time.monotonic()
                if message["type"] == "message" and (events := wire.decode(self._origin, message["data"])):
                    self._bus.deliver_local(events)
        except _ERRORS as exc:
            log.debug("event relay subscription failed", error=str(exc))
            self._lost.set()

    async def _supervise(self) -> None:
        delay = 0.5
        try:
            while not self._stopped.is_set():
                await self._lost.wait()
                if self._stopped.is_set():
                    break
                if self._client is not None:
                    log.warning("event relay lost its Redis connection; reconnecting")
                    await self._drop()
                while not self._stopped.is_set():
                    try:
                        await self._connect()
                    except _ERRORS as exc:
                        log.debug("event relay reconnect failed", error=str(exc), retry_in=delay)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopped.wait(), delay)
                        delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                        continue
                    delay = 0.5
                    log.info("event relay reconnected")
                    self._bus.deliver_local([Event(RESYNC)])
                    break
        finally:
            await self._drop()

    async def _drop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            self._closing.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 2)
        pubsub, client = self._pubsub, self._client
        self._pubsub = self._client = None
        if client is not None:
            await _quietly_close(pubsub, client)

    async def send(self, events: list[Event]) -> None:
        client = self._client
        if client is None or self._lost.is_set():
            return  # lost meanwhile: receivers resynchronise when the relay is back
        try:
            for payload in wire.encode(self._origin, events, MAX_PAYLOAD, oversized=Event(RESYNC)):
                await client.publish(self._channel, payload)
        except _ERRORS as exc:
            if not self._lost.is_set():
                log.warning("event relay could not send", error=str(exc))
                self._lost.set()


async def _quietly_close(pubsub: Any, client: aioredis.Redis) -> None:
    """Close without waiting long: a server that stopped answering would not answer QUIT either."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pubsub.aclose(), 2)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.aclose(), 2)
