"""/api/tasks: CRUD, filters and paging, run now, pause and resume."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from tasksched.api.deps import (
    Admin,
    Limit,
    Offset,
    Operator,
    PathId,
    SearchText,
    ServicesDep,
    StorableJson,
    Viewer,
    parse_if_match,
)
from tasksched.api.schemas import (
    IdempotencyKey,
    RunNowRequest,
    RunPage,
    TagText,
    TaskBulkRequest,
    TaskBulkResult,
    TaskPage,
)
from tasksched.api.strict import strict_body
from tasksched.domain.principals import Role
from tasksched.domain.runs import Run, RunStatus
from tasksched.domain.schedules import MAX_PREVIEW_COUNT, SchedulePreview
from tasksched.domain.tasks import TaskPatch, TaskSort, TaskSpec
from tasksched.errors import Forbidden
from tasksched.services.runs import RunQuery
from tasksched.services.task_bulk import MAX_BULK_TASKS, TaskFilter
from tasksched.services.tasks import TaskQuery
from tasksched.services.views import TaskView

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


def _task_response(task: TaskView, status_code: int = 200, **headers: str) -> Response:
    return Response(
        task.model_dump_json(),
        status_code=status_code,
        media_type="application/json",
        headers={"ETag": f'"{task.version}"', **headers},
    )


@router.get("", operation_id="tasks_list", response_model=TaskPage, summary="List tasks")
async def list_tasks(
    services: ServicesDep,
    _: Viewer,
    limit: Limit = 50,
    offset: Offset = 0,
    name: Annotated[
        SearchText, Query(max_length=200, description="Exactly this name (at most one task)")
    ] = None,
    q: Annotated[SearchText, Query(max_length=200, description="Search in name and description")] = None,
    tag: Annotated[
        list[TagText] | None,
        Query(max_length=20, description="Tasks carrying this tag; repeated (`tag=a&tag=b`): all of them"),
    ] = None,
    enabled: bool | None = None,
    last_status: RunStatus | None = None,
    sort: TaskSort = "name",
) -> Response:
    page = await services.tasks.list(
        TaskQuery(
            name=name,
            q=q,
            tags=tuple(tag or ()),
            enabled=enabled,
            last_status=last_status,
            sort=sort,
            limit=limit,
            offset=offset,
        )
    )
    # A cached page carries its JSON, encoded once however many callers it serves.
    return Response(page.json, media_type="application/json")


@router.post(
    "",
    operation_id="tasks_create",
    dependencies=strict_body(TaskSpec, Admin),
    status_code=201,
    response_model=TaskView,
    summary="Create a task",
)
async def create_task(
    spec: TaskSpec, services: ServicesDep, principal: Admin, _body: StorableJson, request: Request
) -> Response:
    task = await services.tasks.create(spec, actor=principal.actor)
    return _task_response(task, 201, Location=str(request.url_for("get_task", task_id=task.id)))


@router.post(
    ":bulk",
    operation_id="tasks_bulk",
    dependencies=strict_body(TaskBulkRequest, Operator),
    response_model=TaskBulkResult,
    summary="Pause, resume, run or delete many tasks: those named, or every task a filter matches",
    description=f"Either `task_ids` or `filter` (the list's filters; `{{}}` matches every task), at "
    f"most {MAX_BULK_TASKS} tasks. One transaction and one audit row (`tasks.pause` …) for the whole "
    "selection: an unknown id (`task_ids.3`) or a filter matching too many refuses the request, "
    "nothing changed. Tasks already paused (resumed) are left alone and listed in `unchanged`. "
    "`delete` needs the admin role.",
)
async def bulk_tasks(body: TaskBulkRequest, services: ServicesDep, principal: Operator) -> TaskBulkResult:
    if body.action == "delete" and not principal.role.allows(Role.ADMIN):
        raise Forbidden(
            f"deleting tasks needs the admin role; the key '{principal.name}' is {principal.role.value}"
        )
    where = None
    if body.filter is not None:
        f = body.filter
        where = TaskFilter(q=f.q, tags=tuple(f.tag), enabled=f.enabled, last_status=f.last_status)
    result = await services.task_bulk.apply(
        body.action, actor=principal.actor, task_ids=body.task_ids, where=where
    )
    return TaskBulkResult(
        action=result.action,
        matched=result.matched,
        done=result.done,
        unchanged=result.unchanged,
        run_ids=result.run_ids,
    )


@router.get("/{task_id}", operation_id="tasks_get", response_model=TaskView, summary="Get a task")
async def get_task(task_id: PathId, services: ServicesDep, _: Viewer) -> Response:
    return _task_response(await services.tasks.get(task_id))


@router.put(
    "/{task_id}",
    operation_id="tasks_replace",
    dependencies=strict_body(TaskSpec, Admin),
    response_model=TaskView,
    summary="Replace a task",
)
async def replace_task(
    task_id: PathId,
    spec: TaskSpec,
    services: ServicesDep,
    principal: Admin,
    _body: StorableJson,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    task = await services.tasks.replace(
        task_id, spec, actor=principal.actor, if_match=parse_if_match(if_match)
    )
    return _task_response(task)


@router.patch(
    "/{task_id}",
    operation_id="tasks_update",
    dependencies=strict_body(TaskPatch, Admin),
    response_model=TaskView,
    summary="Change some fields of a task",
)
async def patch_task(
    task_id: PathId,
    patch: TaskPatch,
    services: ServicesDep,
    principal: Admin,
    _body: StorableJson,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    try:
        task = await services.tasks.patch(
            task_id, patch, actor=principal.actor, if_match=parse_if_match(if_match)
        )
    except ValidationError as exc:
        # The patch is valid on its own but the task it makes is not: answer as for a bad body.
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return _task_response(task)


@router.delete(
    "/{task_id}", operation_id="tasks_delete", status_code=204, summary="Delete a task and its runs"
)
async def delete_task(task_id: PathId, services: ServicesDep, principal: Admin) -> Response:
    await services.tasks.delete(task_id, actor=principal.actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{task_id}/run",
    operation_id="tasks_run",
    dependencies=strict_body(RunNowRequest, Operator),
    status_code=202,
    response_model=Run,
    summary="Run a task now",
    description="Queues a manual run (202). The optional body's `input` is applied to the action for "
    "this run and its retries. With an `Idempotency-Key` header, a request repeated with the same "
    "key (for this task) queues nothing and answers 200 with the run the first one queued, "
    "header `Idempotent-Replayed: true`; the same key with another input is refused (409). A key is "
    "kept as long as its run (retention deletes both).",
    responses={200: {"model": Run, "description": "A repeat of an `Idempotency-Key`: the run it queued."}},
)
async def run_task(
    task_id: PathId,
    services: ServicesDep,
    principal: Operator,
    _body: StorableJson,
    # A default body rather than an optional one: `anyOf [body, null]` makes generated clients send
    # their "unset" marker as JSON when no body is given.
    body: Annotated[RunNowRequest, Body()] = RunNowRequest(),  # noqa: B008 - immutable (frozen) model
    idempotency_key: Annotated[IdempotencyKey | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    done = await services.runs.enqueue(
        task_id,
        actor=principal.actor,
        run_input=body.input,
        idempotency_key=idempotency_key,
    )
    if done.created:
        return Response(done.run.model_dump_json(), status_code=202, media_type="application/json")
    return Response(
        done.run.model_dump_json(),
        status_code=200,
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


@router.post(
    "/{task_id}/pause", operation_id="tasks_pause", response_model=TaskView, summary="Pause a task's schedule"
)
async def pause_task(task_id: PathId, services: ServicesDep, principal: Operator) -> Response:
    return _task_response(await services.tasks.set_enabled(task_id, False, actor=principal.actor))


@router.post(
    "/{task_id}/resume", operation_id="tasks_resume", response_model=TaskView, summary="Resume a paused task"
)
async def resume_task(task_id: PathId, services: ServicesDep, principal: Operator) -> Response:
    return _task_response(await services.tasks.set_enabled(task_id, True, actor=principal.actor))


@router.get(
    "/{task_id}/preview",
    operation_id="tasks_preview",
    response_model=SchedulePreview,
    summary="A task's next fire times (in UTC and its zone), its schedule in words, DST notes",
)
async def task_preview(
    task_id: PathId,
    services: ServicesDep,
    _: Viewer,
    count: Annotated[int, Query(ge=1, le=MAX_PREVIEW_COUNT)] = 10,
) -> SchedulePreview:
    return await services.planning.task_preview(task_id, count=count)


@router.get(
    "/{task_id}/runs",
    operation_id="tasks_list_runs",
    response_model=RunPage,
    summary="A task's runs, newest first",
)
async def task_runs(
    task_id: PathId,
    services: ServicesDep,
    _: Viewer,
    status_: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    items, total, exact = await services.runs.list(
        RunQuery(task_id=task_id, statuses=status_ or (), limit=limit, offset=offset)
    )
    return Response(
        RunPage(items=items, total=total, total_exact=exact).model_dump_json(), media_type="application/json"
    )
