"""Authentication (401), roles (403), /api/auth/me and API keys (/api/keys)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tasksched.services.context import Context
from tests.api.conftest import (
    ADMIN,
    MISSING_ID,
    OPERATOR,
    VIEWER,
    assert_problem,
    claim_runs,
    create_task,
    run_task,
    send_without_auth,
    snapshot,
    task_body,
)
from tests.conftest import ADMIN_KEY, OPERATOR_KEY, VIEWER_KEY

# Every endpoint that needs a key, with a body where it takes one. {task} and {run} are filled in.
Case = tuple[str, str, dict[str, Any] | None]
PROTECTED: list[Case] = [
    ("GET", "/api/tasks", None),
    ("POST", "/api/tasks", task_body("intruder")),
    ("GET", "/api/tasks/{task}", None),
    ("PUT", "/api/tasks/{task}", task_body("intruder")),
    ("PATCH", "/api/tasks/{task}", {"priority": 5}),
    ("DELETE", "/api/tasks/{task}", None),
    ("POST", "/api/tasks/{task}/run", None),
    ("POST", "/api/tasks/{task}/pause", None),
    ("POST", "/api/tasks/{task}/resume", None),
    ("GET", "/api/tasks/{task}/runs", None),
    ("GET", "/api/runs", None),
    ("GET", "/api/runs/{run}", None),
    ("POST", "/api/runs/{run}/cancel", None),
    ("POST", "/api/schedules/preview", {"schedule": {"type": "interval", "seconds": 60}}),
    ("GET", "/api/events", None),
    ("POST", "/api/events/tickets", None),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/keys", None),
    ("POST", "/api/keys", {"name": "intruder", "role": "admin"}),
    ("DELETE", "/api/keys/1", None),
    ("GET", "/api/stats", None),
    ("GET", "/api/workers", None),
]
WRITES_FOR_ADMIN_ONLY: list[Case] = [
    ("POST", "/api/tasks", task_body("new")),
    ("PUT", "/api/tasks/{task}", task_body("renamed")),
    ("PATCH", "/api/tasks/{task}", {"priority": 5}),
    ("DELETE", "/api/tasks/{task}", None),
    ("GET", "/api/keys", None),
    ("POST", "/api/keys", {"name": "mine", "role": "admin"}),
    ("DELETE", "/api/keys/1", None),
]
OPERATIONS: list[Case] = [
    ("POST", "/api/tasks/{task}/run", None),
    ("POST", "/api/tasks/{task}/pause", None),
    ("POST", "/api/tasks/{task}/resume", None),
    ("POST", "/api/runs/{run}/cancel", None),
]
READS: list[Case] = [
    ("GET", "/api/tasks", None),
    ("GET", "/api/tasks/{task}", None),
    ("GET", "/api/tasks/{task}/runs", None),
    ("GET", "/api/runs", None),
    ("GET", "/api/runs/{run}", None),
    ("POST", "/api/schedules/preview", {"schedule": {"type": "interval", "seconds": 60}}),
    ("GET", "/api/auth/me", None),
    ("GET", "/api/stats", None),
    ("GET", "/api/workers", None),
    ("POST", "/api/events/tickets", None),
]
# Where a ticket must not work: everything but the stream itself (which never ends, so it is tested
# in test_events.py).
NOT_THE_STREAM = [case for case in PROTECTED if case[:2] != ("GET", "/api/events")]


def _ids(cases: list[tuple[str, str, Any]]) -> list[str]:
    return [f"{method} {path}" for method, path, _ in cases]


async def a_task_and_a_run(api: httpx.AsyncClient) -> dict[str, int]:
    task = await create_task(api, "existing")
    run = await run_task(api, task["id"])
    return {"task": task["id"], "run": run["id"]}


async def keys_state(api: httpx.AsyncClient) -> list[tuple[Any, ...]]:
    """The keys as a refused request must leave them (``last_used_at`` moves on any use)."""
    items = (await api.get("/api/keys", headers=ADMIN)).json()["items"]
    return [(k["id"], k["name"], k["role"], k["prefix"], k["revoked_at"]) for k in items]


async def call(
    api: httpx.AsyncClient, method: str, path: str, body: Any, where: dict[str, int], headers: dict[str, str]
) -> httpx.Response:
    return await api.request(method, path.format(**where), json=body, headers=headers)


# --- 401 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=_ids(PROTECTED))
async def test_no_key_is_401_and_changes_nothing(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    before = await snapshot(api)
    response = await send_without_auth(api, method, path.format(**where), json=body)
    problem = assert_problem(response, 401, mentions="Bearer")
    assert problem["title"] == "Unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await snapshot(api) == before


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer ts_not_a_real_key_000000000000",
        f"Bearer {ADMIN_KEY}x",
        f"Basic {ADMIN_KEY}",
        f"Token {ADMIN_KEY}",
        ADMIN_KEY,
        "Bearer",
        "Bearer    ",
        "",
    ],
    ids=["unknown", "altered", "basic", "token", "no-scheme", "no-key", "blank-key", "empty"],
)
async def test_a_bad_key_or_scheme_is_401(api: httpx.AsyncClient, authorization: str) -> None:
    before = await snapshot(api)
    response = await api.post("/api/tasks", json=task_body(), headers={"Authorization": authorization})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await snapshot(api) == before


async def test_the_scheme_name_is_case_insensitive(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/auth/me", headers={"Authorization": f"bearer {VIEWER_KEY}"})
    assert response.status_code == 200
    assert response.json()["role"] == "viewer"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=_ids(PROTECTED))
async def test_a_key_in_the_url_is_refused_everywhere(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    """``?access_token=`` once worked on every endpoint, writes included: a key in a URL ends up in
    logs and browser history. It is refused (not ignored), saying what to use instead."""
    where = await a_task_and_a_run(api)
    before = await snapshot(api)
    keys_before = await keys_state(api)
    url = path.format(**where)
    response = await send_without_auth(api, method, url, json=body, params={"access_token": ADMIN_KEY})
    assert_problem(response, 401, mentions="POST /api/events/tickets")
    assert "Authorization: Bearer" in response.json()["detail"]
    # With a good header too: the key in the URL is still refused rather than quietly ignored.
    response = await api.request(method, url, json=body, params={"access_token": ADMIN_KEY})
    assert_problem(response, 401)
    assert await snapshot(api) == before
    assert await keys_state(api) == keys_before


async def ticket_for(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await api.post("/api/events/tickets", headers=headers)
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


@pytest.mark.parametrize(("method", "path", "body"), NOT_THE_STREAM, ids=_ids(NOT_THE_STREAM))
async def test_a_ticket_opens_nothing_but_the_stream(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    ticket = await ticket_for(api, ADMIN)  # an admin's: the most a ticket could ever carry
    before = await snapshot(api)
    keys_before = await keys_state(api)
    url = path.format(**where)
    response = await send_without_auth(api, method, url, json=body, params={"ticket": ticket})
    assert_problem(response, 401, mentions="GET /api/events only")
    response = await api.request(method, url, json=body, params={"ticket": ticket})  # header or not
    assert_problem(response, 401, mentions="GET /api/events only")
    assert await snapshot(api) == before
    assert await keys_state(api) == keys_before


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=_ids(OPERATIONS))
async def test_a_viewer_ticket_cannot_write(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    ticket = await ticket_for(api, VIEWER)
    before = await snapshot(api)
    response = await send_without_auth(
        api, method, path.format(**where), json=body, params={"ticket": ticket}
    )
    assert_problem(response, 401)
    assert await snapshot(api) == before


async def test_a_ticket_is_issued_to_any_role_and_lives_a_minute(frozen_api: httpx.AsyncClient) -> None:
    for headers in (VIEWER, OPERATOR, ADMIN):
        response = await frozen_api.post("/api/events/tickets", headers=headers)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"ticket", "expires_at"}
        assert response.json()["expires_at"] == "2026-06-01T12:01:00Z"  # the frozen clock, plus 60 s
        assert response.headers["cache-control"] == "no-store"
        for key in (ADMIN_KEY, OPERATOR_KEY, VIEWER_KEY):
            assert key not in response.json()["ticket"]


async def test_a_ticket_cannot_buy_another(api: httpx.AsyncClient) -> None:
    ticket = await ticket_for(api, VIEWER)
    response = await send_without_auth(api, "POST", "/api/events/tickets", params={"ticket": ticket})
    assert_problem(response, 401)


async def test_health_readiness_and_docs_need_no_key(api: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/api/openapi.json", "/api/docs"):
        response = await send_without_auth(api, "GET", path)
        assert response.status_code == 200, path


# --- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "headers", "prefix"),
    [
        ("admin", ADMIN, ADMIN_KEY[:10]),
        ("operator", OPERATOR, OPERATOR_KEY[:10]),
        ("viewer", VIEWER, VIEWER_KEY[:10]),
    ],
)
async def test_me_says_who_the_key_is(
    api: httpx.AsyncClient, role: str, headers: dict[str, str], prefix: str
) -> None:
    response = await api.get("/api/auth/me", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"name": role, "role": role, "prefix": prefix}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    WRITES_FOR_ADMIN_ONLY + OPERATIONS,
    ids=_ids(WRITES_FOR_ADMIN_ONLY + OPERATIONS),
)
async def test_a_viewer_may_not_change_anything(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    before = await snapshot(api)
    keys_before = await keys_state(api)
    problem = assert_problem(await call(api, method, path, body, where, VIEWER), 403)
    assert "viewer" in problem["detail"]
    assert await snapshot(api) == before
    assert await keys_state(api) == keys_before


@pytest.mark.parametrize(("method", "path", "body"), WRITES_FOR_ADMIN_ONLY, ids=_ids(WRITES_FOR_ADMIN_ONLY))
async def test_an_operator_may_not_edit_tasks_or_manage_keys(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    before = await snapshot(api)
    keys_before = await keys_state(api)
    problem = assert_problem(await call(api, method, path, body, where, OPERATOR), 403)
    assert "needs the admin role" in problem["detail"]
    assert await snapshot(api) == before
    assert await keys_state(api) == keys_before


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS, ids=_ids(OPERATIONS))
async def test_an_operator_may_run_pause_resume_and_cancel(
    api: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    where = await a_task_and_a_run(api)
    response = await call(api, method, path, body, where, OPERATOR)
    assert response.status_code in (200, 202), response.text


@pytest.mark.parametrize(("method", "path", "body"), READS, ids=_ids(READS))
@pytest.mark.parametrize("headers", [VIEWER, OPERATOR], ids=["viewer", "operator"])
async def test_every_role_may_read(
    api: httpx.AsyncClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    where = await a_task_and_a_run(api)
    response = await call(api, method, path, body, where, headers)
    assert response.status_code == 200, response.text


# --- keys ---------------------------------------------------------------------------------------


async def test_keys_are_listed_without_their_values(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/keys")
    assert response.status_code == 200
    keys = response.json()["items"]
    assert sorted((k["name"], k["role"]) for k in keys) == [
        ("admin", "admin"),
        ("operator", "operator"),
        ("viewer", "viewer"),
    ]
    for key in keys:
        assert set(key) == {"id", "name", "prefix", "role", "created_at", "last_used_at", "revoked_at"}
        assert key["revoked_at"] is None
    assert ADMIN_KEY not in response.text
    assert VIEWER_KEY not in response.text


async def test_using_a_key_records_when(api: httpx.AsyncClient) -> None:
    keys = {k["name"]: k for k in (await api.get("/api/keys")).json()["items"]}
    assert keys["admin"]["last_used_at"] is not None
    assert keys["viewer"]["last_used_at"] is None
    await api.get("/api/auth/me", headers=VIEWER)
    keys = {k["name"]: k for k in (await api.get("/api/keys")).json()["items"]}
    assert keys["viewer"]["last_used_at"] is not None


async def test_a_new_key_is_shown_once_and_works_with_its_role(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/keys", json={"name": "ci pipeline", "role": "operator"})

    assert response.status_code == 201, response.text
    created = response.json()
    value = created["key"]
    assert created["name"] == "ci pipeline"
    assert created["role"] == "operator"
    assert value.startswith("ts_")
    assert len(value) >= 32
    assert created["prefix"] == value[:10]

    me = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert me.json() == {"name": "ci pipeline", "role": "operator", "prefix": value[:10]}
    listed = await api.get("/api/keys")
    assert value not in listed.text
    assert created["id"] in [k["id"] for k in listed.json()["items"]]


async def test_a_new_key_is_a_viewer_unless_told(api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/keys", json={"name": "dashboard"})).json()
    assert created["role"] == "viewer"
    assert created["key"] != (await api.post("/api/keys", json={"name": "dashboard"})).json()["key"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "role": "root"}, "role"),
        ({"role": "viewer"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "x", "key": "my-own-chosen-key-value"}, "key"),
        ({"name": "nul\u0000"}, "name"),
        ([], "body"),
    ],
)
async def test_an_invalid_key_request_is_refused(api: httpx.AsyncClient, body: Any, field: str) -> None:
    before = await keys_state(api)
    assert_problem(await api.post("/api/keys", json=body), 422, field=field)
    assert await keys_state(api) == before


async def test_a_revoked_key_no_longer_works(api: httpx.AsyncClient) -> None:
    keys = {k["name"]: k for k in (await api.get("/api/keys")).json()["items"]}

    response = await api.delete(f"/api/keys/{keys['viewer']['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await api.get("/api/auth/me", headers=VIEWER), 401)
    revoked = {k["name"]: k for k in (await api.get("/api/keys")).json()["items"]}["viewer"]
    assert revoked["revoked_at"] is not None
    assert (await api.delete(f"/api/keys/{keys['viewer']['id']}")).status_code == 204  # idempotent


async def test_revoking_an_unknown_key_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.delete(f"/api/keys/{MISSING_ID}"), 404)
    assert_problem(await api.delete("/api/keys/first"), 422, field="key_id")


async def test_the_last_admin_key_cannot_be_revoked(api: httpx.AsyncClient) -> None:
    admin_id = {k["name"]: k["id"] for k in (await api.get("/api/keys")).json()["items"]}["admin"]
    before = await keys_state(api)

    assert_problem(await api.delete(f"/api/keys/{admin_id}"), 409, mentions="last admin")

    assert await keys_state(api) == before
    assert (await api.get("/api/auth/me")).status_code == 200


async def test_an_admin_key_can_be_revoked_while_another_remains(api: httpx.AsyncClient) -> None:
    second = (await api.post("/api/keys", json={"name": "second admin", "role": "admin"})).json()
    admin_id = {k["name"]: k["id"] for k in (await api.get("/api/keys")).json()["items"]}["admin"]
    as_second = {"Authorization": f"Bearer {second['key']}"}

    assert (await api.delete(f"/api/keys/{admin_id}", headers=as_second)).status_code == 204
    assert_problem(await api.get("/api/auth/me"), 401)
    assert_problem(await api.delete(f"/api/keys/{second['id']}", headers=as_second), 409)


async def test_a_running_run_can_be_cancelled_by_an_operator(api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api)
    run = await run_task(api, task["id"])
    await claim_runs(ctx)
    response = await api.post(f"/api/runs/{run['id']}/cancel", headers=OPERATOR)
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
