"""Turning a database URL into engines, with the SQLite settings that make it a safe default.

SQLite allows one writer at a time. Inside a process we give writes a single pooled connection, so
writers queue in the pool instead of failing with "database is locked"; across processes every
write transaction starts with ``BEGIN IMMEDIATE`` and waits up to the busy timeout for the lock.
Reads use their own connections and, in WAL mode, never block on the writer.

Every connection and transaction begins here (``Database.read``/``write``), so this is also where a
database that cannot be reached becomes one error, ``DatabaseUnavailable`` (a 503 in the API): the
layers above never see a driver's or SQLAlchemy's exception for it, and the outage is logged once.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_only

from tasksched.errors import DatabaseUnavailable
from tasksched.observability.outage import OutageLog

SQLITE_BUSY_TIMEOUT_MS = 30_000

# PostgreSQL SQLSTATEs meaning "no server to talk to": class 08 (connection exceptions),
# 57P01-57P03 (shut down by an administrator, crashed, starting up or shutting down).
_PG_UNREACHABLE = ("08", "57P01", "57P02", "57P03")
# SQLite's messages for a file that cannot be opened, read or written (gone, permissions, disk).
_SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error", "readonly database")


def unreachable_reason(exc: BaseException) -> str | None:
    """What made the database unreachable, if ``exc`` says it is, else None (a bug, a conflict…).

    The reason is the driver's message, never SQLAlchemy's, which would quote the statement.
    """
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else exc
    reason = f"{type(cause).__name__}: {cause}"
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return reason  # SQLAlchemy saw the connection die under a statement
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_PG_UNREACHABLE):
        return reason
    # asyncpg's "connection was closed in the middle of operation" when SQLAlchemy did not wrap it
    # (compared by name: importing asyncpg here would load it on SQLite too).
    if type(cause).__name__ == "ConnectionDoesNotExistError":
        return reason
    # asyncpg's protocol left mid-operation by a connection the server terminated, seen before
    # SQLAlchemy notices the connection is closed ("cannot switch to state 12; another operation
    # (2) is in progress"): the pool's pre-ping replaces that connection at its next checkout.
    if type(cause).__name__ == "InternalClientError" and "another operation" in str(cause):
        return reason
    if isinstance(exc, sa.exc.OperationalError) and any(m in str(cause).lower() for m in _SQLITE_UNREACHABLE):
        return reason
    # Refused, reset, no route, DNS failure, connect timeout (TimeoutError is an OSError): raised
    # by asyncpg's connect, which SQLAlchemy does not wrap.
    if isinstance(cause, OSError):
        return reason
    return None


def async_url(url: str) -> sa.URL:
    """Map the URLs users write (sqlite:///…, postgresql://…) to the async drivers we use."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}; use sqlite:/// or postgresql://"
    )


def _json_loads(text: str | bytes) -> Any:
    """orjson's parser (several times faster on task lists), with the standard one for what orjson
    refuses but the standard library wrote: integers beyond 64 bits, unpaired surrogate escapes."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_engine(url: sa.URL, *, immediate: bool, pool_size: int) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_deserializer=_json_loads,
        hide_parameters=True,  # see connect()
    )
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # NORMAL is durable against a process crash in WAL mode; FULL adds an fsync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # SQLite's lower() folds ASCII only; searches (ILIKE compiles to lower() LIKE lower()) should
        # find "Äpfel" for "äpfel" as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Straight to aiosqlite: one trip to its thread, where SQLAlchemy's cursor takes three
        # (open, execute, close). A failure is wrapped as SQLAlchemy wraps it (``unreachable_reason``
        # reads it), not run again: a locked database would wait out its busy timeout twice.
        driver: Any = conn.connection.driver_connection
        try:
            await_only(driver.execute(begin))
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(begin, None, exc, sqlite3.Error) from exc

    return engine


@dataclass
class Database:
    """The engines for one database: ``write`` for transactions that change data, ``read`` for the rest."""

    url: str
    write_engine: AsyncEngine
    read_engine: AsyncEngine
    outage: OutageLog = field(default_factory=lambda: OutageLog("database"))

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction, committed at the end of the block; ``DatabaseUnavailable`` if the
        database cannot be reached (then, as on any error, nothing of the block is committed)."""
        async with self._reachable(), self.write_engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._reachable(), self.read_engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _reachable(self) -> AsyncIterator[None]:
        """Around a connection's whole life (its commit included): a connection-level failure
        becomes ``DatabaseUnavailable``, and a success ends an outage."""
        try:
            yield
        except Exception as exc:
            if (unavailable := self._unavailable(exc)) is None:
                raise
            raise unavailable from exc
        self.outage.succeeded()

    def _unavailable(self, exc: Exception) -> DatabaseUnavailable | None:
        reason = unreachable_reason(exc)
        if reason is None:
            return None
        self.outage.failed(reason)
        return DatabaseUnavailable()

    async def scrub(self) -> bool:
        """SQLite: rebuild the file (``VACUUM``: no free page or freed cell keeps an earlier value's
        bytes), then copy the write-ahead log into it and empty the log. False if a reader kept the
        log from being emptied. PostgreSQL: nothing (see docs/security.md)."""
        if not self.is_sqlite:
            return True
        async with self._reachable(), self.write_engine.connect() as conn:

            def vacuum_and_checkpoint(sync: sa.Connection) -> bool:
                # On the driver's connection: SQLAlchemy would open a transaction, and SQLite can
                # neither vacuum nor checkpoint inside one.
                cursor = sync.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                try:
                    cursor.execute("VACUUM")
                    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    row = cursor.fetchone()
                finally:
                    cursor.close()
                return row is not None and not row[0]  # (busy, log frames, frames checkpointed)

            return await conn.run_sync(vacuum_and_checkpoint)

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def connect(
    url: str, *, pool_size: int = 10, max_overflow: int | None = None, transaction_pooling: bool = False
) -> Database:
    """Engines for ``url``: ``pool_size`` connections kept open and up to ``max_overflow`` (default:
    as many) more under load. ``transaction_pooling`` for PostgreSQL behind PgBouncer in
    transaction mode, where consecutive transactions may land on different server connections."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ValueError(
                "SQLite needs a file path (sqlite:///tasksched.db); an in-memory database is not shared"
            )
        write = _sqlite_engine(parsed, immediate=True, pool_size=1)
        read = _sqlite_engine(parsed, immediate=False, pool_size=pool_size)
        return Database(url=url, write_engine=write, read_engine=read)
    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size if max_overflow is None else max_overflow,
        # A pooled connection is checked before use, so after a restart the dead ones are replaced
        # instead of failing the first request on each.
        pool_pre_ping=True,
        json_deserializer=_json_loads,
        # Statement parameters never go into SQLAlchemy's exception messages or logs: they hold
        # header and environment values and key hashes, and an error's text can reach a log.
        hide_parameters=True,
        connect_args=_transaction_pooling_args() if transaction_pooling else {},
    )
    return Database(url=url, write_engine=engine, read_engine=engine)


def _transaction_pooling_args() -> dict[str, Any]:
    """No prepared statement outlives its transaction (PgBouncer before 1.21 does not track them):
    a named one kept in a cache would be missing, or a name already taken, on the server connection
    the next transaction gets. Every statement is prepared unnamed, in the transaction that runs it
    (SQLAlchemy opens one before each statement, its pre-ping included)."""
    return {
        "statement_cache_size": 0,  # asyncpg's own cache
        "prepared_statement_cache_size": 0,  # SQLAlchemy's
        "prepared_statement_name_func": lambda: "",  # "" is PostgreSQL's unnamed statement
    }
