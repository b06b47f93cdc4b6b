"""Task health at a glance in GET /api/tasks: each listed task's latest 20 runs, its success rate
and its last duration, read for the whole page in one statement."""

from __future__ import annotations

import httpx

from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tests.api.conftest import VIEWER, create_task, finish_runs, run_task
from tests.api.test_rate_limits import counted_queries


async def listed(api: httpx.AsyncClient, **params: str) -> dict[str, dict[str, object]]:
    response = await api.get("/api/tasks", params=params, headers=VIEWER)
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["items"]}


async def test_a_task_without_runs_has_an_empty_strip(api: httpx.AsyncClient) -> None:
    await create_task(api, "quiet")
    item = (await listed(api))["quiet"]
    assert item["recent_runs"] == []
    assert item["success_rate"] is None
    assert item["last_duration_ms"] is None


async def test_the_strip_holds_the_latest_20_runs_newest_first(api: httpx.AsyncClient, ctx: Context) -> None:
    busy = await create_task(api, "busy", retry={"max_attempts": 1})  # no retry runs in between
    other = await create_task(api, "other")
    statuses = (
        [RunStatus.SUCCEEDED] * 15 + [RunStatus.FAILED] * 5 + [RunStatus.TIMED_OUT] * 2 + [RunStatus.SKIPPED]
    )
    ids = []
    for status in statuses:
        ids.append((await run_task(api, busy["id"]))["id"])
        await finish_runs(ctx, status)
    await run_task(api, other["id"])  # queued, not finished
    queued = (await run_task(api, busy["id"]))["id"]

    page = await listed(api)
    strip = page["busy"]["recent_runs"]
    assert isinstance(strip, list)
    assert [run["id"] for run in strip] == [queued, *reversed(ids)][:20]
    assert [run["status"] for run in strip[:4]] == ["queued", "skipped", "timed_out", "timed_out"]
    # Of the 20 shown: 2 timed out, 5 failed, 11 succeeded (queued and skipped are no outcome).
    assert page["busy"]["success_rate"] == 11 / 18
    assert page["busy"]["last_duration_ms"] is not None
    assert page["other"]["recent_runs"] == [{"id": strip[0]["id"] - 1, "status": "queued"}]
    assert page["other"]["success_rate"] is None


async def test_the_page_reads_every_tasks_runs_in_one_statement(api: httpx.AsyncClient, ctx: Context) -> None:
    for n in range(12):
        task = await create_task(api, f"task {n:02d}")
        await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)
    with counted_queries(ctx) as statements:
        page = await listed(api, limit="10", q="task")
    assert len(page) == 10
    assert all(item["success_rate"] == 1.0 for item in page.values())
    on_runs = [s for s in statements if "FROM runs" in s or "FROM (SELECT runs" in s]
    assert len(on_runs) == 1, on_runs
