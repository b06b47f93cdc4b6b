"""/api/schedules: what a schedule will do before a task is saved (preview), and what all enabled
tasks will fire in a window (upcoming)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tasksched.api.deps import QueryTime, SearchText, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import PreviewRequest
from tasksched.api.strict import strict_body
from tasksched.domain import schedules
from tasksched.domain.schedules import MAX_UPCOMING_ITEMS, SchedulePreview
from tasksched.services.planning import Upcoming

router = APIRouter(prefix="/api/schedules", tags=["schedules"])


@router.post(
    "/preview",
    operation_id="schedules_preview",
    dependencies=strict_body(PreviewRequest, Viewer),
    response_model=SchedulePreview,
    summary="Next fire times, in words, with DST notes",
)
async def preview(
    body: PreviewRequest, services: ServicesDep, _: Viewer, _body: StorableJson
) -> SchedulePreview:
    now = services.ctx.clock.now()
    return schedules.preview(body.schedule, count=body.count, after=body.after or now, anchor=now)


@router.get(
    "/upcoming",
    operation_id="schedules_upcoming",
    response_model=Upcoming,
    summary="What every enabled task will fire in a window of up to 8 days",
)
async def upcoming(
    services: ServicesDep,
    _: Viewer,
    from_: Annotated[
        QueryTime | None,
        Query(alias="from", description="Start of the window (with a UTC offset); default now."),
    ] = None,
    to: Annotated[
        QueryTime | None,
        Query(
            description="End of the window, excluded; at most 8 days after `from`; default a day after it."
        ),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_UPCOMING_ITEMS,
            description="At most this many fire times; `truncated` says more fell in the window.",
        ),
    ] = 1000,
    tag: Annotated[SearchText, Query(max_length=64, description="Only tasks with this tag.")] = None,
) -> Upcoming:
    return await services.planning.upcoming(start=from_, end=to, limit=limit, tag=tag)
