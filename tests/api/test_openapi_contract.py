"""The OpenAPI document is what the server does: its errors, its union tags, its operation ids.

The document is read as a client reads it, from GET /api/openapi.json; then the server is made to
answer each kind of error and every answer is checked against what the document says for that
operation. Schemathesis and a generated client test the same contract from outside
(tests/e2e/test_openapi_clients.py).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    MISSING_ID,
    PROBLEM_JSON,
    VIEWER,
    assert_problem,
    create_task,
    send_without_auth,
    task_body,
)

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture
async def document(api: httpx.AsyncClient) -> dict[str, Any]:
    response = await api.get("/api/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


KEYLESS = {"session_delete": "signing out clears the cookie, even a revoked key's: it needs no key"}
"""The /api/ operations that take no key, and why."""


def operation_by_id(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    (found,) = [op for _, _, op in operations(document) if op["operationId"] == operation_id]
    return found


# --- operation ids ------------------------------------------------------------------------------


async def test_operation_ids_name_the_resource_and_the_verb(document: dict[str, Any]) -> None:
    ids = {(method, path): op["operationId"] for method, path, op in operations(document)}
    assert len(set(ids.values())) == len(ids)
    for operation_id in ids.values():
        # FastAPI's defaults look like create_task_api_tasks_post.
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id), operation_id
        assert "_api_" not in operation_id
    assert ids[("post", "/api/tasks")] == "tasks_create"
    assert ids[("get", "/api/tasks")] == "tasks_list"
    assert ids[("patch", "/api/tasks/{task_id}")] == "tasks_update"
    assert ids[("get", "/api/tasks/{task_id}/runs")] == "tasks_list_runs"
    assert ids[("post", "/api/runs/{run_id}/cancel")] == "runs_cancel"
    assert ids[("delete", "/api/keys/{key_id}")] == "keys_revoke"


# --- errors in the document ---------------------------------------------------------------------


async def test_every_error_an_operation_documents_is_a_problem(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (method, path, status)
            assert response["description"]
    assert "HTTPValidationError" not in str(document)  # FastAPI's 422 shape; this server never sends it


async def test_each_operation_documents_the_errors_its_dependencies_can_cause(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        statuses = {int(status) for status in operation["responses"]}
        where = (method, path)
        if operation["operationId"] in KEYLESS:
            assert "security" not in operation, where
            assert not statuses & {401, 403}, where
            assert 429 in statuses, where
        elif path.startswith("/api/"):
            assert operation["security"] == [{"apiKey": []}], where
            assert {401, 503} <= statuses, where
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
            assert "Retry-After" in operation["responses"]["503"]["headers"]
            assert 429 in statuses, where
            assert {"Retry-After", "RateLimit-Remaining"} <= set(operation["responses"]["429"]["headers"])
        else:
            assert "security" not in operation, where
            assert not statuses & {401, 403, 429}, where
        if "{" in path:
            assert {404, 422} <= statuses, where
        if "requestBody" in operation:
            assert {400, 413, 422} <= statuses, where
        else:
            assert not statuses & {400, 413}, where
    assert 403 in {int(s) for s in operation_by_id(document, "tasks_create")["responses"]}
    assert 403 not in {int(s) for s in operation_by_id(document, "tasks_list")["responses"]}
    for operation_id in ("tasks_replace", "tasks_update"):
        assert "412" in operation_by_id(document, operation_id)["responses"]
    assert "412" not in operation_by_id(document, "tasks_delete")["responses"]
    assert "409" in operation_by_id(document, "runs_cancel")["responses"]
    assert "404" in operation_by_id(document, "runs_list")["responses"]  # an unknown task_id filter


async def test_the_problem_schema_lists_the_fields_the_server_sends(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    problem = schemas["Problem"]
    assert set(problem["properties"]) == {"type", "title", "status", "detail", "errors", "current_version"}
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert problem["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/FieldError"}
    field_error = schemas["FieldError"]
    assert set(field_error["properties"]) == {"field", "message", "in"}
    assert set(field_error["required"]) == {"field", "message"}


# --- union tags ---------------------------------------------------------------------------------


async def test_action_and_schedule_types_are_required_tags_with_their_mapping(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    for name in (
        "HttpAction",
        "ShellAction",
        "PythonAction",
        "OnceSchedule",
        "IntervalSchedule",
        "CronSchedule",
    ):
        assert "type" in schemas[name]["required"], name
        assert "default" not in schemas[name]["properties"]["type"], name

    def union(schema: dict[str, Any]) -> dict[str, Any]:
        options: list[dict[str, Any]] = schema.get("anyOf", [schema])  # optional: anyOf [union, null]
        for option in options:
            if "discriminator" in option:
                return option
        raise AssertionError(f"no discriminated union in {schema}")

    actions = {"http": "HttpAction", "shell": "ShellAction", "python": "PythonAction"}
    kinds = {"once": "OnceSchedule", "interval": "IntervalSchedule", "cron": "CronSchedule"}
    for model, field, tags in [
        ("TaskSpec", "action", actions),
        ("TaskView", "action", actions),
        ("TaskPatch", "action", actions),
        ("TaskSpec", "schedule", kinds),
        ("TaskView", "schedule", kinds),
        ("PreviewRequest", "schedule", kinds),
    ]:
        discriminated = union(schemas[model]["properties"][field])
        assert discriminated["discriminator"] == {
            "propertyName": "type",
            "mapping": {tag: f"#/components/schemas/{name}" for tag, name in tags.items()},
        }, (model, field)


# --- what the server answers matches the document ------------------------------------------------


def assert_documented(document: dict[str, Any], operation_id: str, response: httpx.Response) -> None:
    """The response's status is documented for the operation, and its body fits the Problem schema."""
    operation = operation_by_id(document, operation_id)
    assert str(response.status_code) in operation["responses"], (operation_id, response.status_code)
    body = assert_problem(response, response.status_code)
    schemas = document["components"]["schemas"]
    assert set(body) <= set(schemas["Problem"]["properties"]), body
    assert set(schemas["Problem"]["required"]) <= set(body), body
    assert isinstance(body["type"], str)
    for error in body.get("errors", []):
        assert set(error) <= set(schemas["FieldError"]["properties"]), error
        assert set(schemas["FieldError"]["required"]) <= set(error), error
        if "in" in error:
            assert error["in"] in schemas["FieldError"]["properties"]["in"]["enum"]


