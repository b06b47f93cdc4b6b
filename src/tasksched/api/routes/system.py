"""Health, readiness, the dashboard's figures and the workers list."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tasksched.api.deps import ServicesDep, Viewer
from tasksched.api.schemas import Readiness, Stats, Status, WorkerOut, WorkerPage

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
    readiness = await services.health.readiness()
    if not readiness.ready:
        return JSONResponse({"status": "unavailable", "database": readiness.database}, 503)
    return JSONResponse({"status": "ready", "database": readiness.database, "schema": readiness.schema})


@router.get(
    "/api/stats", operation_id="stats_get", response_model=Stats, summary="Figures for the status dashboard"
)
async def stats(services: ServicesDep, _: Viewer) -> Stats:
    return Stats.model_validate(await services.stats.summary())


@router.get(
    "/api/status",
    operation_id="status_get",
    response_model=Status,
    summary="Health of the database, schedulers, workers and Redis; throughput, backlog, next runs",
)
async def status(services: ServicesDep, _: Viewer) -> Status:
    return Status.model_validate(await services.monitoring.status())


@router.get(
    "/api/workers",
    operation_id="workers_list",
    response_model=WorkerPage,
    summary="Workers seen in the last day",
)
async def workers(services: ServicesDep, _: Viewer) -> WorkerPage:
    return WorkerPage(items=[WorkerOut.model_validate(w) for w in await services.workers.list()])
