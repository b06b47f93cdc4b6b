"""/api/schedules/preview: what a schedule will do, before a task is saved."""

from __future__ import annotations

from fastapi import APIRouter

from tasksched.api.deps import ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import PreviewRequest
from tasksched.api.strict import strict_body
from tasksched.domain import schedules
from tasksched.domain.schedules import SchedulePreview

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
