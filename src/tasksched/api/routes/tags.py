"""/api/tags: the tags tasks carry, with how many carry each (what the list's tag picker suggests)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tasksched.api.deps import SearchText, ServicesDep, Viewer
from tasksched.api.schemas import TagCount

router = APIRouter(prefix="/api/tags", tags=["tasks"])


@router.get(
    "",
    operation_id="tags_list",
    response_model=list[TagCount],
    summary="Tags in use, most used first, with how many tasks carry each",
)
async def list_tags(
    services: ServicesDep,
    _: Viewer,
    q: Annotated[
        SearchText, Query(max_length=64, description="Only tags starting with this, in any case")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[TagCount]:
    found = await services.tasks.tags(prefix=(q or "").strip(), limit=limit)
    return [TagCount(tag=t.tag, tasks=t.tasks) for t in found]
