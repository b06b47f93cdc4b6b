"""Helpers shared by the API tests: request bodies, problem checks, store snapshots, other clients.

Every test here runs against the in-process app on SQLite and on PostgreSQL; no scheduler or worker
runs, so runs exist only when a test creates them.

PostgreSQL: creating and migrating a database per test costs about half a second, so the API tests
share one migrated database for the session and empty its tables before each test (milliseconds).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasksched.api.app import create_app
from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tasksched.store import migrate
from tasksched.store.tables import metadata
from tests.conftest import ADMIN_KEY, OPERATOR_KEY, VIEWER_KEY, add_keys, fresh_pg_database, make_settings

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
VIEWER = {"Authorization": f"Bearer {VIEWER_KEY}"}
PROBLEM_JSON = "application/problem+json"
HTTP_ACTION: dict[str, Any] = {"type": "http", "url": "https://example.com/hook"}
MISSING_ID = 987_654


def _in_own_loop(coro: Any) -> Any:
    """Run a coroutine to completion from sync fixture code, in a thread with its own event loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _migrate(url: str) -> None:
    ctx = Context.open(make_settings(url))
    try:
        await migrate.upgrade(ctx.db)
    finally:
        await ctx.close()


async def _empty_tables(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql://", "postgres://", 1), timeout=5)
    try:
        # A connection some earlier test left open must fail the test, not hang the run.
        await conn.execute("SET lock_timeout = '5s'")
        # DELETE, not TRUNCATE: on tables this small it is some twenty times quicker. Ids go on
        # counting from where they were; no test depends on their values.
        async with conn.transaction():
            for table in reversed(metadata.sorted_tables):
                await conn.execute(f'DELETE FROM "{table.name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def shared_pg_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole session of API tests, dropped at the end."""
    with fresh_pg_database() as url:
        _in_own_loop(_migrate(url))
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each API test runs twice: on a fresh SQLite file and on the emptied shared PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tasksched.db'}"
    url: str = request.getfixturevalue("shared_pg_url")
    _in_own_loop(_empty_tables(url))
    return url


def task_body(name: str = "nightly-report", **fields: Any) -> dict[str, Any]:
    """A valid task body; keyword arguments add or replace fields."""
    body: dict[str, Any] = {"name": name, "action": dict(HTTP_ACTION)}
    body.update(fields)
    return body


async def create_task(api: httpx.AsyncClient, name: str = "nightly-report", **fields: Any) -> dict[str, Any]:
    response = await api.post("/api/tasks", json=task_body(name, **fields))
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def run_task(api: httpx.AsyncClient, task_id: int) -> dict[str, Any]:
    response = await api.post(f"/api/tasks/{task_id}/run")
    assert response.status_code == 202, response.text
    run: dict[str, Any] = response.json()
    return run


def assert_problem(
    response: httpx.Response, status: int, *, field: str | None = None, mentions: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``, naming ``field`` and saying ``mentions``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        assert field in fields, body
    if mentions is not None:
        assert mentions in response.text, body
    return body


async def snapshot(api: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a refused write must leave alone: every task (with its version) and every run."""
    tasks = await api.get("/api/tasks", params={"limit": 500, "sort": "id"}, headers=ADMIN)
    runs = await api.get("/api/runs", params={"limit": 500}, headers=ADMIN)
    assert tasks.status_code == runs.status_code == 200
    return {"tasks": tasks.json(), "runs": runs.json()}


async def send_without_auth(api: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request on the same app with no Authorization header at all."""
    request = api.build_request(method, url, **kwargs)
    del request.headers["Authorization"]
    return await api.send(request)


async def finish_runs(ctx: Context, status: RunStatus, *, output: str | None = None) -> list[int]:
    """Claim every queued run as a worker would and finish it with ``status`` (no executor runs)."""
    execution = ExecutionService(ctx)
    claimed = await execution.claim("test-worker", None, 100)
    now = ctx.clock.now()
    outcomes = [
        Outcome(run=run, status=status, finished_at=now, output=output, exit_code=0 if output else None)
        for run in claimed
    ]
    await execution.finish("test-worker", outcomes)
    return [run.id for run in claimed]


async def claim_runs(ctx: Context) -> list[int]:
    """Claim every queued run, leaving it running."""
    return [run.id for run in await ExecutionService(ctx).claim("test-worker", None, 100)]


@contextlib.asynccontextmanager
async def client_on(ctx: Context, *, raise_app_exceptions: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ctx.settings, ctx=ctx)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    # The app's lifespan closes what it opened (a Redis-backed rate limiter's connections).
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=ADMIN) as client,
    ):
        yield client


@pytest.fixture
async def server_api(api: httpx.AsyncClient, ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``api``, but an unexpected exception is answered as a real server would (a 500
    response) instead of being raised into the test: for tests that assert "never a 500"."""
    async with client_on(ctx, raise_app_exceptions=False) as client:
        yield client


@pytest.fixture
async def frozen_api(frozen_ctx: Context) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``api``, on a context whose clock moves only when the test moves ``clock``."""
    await add_keys(frozen_ctx)
    async with client_on(frozen_ctx) as client:
        yield client


@pytest.fixture
async def shell_api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client on a server started with TASKSCHED_ENABLE_SHELL=true."""
    ctx = Context.open(make_settings(database_url, enable_shell=True))
    await migrate.upgrade(ctx.db)
    await add_keys(ctx)
    try:
        async with client_on(ctx) as client:
            yield client
    finally:
        await ctx.close()
