"""The FastAPI application factory.

``create_app()`` builds the ASGI app and nothing else: it touches no database (so the OpenAPI
schema can be generated anywhere) and starts nothing. A process is assembled in ``runtime.py``,
which passes the app its ``Context``; used standalone (no context given), the app's lifespan opens
one for its own requests and closes it. Migrations, the scheduler and the worker are never the
HTTP layer's business.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from tasksched import __version__
from tasksched.api import errors, openapi
from tasksched.api.deps import Services
from tasksched.api.headers import SecurityHeaders
from tasksched.api.metrics import RequestMetrics
from tasksched.api.middleware import BodySizeLimit
from tasksched.api.ratelimit import RATE_LIMIT_HEADERS, RateLimit
from tasksched.api.routes import (
    audit,
    channels,
    events,
    keys,
    metrics,
    notifications,
    runs,
    schedules,
    session,
    spans,
    system,
    tags,
    tasks,
)
from tasksched.config import Settings
from tasksched.services.context import Context
from tasksched.services.ratelimit import RateLimiter

log = structlog.get_logger("tasksched.api")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
API_DOCS_DIR = WEB_DIR / "api-docs"
API_DOCS_ASSETS = "/api/docs/assets"


def create_app(
    settings: Settings | None = None, *, ctx: Context | None = None, limiter: RateLimiter | None = None
) -> FastAPI:
    """``limiter``: the rate limiter to use (tests pass one over their own store); by default one
    from the settings (memory, or Redis when ``TASKSCHED_REDIS_URL`` is set), closed with the app."""
    settings = settings or (ctx.settings if ctx else Settings())
    limiter = limiter or RateLimiter.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if ctx is not None:  # the process that passed it opens and closes it
                yield
                return
            own = Context.open(settings)
            app.state.services = Services.build(own)
            try:
                yield
            finally:
                await own.close()
        finally:
            await limiter.close()

    app = FastAPI(
        title="tasksched",
        version=__version__,
        description="Schedule HTTP calls, commands and Python functions; see every run.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served below, from the package's own copy of Swagger UI
        redoc_url=None,
        lifespan=lifespan,
    )
    if ctx is not None:
        app.state.services = Services.build(ctx)
    errors.install(app)
    routers = (
        tasks.router,
        tags.router,
        spans.router,  # before runs.router: its /{run_id} would take /spans
        runs.router,
        schedules.router,
        events.router,
        keys.router,
        session.router,
        audit.router,
        channels.router,
        notifications.router,
        system.router,
        metrics.router,
    )
    for router in routers:
        app.include_router(router)
    # Outermost last: security headers on every answer; the CORS layer answers preflights before
    # they count against a limit, and adds its headers to 429s too (so a page can read them).
    app.add_middleware(RateLimit, limiter=limiter, trusted_proxies=settings.trusted_proxy_list)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag", "Location", "Retry-After", *RATE_LIMIT_HEADERS],
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)  # outermost: it also counts what the others refuse
    openapi.install(app)
    _mount_api_docs(app)
    _mount_ui(app)
    return app


def _mount_api_docs(app: FastAPI) -> None:
    """Swagger UI at /api/docs, its script and style served by us (no CDN: works offline).

    ``scripts/build-ui`` copies them from the swagger-ui-dist package. An unbuilt checkout answers
    404 saying so: FastAPI's own page fetches them from a CDN and starts them with an inline
    script, both of which the Content-Security-Policy refuses.
    """
    local = (API_DOCS_DIR / "swagger-ui-bundle.js").is_file()
    if local:
        app.mount(API_DOCS_ASSETS, StaticFiles(directory=API_DOCS_DIR), name="api-docs-assets")

    async def api_docs(request: Request) -> Response:
        if not local:
            return errors.problem(
                404,
                "Not found",
                "the API docs' assets are not built; run scripts/build-ui (the schema is /api/openapi.json)",
            )
        return HTMLResponse(API_DOCS_PAGE)

    async def api_docs_init(request: Request) -> Response:
        return Response(API_DOCS_INIT, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    app.add_route("/api/docs", api_docs, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route(API_DOCS_INIT_URL, api_docs_init, methods=["GET", "HEAD"], include_in_schema=False)


# FastAPI's page starts Swagger UI with an inline script, which the Content-Security-Policy
# (api/headers.py) refuses: the same page, its start-up script served as a file.
API_DOCS_INIT_URL = "/api/docs/init.js"
API_DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tasksched API</title>
<link rel="stylesheet" href="{API_DOCS_ASSETS}/swagger-ui.css">
<link rel="icon" href="{API_DOCS_ASSETS}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{API_DOCS_ASSETS}/swagger-ui-bundle.js"></script>
<script src="{API_DOCS_INIT_URL}"></script>
</body>
</html>
"""
API_DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""


class _OutsideApi(Route):
    """The UI's catch-all route, which never claims a path under /api: an unknown API path, with
    any method, is then a plain 404 problem rather than a 405 from this route."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


class _ImmutableAssets(StaticFiles):
    """The build names assets by their content's hash, so a browser may keep them for good."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def _mount_ui(app: FastAPI) -> None:
    """Serve the built UI at /, with client-side routes falling back to index.html."""
    index = WEB_DIR / "index.html"
    if (WEB_DIR / "assets").is_dir():
        app.mount("/assets", _ImmutableAssets(directory=WEB_DIR / "assets"), name="assets")

    async def ui(request: Request) -> Response:
        path: str = request.path_params["path"]
        candidate = (WEB_DIR / path).resolve()
        if path and candidate.is_file() and WEB_DIR in candidate.parents:
            return FileResponse(candidate)
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return errors.problem(
            404, "Not found", "the web UI is not built; run scripts/build-ui (the API is under /api)"
        )

    app.router.routes.append(
        _OutsideApi("/{path:path}", ui, methods=["GET", "HEAD"], include_in_schema=False)
    )
