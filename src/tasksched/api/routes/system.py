"""Health, readiness, the dashboard's figures and the workers list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tasksched.api.deps import ServicesDep, Viewer
from tasksched.api.schemas import Readiness, Stats, WorkerOut, WorkerPage
from tasksched.store import migrate

router = APIRouter(tags=["system"])


@router.get("/healthz", operation_id="system_health", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="system_ready",
    summary="The database is reachable and its schema is current",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database is unreachable or its schema is old."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    try:
        current = await migrate.current_revision(services.ctx.db)
    except Exception as exc:
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, 503)
    head = migrate.head_revision()
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "database": f"schema at {current}, needs {head}: run `tasksched db upgrade`",
            },
            503,
        )
    return JSONResponse({"status": "ready", "database": "ok", "schema": current})


@router.get(
    "/api/stats", operation_id="stats_get", response_model=Stats, summary="Figures for the status dashboard"
)
async def stats(services: ServicesDep, _: Viewer) -> Stats:
    return Stats.model_validate(await services.stats.summary())


@router.get(
    "/api/workers",
    operation_id="workers_list",
    response_model=WorkerPage,
    summary="Workers seen in the last day",
)
async def workers(services: ServicesDep, _: Viewer) -> WorkerPage:
    return WorkerPage(items=[WorkerOut.model_validate(w) for w in await services.workers.list()])
