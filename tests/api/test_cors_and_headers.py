"""CORS for the configured origins only, and the security headers on every response."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tasksched.api.app import create_app
from tasksched.api.headers import DATA_POLICY, UI_POLICY
from tasksched.services.context import Context
from tests.api.conftest import ADMIN
from tests.conftest import add_keys

ALLOWED = "https://ops.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@contextlib.asynccontextmanager
async def client(ctx: Context, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    await add_keys(ctx)
    app = create_app(ctx.settings.model_copy(update=overrides), ctx=ctx)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


async def test_a_preflight_from_a_configured_origin_is_allowed(ctx: Context) -> None:
    async with client(ctx, cors_origins=f"{ALLOWED}, http://localhost:5173") as http:
        answer = await http.options("/api/tasks", headers={"Origin": ALLOWED, **PREFLIGHT})
        actual = await http.get("/api/tasks", headers={"Origin": ALLOWED, **ADMIN})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers  # off unless configured
    assert actual.headers["access-control-allow-origin"] == ALLOWED
    exposed = actual.headers["access-control-expose-headers"].lower()
    assert "ratelimit-remaining" in exposed
    assert "retry-after" in exposed


async def test_a_preflight_from_another_origin_is_refused(ctx: Context) -> None:
    async with client(ctx, cors_origins=ALLOWED) as http:
        answer = await http.options("/api/tasks", headers={"Origin": "https://evil.example", **PREFLIGHT})
        actual = await http.get("/api/tasks", headers={"Origin": "https://evil.example", **ADMIN})
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-origin" not in actual.headers


async def test_without_configured_origins_no_cross_origin_call_is_allowed(ctx: Context) -> None:
    async with client(ctx) as http:
        answer = await http.options("/api/tasks", headers={"Origin": ALLOWED, **PREFLIGHT})
        actual = await http.get("/api/tasks", headers={"Origin": ALLOWED, **ADMIN})
    assert "access-control-allow-origin" not in answer.headers
    assert answer.status_code == 405
    assert "access-control-allow-origin" not in actual.headers


async def test_credentials_are_allowed_only_when_configured(ctx: Context) -> None:
    async with client(ctx, cors_origins=ALLOWED, cors_allow_credentials=True) as http:
        answer = await http.options("/api/tasks", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-origin"] == ALLOWED


async def test_preflights_do_not_count_against_a_rate_limit(ctx: Context) -> None:
    async with client(ctx, cors_origins=ALLOWED, rate_limit_anonymous="1/minute") as http:
        for _ in range(5):
            answer = await http.options("/api/tasks", headers={"Origin": ALLOWED, **PREFLIGHT})
            assert answer.status_code == 200
        first = await http.get("/api/stats", headers={"Origin": ALLOWED})
        refused = await http.get("/api/stats", headers={"Origin": ALLOWED})
    assert first.status_code == 401
    assert refused.status_code == 429
    assert refused.headers["access-control-allow-origin"] == ALLOWED  # a page can read the 429


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "policy"),
    [
        ("GET", "/healthz", {}, 200, DATA_POLICY),
        ("GET", "/api/tasks", ADMIN, 200, DATA_POLICY),
        ("GET", "/api/tasks", {}, 401, DATA_POLICY),
        ("GET", "/api/nothing-here", ADMIN, 404, DATA_POLICY),
        ("POST", "/api/tasks", {**ADMIN, "Content-Length": str(10**9)}, 413, DATA_POLICY),
        ("GET", "/api/openapi.json", {}, 200, DATA_POLICY),
        ("GET", "/api/docs", {}, 200, UI_POLICY),
        ("GET", "/", {}, None, UI_POLICY),
        ("GET", "/tasks/1/edit", {}, None, UI_POLICY),
    ],
)
async def test_every_response_carries_the_security_headers(
    ctx: Context, method: str, path: str, headers: dict[str, str], status: int | None, policy: str
) -> None:
    async with client(ctx) as http:
        answer = await http.request(method, path, headers=headers)
    if status is not None:
        assert answer.status_code == status
    assert answer.headers["content-security-policy"] == policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"


async def test_a_429_carries_the_security_headers_too(ctx: Context) -> None:
    async with client(ctx, rate_limit="1/minute") as http:
        await http.get("/api/tasks", headers=ADMIN)
        refused = await http.get("/api/tasks", headers=ADMIN)
    assert refused.status_code == 429
    assert refused.headers["content-security-policy"] == DATA_POLICY
    assert refused.headers["x-content-type-options"] == "nosniff"


def test_the_ui_policy_allows_no_inline_or_evaluated_script() -> None:
    directives = dict(d.strip().split(" ", 1) for d in UI_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "'unsafe-eval'" not in UI_POLICY
