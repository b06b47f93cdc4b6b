"""POST/DELETE /api/session: the web UI's sign-in cookie, its flags, its guard against other sites'
pages (CSRF), and that a revoked key's cookie stops working."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import httpx

from tasksched.api.deps import SESSION_COOKIE, SESSION_HEADER
from tasksched.api.routes.session import HINT_COOKIE, REMEMBER_SECONDS
from tests.api.conftest import ADMIN, VIEWER, assert_problem, send_without_auth, snapshot, task_body
from tests.conftest import ADMIN_KEY, VIEWER_KEY

GUARD = {SESSION_HEADER: "1"}


def _set_cookie(response: httpx.Response) -> SimpleCookie:
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 2, headers
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(_header(response, SESSION_COOKIE))
    return cookie


def _header(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def _attrs(response: httpx.Response, name: str = SESSION_COOKIE) -> list[str]:
    return [part.strip().lower() for part in _header(response, name).split(";")]


async def _cookie_only(api: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """A request carrying the session cookie (the client's jar) and no Authorization header."""
    return await send_without_auth(api, method, url, **kwargs)


async def test_sign_in_sets_an_httponly_strict_cookie_holding_the_key(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/session", headers=VIEWER)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "viewer"
    assert response.json()["role"] == "viewer"
    assert response.headers["cache-control"] == "no-store"
    morsel = _set_cookie(response)[SESSION_COOKIE]
    assert morsel.value == VIEWER_KEY
    attrs = _attrs(response)
    assert "httponly" in attrs
    assert "samesite=strict" in attrs
    assert "path=/api" in attrs
    assert "secure" not in attrs  # plain HTTP here
    assert not any(a.startswith(("max-age", "expires")) for a in attrs)  # until the browser closes
    # The hint the page reads (no secret in it) so that a new tab knows to ask /api/auth/me.
    hint = _attrs(response, HINT_COOKIE)
    assert hint[0] == f"{HINT_COOKIE}=1"
    assert "httponly" not in hint
    assert "path=/" in hint
    assert "samesite=strict" in hint


async def test_remember_keeps_the_cookie_for_thirty_days(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/session", json={"remember": True}, headers=VIEWER)
    assert response.status_code == 200, response.text
    assert f"max-age={REMEMBER_SECONDS}" in _attrs(response)
    assert f"max-age={REMEMBER_SECONDS}" in _attrs(response, HINT_COOKIE)
    assert REMEMBER_SECONDS == 30 * 24 * 3600


async def test_the_cookie_is_secure_over_https(api: httpx.AsyncClient) -> None:
    response = await api.post("https://testserver/api/session", headers=VIEWER)
    assert response.status_code == 200, response.text
    assert "secure" in _attrs(response)
    assert "secure" in _attrs(response, HINT_COOKIE)


async def test_a_bad_body_or_key_sets_no_cookie(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/session", json={"remember": "yes"}, headers=VIEWER)
    assert_problem(response, 422)
    assert "set-cookie" not in response.headers
    response = await api.post("/api/session", json={"remember": True, "forever": True}, headers=VIEWER)
    assert_problem(response, 422)
    response = await api.post("/api/session", headers={"Authorization": "Bearer ts_not_a_key_0000000000"})
    assert_problem(response, 401)
    assert "set-cookie" not in response.headers


async def test_the_cookie_signs_in_reads_and_guarded_writes(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/session", headers=ADMIN)).status_code == 200
    me = await _cookie_only(api, "GET", "/api/auth/me")
    assert me.status_code == 200, me.text
    assert me.json()["role"] == "admin"

    # A change without the header is refused, with the header named, and changes nothing.
    before = await snapshot(api)
    refused = await _cookie_only(api, "POST", "/api/tasks", json=task_body("csrf"))
    problem = assert_problem(refused, 403, mentions=SESSION_HEADER)
    assert problem["title"] == "Cross-site request refused"
    assert await snapshot(api) == before
    # From another site's page (Origin), even with the header: refused.
    foreign = {**GUARD, "Origin": "https://evil.example"}
    refused = await _cookie_only(api, "POST", "/api/tasks", json=task_body("csrf"), headers=foreign)
    assert_problem(refused, 403, mentions="evil.example")
    assert await snapshot(api) == before

    made = await _cookie_only(
        api,
        "POST",
        "/api/tasks",
        json=task_body("by-cookie"),
        headers={**GUARD, "Origin": "http://testserver"},
    )
    assert made.status_code == 201, made.text
    entries = (await api.get("/api/audit", params={"action": "task.create"})).json()["items"]
    assert entries[0]["actor"]["name"] == "admin"


async def test_calls_signed_in_by_the_cookie_count_against_the_key(api: httpx.AsyncClient) -> None:
    """Not against the address's allowance for calls without a key (TASKSCHED_RATE_LIMIT_ANONYMOUS)."""
    anonymous = await send_without_auth(api, "GET", "/api/auth/me")
    assert anonymous.status_code == 401
    assert (await api.post("/api/session", headers=VIEWER)).status_code == 200
    by_cookie = await _cookie_only(api, "GET", "/api/auth/me")
    by_key = await api.get("/api/auth/me", headers=VIEWER)
    assert by_cookie.headers["ratelimit-policy"] == by_key.headers["ratelimit-policy"]
    assert by_cookie.headers["ratelimit-policy"] != anonymous.headers["ratelimit-policy"]
    assert int(by_key.headers["ratelimit-remaining"]) < int(by_cookie.headers["ratelimit-remaining"])


async def test_a_viewer_cookie_keeps_the_viewer_role(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/session", headers=VIEWER)).status_code == 200
    response = await _cookie_only(api, "POST", "/api/tasks", json=task_body("nope"), headers=GUARD)
    assert_problem(response, 403, mentions="admin role")


async def test_an_authorization_header_wins_over_the_cookie(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/session", headers=VIEWER)).status_code == 200
    response = await api.get("/api/auth/me", headers=ADMIN)
    assert response.json()["role"] == "admin"
    # Bearer calls need no guard header, cookie or not.
    assert (await api.post("/api/tasks", json=task_body("bearer"), headers=ADMIN)).status_code == 201


async def test_a_revoked_keys_cookie_stops_working(api: httpx.AsyncClient) -> None:
    made = await api.post("/api/keys", json={"name": "browser", "role": "operator"})
    key = made.json()["key"]
    assert (await api.post("/api/session", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    assert (await _cookie_only(api, "GET", "/api/auth/me")).status_code == 200
    assert (await api.delete(f"/api/keys/{made.json()['id']}", headers=ADMIN)).status_code == 204
    response = await _cookie_only(api, "GET", "/api/auth/me")
    assert_problem(response, 401, mentions="revoked")
    # Signing out needs no valid key: the dead cookie can still be cleared.
    cleared = await _cookie_only(api, "DELETE", "/api/session")
    assert cleared.status_code == 204


async def test_the_cookie_cannot_make_another_cookie(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/session", headers=ADMIN)).status_code == 200
    response = await _cookie_only(api, "POST", "/api/session", headers=GUARD)
    assert_problem(response, 401, mentions="Authorization: Bearer")


async def test_sign_out_clears_the_cookie(api: httpx.AsyncClient) -> None:
    assert (await api.post("/api/session", headers=ADMIN)).status_code == 200
    response = await _cookie_only(api, "DELETE", "/api/session")
    assert response.status_code == 204
    attrs = _attrs(response)
    assert "max-age=0" in attrs
    assert "path=/api" in attrs
    assert "httponly" in attrs
    assert "max-age=0" in _attrs(response, HINT_COOKIE)
    assert SESSION_COOKIE not in api.cookies
    assert HINT_COOKIE not in api.cookies
    assert_problem(await _cookie_only(api, "GET", "/api/auth/me"), 401)
    assert ADMIN_KEY not in response.text
