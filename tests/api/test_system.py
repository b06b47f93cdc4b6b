"""/healthz, /readyz, /api/stats, /api/workers, /api/openapi.json and /api/docs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.workers import WorkerService
from tasksched.store import migrate
from tests.api.conftest import (
    VIEWER,
    assert_problem,
    claim_runs,
    client_on,
    create_task,
    finish_runs,
    run_task,
    send_without_auth,
)
from tests.conftest import make_settings


@pytest.fixture
async def bare_ctx(tmp_path: Path) -> AsyncIterator[Context]:
    """A context on a SQLite file that was never migrated."""
    ctx = Context.open(make_settings(f"sqlite:///{tmp_path / 'empty.db'}"))
    try:
        yield ctx
    finally:
        await ctx.close()


# --- health and readiness -----------------------------------------------------------------------


async def client_health(ctx: Context) -> httpx.Response:
    async with client_on(ctx) as client:
        return await client.get("/healthz")


async def test_healthz(api: httpx.AsyncClient) -> None:
    response = await send_without_auth(api, "GET", "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_the_schema_is_current(api: httpx.AsyncClient) -> None:
    response = await send_without_auth(api, "GET", "/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "schema": migrate.head_revision()}


async def test_readyz_is_503_before_migrations(bare_ctx: Context) -> None:
    async with client_on(bare_ctx) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert "tasksched db upgrade" in body["database"]
    assert (await client_health(bare_ctx)).status_code == 200  # alive, just not ready


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    ctx = Context.open(make_settings("postgresql://nobody@127.0.0.1:1/nowhere"))
    try:
        async with client_on(ctx) as client:
            response = await client.get("/readyz")
    finally:
        await ctx.close()
    assert response.status_code == 503
    assert response.json()["database"].startswith("unreachable")
    assert "database is unreachable" in response.json()["database"]  # words, not an exception's name


# --- stats --------------------------------------------------------------------------------------


async def test_stats_on_an_empty_system(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/stats", headers=VIEWER)
    assert response.status_code == 200
    stats = response.json()
    assert stats["tasks"] == {"total": 0, "enabled": 0, "paused": 0}
    assert stats["queued"] == stats["running"] == stats["workers_online"] == 0
    assert stats["oldest_queued_at"] is None
    assert stats["success_rate_last_day"] is None
    assert stats["next_due"] == []
    assert stats["latest_failures"] == []
    assert len(stats["runs_per_hour"]) == 24


async def test_stats_count_tasks_and_runs(api: httpx.AsyncClient, ctx: Context) -> None:
    good = await create_task(api, "good", schedule={"type": "interval", "seconds": 3600})
    bad = await create_task(api, "bad", retry={"max_attempts": 1})
    slow = await create_task(api, "slow", enabled=False)
    await run_task(api, good["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)
    failed_run = await run_task(api, bad["id"])
    await finish_runs(ctx, RunStatus.FAILED)
    await run_task(api, slow["id"])
    await claim_runs(ctx)
    await run_task(api, good["id"])

    stats = (await api.get("/api/stats")).json()

    assert stats["tasks"] == {"total": 3, "enabled": 2, "paused": 1}
    assert stats["runs_last_hour"] == {"succeeded": 1, "failed": 1}
    assert stats["runs_last_day"] == {"succeeded": 1, "failed": 1}
    assert stats["success_rate_last_day"] == 0.5
    assert stats["queued"] == 1
    assert stats["running"] == 1
    assert stats["oldest_queued_at"] is not None
    assert [t["task_name"] for t in stats["next_due"]] == ["good"]
    assert [r["id"] for r in stats["latest_failures"]] == [failed_run["id"]]
    assert sum(bucket["succeeded"] for bucket in stats["runs_per_hour"]) == 1
    assert sum(bucket["failed"] for bucket in stats["runs_per_hour"]) == 1


async def test_stats_need_a_key(api: httpx.AsyncClient) -> None:
    assert_problem(await send_without_auth(api, "GET", "/api/stats"), 401)


# --- workers ------------------------------------------------------------------------------------


async def test_workers_lists_registered_workers_and_whether_they_are_online(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    assert (await api.get("/api/workers")).json() == {"items": []}
    workers = WorkerService(ctx)
    await workers.register("worker-a", ["default", "slow"], 8)

    [worker] = (await api.get("/api/workers", headers=VIEWER)).json()["items"]
    assert worker["name"] == "worker-a"
    assert worker["queues"] == ["default", "slow"]
    assert worker["concurrency"] == 8
    assert worker["running"] == 0
    assert worker["online"] is True
    assert worker["stopped_at"] is None
    assert (await api.get("/api/stats")).json()["workers_online"] == 1

    await workers.stopped("worker-a")
    [worker] = (await api.get("/api/workers")).json()["items"]
    assert worker["online"] is False
    assert worker["stopped_at"] is not None


async def test_workers_need_a_key(api: httpx.AsyncClient) -> None:
    assert_problem(await send_without_auth(api, "GET", "/api/workers"), 401)


# --- OpenAPI ------------------------------------------------------------------------------------


async def test_openapi_schema_describes_every_endpoint(api: httpx.AsyncClient) -> None:
    response = await send_without_auth(api, "GET", "/api/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    expected = {
        "/api/tasks": {"get", "post"},
        "/api/tasks/{task_id}": {"get", "put", "patch", "delete"},
        "/api/tasks/{task_id}/run": {"post"},
        "/api/tasks/{task_id}/pause": {"post"},
        "/api/tasks/{task_id}/resume": {"post"},
        "/api/tasks/{task_id}/runs": {"get"},
        "/api/runs": {"get"},
        "/api/runs/{run_id}": {"get"},
        "/api/runs/{run_id}/cancel": {"post"},
        "/api/schedules/preview": {"post"},
        "/api/events": {"get"},
        "/api/auth/me": {"get"},
        "/api/keys": {"get", "post"},
        "/api/keys/{key_id}": {"delete"},
        "/api/stats": {"get"},
        "/api/workers": {"get"},
        "/healthz": {"get"},
        "/readyz": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    # Internal plumbing stays out of the published schema.
    assert "access_token" not in response.text
    assert "_body" not in response.text
    get_task = paths["/api/tasks/{task_id}"]["get"]["parameters"][0]
    assert get_task["schema"]["minimum"] == 1


async def test_api_docs_are_served_with_their_own_assets(api: httpx.AsyncClient) -> None:
    """/api/docs works offline: Swagger UI's script and style come from this server (scripts/build-ui
    copies them into the package), not from a CDN; its start-up script is a file too (the
    Content-Security-Policy refuses inline scripts)."""
    response = await send_without_auth(api, "GET", "/api/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<script>" not in response.text
    init = await send_without_auth(api, "GET", "/api/docs/init.js")
    assert init.headers["content-type"].startswith("text/javascript")
    assert "/api/openapi.json" in init.text
    referenced = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
    assets = [url for url in referenced if url.endswith((".js", ".css", ".png"))]
    assert sorted(assets) == [
        "/api/docs/assets/favicon-32x32.png",
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
        "/api/docs/init.js",
    ], "run scripts/build-ui: the docs' assets are not in the package"
    for url in assets:
        asset = await send_without_auth(api, "GET", url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 200, url
