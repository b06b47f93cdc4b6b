"""Shared fixtures: real databases (a SQLite file, a throwaway PostgreSQL database), services, API.

PostgreSQL tests skip with a message when the server is not reachable, unless
TASKSCHED_REQUIRE_SERVICES=1 (set by .ci/run), where a missing service fails the run instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tasksched.api.app import create_app
from tasksched.clock import FrozenClock
from tasksched.config import Settings
from tasksched.domain.principals import CLI, Role
from tasksched.services.context import Context
from tasksched.services.keys import KeyService
from tasksched.store import crypto, migrate

PG_ADMIN_URL = os.environ.get("TASKSCHED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_SERVICES = os.environ.get("TASKSCHED_REQUIRE_SERVICES") == "1"
ADMIN_KEY = "ts_test_admin_key_0123456789"
OPERATOR_KEY = "ts_test_operator_key_0123456789"
VIEWER_KEY = "ts_test_viewer_key_0123456789"


def missing_service(what: str, why: str) -> None:
    message = f"{what} is not available ({why}); start it or run without these tests"
    if REQUIRE_SERVICES:
        pytest.fail(f"TASKSCHED_REQUIRE_SERVICES=1 but {message}")
    pytest.skip(message)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    url = PG_ADMIN_URL.replace("postgresql://", "postgres://", 1)
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_admin(sql: str) -> None:
    """Run one statement as the PostgreSQL admin, from sync code (in a thread with its own loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _pg_admin(sql)).result()


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    name = f"tasksched_test_{uuid.uuid4().hex[:12]}"
    try:
        pg_admin(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        missing_service("PostgreSQL at " + PG_ADMIN_URL, f"{type(exc).__name__}: {exc}")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'tasksched.db'}"


@pytest.fixture(autouse=True)
def _process_keys_reset() -> Iterator[None]:
    """Secret keys are process-wide (store/crypto.py): none leaks from one test into the next."""
    yield
    crypto.use_keys([])


@pytest.fixture(autouse=True)
def _logging_config_restored() -> Iterator[None]:
    """Logging is configured process-wide (a one-shot command silences it below warnings): each
    test starts from the configuration the one before it found, so captured logs are complete."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs twice: on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tasksched.db'}"
        return
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC))


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "worker_name": "test-worker",
        "http_allow_private": True,
        "lease_seconds": 30,
        "drain_seconds": 5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[Context]:
    """Services' context on a migrated database, with the real clock."""
    context = Context.open(settings)
    await migrate.upgrade(context.db)
    try:
        yield context
    finally:
        await context.close()


@pytest.fixture
async def frozen_ctx(settings: Settings, clock: FrozenClock) -> AsyncIterator[Context]:
    """Services' context on a migrated database, with a clock that moves only when told."""
    context = Context.open(settings, clock=clock)
    await migrate.upgrade(context.db)
    try:
        yield context
    finally:
        await context.close()


async def add_keys(ctx: Context) -> None:
    keys = KeyService(ctx)
    await keys.create("admin", Role.ADMIN, actor=CLI, key=ADMIN_KEY)
    await keys.create("operator", Role.OPERATOR, actor=CLI, key=OPERATOR_KEY)
    await keys.create("viewer", Role.VIEWER, actor=CLI, key=VIEWER_KEY)


@pytest.fixture
async def api(ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app (in process), authenticated as admin."""
    await add_keys(ctx)
    app = create_app(ctx.settings, ctx=ctx)
    transport = httpx.ASGITransport(app=app)
    # The app's lifespan closes what it opened (a Redis-backed rate limiter's connections).
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as client,
    ):
        yield client


REDIS_URL = os.environ.get("TASKSCHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The Redis service's URL, with every key and channel a test makes under its own prefix
    (``redis_prefix``) deleted afterwards. Skips (or fails under TASKSCHED_REQUIRE_SERVICES=1) when
    Redis does not answer."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        missing_service("Redis at " + REDIS_URL, f"{type(exc).__name__}: {exc}")
    try:
        yield REDIS_URL
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are removed when the test ends."""
    import redis

    prefix = f"tasksched-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
