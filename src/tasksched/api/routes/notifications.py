"""/api/notifications: notices and their delivery; /api/notification-rules: the global rules."""

from __future__ import annotations

from fastapi import APIRouter

from tasksched.api.deps import Admin, Limit, Offset, PathId, QueryId, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import NoticePage
from tasksched.api.strict import strict_body
from tasksched.domain.notifications import Notice, NoticeStatus, NotifyDefaults
from tasksched.services.channels import NoticeQuery

router = APIRouter(prefix="/api", tags=["notifications"])


@router.get(
    "/notifications",
    operation_id="notifications_list",
    response_model=NoticePage,
    summary="List notices and their delivery, newest first",
)
async def list_notifications(
    services: ServicesDep,
    _: Viewer,
    task_id: QueryId = None,
    run_id: QueryId = None,
    channel_id: QueryId = None,
    status: NoticeStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> NoticePage:
    items, total = await services.notifications.list(
        NoticeQuery(
            task_id=task_id, run_id=run_id, channel_id=channel_id, status=status, limit=limit, offset=offset
        )
    )
    return NoticePage(items=items, total=total)


@router.get(
    "/notifications/{notice_id}",
    operation_id="notifications_get",
    response_model=Notice,
    summary="One notice with each delivery attempt",
)
async def get_notification(notice_id: PathId, services: ServicesDep, _: Viewer) -> Notice:
    return await services.notifications.get(notice_id)


@router.get(
    "/notification-rules",
    operation_id="notification_rules_get",
    response_model=NotifyDefaults,
    summary="The global notification rules (of tasks without their own)",
)
async def get_rules(services: ServicesDep, _: Viewer) -> NotifyDefaults:
    return await services.notifications.get_defaults()


@router.put(
    "/notification-rules",
    operation_id="notification_rules_replace",
    dependencies=strict_body(NotifyDefaults, Admin),
    response_model=NotifyDefaults,
    summary="Replace the global notification rules",
)
async def put_rules(
    body: NotifyDefaults, services: ServicesDep, principal: Admin, _body: StorableJson
) -> NotifyDefaults:
    return await services.notifications.put_defaults(body, actor=principal.actor)
