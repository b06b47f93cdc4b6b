"""What ``engine.connect`` promises: durable commits, and on SQLite WAL, a busy timeout, waiting writers."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa

from tasksched.store import Tx
from tasksched.store import tasks as task_store
from tasksched.store.engine import SQLITE_BUSY_TIMEOUT_MS, Database, async_url, connect, unreachable_reason
from tests.store.conftest import connect_store
from tests.store.rows import add_task

HOLD_SECONDS = 1.0
# Another process takes SQLite's write lock, says so, holds it for a moment, then commits.
_HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO workers VALUES ('other-process', 'h', 1, '[]', 1, 0, '2026-06-01 12:00:00.000000', '2026-06-01 12:00:00.000000', NULL)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@pytest.fixture
def sqlite_path(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def sqlite_db(sqlite_path: Path) -> AsyncIterator[Database]:
    database = connect(f"sqlite:///{sqlite_path}")
    try:
        yield database
    finally:
        await database.dispose()


async def test_a_commit_survives_closing_and_reopening(db: Database, store_url: str) -> None:
    first = connect_store(store_url)  # engines of their own, not the shared one
    try:
        async with first.write() as tx:
            task = await add_task(tx, name="durable", tags=["kept"])
    finally:
        await first.dispose()
    second = connect_store(store_url)
    try:
        async with second.read() as tx:
            again = await task_store.get(tx, task["id"])
            tagged, _ = await task_store.list_(tx, tag="kept")
    finally:
        await second.dispose()
    assert again == task
    assert [t["name"] for t in tagged] == ["durable"]


async def test_a_rolled_back_write_leaves_nothing(db: Database) -> None:
    async def abandon() -> None:
        async with db.write() as tx:
            await add_task(tx, name="never")
            raise RuntimeError("abandon")

    with pytest.raises(RuntimeError, match="abandon"):
        await abandon()
    async with db.read() as tx:
        assert await task_store.list_(tx) == ([], 0)


def test_urls_map_to_the_async_drivers() -> None:
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/d").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u@h/d").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported database URL"):
        async_url("mysql://u@h/d")
    for memory in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="file path"):
            connect(memory)


# -- SQLite ---------------------------------------------------------------------------------------

PRAGMAS = {"journal_mode": "wal", "busy_timeout": SQLITE_BUSY_TIMEOUT_MS, "foreign_keys": 1, "synchronous": 1}


async def pragmas(conn: Tx) -> dict[str, object]:
    return {name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar() for name in PRAGMAS}


async def test_every_sqlite_connection_gets_wal_and_the_busy_timeout(sqlite_db: Database) -> None:
    """Checked on the write connection and on several read connections open at once (not one reused)."""
    async with (
        sqlite_db.write() as writer,
        sqlite_db.read() as r1,
        sqlite_db.read() as r2,
        sqlite_db.read() as r3,
    ):
        seen = [await pragmas(c) for c in (writer, r1, r2, r3)]
        raw = {id(await c.get_raw_connection()) for c in (writer, r1, r2, r3)}
    assert len(raw) == 4
    assert seen == [PRAGMAS] * 4


def test_the_sqlite_file_itself_is_in_wal_mode(sqlite_path: Path) -> None:
    conn = sqlite3.connect(sqlite_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


async def test_a_write_transaction_takes_the_write_lock_at_once(
    sqlite_db: Database, sqlite_path: Path
) -> None:
    """BEGIN IMMEDIATE: the lock is taken at BEGIN, before any write, so no upgrade can fail later."""

    def try_lock() -> str:
        other = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            return str(exc)
        finally:
            other.close()
        return "got the lock"

    async with sqlite_db.write() as tx:
        await tx.exec_driver_sql("SELECT 1")
        assert await asyncio.to_thread(try_lock) == "database is locked"
    assert await asyncio.to_thread(try_lock) == "got the lock"


async def test_a_connection_returned_inside_a_transaction_is_rolled_back(
    sqlite_db: Database, sqlite_path: Path
) -> None:
    """A connection left inside a transaction SQLAlchemy does not know of (BEGIN is sent to the
    driver directly) is rolled back when the pool takes it back: its write lock released, its
    write undone."""
    async with sqlite_db.write_engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute("BEGIN IMMEDIATE")
        await driver.execute(
            "INSERT INTO workers VALUES ('left open', 'h', 1, '[]', 1, 0, "
            "'2026-06-01 12:00:00.000000', '2026-06-01 12:00:00.000000', NULL)"
        )
        assert driver.in_transaction
    other = sqlite3.connect(sqlite_path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")  # the lock is free again
        other.execute("ROLLBACK")
        assert other.execute("SELECT count(*) FROM workers WHERE name = 'left open'").fetchone() == (0,)
    finally:
        other.close()
    async with sqlite_db.write() as tx:  # and the pooled connection begins anew
        await tx.exec_driver_sql("SELECT 1")


async def test_readers_do_not_wait_for_the_writer(sqlite_db: Database) -> None:
    async with sqlite_db.write() as tx:
        await add_task(tx, name="uncommitted")
        async with sqlite_db.read() as reader:
            assert await asyncio.wait_for(task_store.list_(reader), 2) == ([], 0)


async def test_a_write_waits_while_another_process_holds_the_lock(
    sqlite_db: Database, sqlite_path: Path
) -> None:
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLD_LOCK,
        str(sqlite_path),
        str(HOLD_SECONDS),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"locked\n"
        started = time.monotonic()
        async with sqlite_db.read() as tx:  # reading is not held up meanwhile
            assert await task_store.list_(tx) == ([], 0)
        assert time.monotonic() - started < HOLD_SECONDS * 0.8
        async with sqlite_db.write() as tx:
            task = await add_task(tx, name="after-the-wait")
        waited = time.monotonic() - started
    finally:
        _, err = await holder.communicate()
    assert holder.returncode == 0, err.decode()
    assert waited > HOLD_SECONDS / 2, "the write did not wait for the other process"
    async with sqlite_db.read() as tx:
        assert await task_store.get(tx, task["id"]) == task
        names = (await tx.exec_driver_sql("SELECT name FROM workers")).scalars().all()
    assert names == ["other-process"]


# --- a database that cannot be reached ----------------------------------------------------------

SECRET = "hdr-secret-in-a-parameter"


class _PgError(Exception):
    """Stands for an asyncpg error: what the store reads of one is its SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class InternalClientError(Exception):
    """Stands for asyncpg's error of the same name (the store knows it by name)."""


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.OperationalError(
            "INSERT …", {"v": SECRET}, sqlite3.OperationalError("unable to open database file")
        ),
        sa.exc.OperationalError("INSERT …", {"v": SECRET}, sqlite3.OperationalError("disk I/O error")),
        sa.exc.OperationalError(
            "INSERT …", {"v": SECRET}, sqlite3.OperationalError("attempt to write a readonly database")
        ),
        sa.exc.DBAPIError("SELECT …", {"v": SECRET}, Exception("closed"), connection_invalidated=True),
        sa.exc.DBAPIError("SELECT …", {"v": SECRET}, _PgError("the database system is starting up", "57P03")),
        sa.exc.DBAPIError("SELECT …", {"v": SECRET}, _PgError("terminating connection", "57P01")),
        sa.exc.DBAPIError("SELECT …", {"v": SECRET}, _PgError("connection failure", "08006")),
        _PgError("the database system is shutting down", "57P03"),  # raised by connect, unwrapped
        sa.exc.InternalError(
            "SELECT …",
            {},
            InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
        ),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
    ],
)
def test_connection_level_errors_mean_unreachable(error: Exception) -> None:
    reason = unreachable_reason(error)
    assert reason is not None
    assert SECRET not in reason  # the driver's message, not SQLAlchemy's with its parameters


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.IntegrityError("INSERT …", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        sa.exc.OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: tasks")),
        sa.exc.DBAPIError("SELECT …", {}, _PgError("syntax error", "42601")),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_left_alone(error: Exception) -> None:
    assert unreachable_reason(error) is None


async def test_a_failure_inside_a_transaction_is_not_translated(sqlite_db: Database) -> None:
    with pytest.raises(sa.exc.OperationalError, match="no such table"):
        async with sqlite_db.read() as conn:
            await conn.execute(sa.text("SELECT * FROM nowhere"))
    assert not sqlite_db.outage.down


async def test_statement_errors_never_show_parameters(sqlite_db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError) as raised:
        async with sqlite_db.write() as conn:
            await conn.execute(sa.text("INSERT INTO workers (name) VALUES (:name)"), {"name": SECRET})
    assert SECRET not in str(raised.value)


async def test_a_begin_that_finds_the_file_locked_fails_as_sqlalchemy_wraps_it(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write transaction's BEGIN goes straight to the driver; when it fails (here: another
    connection holds the write lock past the busy timeout) the error is SQLAlchemy's, carrying the
    driver's, as on every other statement."""
    from tasksched.store import engine as engine_module

    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(sqlite_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    database = connect(f"sqlite:///{sqlite_path}")
    try:
        with pytest.raises(sa.exc.OperationalError) as caught:
            async with database.write() as tx:
                await add_task(tx, name="never")
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
        assert "locked" in str(caught.value.orig)
        holder.rollback()
        async with database.read() as tx:  # nothing was written
            assert await task_store.list_(tx) == ([], 0)
    finally:
        holder.close()
        await database.dispose()
