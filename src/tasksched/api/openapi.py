"""The OpenAPI document says what the server does: its errors, its key, its operation ids.

FastAPI documents the successful responses of each route. What it cannot see is added here, once,
from what each route depends on, so a new route is documented by the same rule:

- an API key (``deps.current_principal``) → the bearer scheme, 401, and 503 (the key is looked up
  in the database);
- the operator or admin role → 403; so does a change (POST, PUT, PATCH, DELETE) that takes a key,
  which the session cookie may only ask with ``X-Tasksched-Request`` (``deps.SESSION_HEADER``);
- an id in the path → 404;
- a JSON body → 400 (malformed), 413 (too large), 422 (invalid);
- any parameter → 422; an ``If-Match`` header → 412;
- a path the rate limits cover (``api/ratelimit.py``) → 429, with ``Retry-After`` and ``RateLimit-*``;
- what a service refuses beyond that (409s, a 404 for a ``task_id`` filter) → ``SERVICE_ERRORS``.

Every error is an RFC 9457 ``Problem`` (``api/errors.py`` builds them) served as
``application/problem+json``; FastAPI's own 422 shape, which this server never sends, is dropped.
Operation ids are written on each route as ``<resource>_<verb>`` (``tasks_create``): they are the
method names of generated clients, so they are a contract and must not follow function names.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from pydantic.json_schema import models_json_schema

from tasksched.api import deps
from tasksched.api.errors import PROBLEM_JSON
from tasksched.api.introspect import api_routes
from tasksched.api.ratelimit import limited
from tasksched.api.schemas import Problem

REF_TEMPLATE = "#/components/schemas/{model}"

GENERIC_ERRORS: dict[int, str] = {
    400: "The body is not valid JSON.",
    401: "No API key was sent, or it is unknown or revoked.",
    403: "The API key's role may not do this.",
    404: "Nothing has the id given in the path.",
    412: "`If-Match` names a version of the task that is no longer current: reload it.",
    413: "The body is larger than the server's limit (TASKSCHED_MAX_BODY_BYTES).",
    422: "The request is well-formed but invalid; `errors` names each field and why.",
    429: "Too many requests from this API key or address (or too many failed authentications from "
    "the address); try again after `Retry-After` seconds.",
    503: "The database cannot be reached; try again after `Retry-After` seconds.",
}

CROSS_SITE_403 = (
    "The API key's role may not do this; or the call was signed in by the session cookie "
    f"(POST /api/session) without the `{deps.SESSION_HEADER}` header, or from another site's page."
)
"""The 403 of a change (POST, PUT, PATCH, DELETE) that takes a key: the role, or the cookie's guard."""

SERVICE_ERRORS: dict[str, dict[int, str]] = {
    "tasks_create": {409: "A task with this name already exists."},
    "tasks_replace": {409: "Another task has this name."},
    "tasks_update": {409: "Another task has this name."},
    "tasks_run": {
        409: "The `Idempotency-Key` was sent before with another input (or too many manual runs of "
        "this task are being queued at once; try again)."
    },
    "runs_batch": {
        409: "An item's `idempotency_key` was sent before with another input; `errors` names the item."
    },
    "runs_list": {404: "The task named by `task_id` does not exist."},
    "runs_spans": {404: "The task named by `task_id` does not exist."},
    "runs_cancel": {409: "The run has already finished."},
    "runs_retry": {
        404: "A run named in `run_ids` (or the task named by the filter's `task_id`) does not exist."
    },
    "channels_create": {409: "A channel with this name already exists."},
    "channels_replace": {409: "Another channel has this name."},
    "keys_revoke": {409: "This is the last admin key: create another admin key first."},
}
"""Errors a service raises for a reason no dependency shows, by operation id."""

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to use: `Bearer`.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
        "RateLimit-Limit": {"description": "Requests allowed in the window.", "schema": {"type": "integer"}},
        "RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
        "RateLimit-Reset": {"description": "Seconds until the window ends.", "schema": {"type": "integer"}},
        "RateLimit-Policy": {
            "description": "The limit as `<count>;w=<seconds>`.",
            "schema": {"type": "string"},
        },
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer"},
        }
    },
}


