"""Rate limits on the HTTP API: which requests count, the 429 and the ``RateLimit-*`` headers.

Only paths under ``/api/`` count, except the API's documentation (``/api/docs``,
``/api/openapi.json``): health checks (``/healthz``, ``/readyz``), ``/metrics`` and the UI's files
are never limited, so probes and page loads cannot be starved by a client's own traffic. A request
counts once, when it arrives: a long event stream is one request.

In order, before the request reaches any route (so before any key is looked up):

1. an address whose failed authentications are used up gets 429;
2. a request with ``Authorization: Bearer <key>``, or else with the session cookie (the web UI's
   sign-in, ``deps.SESSION_COOKIE``), counts against that key (by its hash);
3. any other request counts against its client address (``api/clients.py``: the peer, or
   ``X-Forwarded-For`` from a trusted proxy).

Every 401 the API answers then counts as a failed authentication of the address.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasksched.api.clients import client_address
from tasksched.api.deps import SESSION_COOKIE
from tasksched.api.errors import problem
from tasksched.domain.keys import hash_key
from tasksched.services.ratelimit import Decision, RateLimiter

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
UNLIMITED_API_PATHS = ("/api/docs", "/api/openapi.json")


def limited(path: str) -> bool:
    if not path.startswith("/api/"):
        return False
    return not any(path == p or path.startswith(p + "/") for p in UNLIMITED_API_PATHS)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """The IETF draft's fields (``RateLimit-Limit`` and friends), as most clients read them."""
    return {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(decision.reset_after),
        "RateLimit-Policy": f"{decision.limit};w={decision.window}",
    }


def _key(conn: HTTPConnection) -> str | None:
    authorization = conn.headers.get("authorization")
    if authorization is None:
        return conn.cookies.get(SESSION_COOKIE) or None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class RateLimit:
    """ASGI middleware applying ``limiter`` to the API's requests."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, trusted_proxies: list[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not limited(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        address = client_address(conn, self.trusted_proxies)
        blocked = await self.limiter.auth_refused(address)
        if blocked is not None:
            detail = (
                f"too many failed authentications from {address}; try again in {blocked.reset_after} s "
                "(TASKSCHED_RATE_LIMIT_AUTH_FAILURES)"
            )
            await self._refuse(blocked, detail, scope, receive, send)
            return
        key = _key(conn)
        if key is not None:
            decision = await self.limiter.hit_key(hash_key(key))
            which = "this API key", "TASKSCHED_RATE_LIMIT"
        else:
            decision = await self.limiter.hit_address(address)
            which = f"{address} without an API key", "TASKSCHED_RATE_LIMIT_ANONYMOUS"
        if decision is not None and not decision.allowed:
            detail = (
                f"too many requests from {which[0]}: the limit is {decision.limit} per {decision.window} s; "
                f"try again in {decision.reset_after} s ({which[1]})"
            )
            await self._refuse(decision, detail, scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 401:
                    await self.limiter.auth_failed(address)
                if decision is not None:
                    extra = [
                        (k.lower().encode(), v.encode()) for k, v in rate_limit_headers(decision).items()
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, counting_send)

    async def _refuse(
        self, decision: Decision, detail: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = {"Retry-After": str(decision.reset_after), **rate_limit_headers(decision)}
        await problem(429, "Too many requests", detail, headers=headers)(scope, receive, send)
