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
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from tasksched import __version__
from tasksched.api import errors, openapi
from tasksched.api.deps import Services
from tasksched.api.middleware import BodySizeLimit
from tasksched.api.routes import channels, events, keys, notifications, runs, schedules, system, tasks
from tasksched.config import Settings
from tasksched.services.context import Context

log = structlog.get_logger("tasksched.api")

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
API_DOCS_DIR = WEB_DIR / "api-docs"
API_DOCS_ASSETS = "/api/docs/assets"


def create_app(settings: Settings | None = None, *, ctx: Context | None = None) -> FastAPI:
    settings = settings or (ctx.settings if ctx else Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if ctx is not None:  # the process that passed it opens and closes it
            yield
            return
        own = Context.open(settings)
        app.state.services = Services.build(own)
        try:
            yield
        finally:
            await own.close()

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
    for router in (
        tasks.router,
        runs.router,
        schedules.router,
        events.router,
        keys.router,
        channels.router,
        notifications.router,
        system.router,
    ):
        app.include_router(router)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match"],
            expose_headers=["ETag", "Location"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    openapi.install(app)
    _mount_api_docs(app)
    _mount_ui(app)
    return app


def _mount_api_docs(app: FastAPI) -> None:
    """Swagger UI at /api/docs, its script and style served by us (no CDN: works offline).

    ``scripts/build-ui`` copies them from the swagger-ui-dist package; an unbuilt checkout falls
    back to FastAPI's defaults, which fetch them from a CDN.
    """
    local = (API_DOCS_DIR / "swagger-ui-bundle.js").is_file()
    if local:
        app.mount(API_DOCS_ASSETS, StaticFiles(directory=API_DOCS_DIR), name="api-docs-assets")

    async def api_docs(request: Request) -> HTMLResponse:
        if not local:
            return get_swagger_ui_html(openapi_url="/api/openapi.json", title="tasksched API")
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="tasksched API",
            swagger_js_url=f"{API_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{API_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{API_DOCS_ASSETS}/favicon-32x32.png",
        )

    app.add_route("/api/docs", api_docs, methods=["GET", "HEAD"], include_in_schema=False)


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
