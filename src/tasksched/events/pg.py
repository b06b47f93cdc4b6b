"""Carrying events between processes on PostgreSQL with LISTEN/NOTIFY.

Each process keeps one dedicated asyncpg connection that listens on a channel and sends its own
events there in batches. LISTEN needs a session of its own, so behind PgBouncer in transaction mode
this connection must go to PostgreSQL directly (``TASKSCHED_LISTEN_URL``). When the connection
drops (a database restart) or stops answering its liveness ping (a silently dead network path), it
reconnects with backoff and publishes a ``resync`` event so loops re-read the database:
notifications sent meanwhile are lost, and the slow safety polls of the scheduler and workers
cover that gap too. An event too large for one notification goes as a ``resync`` in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import asyncpg
import structlog

from tasksched.events import wire
from tasksched.events.bus import RESYNC, Event, EventBus

log = structlog.get_logger("tasksched.notify")

CHANNEL = "tasksched_events"
# PostgreSQL refuses payloads of 8000 bytes or more.
MAX_PAYLOAD = 7000
PING_SECONDS = 2.0
PING_TIMEOUT_SECONDS = 3.0
_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


def _dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form) → ``postgresql://…`` (asyncpg's)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


class PgRelay:
    def __init__(
        self,
        url: str,
        bus: EventBus,
        *,
        channel: str = CHANNEL,
        ping_seconds: float = PING_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
    ) -> None:
        self._dsn = _dsn(url)
        self._bus = bus
        self._channel = channel
        self._ping_seconds = ping_seconds
        self._ping_timeout = ping_timeout
        self._origin = uuid.uuid4().hex
        # Its application_name in pg_stat_activity (an operator's view; the tests cut it).
        self.client_name = f"tasksched-relay-{self._origin[:12]}"
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed() and not self._lost.is_set()

    async def start(self) -> None:
        await self._connect()
        self._supervisor = asyncio.create_task(self._supervise(), name="tasksched-pg-relay")

    def stop(self) -> None:
        self._stopped.set()
        self._lost.set()

    async def wait_closed(self) -> None:
        if self._supervisor is not None:
            await self._supervisor

    async def _connect(self) -> None:
        conn = await asyncpg.connect(
            self._dsn, timeout=10, server_settings={"application_name": self.client_name}
        )
        try:
            await conn.add_listener(self._channel, self._on_notify)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(lambda _c: self._lost.set())
        self._conn = conn
        self._lost.clear()

    async def _supervise(self) -> None:
        delay = 0.5
        pinger = asyncio.create_task(self._ping(), name="tasksched-pg-relay-ping")
        try:
            while not self._stopped.is_set():
                await self._lost.wait()
                if self._stopped.is_set():
                    break
                log.warning("event relay lost its database connection; reconnecting")
                self._drop()
                while not self._stopped.is_set():
                    try:
                        await self._connect()
                    except _ERRORS as exc:
                        # One line per attempt only at debug: "lost" and "reconnected" bracket it.
                        log.debug("event relay reconnect failed", error=str(exc), retry_in=delay)
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stopped.wait(), delay)
                        delay = min(delay * 2, 10.0)
                        continue
                    delay = 0.5
                    log.info("event relay reconnected")
                    self._bus.deliver_local([Event(RESYNC)])
                    break
        finally:
            pinger.cancel()
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close(timeout=2)
                self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # a connection that stopped answering would not close politely

    async def _ping(self) -> None:
        """A connection that stopped answering (a dead network path, a frozen server) raises no
        error until TCP gives up, minutes later: a query with a timeout notices it within seconds."""
        while True:
            await asyncio.sleep(self._ping_seconds)
            conn = self._conn
            if conn is None or conn.is_closed() or self._lost.is_set():
                continue
            try:
                # The lock's wait counts too: a send stuck on a dead connection holds it.
                async with asyncio.timeout(self._ping_timeout), self._lock:
                    await conn.fetchval("SELECT 1")
            except _ERRORS:
                if conn is self._conn:
                    self._lost.set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if events := wire.decode(self._origin, payload):
            self._bus.deliver_local(events)

    async def send(self, events: list[Event]) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            return
        try:
            async with self._lock:
                for payload in wire.encode(self._origin, events, MAX_PAYLOAD, oversized=Event(RESYNC)):
                    await conn.execute("SELECT pg_notify($1, $2)", self._channel, payload)
        except _ERRORS as exc:
            log.warning("event relay could not send", error=str(exc))
            self._lost.set()
