"""/api/runs and /api/tasks/{id}/runs: history with filters and paging, one run with its output, cancel."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tests.api.conftest import (
    MISSING_ID,
    OPERATOR,
    assert_problem,
    claim_runs,
    create_task,
    finish_runs,
    run_task,
    snapshot,
)

RUN_FIELDS = {
    "id", "task_id", "task_name", "trigger", "scheduled_for", "attempt", "status", "reason", "queue",
    "priority", "queued_at", "available_at", "started_at", "finished_at", "duration_ms", "worker",
    "exit_code", "http_status", "output", "error", "cancel_requested", "input",
    "max_attempts",
}  # fmt: skip


async def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["items"]]


# --- lists --------------------------------------------------------------------------------------


async def test_runs_list_is_empty_at_first(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/runs")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "total_exact": True}


async def test_runs_list_is_newest_first_with_a_total(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    made = [(await run_task(api, task["id"]))["id"] for _ in range(3)]

    page = (await api.get("/api/runs")).json()

    assert [run["id"] for run in page["items"]] == made[::-1]
    assert page["total"] == 3
    assert set(page["items"][0]) == RUN_FIELDS


async def test_runs_list_pages(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    made = [(await run_task(api, task["id"]))["id"] for _ in range(5)]
    newest_first = made[::-1]

    page = (await api.get("/api/runs", params={"limit": 2, "offset": 1})).json()
    assert [run["id"] for run in page["items"]] == newest_first[1:3]
    assert page["total"] == 5
    assert (await api.get("/api/runs", params={"offset": 5})).json() == {
        "items": [],
        "total": 5,
        "total_exact": True,
    }


async def test_counting_stops_past_the_page_and_says_so(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long history is not counted to its end: the total is then a lower bound, flagged, and
    grows as pages further on are asked for."""
    monkeypatch.setattr("tasksched.services.runs.COUNT_AHEAD", 2)
    task = await create_task(api)
    for _ in range(6):
        await run_task(api, task["id"])

    first = (await api.get("/api/runs", params={"limit": 1})).json()
    assert (first["total"], first["total_exact"]) == (3, False)
    further = (await api.get(f"/api/tasks/{task['id']}/runs", params={"limit": 2, "offset": 2})).json()
    assert (further["total"], further["total_exact"]) == (6, False)
    whole = (await api.get("/api/runs", params={"limit": 10})).json()
    assert (whole["total"], whole["total_exact"]) == (6, True)


async def test_runs_list_filters_by_task(api: httpx.AsyncClient) -> None:
    first = await create_task(api, "first")
    second = await create_task(api, "second")
    mine = (await run_task(api, first["id"]))["id"]
    await run_task(api, second["id"])

    assert await ids(await api.get("/api/runs", params={"task_id": first["id"]})) == [mine]
    assert await ids(await api.get(f"/api/tasks/{first['id']}/runs")) == [mine]


async def test_runs_list_filters_by_one_or_more_statuses(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    await run_task(api, task["id"])
    [succeeded] = await finish_runs(ctx, RunStatus.SUCCEEDED)
    await run_task(api, task["id"])
    [failed] = await finish_runs(ctx, RunStatus.FAILED)
    queued = (await run_task(api, task["id"]))["id"]

    assert await ids(await api.get("/api/runs?status=queued")) == [queued]
    assert await ids(await api.get("/api/runs?status=succeeded&status=failed")) == [failed, succeeded]
    assert await ids(await api.get(f"/api/tasks/{task['id']}/runs?status=failed")) == [failed]
    assert await ids(await api.get("/api/runs?status=timed_out")) == []


async def test_runs_list_filters_by_trigger(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0})
    manual = (await run_task(api, task["id"]))["id"]
    await finish_runs(ctx, RunStatus.FAILED)  # queues attempt 2 as a retry

    retries = (await api.get("/api/runs", params={"trigger": "retry"})).json()["items"]
    assert [(run["attempt"], run["status"]) for run in retries] == [(2, "queued")]
    assert await ids(await api.get("/api/runs", params={"trigger": "manual"})) == [manual]
    assert await ids(await api.get("/api/runs", params={"trigger": "schedule"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "exploded"}, "status.0"),
        ({"trigger": "whim"}, "trigger.0"),
        ({"task_id": "abc"}, "task_id"),
        ({"task_id": 0}, "task_id"),
        ({"task_id": 10**20}, "task_id"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**20}, "offset"),
    ],
)
async def test_runs_list_refuses_bad_parameters(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    assert_problem(await api.get("/api/runs", params=params), 422, field=field)


async def test_the_largest_offset_is_answered_on_both_databases(api: httpx.AsyncClient) -> None:
    for url in ("/api/runs", "/api/tasks"):
        response = await api.get(url, params={"offset": 2**63 - 1, "limit": 500})
        assert response.status_code == 200, response.text
        assert response.json()["items"] == []


async def test_runs_of_an_unknown_task_are_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/runs", params={"task_id": MISSING_ID}), 404)
    assert_problem(await api.get(f"/api/tasks/{MISSING_ID}/runs"), 404)


async def test_task_runs_page(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    made = [(await run_task(api, task["id"]))["id"] for _ in range(3)]
    page = (await api.get(f"/api/tasks/{task['id']}/runs", params={"limit": 1, "offset": 1})).json()
    assert [run["id"] for run in page["items"]] == [made[1]]
    assert page["total"] == 3
    assert_problem(await api.get(f"/api/tasks/{task['id']}/runs", params={"limit": 1000}), 422, field="limit")


# --- one run ------------------------------------------------------------------------------------


async def test_get_run_shows_its_output_which_lists_leave_out(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api)
    run = await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED, output="line 1\nline 2\n")

    response = await api.get(f"/api/runs/{run['id']}")

    assert response.status_code == 200
    done = response.json()
    assert set(done) == RUN_FIELDS
    assert done["status"] == "succeeded"
    assert done["output"] == "line 1\nline 2\n"
    assert done["exit_code"] == 0
    assert done["worker"] == "test-worker"
    assert done["started_at"] is not None
    assert done["finished_at"] is not None
    assert done["duration_ms"] >= 0
    listed = (await api.get("/api/runs")).json()["items"][0]
    assert listed["id"] == run["id"]
    assert listed["output"] is None


async def test_get_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get(f"/api/runs/{MISSING_ID}"), 404, mentions=str(MISSING_ID))


