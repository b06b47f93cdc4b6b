"""/api/audit: the audit log (admin only), newest first, paged by the id of the last entry seen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tasksched.api.deps import Admin, Limit, QueryId, QueryTime, SearchText, ServicesDep, Word
from tasksched.api.schemas import AuditPage
from tasksched.services.audit import AuditQuery

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get(
    "", operation_id="audit_list", response_model=AuditPage, summary="List recorded changes, newest first"
)
async def list_audit(
    services: ServicesDep,
    _: Admin,
    actor: Annotated[
        SearchText, Query(max_length=200, description="The actor's name (a key's name, `cli`).")
    ] = None,
    actor_kind: Annotated[SearchText, Query(max_length=16, description="`key`, `cli` or `system`.")] = None,
    action: Annotated[list[Word] | None, Query(description="One or more actions: `task.update`.")] = None,
    target_type: Annotated[SearchText, Query(max_length=32, description="`task`, `run`, `key`, …")] = None,
    target_id: QueryId = None,
    since: Annotated[
        QueryTime | None, Query(description="Entries at or after this time (with a UTC offset).")
    ] = None,
    until: Annotated[QueryTime | None, Query(description="Entries before this time.")] = None,
    before: Annotated[QueryId, Query(description="`next_before` of the previous page.")] = None,
    limit: Limit = 50,
) -> AuditPage:
    page = await services.audit.list(
        AuditQuery(
            actor=actor,
            actor_kind=actor_kind,
            actions=action or (),
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
            before=before,
            limit=limit,
        )
    )
    return AuditPage(items=page.items, next_before=page.next_before)
