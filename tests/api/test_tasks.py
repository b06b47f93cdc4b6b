"""/api/tasks: create, read, list (filters, search, sort, paging), replace, patch, delete, run, pause, resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tasksched import registry
from tasksched.clock import FrozenClock
from tasksched.domain.actions import HttpAction
from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.execution import _parse_action
from tasksched.store import tasks as task_store
from tests.api.conftest import (
    HTTP_ACTION,
    MISSING_ID,
    assert_problem,
    create_task,
    finish_runs,
    run_task,
    snapshot,
    task_body,
)
from tests.store.rows import make_task_values

FUNCTION_NAME = "api_tests.greet"


def greet(greeting: str = "hello") -> str:
    return greeting


@pytest.fixture
def python_function() -> Iterator[str]:
    """``greet`` registered with @task for the duration of one test."""
    registry.task(name=FUNCTION_NAME)(greet)
    try:
        yield FUNCTION_NAME
    finally:
        registry.unregister(FUNCTION_NAME)


# --- create -------------------------------------------------------------------------------------


async def test_create_answers_201_with_location_etag_and_defaults(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/tasks", json=task_body("hello"))

    assert response.status_code == 201, response.text
    task = response.json()
    assert response.headers["location"].endswith(f"/api/tasks/{task['id']}")
    assert response.headers["etag"] == '"1"'
    assert task["name"] == "hello"
    assert task["version"] == 1
    assert task["enabled"] is True
    assert task["description"] == ""
    assert task["tags"] == []
    assert task["schedule"] is None
    assert task["next_run_at"] is None
    assert task["last_run"] is None
    assert task["timeout_seconds"] == 3600
    assert task["concurrency_policy"] == "forbid"
    assert task["misfire_policy"] == "run_once"
    assert task["retry"]["max_attempts"] == 3
    assert task["action"] == {**HTTP_ACTION, "method": "GET", "headers": {}, "body": None,
                              "expect_status": None, "follow_redirects": True}  # fmt: skip
    assert task["created_at"] == task["updated_at"]

    got = await api.get(response.headers["location"])
    assert got.status_code == 200
    assert got.json() == task


async def test_create_sorts_and_deduplicates_tags(api: httpx.AsyncClient) -> None:
    task = await create_task(api, tags=["ops", "billing", "ops"])
    assert task["tags"] == ["billing", "ops"]


@pytest.mark.parametrize(
    ("schedule", "next_run_at", "words"),
    [
        ({"type": "interval", "seconds": 90}, "2026-06-01T12:01:30Z", "every 1 minute 30 seconds"),
        (
            {"type": "cron", "expression": "0 3 * * *", "timezone": "Europe/Berlin"},
            "2026-06-02T01:00:00Z",
            "(Europe/Berlin)",
        ),
        ({"type": "cron", "expression": "@hourly"}, "2026-06-01T13:00:00Z", "(UTC)"),
        ({"type": "once", "at": "2026-07-01T08:30:00+02:00"}, "2026-07-01T06:30:00Z", "once at"),
        ({"type": "once", "at": "2026-06-01T12:00:00.001Z"}, "2026-06-01T12:00:00.001000Z", "once at"),
    ],
    ids=["interval", "cron-berlin", "cron-macro", "once", "once-just-ahead"],
)
async def test_create_computes_next_run_and_description(
    frozen_api: httpx.AsyncClient, schedule: dict[str, Any], next_run_at: str | None, words: str
) -> None:
    task = await create_task(frozen_api, schedule=schedule)
    assert task["next_run_at"] == next_run_at
    assert words in task["schedule_description"]


# The frozen clock reads 2026-06-01 12:00 UTC.
@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"type": "once", "at": "2026-01-01T00:00:00Z"}, "schedule.at"),
        ({"type": "once", "at": "2026-06-01T12:00:00Z"}, "schedule.at"),
        ({"type": "once", "at": "2026-06-01T13:59:59+02:00"}, "schedule.at"),
        ({"type": "interval", "seconds": 60, "end_at": "2026-06-01T11:00:00Z"}, "schedule.end_at"),
        ({"type": "cron", "expression": "@daily", "end_at": "2026-05-01T00:00:00Z"}, "schedule.end_at"),
    ],
    ids=["past", "now", "zone", "interval-ended", "cron-ended"],
)
async def test_create_refuses_a_schedule_with_nothing_ahead(
    frozen_api: httpx.AsyncClient, schedule: dict[str, Any], field: str
) -> None:
    """It used to be saved (201) with no next run: a task that silently never ran."""
    before = await snapshot(frozen_api)
    response = await frozen_api.post("/api/tasks", json=task_body(schedule=schedule))
    assert_problem(response, 422, field=field, mentions="not in the future")
    assert "the server's time is 2026-06-01 12:00 UTC" in response.json()["detail"]
    assert await snapshot(frozen_api) == before


@pytest.mark.parametrize("method", ["put", "patch"])
async def test_setting_a_once_schedule_in_the_past_is_refused(
    frozen_api: httpx.AsyncClient, method: str
) -> None:
    task = await create_task(frozen_api, schedule={"type": "interval", "seconds": 60})
    before = await snapshot(frozen_api)
    past = {"type": "once", "at": "2026-05-31T12:00:00Z"}
    body = task_body(schedule=past) if method == "put" else {"schedule": past}
    response = await frozen_api.request(method.upper(), f"/api/tasks/{task['id']}", json=body)
    assert_problem(response, 422, field="schedule.at")
    assert await snapshot(frozen_api) == before


async def test_a_once_task_whose_time_has_passed_stays_editable(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    """Only a schedule being set must lie ahead: time passing does not make a saved task invalid."""
    schedule = {"type": "once", "at": "2026-06-01T12:05:00Z"}
    task = await create_task(frozen_api, schedule=schedule)
    clock.advance(3600)
    url = f"/api/tasks/{task['id']}"

    patched = await frozen_api.patch(url, json={"description": "ran at noon", "schedule": schedule})
    assert patched.status_code == 200, patched.text
    replaced = await frozen_api.put(url, json=task_body(description="again", schedule=schedule))
    assert replaced.status_code == 200, replaced.text
    assert (await frozen_api.post(f"{url}/pause")).status_code == 200
    assert (await frozen_api.post(f"{url}/resume")).status_code == 200
    later = {"type": "once", "at": "2026-06-01T14:00:00Z"}
    moved = await frozen_api.patch(url, json={"schedule": later})
    assert moved.json()["next_run_at"] == "2026-06-01T14:00:00Z"


async def test_rows_saved_before_stricter_checks_still_load(api: httpx.AsyncClient, ctx: Context) -> None:
    """A cron step beyond its field and an ambiguous IPv4 host were accepted once; rows holding them
    must still list, show, pause and run (or one old row would break every page and the scheduler),
    while a write that sends them again is refused naming them."""
    values = make_task_values(name="legacy", action=dict(HTTP_ACTION), schedule=None)
    values["schedule"] = {"type": "cron", "expression": "*/61 * * * *", "timezone": "UTC"}
    values["action"] = {**values["action"], "url": "http://0x7f.1/"}
    async with ctx.db.write() as tx:
        row = await task_store.insert(tx, values)
    url = f"/api/tasks/{row['id']}"

    shown = await api.get(url)
    assert shown.status_code == 200, shown.text
    assert shown.json()["schedule"]["expression"] == "*/61 * * * *"
    assert (await api.get("/api/tasks")).json()["total"] == 1
    assert (await api.post(f"{url}/pause")).status_code == 200
    loaded = _parse_action(json.dumps(values["action"]))  # what a worker loads
    assert isinstance(loaded, HttpAction)
    assert loaded.url == "http://0x7f.1/"

    problem = assert_problem(await api.patch(url, json={"description": "edited"}), 422)
    assert {e["field"] for e in problem["errors"]} == {"schedule.expression", "action.url"}


async def test_create_python_action_with_registered_function(
    api: httpx.AsyncClient, python_function: str
) -> None:
    action = {"type": "python", "function": python_function, "kwargs": {"greeting": "hi"}}
    task = await create_task(api, action=action)
    assert task["action"] == {**action, "args": []}


async def test_create_python_action_with_unregistered_function_is_refused(api: httpx.AsyncClient) -> None:
    before = await snapshot(api)
    response = await api.post("/api/tasks", json=task_body(action={"type": "python", "function": "no.such"}))
    assert_problem(response, 422, field="action.function", mentions="'no.such'")
    assert await snapshot(api) == before


async def test_python_action_names_a_function_not_an_import_path(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/tasks", json=task_body(action={"type": "python", "function": "os:system"})
    )
    assert_problem(response, 422, field="action.function")


async def test_shell_action_is_refused_unless_the_server_enables_it(api: httpx.AsyncClient) -> None:
    before = await snapshot(api)
    response = await api.post("/api/tasks", json=task_body(action={"type": "shell", "command": ["true"]}))
    assert_problem(response, 422, field="action.type", mentions="TASKSCHED_ENABLE_SHELL")
    assert await snapshot(api) == before


async def test_shell_action_is_accepted_when_enabled(shell_api: httpx.AsyncClient) -> None:
    action = {"type": "shell", "command": ["echo", "hi"], "env": {"A": "1"}}
    task = await create_task(shell_api, action=action)
    assert task["action"] == {**action, "env": {"A": "********"}, "cwd": None}  # env values are write-only


async def test_shell_command_must_be_an_argv_list(shell_api: httpx.AsyncClient) -> None:
    response = await shell_api.post(
        "/api/tasks", json=task_body(action={"type": "shell", "command": "echo hi; rm -rf /"})
    )
    assert_problem(response, 422, field="action.command")


async def test_concurrent_creates_with_one_name_make_one_task(api: httpx.AsyncClient) -> None:
    responses = await asyncio.gather(*(api.post("/api/tasks", json=task_body("race")) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, field="name")
    assert (await api.get("/api/tasks")).json()["total"] == 1


async def test_secret_header_values_are_not_answered(api: httpx.AsyncClient) -> None:
    action = {
        "type": "http",
        "url": "https://example.com/",
        "headers": {"Authorization": "Bearer s3cret-value"},
    }
    created = await api.post("/api/tasks", json=task_body(action=action))
    assert created.status_code == 201
    for response in (created, await api.get(created.headers["location"]), await api.get("/api/tasks")):
        assert "s3cret-value" not in response.text


# --- read ---------------------------------------------------------------------------------------


async def test_get_answers_the_task_with_its_version_as_etag(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    response = await api.get(f"/api/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == task


async def test_get_unknown_task_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get(f"/api/tasks/{MISSING_ID}"), 404, mentions=str(MISSING_ID))


@pytest.mark.parametrize("task_id", ["abc", "1.5", "99999999999999999999", "-99999999999999999999"])
async def test_get_with_an_impossible_id_is_422(api: httpx.AsyncClient, task_id: str) -> None:
    assert_problem(await api.get(f"/api/tasks/{task_id}"), 422, field="task_id")


# --- list ---------------------------------------------------------------------------------------


async def test_list_is_empty_at_first(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/tasks")
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0}


async def test_list_pages_with_limit_and_offset(api: httpx.AsyncClient) -> None:
    for name in ["e", "a", "d", "b", "c"]:
        await create_task(api, name)

    page = (await api.get("/api/tasks", params={"limit": 2, "offset": 2})).json()
    assert [t["name"] for t in page["items"]] == ["c", "d"]
    assert page["total"] == 5

    last = (await api.get("/api/tasks", params={"limit": 2, "offset": 4})).json()
    assert [t["name"] for t in last["items"]] == ["e"]
    assert last["total"] == 5

    beyond = (await api.get("/api/tasks", params={"offset": 10})).json()
    assert beyond == {"items": [], "total": 5}


async def test_list_answers_50_by_default_and_up_to_500(api: httpx.AsyncClient) -> None:
    for i in range(51):
        await create_task(api, f"task-{i:02d}")
    default = (await api.get("/api/tasks")).json()
    assert len(default["items"]) == 50
    assert default["total"] == 51
    everything = (await api.get("/api/tasks", params={"limit": 500})).json()
    assert len(everything["items"]) == 51


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 10**20}, "offset"),
        ({"sort": "colour"}, "sort"),
        ({"sort": "-description"}, "sort"),
        ({"enabled": "perhaps"}, "enabled"),
        ({"last_status": "exploded"}, "last_status"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"tag": "a\x00b"}, "tag.0"),  # the first (and here only) tag given
        ({"tag": ["ok", "not ok"]}, "tag.1"),
    ],
)
async def test_list_refuses_bad_parameters(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await api.get("/api/tasks", params=params), 422, field=field)
    assert body["errors"][0]["in"] == "query"


async def test_list_searches_name_and_description_ignoring_case(api: httpx.AsyncClient) -> None:
    await create_task(api, "Billing export", description="nightly CSV")
    await create_task(api, "cleanup", description="Remove old BILLING files")
    await create_task(api, "reports")

    found = (await api.get("/api/tasks", params={"q": "billing"})).json()
    assert sorted(t["name"] for t in found["items"]) == ["Billing export", "cleanup"]
    assert found["total"] == 2
    assert (await api.get("/api/tasks", params={"q": "csv"})).json()["total"] == 1
    assert (await api.get("/api/tasks", params={"q": "nothing-like-it"})).json()["total"] == 0


async def test_list_finds_one_task_by_its_exact_name(api: httpx.AsyncClient) -> None:
    await create_task(api, "reports.nightly")
    await create_task(api, "reports.nightly.extra")
    await create_task(api, "Reports.Nightly")
    found = (await api.get("/api/tasks", params={"name": "reports.nightly"})).json()
    assert ([t["name"] for t in found["items"]], found["total"]) == (["reports.nightly"], 1)
    assert (await api.get("/api/tasks", params={"name": "reports"})).json()["total"] == 0


@pytest.mark.parametrize(("q", "expected"), [("%", ["100% done"]), ("_", ["a_b"]), ("\\", ["back\\slash"])])
async def test_list_search_takes_wildcards_literally(
    api: httpx.AsyncClient, q: str, expected: list[str]
) -> None:
    for name in ["100% done", "a_b", "back\\slash", "plain"]:
        await create_task(api, name)
    found = (await api.get("/api/tasks", params={"q": q})).json()
    assert [t["name"] for t in found["items"]] == expected


async def test_list_filters_by_tag(api: httpx.AsyncClient) -> None:
    await create_task(api, "a", tags=["ops", "nightly"])
    await create_task(api, "b", tags=["ops"])
    await create_task(api, "c", tags=["billing"])
    assert [t["name"] for t in (await api.get("/api/tasks?tag=ops")).json()["items"]] == ["a", "b"]
    assert [t["name"] for t in (await api.get("/api/tasks?tag=nightly")).json()["items"]] == ["a"]
    assert (await api.get("/api/tasks?tag=nope")).json() == {"items": [], "total": 0}


async def test_list_filters_by_enabled(api: httpx.AsyncClient) -> None:
    await create_task(api, "on")
    await create_task(api, "off", enabled=False)
    assert [t["name"] for t in (await api.get("/api/tasks?enabled=true")).json()["items"]] == ["on"]
    assert [t["name"] for t in (await api.get("/api/tasks?enabled=false")).json()["items"]] == ["off"]


async def test_list_filters_by_last_status(api: httpx.AsyncClient, ctx: Context) -> None:
    good = await create_task(api, "good")
    bad = await create_task(api, "bad")
    await create_task(api, "never-ran")
    await run_task(api, good["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)
    await run_task(api, bad["id"])
    await finish_runs(ctx, RunStatus.FAILED)

    succeeded = (await api.get("/api/tasks", params={"last_status": "succeeded"})).json()
    assert [t["name"] for t in succeeded["items"]] == ["good"]
    assert succeeded["items"][0]["last_run"]["status"] == "succeeded"
    failed = (await api.get("/api/tasks", params={"last_status": "failed"})).json()
    assert [t["name"] for t in failed["items"]] == ["bad"]


async def test_list_sorts_by_name_either_way(api: httpx.AsyncClient) -> None:
    for name in ["b", "c", "a"]:
        await create_task(api, name)
    assert [t["name"] for t in (await api.get("/api/tasks?sort=name")).json()["items"]] == ["a", "b", "c"]
    assert [t["name"] for t in (await api.get("/api/tasks?sort=-name")).json()["items"]] == ["c", "b", "a"]


async def test_list_sorts_by_next_run_with_manual_tasks_last(frozen_api: httpx.AsyncClient) -> None:
    await create_task(frozen_api, "manual")
    await create_task(frozen_api, "hourly", schedule={"type": "interval", "seconds": 3600})
    await create_task(frozen_api, "minutely", schedule={"type": "interval", "seconds": 60})

    ascending = (await frozen_api.get("/api/tasks?sort=next_run_at")).json()["items"]
    assert [t["name"] for t in ascending] == ["minutely", "hourly", "manual"]
    descending = (await frozen_api.get("/api/tasks?sort=-next_run_at")).json()["items"]
    assert [t["name"] for t in descending] == ["hourly", "minutely", "manual"]


async def test_list_sorts_by_priority_and_id(api: httpx.AsyncClient) -> None:
    await create_task(api, "low", priority=-5)
    await create_task(api, "high", priority=50)
    await create_task(api, "mid")
    by_priority = (await api.get("/api/tasks?sort=-priority")).json()["items"]
    assert [t["name"] for t in by_priority] == ["high", "mid", "low"]
    by_id = (await api.get("/api/tasks?sort=-id")).json()["items"]
    assert [t["name"] for t in by_id] == ["mid", "high", "low"]


# --- replace (PUT) ------------------------------------------------------------------------------


async def test_put_replaces_every_field_and_bumps_the_version(api: httpx.AsyncClient) -> None:
    task = await create_task(api, description="old words", tags=["x"], priority=7)
    response = await api.put(f"/api/tasks/{task['id']}", json=task_body("renamed", queue="slow"))

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    replaced = response.json()
    assert replaced["name"] == "renamed"
    assert replaced["queue"] == "slow"
    # Fields the body leaves out go back to their defaults: PUT replaces the whole task.
    assert replaced["description"] == ""
    assert replaced["tags"] == []
    assert replaced["priority"] == 0
    assert replaced["version"] == 2
    assert replaced["created_at"] == task["created_at"]
    assert (await api.get(f"/api/tasks/{task['id']}")).json() == replaced


@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "1", "*"])
async def test_put_with_a_matching_if_match_succeeds(api: httpx.AsyncClient, if_match: str) -> None:
    task = await create_task(api)
    response = await api.put(
        f"/api/tasks/{task['id']}", json=task_body("renamed"), headers={"If-Match": if_match}
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2


async def test_put_with_a_stale_if_match_is_412_and_changes_nothing(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    await api.patch(f"/api/tasks/{task['id']}", json={"description": "someone else's edit"})
    before = await snapshot(api)

    response = await api.put(f"/api/tasks/{task['id']}", json=task_body("mine"), headers={"If-Match": '"1"'})

    body = assert_problem(response, 412)
    assert body["current_version"] == 2
    assert await snapshot(api) == before


async def test_concurrent_edits_of_one_version_let_exactly_one_win(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    responses = await asyncio.gather(
        *(
            api.patch(f"/api/tasks/{task['id']}", json={"priority": p}, headers={"If-Match": '"1"'})
            for p in range(1, 5)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 412, 412, 412]
    [winner] = [r.json() for r in responses if r.status_code == 200]
    assert (await api.get(f"/api/tasks/{task['id']}")).json() == winner
    assert winner["version"] == 2


async def test_concurrent_edits_without_if_match_all_apply(api: httpx.AsyncClient) -> None:
    # On PostgreSQL the edits queue on the row lock; none may find the task "missing" meanwhile.
    task = await create_task(api)
    patches = [{"priority": 7}, {"description": "d"}, {"tags": ["t"]}, {"queue": "q"}]
    responses = await asyncio.gather(*(api.patch(f"/api/tasks/{task['id']}", json=p) for p in patches))
    assert [r.status_code for r in responses] == [200] * 4
    final = (await api.get(f"/api/tasks/{task['id']}")).json()
    assert final["version"] == 5
    assert (final["priority"], final["description"], final["tags"], final["queue"]) == (7, "d", ["t"], "q")


async def test_put_with_a_malformed_if_match_is_422(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    before = await snapshot(api)
    response = await api.put(
        f"/api/tasks/{task['id']}", json=task_body("x"), headers={"If-Match": "yesterday"}
    )
    assert_problem(response, 422, field="If-Match")
    assert await snapshot(api) == before


async def test_put_unknown_task_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.put(f"/api/tasks/{MISSING_ID}", json=task_body()), 404)
    assert (await snapshot(api))["tasks"]["total"] == 0


async def test_put_with_a_new_schedule_recomputes_next_run(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    task = await create_task(frozen_api, schedule={"type": "interval", "seconds": 60})
    clock.advance(30)
    response = await frozen_api.put(
        f"/api/tasks/{task['id']}", json=task_body(schedule={"type": "interval", "seconds": 600})
    )
    assert response.json()["next_run_at"] == "2026-06-01T12:10:30Z"


# --- patch --------------------------------------------------------------------------------------


async def test_patch_changes_only_the_given_fields(api: httpx.AsyncClient) -> None:
    task = await create_task(api, description="keep me", tags=["a"])
    response = await api.patch(f"/api/tasks/{task['id']}", json={"priority": 9, "tags": ["b", "a"]})

    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    patched = response.json()
    assert patched["priority"] == 9
    assert patched["tags"] == ["a", "b"]
    assert patched["description"] == "keep me"
    assert patched["name"] == task["name"]
    assert patched["version"] == 2


async def test_patch_null_schedule_makes_the_task_manual(frozen_api: httpx.AsyncClient) -> None:
    task = await create_task(frozen_api, schedule={"type": "interval", "seconds": 60})
    assert task["next_run_at"] is not None
    patched = (await frozen_api.patch(f"/api/tasks/{task['id']}", json={"schedule": None})).json()
    assert patched["schedule"] is None
    assert patched["next_run_at"] is None
    assert patched["schedule_description"] is None


async def test_patch_with_an_empty_body_changes_nothing_but_the_version(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    patched = (await api.patch(f"/api/tasks/{task['id']}", json={})).json()
    assert {k: v for k, v in patched.items() if k not in ("version", "updated_at")} == {
        k: v for k, v in task.items() if k not in ("version", "updated_at")
    }


async def test_patch_with_a_stale_if_match_is_412(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    await api.patch(f"/api/tasks/{task['id']}", json={"priority": 1})
    before = await snapshot(api)
    response = await api.patch(f"/api/tasks/{task['id']}", json={"priority": 2}, headers={"If-Match": '"1"'})
    assert_problem(response, 412)
    assert await snapshot(api) == before

    current = await api.patch(f"/api/tasks/{task['id']}", json={"priority": 2}, headers={"If-Match": '"2"'})
    assert current.status_code == 200
    assert current.json()["version"] == 3


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": " padded "}, "name"),
        ({"enabled": None}, "enabled"),
        ({"retry": None}, "retry"),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"tags": ["has space"]}, "tags"),
        ({"priority": 100_000}, "priority"),
        ({"queue": "a b"}, "queue"),
        ({"misfire_grace_seconds": -5}, "misfire_grace_seconds"),
        ({"concurrency_policy": "sometimes"}, "concurrency_policy"),
        ({"schedule": {"type": "cron", "expression": "0 0 31 2 *"}}, "schedule.expression"),
        (
            {"schedule": {"type": "cron", "expression": "* * * * *", "timezone": "Mars/Olympus"}},
            "schedule.timezone",
        ),
        ({"action": {"type": "http", "url": "ftp://example.com/"}}, "action.url"),
        ({"action": {"type": "python", "function": "not.registered"}}, "action.function"),
        ({"action": {"type": "shell", "command": ["true"]}}, "action.type"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_patch_refuses_what_would_make_the_task_invalid(
    api: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    task = await create_task(api)
    before = await snapshot(api)
    assert_problem(await api.patch(f"/api/tasks/{task['id']}", json=patch), 422, field=field)
    assert await snapshot(api) == before


async def test_patch_unknown_task_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.patch(f"/api/tasks/{MISSING_ID}", json={"priority": 1}), 404)


async def test_patch_to_a_name_in_use_is_409(api: httpx.AsyncClient) -> None:
    await create_task(api, "first")
    second = await create_task(api, "second")
    before = await snapshot(api)
    response = await api.patch(f"/api/tasks/{second['id']}", json={"name": "first"})
    assert_problem(response, 409, field="name")
    assert await snapshot(api) == before


async def test_patch_keeping_its_own_name_is_not_a_conflict(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "same")
    response = await api.patch(f"/api/tasks/{task['id']}", json={"name": "same", "priority": 3})
    assert response.status_code == 200, response.text


# --- delete -------------------------------------------------------------------------------------


async def test_delete_answers_204_and_removes_the_task_and_its_runs(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    other = await create_task(api, "other")
    run = await run_task(api, task["id"])
    kept = await run_task(api, other["id"])

    response = await api.delete(f"/api/tasks/{task['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await api.get(f"/api/tasks/{task['id']}"), 404)
    assert_problem(await api.get(f"/api/runs/{run['id']}"), 404)
    assert (await api.get(f"/api/runs/{kept['id']}")).status_code == 200
    assert (await api.get("/api/tasks")).json()["total"] == 1


async def test_delete_twice_is_404_the_second_time(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    assert (await api.delete(f"/api/tasks/{task['id']}")).status_code == 204
    assert_problem(await api.delete(f"/api/tasks/{task['id']}"), 404)


# --- run now, pause, resume ---------------------------------------------------------------------


async def test_run_now_answers_202_with_a_queued_manual_run(api: httpx.AsyncClient) -> None:
    task = await create_task(api)
    response = await api.post(f"/api/tasks/{task['id']}/run")

    assert response.status_code == 202, response.text
    run = response.json()
    assert run["task_id"] == task["id"]
    assert run["task_name"] == task["name"]
    assert run["status"] == "queued"
    assert run["trigger"] == "manual"
    assert run["attempt"] == 1
    assert run["started_at"] is None
    assert run["max_attempts"] == 3  # the default retry policy: "attempt 1 of 3", as its own page says
    shown = (await api.get(f"/api/runs/{run['id']}")).json()
    assert shown["status"] == "queued"
    assert shown["max_attempts"] == run["max_attempts"]


async def test_run_now_answers_with_the_tasks_own_attempts(api: httpx.AsyncClient) -> None:
    task = await create_task(api, retry={"max_attempts": 5, "backoff_seconds": 1})
    response = await api.post(f"/api/tasks/{task['id']}/run")
    assert response.status_code == 202, response.text
    assert response.json()["max_attempts"] == 5


async def test_run_now_twice_queues_two_runs(frozen_api: httpx.AsyncClient) -> None:
    # The frozen clock gives both requests the same instant: the second run must still get its own slot.
    task = await create_task(frozen_api)
    first = await run_task(frozen_api, task["id"])
    second = await run_task(frozen_api, task["id"])
    assert first["id"] != second["id"]
    assert datetime.fromisoformat(second["scheduled_for"]) > datetime.fromisoformat(first["scheduled_for"])
    assert (await frozen_api.get(f"/api/tasks/{task['id']}/runs")).json()["total"] == 2


async def test_concurrent_run_now_requests_each_get_a_run(frozen_api: httpx.AsyncClient) -> None:
    task = await create_task(frozen_api)
    responses = await asyncio.gather(*(frozen_api.post(f"/api/tasks/{task['id']}/run") for _ in range(3)))
    assert [r.status_code for r in responses] == [202] * 3
    assert len({r.json()["id"] for r in responses}) == 3
    assert len({r.json()["scheduled_for"] for r in responses}) == 3


async def test_run_now_works_on_a_paused_task(api: httpx.AsyncClient) -> None:
    task = await create_task(api, enabled=False)
    assert (await run_task(api, task["id"]))["status"] == "queued"


async def test_run_now_on_an_unknown_task_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post(f"/api/tasks/{MISSING_ID}/run"), 404)
    assert (await snapshot(api))["runs"]["total"] == 0


async def test_pause_and_resume(api: httpx.AsyncClient) -> None:
    task = await create_task(api)

    paused = await api.post(f"/api/tasks/{task['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["enabled"] is False
    assert paused.headers["etag"] == '"2"'

    resumed = await api.post(f"/api/tasks/{task['id']}/resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["enabled"] is True
    assert resumed.headers["etag"] == '"3"'


async def test_resume_records_the_slots_the_pause_skipped(
    frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    task = await create_task(frozen_api, schedule={"type": "interval", "seconds": 60})
    await frozen_api.post(f"/api/tasks/{task['id']}/pause")
    clock.advance(5 * 60 + 10)

    resumed = (await frozen_api.post(f"/api/tasks/{task['id']}/resume")).json()

    assert resumed["next_run_at"] == "2026-06-01T12:06:00Z"
    runs = (await frozen_api.get(f"/api/tasks/{task['id']}/runs")).json()
    assert runs["total"] == 1
    skipped = runs["items"][0]
    assert skipped["status"] == "skipped"
    assert skipped["reason"].startswith("paused: 5 slot(s)")


@pytest.mark.parametrize("action", ["pause", "resume"])
async def test_pause_or_resume_an_unknown_task_is_404(api: httpx.AsyncClient, action: str) -> None:
    assert_problem(await api.post(f"/api/tasks/{MISSING_ID}/{action}"), 404)


async def test_every_page_reports_the_current_total(api: httpx.AsyncClient) -> None:
    """Pages of one filter share a counted total; a change anywhere makes it count again."""
    for i in range(3):
        await create_task(api, f"paged-{i}", tags=["paged"])

    async def total(offset: int, **params: Any) -> int:
        response = await api.get("/api/tasks", params={"limit": 1, "offset": offset, **params})
        assert response.status_code == 200
        return int(response.json()["total"])

    assert [await total(1), await total(2), await total(1, tag="paged")] == [3, 3, 3]
    await create_task(api, "paged-3")
    assert [await total(1), await total(2), await total(1, tag="paged")] == [4, 4, 3]
    deleted = await api.delete(
        f"/api/tasks/{(await api.get('/api/tasks', params={'q': 'paged-0'})).json()['items'][0]['id']}"
    )
    assert deleted.status_code == 204
    assert [await total(1), await total(2), await total(1, tag="paged")] == [3, 3, 2]
