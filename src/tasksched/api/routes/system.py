"""Health, readiness, the dashboard's figures, the workers list and the backups made."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from tasksched.api.deps import Admin, ServicesDep, Viewer
from tasksched.api.schemas import BackupOut, BackupPage, Readiness, Stats, Status, WorkerOut, WorkerPage
from tasksched.services.stats import Bucket

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
async def stats(
    services: ServicesDep,
    _: Viewer,
    bucket: Annotated[
        Bucket,
        Query(description="The chart's bars: `minute` (the last 60 minutes) or `hour` (the last 24 hours)."),
    ] = Bucket.HOUR,
) -> Stats:
    return Stats.model_validate(await services.stats.summary(bucket))


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


@router.get(
    "/api/backups",
    operation_id="backups_list",
    response_model=BackupPage,
    summary="Recent backups and their outcomes, newest first",
)
async def backups(services: ServicesDep, _: Admin) -> BackupPage:
    items = [BackupOut.model_validate(b) for b in await services.backups.list()]
    return BackupPage(items=items, last_success_at=await services.backups.last_success_at())