# The stream takes a ticket or the Bearer key (``deps.stream_principal``); every other call the key.
_AUTHENTICATED = frozenset({deps.current_principal, deps.stream_principal})


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (served at /api/openapi.json) publish the additions above."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = publish(app, generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def publish(app: FastAPI, schema: dict[str, Any]) -> dict[str, Any]:
    _declare_bearer_scheme(schema)
    operations: set[str] = set()
    for route in api_routes(app):
        for method in route.methods:
            operation = schema["paths"][route.path_format][method.lower()]
            operations.add(operation["operationId"])
            if _calls(route.dependant) & _AUTHENTICATED:
                operation["security"] = [{"apiKey": []}]
            statuses = {**_statuses(route), **SERVICE_ERRORS.get(operation["operationId"], {})}
            _document_errors(operation, statuses)
    unknown = set(SERVICE_ERRORS) - operations
    if unknown:
        raise RuntimeError(f"SERVICE_ERRORS names operations that do not exist: {sorted(unknown)}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    _, definitions = models_json_schema([(Problem, "validation")], ref_template=REF_TEMPLATE)
    components.update(definitions["$defs"])
    _drop_unreferenced(schema, ("HTTPValidationError", "ValidationError"))
    return schema


def _declare_bearer_scheme(schema: dict[str, Any]) -> None:
    """Say that calls take ``Authorization: Bearer <key>`` (each operation that needs it says so).

    The key is read straight from the request (``deps.current_principal``, on every call, kept
    cheap), so FastAPI cannot infer it; declared here, /api/docs gets its "Authorize" button and
    "Try it out" sends the key.
    """
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiKey": {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: the one `tasksched serve` printed on first start, or one "
            "made with `tasksched keys create` or on the UI's API keys page. The web UI signs in "
            "with POST /api/session instead, a cookie that carries the key (HttpOnly, "
            "SameSite=Strict).",
        }
    }


def _dependency_of(annotated: object) -> Callable[..., Any]:
    """The callable behind ``Annotated[X, Depends(f)]``."""
    depends = typing.get_args(annotated)[1]
    call: Callable[..., Any] = depends.dependency
    return call


_PRIVILEGED = frozenset({_dependency_of(deps.Operator), _dependency_of(deps.Admin)})


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        if current.call is not None:
            found.add(current.call)
        stack.extend(current.dependencies)
    return found


def _params(dependant: Dependant, kind: str) -> list[Any]:
    found: list[Any] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        found.extend(getattr(current, kind))
        stack.extend(current.dependencies)
    return found


def _statuses(route: Any) -> dict[int, str]:
    """The error statuses a route can answer, from what it depends on."""
    dependant = route.dependant
    calls = _calls(dependant)
    statuses: list[int] = []
    if calls & _AUTHENTICATED:
        statuses += [401, 503]
    changes = calls & _AUTHENTICATED and bool(set(route.methods) - deps.SAFE_METHODS)
    if calls & _PRIVILEGED or changes:
        statuses.append(403)
    path_params = _params(dependant, "path_params")
    if path_params:
        statuses.append(404)
    if _params(dependant, "body_params"):
        statuses += [400, 413, 422]
    if path_params or _params(dependant, "query_params") or _params(dependant, "header_params"):
        statuses.append(422)
    if any(param.alias.lower() == "if-match" for param in _params(dependant, "header_params")):
        statuses.append(412)
    if limited(route.path_format):
        statuses.append(429)
    described = {status: GENERIC_ERRORS[status] for status in sorted(statuses)}
    if changes:
        described[403] = CROSS_SITE_403
    return described


def _document_errors(operation: dict[str, Any], statuses: dict[int, str]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in statuses.items():
        declared = responses.get(str(status), {})
        if declared.get("content") and str(status) != "422":
            continue  # the route documents this status itself (/readyz's 503 is not a problem)
        response: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}},
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        responses[str(status)] = response
    operation["responses"] = dict(sorted(responses.items()))


def _drop_unreferenced(schema: dict[str, Any], names: tuple[str, ...]) -> None:
    components = schema["components"]["schemas"]
    text = repr(schema["paths"]) + repr({k: v for k, v in components.items() if k not in names})
    for name in names:
        if REF_TEMPLATE.format(model=name) not in text:
            components.pop(name, None)
