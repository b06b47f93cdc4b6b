"""Carrying events between processes on PostgreSQL with LISTEN/NOTIFY.

Each process keeps one dedicated asyncpg connection that listens on a channel and sends its own
events there in batches. Messages from this process are ignored on the way back (it delivered them
locally already). When the connection drops (a database restart), it reconnects with backoff and
publishes a ``resync`` event so loops re-read the database: notifications sent meanwhile are lost, and the
slow safety polls of the scheduler and workers cover that gap too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

import asyncpg
import structlog

from tasksched.events.bus import RESYNC, Event, EventBus

log = structlog.get_logger("tasksched.notify")

CHANNEL = "tasksched_events"
# PostgreSQL refuses payloads of 8000 bytes or more.
MAX_PAYLOAD = 7000


def _dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's form) → ``postgresql://…`` (asyncpg's)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def _chunks(origin: str, events: list[Event]) -> list[str]:
    payloads: list[str] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        item = {"t": event.type, "d": event.data}
        item_size = len(json.dumps(item, default=str))
        if batch and size + item_size > MAX_PAYLOAD:
            payloads.append(json.dumps({"o": origin, "e": batch}, default=str))
            batch, size = [], 0
        if item_size > MAX_PAYLOAD:
            continue  # too large to carry; receivers resynchronise from the database
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(json.dumps({"o": origin, "e": batch}, default=str))
    return payloads


class PgRelay:
    def __init__(self, url: str, bus: EventBus) -> None:
        self._dsn = _dsn(url)
        self._bus = bus
        self._origin = uuid.uuid4().hex
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._stopped = asyncio.Event()
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._connect()
        self._supervisor = asyncio.create_task(self._supervise(), name="tasksched-pg-relay")

    def stop(self) -> None:
        self._stopped.set()
        self._lost.set()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=10)
        await conn.add_listener(CHANNEL, self._on_notify)
        conn.add_termination_listener(lambda _c: self._lost.set())
        self._conn = conn
        self._lost.clear()

    async def _supervise(self) -> None:
        delay = 0.5
        try:
            while not self._stopped.is_set():
                await self._lost.wait()
                if self._stopped.is_set():
                    break
                log.warning("event relay lost its database connection; reconnecting")
                self._conn = None
                while not self._stopped.is_set():
                    try:
                        await self._connect()
                    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                        # One line per attempt only at debug: "lost" and "reconnected" bracket it.
                        log.debug("event relay reconnect failed", error=str(exc), retry_in=delay)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 10.0)
                        continue
                    delay = 0.5
                    log.info("event relay reconnected")
                    self._bus.deliver_local([Event(RESYNC)])
                    break
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close(timeout=2)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        if message.get("o") == self._origin:
            return
        self._bus.deliver_local(Event(item["t"], item.get("d", {})) for item in message.get("e", []))

    async def send(self, events: list[Event]) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            return
        try:
            async with self._lock:
                for payload in _chunks(self._origin, events):
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("event relay could not send", error=str(exc))
            self._lost.set()
