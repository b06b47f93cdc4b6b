"""/api/runs/spans: the runs overlapping a window, compact, for the timeline.

Its own router, included before /api/runs's (whose ``/{run_id}`` would otherwise take ``spans``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tasksched.api.deps import QueryId, ServicesDep, Viewer
from tasksched.api.schemas import IsoTime, RunSpans
from tasksched.services.stats import SPAN_LIMIT_DEFAULT, SPAN_LIMIT_MAX

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get(
    "/spans",
    operation_id="runs_spans",
    response_model=RunSpans,
    summary="The runs overlapping a window (at most 8 days), as parallel arrays for a timeline",
)
async def run_spans(
    services: ServicesDep,
    _: Viewer,
    from_: Annotated[IsoTime, Query(alias="from", description="The window's start (with its offset).")],
    to: Annotated[IsoTime, Query(description="The window's end, exclusive; at most 8 days after `from`.")],
    task_id: QueryId = None,
    limit: Annotated[
        int, Query(ge=1, le=SPAN_LIMIT_MAX, description="At most this many runs (the latest kept).")
    ] = SPAN_LIMIT_DEFAULT,
) -> Response:
    body = await services.stats.spans(start=from_, end=to, task_id=task_id, limit=limit)
    return Response(
        RunSpans.model_validate(body).model_dump_json(by_alias=True), media_type="application/json"
    )
