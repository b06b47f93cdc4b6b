"""Health, readiness, the dashboard's figures and the workers list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tasksched.api.deps import ServicesDep, Viewer
from tasksched.api.schemas import Stats, WorkerOut, WorkerPage
from tasksched.store import migrate

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and its schema is current")
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


@router.get("/api/stats", response_model=Stats, summary="Figures for the status dashboard")
async def stats(services: ServicesDep, _: Viewer) -> Stats:
    return Stats.model_validate(await services.stats.summary())


@router.get("/api/workers", response_model=WorkerPage, summary="Workers seen in the last day")
async def workers(services: ServicesDep, _: Viewer) -> WorkerPage:
    return WorkerPage(items=[WorkerOut.model_validate(w) for w in await services.workers.list()])
