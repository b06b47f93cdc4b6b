"""Security headers on every response: a Content-Security-Policy, no MIME sniffing, no referrer
sent to other sites, and no framing.

Three policies, by path. The UI's allows nothing by default, then only the server's own scripts
(no inline script, no eval), images (and ``data:`` ones: the favicon, Swagger UI's icons), fonts,
connections and styles, plus inline ``<style>`` elements: Mantine writes them at run time (its CSS
variables and responsive props), and a hash cannot cover what is computed in the page. Inline
``style="…"`` attributes stay refused (``style-src-attr 'none'``): React sets styles through the
DOM, which a policy does not restrict. Each allowance was tested by removing it in Chromium
(tests/e2e/test_csp.py). Swagger UI at /api/docs works under the same policy once its start-up
script is a file (``/api/docs/init.js``, in ``api/app.py``). Everything else (JSON, problem
documents, the event stream, /metrics) is data no browser should run or render anything from, so
it gets ``default-src 'none'``. Each forbids framing twice: ``frame-ancestors 'none'`` and, for
browsers that predate it, ``X-Frame-Options: DENY``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "style-src-attr 'none'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_POLICY = UI_POLICY
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"

COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def policy_for(path: str) -> str:
    if path == "/api/docs" or path.startswith("/api/docs/"):
        return DOCS_POLICY
    if path.startswith("/api/") or path in ("/api", "/healthz", "/readyz", "/metrics"):
        return DATA_POLICY
    return UI_POLICY


def _encoded(policy: str) -> list[tuple[bytes, bytes]]:
    return [
        (k.lower().encode(), v.encode()) for k, v in {**COMMON, "Content-Security-Policy": policy}.items()
    ]


_ADDED = {policy: _encoded(policy) for policy in (UI_POLICY, DOCS_POLICY, DATA_POLICY)}


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response (a route's own value wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = _ADDED[policy_for(scope.get("path", ""))]  # encoded once, not per request

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in added if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
