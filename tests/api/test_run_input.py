"""Run-now with an input and an Idempotency-Key; many runs at once with POST /api/runs:batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tasksched import registry
from tests.api.conftest import MISSING_ID, OPERATOR, VIEWER, assert_problem, create_task, snapshot

FUNCTION = "api_tests.echo"
PYTHON = {"type": "python", "function": FUNCTION, "args": [1], "kwargs": {"a": "task", "b": "task"}}
SHELL = {"type": "shell", "command": ["env"], "env": {"KEEP": "1"}}


def _echo(*args: object, **kwargs: object) -> dict[str, object]:
    return {"args": list(args), "kwargs": kwargs}


@pytest.fixture(autouse=True)
def echo_function() -> Iterator[str]:
    """A Python function for the tasks here, registered for the duration of each test."""
    registry.task(name=FUNCTION)(_echo)
    try:
        yield FUNCTION
    finally:
        registry.unregister(FUNCTION)


async def _audit(api: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await api.get("/api/audit", params={"action": action, "limit": 500})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- input --------------------------------------------------------------------------------------


async def test_run_input_is_stored_and_shown(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "py", action=PYTHON)
    sent = {"args": [2, "x"], "kwargs": {"a": "run"}}
    response = await api.post(f"/api/tasks/{task['id']}/run", json={"input": sent}, headers=OPERATOR)
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["input"] == sent
    assert run["status"] == "queued"
    assert (await api.get(f"/api/runs/{run['id']}")).json()["input"] == sent
    listed = (await api.get(f"/api/tasks/{task['id']}/runs")).json()["items"]
    assert [r["input"] for r in listed] == [sent]


async def test_run_without_a_body_has_no_input(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "py", action=PYTHON)
    bodies: list[dict[str, Any] | None] = [None, {}, {"input": None}, {"input": {}}]
    for body in bodies:
        response = await api.post(f"/api/tasks/{task['id']}/run", json=body)
        assert response.status_code == 202, (body, response.text)
        assert response.json()["input"] is None


async def test_an_http_body_and_shell_env_are_inputs_of_their_types(api: httpx.AsyncClient) -> None:
    hook = await create_task(api, "hook")
    response = await api.post(f"/api/tasks/{hook['id']}/run", json={"input": {"body": {"day": "x"}}})
    assert response.status_code == 202, response.text
    assert response.json()["input"] == {"body": {"day": "x"}}
    # A null body is an input too: this run sends no body, whatever the task's.
    response = await api.post(f"/api/tasks/{hook['id']}/run", json={"input": {"body": None}})
    assert response.json()["input"] == {"body": None}


async def test_shell_env_input(shell_api: httpx.AsyncClient) -> None:
    task = await create_task(shell_api, "sh", action=SHELL)
    response = await shell_api.post(f"/api/tasks/{task['id']}/run", json={"input": {"env": {"DAY": "x"}}})
    assert response.status_code == 202, response.text
    assert response.json()["input"] == {"env": {"DAY": "x"}}
    assert_problem(
        await shell_api.post(f"/api/tasks/{task['id']}/run", json={"input": {"env": {"1BAD": "x"}}}),
        422,
        field="input.env",
    )


async def test_an_input_for_another_action_type_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    hook = await create_task(api, "hook")
    py = await create_task(api, "py", action=PYTHON)
    before = await snapshot(api)
    cases = [
        (hook, {"args": [1]}, "input.args"),
        (hook, {"kwargs": {"a": 1}}, "input.kwargs"),
        (py, {"body": "text"}, "input.body"),
        (py, {"env": {"A": "1"}}, "input.env"),
    ]
    for task, sent, field in cases:
        response = await api.post(f"/api/tasks/{task['id']}/run", json={"input": sent}, headers=OPERATOR)
        assert_problem(response, 422, field=field, mentions="the task's action is")
    assert await snapshot(api) == before
    assert await _audit(api, "task.run") == []


async def test_malformed_inputs_are_422(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    before = await snapshot(api)
    for body, field in [
        ({"input": {"args": [1], "body": 2}}, "input"),  # two action types at once
        ({"input": {"args": "not a list"}}, "input.args"),
        ({"input": {"kwargs": [1]}}, "input.kwargs"),
        ({"input": {"function": "other"}}, "input.function"),  # only args/kwargs/body/env
        ({"inputs": {}}, "inputs"),
        ({"input": []}, "input"),
    ]:
        assert_problem(await api.post(f"/api/tasks/{py['id']}/run", json=body), 422, field=field)
    assert await snapshot(api) == before


async def test_input_for_a_missing_task_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post(f"/api/tasks/{MISSING_ID}/run", json={"input": {"args": [1]}}), 404)


async def test_a_viewer_may_not_run_with_input(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    response = await api.post(f"/api/tasks/{py['id']}/run", json={"input": {"args": "bad"}}, headers=VIEWER)
    assert_problem(response, 403)


async def test_the_audit_row_carries_the_input(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    await api.post(f"/api/tasks/{py['id']}/run", json={"input": {"args": [7]}}, headers=OPERATOR)
    [entry] = await _audit(api, "task.run")
    assert entry["after"]["input"] == {"args": [7]}
    assert entry["after"]["idempotency_key"] is None


# --- Idempotency-Key ----------------------------------------------------------------------------


async def test_a_repeated_key_queues_one_run_and_answers_200_with_it(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "py", action=PYTHON)
    url = f"/api/tasks/{task['id']}/run"
    headers = {"Idempotency-Key": "order-17"}
    first = await api.post(url, json={"input": {"args": [17]}}, headers=headers)
    assert first.status_code == 202, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await api.post(url, json={"input": {"args": [17]}}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await api.get(f"/api/tasks/{task['id']}/runs")).json()["total"] == 1
    assert len(await _audit(api, "task.run")) == 1  # a repeat changes nothing
    # Another key, or none, is another run.
    assert (
        await api.post(url, json={"input": {"args": [17]}}, headers={"Idempotency-Key": "o-18"})
    ).status_code == 202
    assert (await api.post(url, json={"input": {"args": [17]}})).status_code == 202
    assert (await api.get(f"/api/tasks/{task['id']}/runs")).json()["total"] == 3


async def test_a_key_belongs_to_its_task(api: httpx.AsyncClient) -> None:
    one = await create_task(api, "one")
    two = await create_task(api, "two")
    headers = {"Idempotency-Key": "same"}
    a = await api.post(f"/api/tasks/{one['id']}/run", headers=headers)
    b = await api.post(f"/api/tasks/{two['id']}/run", headers=headers)
    assert (a.status_code, b.status_code) == (202, 202)
    assert a.json()["id"] != b.json()["id"]


async def test_the_same_key_with_another_input_is_409(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "py", action=PYTHON)
    url = f"/api/tasks/{task['id']}/run"
    headers = {"Idempotency-Key": "k"}
    first = await api.post(url, json={"input": {"args": [1]}}, headers=headers)
    assert first.status_code == 202
    before = await snapshot(api)
    for body in ({"input": {"args": [2]}}, None):
        response = await api.post(url, json=body, headers=headers)
        assert_problem(response, 409, field="Idempotency-Key", mentions=str(first.json()["id"]))
    assert await snapshot(api) == before


async def test_concurrent_requests_with_one_key_queue_one_run(frozen_api: httpx.AsyncClient) -> None:
    task = await create_task(frozen_api)
    url = f"/api/tasks/{task['id']}/run"
    responses = await asyncio.gather(
        *(frozen_api.post(url, headers={"Idempotency-Key": "once"}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 202]
    assert len({r.json()["id"] for r in responses}) == 1
    assert (await frozen_api.get(f"/api/tasks/{task['id']}/runs")).json()["total"] == 1


async def test_bad_keys_are_422(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    before = await snapshot(api)
    for key in ("", "x" * 201, " lead", "tab\tin"):
        response = await api.post(f"/api/tasks/{task['id']}/run", headers={"Idempotency-Key": key})
        assert_problem(response, 422, field="Idempotency-Key")
    assert await snapshot(api) == before


# --- POST /api/runs:batch -----------------------------------------------------------------------


async def test_batch_queues_runs_of_many_tasks_in_order(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    hook = await create_task(api, "hook")
    items = [{"task_id": py["id"], "input": {"args": [i]}} for i in range(3)] + [
        {"task_id": hook["id"], "input": {"body": "b"}},
        {"task_id": hook["id"]},
    ]
    response = await api.post("/api/runs:batch", json={"runs": items}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["repeated"]) == (5, 0)
    assert [e["index"] for e in result["runs"]] == list(range(5))
    assert all(e["created"] for e in result["runs"])
    assert [e["task_id"] for e in result["runs"]] == [py["id"]] * 3 + [hook["id"]] * 2
    runs = [(await api.get(f"/api/runs/{e['run_id']}")).json() for e in result["runs"]]
    assert [r["input"] for r in runs] == [{"args": [0]}, {"args": [1]}, {"args": [2]}, {"body": "b"}, None]
    assert {(r["status"], r["trigger"], r["attempt"]) for r in runs} == {("queued", "manual", 1)}
    assert len({(r["task_id"], r["scheduled_for"]) for r in runs}) == 5
    [entry] = await _audit(api, "runs.batch")
    assert entry["actor"]["name"] == "operator"


async def test_batch_after_run_now_in_the_same_instant(frozen_api: httpx.AsyncClient) -> None:
    """A frozen clock: run-now's slot is taken; the batch's runs go after it."""
    task = await create_task(frozen_api)
    await frozen_api.post(f"/api/tasks/{task['id']}/run")
    response = await frozen_api.post("/api/runs:batch", json={"runs": [{"task_id": task["id"]}] * 3})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 3
    await frozen_api.post(f"/api/tasks/{task['id']}/run")
    assert (await frozen_api.get(f"/api/tasks/{task['id']}/runs")).json()["total"] == 5


async def test_batch_keys_repeat_and_mix_with_run_now(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    first = await api.post(
        f"/api/tasks/{py['id']}/run", json={"input": {"args": [1]}}, headers={"Idempotency-Key": "a"}
    )
    items = [
        {"task_id": py["id"], "input": {"args": [1]}, "idempotency_key": "a"},
        {"task_id": py["id"], "idempotency_key": "b"},
    ]
    one = (await api.post("/api/runs:batch", json={"runs": items})).json()
    assert [e["created"] for e in one["runs"]] == [False, True]
    assert one["runs"][0]["run_id"] == first.json()["id"]
    two = (await api.post("/api/runs:batch", json={"runs": items})).json()
    assert [e["created"] for e in two["runs"]] == [False, False]
    assert [e["run_id"] for e in two["runs"]] == [e["run_id"] for e in one["runs"]]
    assert (two["created"], two["repeated"]) == (0, 2)
    again = await api.post(f"/api/tasks/{py['id']}/run", headers={"Idempotency-Key": "b"})
    assert again.status_code == 200
    assert again.json()["id"] == one["runs"][1]["run_id"]
    assert (await api.get(f"/api/tasks/{py['id']}/runs")).json()["total"] == 2


async def test_one_bad_item_refuses_the_batch_naming_its_index(api: httpx.AsyncClient) -> None:
    py = await create_task(api, "py", action=PYTHON)
    await api.post(
        "/api/runs:batch",
        json={"runs": [{"task_id": py["id"], "idempotency_key": "k", "input": {"args": [1]}}]},
    )
    good = {"task_id": py["id"]}
    before = await snapshot(api)
    audits = await _audit(api, "runs.batch")
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"task_id": MISSING_ID}, 422, "runs.2.task_id"),
        ({"task_id": py["id"], "input": {"body": 1}}, 422, "runs.2.input.body"),
        ({"task_id": py["id"], "input": {"args": 1}}, 422, "runs.2.input.args"),
        ({"task_id": py["id"], "idempotency_key": ""}, 422, "runs.2.idempotency_key"),
        (
            {"task_id": py["id"], "idempotency_key": "k", "input": {"args": [2]}},
            409,
            "runs.2.idempotency_key",
        ),
        ({"task_id": py["id"], "nope": 1}, 422, "runs.2.nope"),
        ({"task_id": 0}, 422, "runs.2.task_id"),
    ]
    for bad, status, field in cases:
        response = await api.post("/api/runs:batch", json={"runs": [good, good, bad]}, headers=OPERATOR)
        assert_problem(response, status, field=field)
    dup = [{**good, "idempotency_key": "d"}, {**good, "idempotency_key": "d"}]
    assert_problem(await api.post("/api/runs:batch", json={"runs": dup}), 422, field="runs.1.idempotency_key")
    assert_problem(await api.post("/api/runs:batch", json={"runs": []}), 422, field="runs")
    assert_problem(await api.post("/api/runs:batch", json={"runs": [good] * 5001}), 422, field="runs")
    assert await snapshot(api) == before
    assert await _audit(api, "runs.batch") == audits


async def test_a_viewer_may_not_batch(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    assert_problem(
        await api.post("/api/runs:batch", json={"runs": [{"task_id": task["id"]}]}, headers=VIEWER), 403
    )
