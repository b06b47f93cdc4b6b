"""/api/runs: history across tasks, one run with its output, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tasksched.api.deps import Limit, Offset, Operator, PathId, QueryId, ServicesDep, Viewer
from tasksched.api.schemas import RunPage
from tasksched.domain.runs import Run, RunStatus, RunTrigger
from tasksched.services.runs import RunQuery

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("", operation_id="runs_list", response_model=RunPage, summary="List runs, newest first")
async def list_runs(
    services: ServicesDep,
    _: Viewer,
    task_id: QueryId = None,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    trigger: RunTrigger | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    items, total, exact = await services.runs.list(
        RunQuery(task_id=task_id, statuses=status or (), trigger=trigger, limit=limit, offset=offset)
    )
    return Response(
        RunPage(items=items, total=total, total_exact=exact).model_dump_json(), media_type="application/json"
    )


@router.get(
    "/{run_id}", operation_id="runs_get", response_model=Run, summary="One run, with the tail of its output"
)
async def get_run(run_id: PathId, services: ServicesDep, _: Viewer) -> Run:
    return await services.runs.get(run_id)


@router.post(
    "/{run_id}/cancel",
    status_code=202,
    response_model=Run,
    summary="Cancel a queued or running run",
    operation_id="runs_cancel",
)
async def cancel_run(run_id: PathId, services: ServicesDep, principal: Operator) -> Run:
    return await services.runs.cancel(run_id, actor=principal.actor)