async def test_every_kind_of_error_is_answered_as_documented(
    api: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    task = await create_task(api, "documented")
    (admin_key,) = [key for key in (await api.get("/api/keys")).json()["items"] if key["role"] == "admin"]
    json_headers = {"Content-Type": "application/json"}
    cases: list[tuple[str, httpx.Response]] = [
        ("tasks_create", await api.post("/api/tasks", content=b"{nope", headers=json_headers)),
        ("tasks_list", await send_without_auth(api, "GET", "/api/tasks")),
        ("tasks_create", await api.post("/api/tasks", json=task_body("v"), headers=VIEWER)),
        ("tasks_get", await api.get(f"/api/tasks/{MISSING_ID}")),
        ("runs_list", await api.get("/api/runs", params={"task_id": MISSING_ID})),
        ("tasks_create", await api.post("/api/tasks", json=task_body("documented"))),
        (
            "tasks_replace",
            await api.put(
                f"/api/tasks/{task['id']}", json=task_body("documented"), headers={"If-Match": '"99"'}
            ),
        ),
        (
            "tasks_replace",
            await api.put(f"/api/tasks/{task['id']}", json=task_body(), headers={"If-Match": "x"}),
        ),
        ("tasks_create", await api.post("/api/tasks", json=task_body(description="x" * 2_000_000))),
        ("tasks_create", await api.post("/api/tasks", json=task_body(name=""))),
        ("tasks_list", await api.get("/api/tasks", params={"limit": 0})),
        ("keys_revoke", await api.delete(f"/api/keys/{admin_key['id']}")),  # the last admin key
    ]
    statuses = [response.status_code for _, response in cases]
    assert statuses == [400, 401, 403, 404, 404, 409, 412, 422, 413, 422, 422, 409], statuses
    for operation_id, response in cases:
        assert_documented(document, operation_id, response)
    assert cases[6][1].json()["current_version"] == task["version"]
    (limit_error,) = cases[10][1].json()["errors"]
    assert limit_error == {"field": "limit", "message": limit_error["message"], "in": "query"}


# --- bodies have the JSON types the document gives them -----------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"priority": "5"}, "priority"),
        ({"timeout_seconds": "10"}, "timeout_seconds"),
        ({"schedule": {"type": "interval", "seconds": "60"}}, "schedule.seconds"),
        ({"schedule": {"type": "once", "at": 0}}, "schedule.at"),
        (
            {"action": {"type": "http", "url": "https://example.com/", "follow_redirects": 1}},
            "action.follow_redirects",
        ),
    ],
)
async def test_a_value_of_another_json_type_is_refused_not_converted(
    api: httpx.AsyncClient, fields: dict[str, Any], field: str
) -> None:
    # Pydantic's lax mode took "yes" for true, "60" for 60 and 0 for 1970-01-01 though the
    # document says boolean, integer and date-time.
    assert_problem(await api.post("/api/tasks", json=task_body(**fields)), 422, field=field)
    task = await create_task(api, "typed")
    assert_problem(await api.patch(f"/api/tasks/{task['id']}", json=fields), 422, field=field)
    assert_problem(
        await api.put(f"/api/tasks/{task['id']}", json=task_body("typed", **fields)), 422, field=field
    )


async def test_preview_and_key_bodies_are_typed_too(api: httpx.AsyncClient) -> None:
    preview = {"schedule": {"type": "once", "at": "2030-01-01T00:00:00Z"}, "after": 0}
    assert_problem(await api.post("/api/schedules/preview", json=preview), 422, field="after")
    assert_problem(
        await api.post("/api/schedules/preview", json={**preview, "after": None, "count": "3"}),
        422,
        field="count",
    )
    assert_problem(await api.post("/api/keys", json={"name": 5}), 422, field="name")
    valid = {**preview, "after": "2029-12-31T00:00:00+01:00", "count": 3}
    assert (await api.post("/api/schedules/preview", json=valid)).status_code == 200


async def test_the_key_and_the_role_are_checked_before_the_body(api: httpx.AsyncClient) -> None:
    bad = task_body(enabled="yes")
    assert_problem(await send_without_auth(api, "POST", "/api/tasks", json=bad), 401)
    assert_problem(await api.post("/api/tasks", json=bad, headers=VIEWER), 403)


# --- 405 ------------------------------------------------------------------------------------------


async def test_a_405_allows_every_method_of_the_path(
    api: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    for path, url in [
        ("/api/tasks/{task_id}", "/api/tasks/1"),
        ("/api/tasks", "/api/tasks"),
        ("/api/keys", "/api/keys"),
    ]:
        response = await api.request("OPTIONS", url)
        assert_problem(response, 405)
        documented = sorted(method.upper() for method in document["paths"][path])
        assert sorted(response.headers["Allow"].split(", ")) == documented, url
