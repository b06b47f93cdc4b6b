"""Fixtures of the store contract suite: one migrated database per backend, emptied for every test.

Creating and migrating a PostgreSQL database takes most of a second, and even opening an engine
costs tens of milliseconds, so the suite's async tests share one event loop for the session and,
per backend, one migrated database with one ``Database`` on it; each test starts from empty
tables. Tests that need a database of their own (migrations, the SQLite lock tests) make one.

The third backend is PostgreSQL through a real PgBouncer in transaction-pooling mode, with fewer
server connections than the suite opens: every store operation must hold without session state.
Open a database with ``connect_store(url)``, which knows which URLs point at a PgBouncer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio
import sqlalchemy as sa

from tasksched.store import migrate
from tasksched.store.engine import Database, connect
from tasksched.store.tables import metadata
from tests.conftest import fresh_pg_database
from tests.helpers.pgbouncer import own_pgbouncer

T = TypeVar("T")

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("pgbouncer", marks=pytest.mark.postgres),
]
_HERE = Path(__file__).parent
# The URLs that point at a PgBouncer in transaction mode (see connect_store).
_POOLED: set[str] = set()


def connect_store(url: str) -> Database:
    """``connect``, in transaction-pooling mode when ``url`` is a PgBouncer's."""
    return connect(url, transaction_pooling=url in _POOLED)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this directory's async tests on the session's loop, where the shared engines live."""
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if item.path.is_relative_to(_HERE) and pytest_asyncio.is_async_test(item):
            item.add_marker(session_loop, append=False)


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, on its own loop and thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()


async def migrated(url: str) -> None:
    db = connect_store(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, for tests that need a file of their own (copy it)."""
    path = tmp_path_factory.mktemp("store-template") / "template.db"
    run_sync(lambda: migrated(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def shared_sqlite_url(sqlite_template: Path) -> str:
    path = sqlite_template.with_name("shared.db")
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def shared_pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        run_sync(lambda: migrated(url))
        yield url


@contextlib.contextmanager
def pooled(url: str) -> Iterator[str]:
    """A PgBouncer in transaction mode in front of ``url``; yields its URL."""
    with own_pgbouncer(url) as bouncer:
        _POOLED.add(bouncer.url)
        try:
            yield bouncer.url
        finally:
            _POOLED.discard(bouncer.url)


@pytest.fixture(scope="session")
def shared_pgbouncer_url() -> Iterator[str]:
    with fresh_pg_database() as direct, pooled(direct) as url:
        run_sync(lambda: migrated(url))
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """The shared, migrated database of a backend (its tables are emptied by ``db``)."""
    name = {"postgresql": "pg"}.get(request.param, request.param)
    url: str = request.getfixturevalue(f"shared_{name}_url")
    return url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_db(store_url: str) -> AsyncIterator[Database]:
    database = connect_store(store_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database that nothing has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with fresh_pg_database() as url:
        if request.param == "pgbouncer":
            with pooled(url) as pooled_url:
                yield pooled_url
        else:
            yield url


async def empty_tables(db: Database) -> None:
    # DELETE, not TRUNCATE: on tables this small it is several times faster.
    async with db.write() as tx:
        for table in reversed(metadata.sorted_tables):
            await tx.execute(sa.delete(table))


@pytest_asyncio.fixture(loop_scope="session")
async def db(shared_db: Database) -> Database:
    """The backend's migrated database, empty."""
    await empty_tables(shared_db)
    return shared_db


@pytest_asyncio.fixture(loop_scope="session")
async def other_db(store_url: str, db: Database) -> AsyncIterator[Database]:
    """A second, independent ``Database`` on the same database (as another process would have)."""
    database = connect_store(store_url)
    try:
        yield database
    finally:
        await database.dispose()
