"""/api/runs: history across tasks (filtered), one run with its output, cancel, retry in bulk."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from tasksched.api.deps import Limit, Offset, Operator, PathId, QueryId, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import (
    IsoTime,
    RunBatchEntry,
    RunBatchRequest,
    RunBatchResult,
    RunPage,
    RunRetryRequest,
    RunRetryResult,
    RunRetrySkip,
)
from tasksched.api.strict import strict_body
from tasksched.domain.runs import Run, RunStatus, RunTrigger
from tasksched.services.runs import MAX_BATCH, BatchItem, RunQuery

router = APIRouter(prefix="/api/runs", tags=["runs"])


@router.get("", operation_id="runs_list", response_model=RunPage, summary="List runs, newest first")
async def list_runs(
    services: ServicesDep,
    _: Viewer,
    task_id: QueryId = None,
    status: Annotated[list[RunStatus] | None, Query()] = None,
    trigger: Annotated[list[RunTrigger] | None, Query()] = None,
    scheduled_from: Annotated[
        IsoTime | None, Query(description="Runs of slots at or after this time (with its offset).")
    ] = None,
    scheduled_to: Annotated[IsoTime | None, Query(description="Runs of slots before this time.")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="A substring of the error text, any case.")
    ] = None,
    finished_from: Annotated[
        IsoTime | None,
        Query(description="Runs that finished at or after this time (what the dashboard's bars count)."),
    ] = None,
    finished_to: Annotated[IsoTime | None, Query(description="Runs that finished before this time.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Response:
    query = RunQuery(
        task_id=task_id,
        statuses=status or (),
        triggers=trigger or (),
        scheduled_from=scheduled_from,
        scheduled_to=scheduled_to,
        error_contains=q,
        finished_from=finished_from,
        finished_to=finished_to,
        limit=limit,
        offset=offset,
    )
    items, total, exact = await services.runs.list(query)
    return Response(
        RunPage(items=items, total=total, total_exact=exact).model_dump_json(), media_type="application/json"
    )


@router.post(
    ":retry",
    operation_id="runs_retry",
    response_model=RunRetryResult,
    summary="Retry runs now: those named, or every run a filter matches",
)
async def retry_runs(body: RunRetryRequest, services: ServicesDep, principal: Operator) -> RunRetryResult:
    query = None
    if body.filter is not None:
        f = body.filter
        query = RunQuery(
            task_id=f.task_id,
            statuses=f.status,
            triggers=f.trigger,
            scheduled_from=f.scheduled_from,
            scheduled_to=f.scheduled_to,
            error_contains=f.q,
            finished_from=f.finished_from,
            finished_to=f.finished_to,
        )
    result = await services.runs.retry(actor=principal.actor, run_ids=body.run_ids, query=query)
    skipped = [RunRetrySkip(run_id=k, reason=v) for k, v in sorted(result.skipped.items())]
    return RunRetryResult(queued=result.queued, skipped=skipped)


@router.post(
    ":batch",
    operation_id="runs_batch",
    dependencies=strict_body(RunBatchRequest, Operator),
    response_model=RunBatchResult,
    summary="Queue many runs now, of one task or many, in one transaction",
    description=f"Up to {MAX_BATCH} items. Every item is checked before anything is written: one "
    "bad item (an unknown task, an input for another action type) refuses the whole request, "
    "naming it (`runs.3.input.body`). An item whose `idempotency_key` (per task) queued a run "
    "before queues nothing: its entry names that run with `created` false.",
)
async def batch_runs(
    body: RunBatchRequest, services: ServicesDep, principal: Operator, _body: StorableJson
) -> Response:
    done = await services.runs.enqueue_many(
        [BatchItem(task_id=i.task_id, input=i.input, idempotency_key=i.idempotency_key) for i in body.runs],
        actor=principal.actor,
    )
    created = sum(1 for d in done if d.created)
    result = RunBatchResult(
        runs=[
            RunBatchEntry(index=d.index, run_id=d.run_id, task_id=d.task_id, created=d.created) for d in done
        ],
        created=created,
        repeated=len(done) - created,
    )
    # Encoded once, not validated again on the way out (thousands of entries).
    return Response(result.model_dump_json(), media_type="application/json")


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