@pytest.mark.parametrize("run_id", ["latest", "0", "99999999999999999999"])
async def test_get_run_with_an_impossible_id_is_422(api: httpx.AsyncClient, run_id: str) -> None:
    assert_problem(await api.get(f"/api/runs/{run_id}"), 422, field="run_id")


# --- cancel -------------------------------------------------------------------------------------


async def test_cancel_a_queued_run(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    run = await run_task(api, task["id"])

    response = await api.post(f"/api/runs/{run['id']}/cancel")

    assert response.status_code == 202, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["reason"] == "cancelled by key:admin"  # who asked
    assert cancelled["finished_at"] is not None
    assert (await api.get(f"/api/runs/{run['id']}")).json() == cancelled


async def test_a_cancelled_queued_run_is_its_tasks_last_run(api: httpx.AsyncClient) -> None:
    """A user's cancel is an outcome like a worker's: the task's last-run summary follows it."""
    task = await create_task(api, retry={"max_attempts": 3})
    run = await run_task(api, task["id"])
    cancelled = (await api.post(f"/api/runs/{run['id']}/cancel")).json()

    last_run = (await api.get(f"/api/tasks/{task['id']}")).json()["last_run"]
    assert last_run == {"id": run["id"], "status": "cancelled", "at": cancelled["finished_at"]}
    runs = (await api.get(f"/api/tasks/{task['id']}/runs")).json()
    assert [r["id"] for r in runs["items"]] == [run["id"]]  # a cancelled run is not retried


async def test_cancel_a_running_run_asks_its_worker_to_stop(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api)
    run = await run_task(api, task["id"])
    assert await claim_runs(ctx) == [run["id"]]

    response = await api.post(f"/api/runs/{run['id']}/cancel", headers=OPERATOR)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested"] is True
    assert response.json()["reason"] == "cancel requested by key:operator"


async def test_a_cancelled_running_run_still_says_who_asked(api: httpx.AsyncClient, ctx: Context) -> None:
    """The worker records the outcome without a reason of its own: the request's stays."""
    task = await create_task(api, retry={"max_attempts": 1})
    run = await run_task(api, task["id"])
    execution = ExecutionService(ctx)
    (claimed,) = await execution.claim("test-worker", None, 1)
    await api.post(f"/api/runs/{run['id']}/cancel", headers=OPERATOR)
    outcome = Outcome(run=claimed, status=RunStatus.CANCELLED, finished_at=ctx.clock.now())
    assert (await execution.finish("test-worker", [outcome])).held == {run["id"]}

    done = (await api.get(f"/api/runs/{run['id']}")).json()
    assert (done["status"], done["reason"]) == ("cancelled", "cancel requested by key:operator")


async def test_cancel_a_cancelled_run_is_409_and_changes_nothing(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    run = await run_task(api, task["id"])
    await api.post(f"/api/runs/{run['id']}/cancel")
    before = await snapshot(api)

    assert_problem(await api.post(f"/api/runs/{run['id']}/cancel"), 409, mentions="cancelled")
    assert await snapshot(api) == before


@pytest.mark.parametrize("status", [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT])
async def test_cancel_a_finished_run_is_409(api: httpx.AsyncClient, ctx: Context, status: RunStatus) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    run = await run_task(api, task["id"])
    await finish_runs(ctx, status)
    before = await snapshot(api)

    problem = assert_problem(await api.post(f"/api/runs/{run['id']}/cancel"), 409)
    assert status.value in problem["detail"]
    assert await snapshot(api) == before


async def test_cancel_unknown_run_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post(f"/api/runs/{MISSING_ID}/cancel"), 404)
