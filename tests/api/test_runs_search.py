"""/api/runs for an incident: filters by trigger, slot time and error text; retry by id or by filter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService, Outcome
from tests.api.conftest import OPERATOR, VIEWER, assert_problem, create_task, finish_runs, run_task


async def ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["items"]]


async def fail_with(ctx: Context, error: str) -> list[int]:
    """Claim every queued run and fail it with ``error``."""
    execution = ExecutionService(ctx)
    claimed = await execution.claim("test-worker", None, 100)
    now = ctx.clock.now()
    await execution.finish(
        "test-worker",
        [Outcome(run=r, status=RunStatus.FAILED, finished_at=now, error=error) for r in claimed],
    )
    return [r.id for r in claimed]


async def test_error_text_search_is_a_substring_in_any_case(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    await run_task(api, task["id"])
    [refused] = await fail_with(ctx, "connect: Connection REFUSED by db-3:5432")
    await run_task(api, task["id"])
    [percent] = await fail_with(ctx, "disk 100% full")
    await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)

    assert await ids(await api.get("/api/runs", params={"q": "connection refused"})) == [refused]
    assert await ids(await api.get("/api/runs", params={"q": "db-3"})) == [refused]
    # LIKE's wildcards are plain characters here.
    assert await ids(await api.get("/api/runs", params={"q": "100%"})) == [percent]
    assert await ids(await api.get("/api/runs", params={"q": "1_0"})) == []
    assert await ids(await api.get("/api/runs", params={"q": "   "})) != []  # blank: no filter
    both = await api.get("/api/runs", params={"q": "u", "status": "failed", "task_id": task["id"]})
    assert await ids(both) == [percent, refused]


async def test_several_triggers_and_a_time_range(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 2, "backoff_seconds": 0, "jitter": 0})
    manual = await run_task(api, task["id"])
    await fail_with(ctx, "boom")  # queues attempt 2 as a retry
    retry = (await api.get("/api/runs", params={"trigger": "retry"})).json()["items"][0]

    both = await api.get("/api/runs", params=[("trigger", "retry"), ("trigger", "manual")])
    assert await ids(both) == [retry["id"], manual["id"]]
    slot = manual["scheduled_for"]
    assert len(await ids(await api.get("/api/runs", params={"scheduled_from": slot}))) == 2
    assert await ids(await api.get("/api/runs", params={"scheduled_to": slot})) == []
    assert await ids(await api.get("/api/runs", params={"scheduled_from": "2999-01-01T00:00:00Z"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"trigger": "whim"}, "trigger.0"),
        ({"scheduled_from": "yesterday"}, "scheduled_from"),
        ({"scheduled_from": "2026-12-01T00:00:00"}, "scheduled_from"),  # no offset: whose midnight?
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_bad_filters_are_422(api: httpx.AsyncClient, params: dict[str, Any], field: str) -> None:
    assert_problem(await api.get("/api/runs", params=params), 422, field=field)


async def test_a_reversed_time_range_is_422(api: httpx.AsyncClient) -> None:
    params = {"scheduled_from": "2026-12-02T00:00:00Z", "scheduled_to": "2026-12-01T00:00:00Z"}
    assert_problem(await api.get("/api/runs", params=params), 422)


async def test_retry_by_id_queues_the_next_attempt_of_the_slot(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    run = await run_task(api, task["id"])
    await fail_with(ctx, "boom")
    response = await api.post("/api/runs:retry", json={"run_ids": [run["id"]]}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    body = response.json()
    [queued] = body["queued"]
    assert (queued["attempt"], queued["trigger"], queued["status"]) == (2, "retry", "queued")
    assert queued["scheduled_for"] == run["scheduled_for"]
    assert body["skipped"] == []
    # Again: the slot has an active attempt now, so nothing more is queued.
    again = (await api.post("/api/runs:retry", json={"run_ids": [run["id"]]})).json()
    assert again["queued"] == []
    assert "queued or running" in again["skipped"][0]["reason"]


async def test_retry_all_matching_takes_the_filter_in_one_transaction(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    other = await create_task(api, "other", retry={"max_attempts": 1})
    for t in (task, task, other):
        await run_task(api, t["id"])
    await fail_with(ctx, "read timeout from upstream")
    timeouts = await ids(await api.get("/api/runs", params={"task_id": task["id"], "status": "failed"}))
    await run_task(api, task["id"])
    [ok] = await finish_runs(ctx, RunStatus.SUCCEEDED)

    body = {"filter": {"task_id": task["id"], "q": "TIMEOUT", "status": ["failed"]}}
    response = await api.post("/api/runs:retry", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert sorted(r["task_id"] for r in result["queued"]) == [task["id"], task["id"]]
    assert result["skipped"] == []
    # A success among the matches is skipped with a reason, not retried.
    result = (await api.post("/api/runs:retry", json={"filter": {"task_id": task["id"]}})).json()
    reasons = {s["run_id"]: s["reason"] for s in result["skipped"]}
    assert "succeeded" in reasons[ok]
    assert set(timeouts) <= set(reasons)  # their slots have a queued attempt now

    audit = (await api.get("/api/audit", params={"action": "runs.retry"})).json()["items"]
    assert [e["target"]["type"] for e in audit] == ["runs", "runs"]  # newest first
    first = audit[1]["after"]
    assert first["filter"]["error_contains"] == "TIMEOUT"
    assert sorted(first["retried"]) == sorted(str(i) for i in timeouts)
    assert audit[0]["after"]["retried"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"run_ids": [1], "filter": {}},
        {"filter": {"status": ["exploded"]}},
        {"filter": {"scheduled_from": "not a time"}},
        {"filter": {"unknown": 1}},
        {"filter": {"scheduled_from": "2026-12-02T00:00:00Z", "scheduled_to": "2026-12-01T00:00:00Z"}},
        {"run_ids": [0]},
    ],
)
async def test_bad_retry_requests_are_422_and_change_nothing(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    task = await create_task(api)
    await run_task(api, task["id"])
    before = (await api.get("/api/runs")).json()
    assert_problem(await api.post("/api/runs:retry", json=body), 422)
    assert (await api.get("/api/runs")).json() == before


async def test_retry_of_an_unknown_run_is_404_and_viewers_may_not(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/runs:retry", json={"run_ids": [999_999]}), 404)
    assert_problem(await api.post("/api/runs:retry", json={"run_ids": [1]}, headers=VIEWER), 403)


async def test_a_listed_run_and_a_run_page_say_how_many_attempts_its_task_allows(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    three = await create_task(api, "three", retry={"max_attempts": 3, "backoff_seconds": 0, "jitter": 0})
    one = await create_task(api, "one", retry={"max_attempts": 1})
    first = await run_task(api, three["id"])
    await fail_with(ctx, "boom")  # attempt 2 is queued
    only = await run_task(api, one["id"])

    listed = {r["id"]: r for r in (await api.get("/api/runs")).json()["items"]}
    assert listed[first["id"]]["attempt"] == 1
    assert {r["attempt"]: r["max_attempts"] for r in listed.values() if r["task_id"] == three["id"]} == {
        1: 3,
        2: 3,
    }
    assert listed[only["id"]]["max_attempts"] == 1
    page = (await api.get(f"/api/tasks/{three['id']}/runs")).json()["items"]
    assert {r["max_attempts"] for r in page} == {3}
    assert (await api.get(f"/api/runs/{first['id']}")).json()["max_attempts"] == 3

    # It is the policy now: a task whose policy changed says so on its old runs too.
    spec = (await api.get(f"/api/tasks/{three['id']}")).json()
    body = {k: spec[k] for k in ("name", "action", "schedule")} | {"retry": {"max_attempts": 5}}
    assert (await api.put(f"/api/tasks/{three['id']}", json=body)).status_code == 200
    assert (await api.get(f"/api/runs/{first['id']}")).json()["max_attempts"] == 5
