"""Shapes that exist only because of HTTP: pages, previews' request bodies, key creation, problems."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from tasksched.domain.actions import RunInput
from tasksched.domain.audit import AuditEntry
from tasksched.domain.base import StrictModel
from tasksched.domain.keys import ApiKey
from tasksched.domain.notifications import Channel, Notice
from tasksched.domain.principals import Role
from tasksched.domain.runs import Run, RunStatus, RunTrigger
from tasksched.domain.schedules import Schedule, ScheduleTime
from tasksched.domain.tasks import TAG_PATTERN
from tasksched.services.runs import MAX_BATCH
from tasksched.services.task_bulk import MAX_BULK_TASKS
from tasksched.services.views import TaskListItem


class TaskPage(BaseModel):
    items: list[TaskListItem]
    total: int


class TagCount(BaseModel):
    tag: str
    tasks: int = Field(description="How many tasks carry the tag.")


# A tag as a filter: what a task's tag may be (a filter with another could match nothing anyway).
TagText = Annotated[str, Field(min_length=1, max_length=64, pattern=TAG_PATTERN)]


class TaskFilterBody(StrictModel):
    """The task list's filter, as a body: what a bulk action on "all matching" applies to."""

    q: str | None = Field(default=None, max_length=200, description="A substring of the name or description.")
    tag: list[TagText] = Field(
        default_factory=list, max_length=20, description="Tasks carrying every one of these tags."
    )
    enabled: bool | None = None
    last_status: RunStatus | None = None


class TaskBulkRequest(StrictModel):
    """An action and the tasks it applies to: by id, or every task a filter matches."""

    action: Literal["pause", "resume", "run", "delete"] = Field(
        description="`pause`, `resume` and `run` need the operator role, `delete` the admin role."
    )
    task_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list, max_length=MAX_BULK_TASKS
    )
    filter: TaskFilterBody | None = Field(
        default=None, description=f"Instead of `task_ids`: every task it matches (at most {MAX_BULK_TASKS})."
    )


class TaskBulkResult(BaseModel):
    action: Literal["pause", "resume", "run", "delete"]
    matched: int = Field(description="How many tasks were selected.")
    done: list[int] = Field(description="The tasks paused, resumed, run or deleted, in id order.")
    unchanged: list[int] = Field(
        description="Selected tasks already paused (or running on schedule): left alone."
    )
    run_ids: list[int] = Field(description="`run`: the runs queued, in the order of `done`.")


class RunPage(BaseModel):
    items: list[Run]
    total: int = Field(description="How many runs match; a lower bound when `total_exact` is false.")
    total_exact: bool = Field(
        default=True,
        description="False when more runs match than were counted: counting stops 1,000 runs past the"
        " page asked for, so that a list stays as fast on a long history as on an empty one.",
    )


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page."
    )


class ChannelPage(BaseModel):
    items: list[Channel]


class NoticePage(BaseModel):
    items: list[Notice]
    total: int


class PreviewRequest(StrictModel):
    schedule: Schedule
    count: int = Field(default=10, ge=1, le=100)
    after: ScheduleTime | None = Field(
        default=None, description="Start of the preview window (with a UTC offset); default now."
    )


class KeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.VIEWER


class KeyOut(ApiKey):
    """An API key as listed: never its value."""


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself; shown only in this response.")


class KeyPage(BaseModel):
    items: list[KeyOut]


class EventTicket(BaseModel):
    ticket: str = Field(description="Opens GET /api/events?ticket=<ticket>, and nothing else.")
    expires_at: datetime = Field(description="When the ticket stops opening the stream (a minute on).")


class SessionCreate(StrictModel):
    remember: bool = Field(
        default=False,
        description='Keep the cookie for 30 days ("remember on this device"), not only until the browser closes.',
    )


class Me(BaseModel):
    name: str
    role: Role
    prefix: str


class WorkerOut(BaseModel):
    name: str
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    running: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    online: bool


class WorkerPage(BaseModel):
    items: list[WorkerOut]


class BackupOut(BaseModel):
    id: int
    trigger: Literal["manual", "scheduled"]
    slot: datetime | None = Field(description="The scheduled time this backup is for; null when manual.")
    status: Literal["running", "succeeded", "failed", "removed", "interrupted"] = Field(
        description="`removed`: succeeded, then its file was deleted by TASKSCHED_BACKUP_KEEP; "
        "`interrupted`: seen in a restored copy, made while that backup ran."
    )
    file: str
    size_bytes: int | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class BackupPage(BaseModel):
    items: list[BackupOut]
    last_success_at: datetime | None = Field(description="When the newest successful backup finished.")


class TaskCounts(BaseModel):
    total: int
    enabled: int
    paused: int


class HourBucket(BaseModel):
    """Runs that finished within one hour, by status."""

    hour: datetime
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    skipped: int


class DueTask(BaseModel):
    task_id: int
    task_name: str
    next_run_at: datetime


class ChartBucket(BaseModel):
    """Runs that finished within one bar of the dashboard's chart, by status."""

    start: datetime
    end: datetime = Field(description="Exclusive.")
    succeeded: int
    failed: int
    timed_out: int
    cancelled: int
    skipped: int


class RunsChart(BaseModel):
    bucket: Literal["minute", "hour"]
    seconds: int = Field(description="The width of each bar: 60 or 3600.")
    since: datetime = Field(description="The start of the first bar (and of the failing tasks' window).")
    buckets: list[ChartBucket] = Field(description="60 minutes or 24 hours, oldest first, zero-filled.")


class LateSlots(BaseModel):
    """Slots more than a second past their time that have not started."""

    total: int
    unfired: int = Field(description="Enabled tasks whose next slot passed and was not fired yet.")
    waiting: int = Field(description="Fired runs still queued past the time they could start.")
    oldest_due_at: datetime | None = Field(description="When the longest-late of them was due.")


class FailingTask(BaseModel):
    """A task with failed or timed-out runs in the chart's window, and its latest failure."""

    task_id: int
    task_name: str
    failures: int = Field(description="Runs failed or timed out in the window.")
    finished: int = Field(description="Runs finished in the window, whatever their outcome.")
    last_run_id: int
    last_status: RunStatus
    last_failed_at: datetime
    last_error: str | None


class Stats(BaseModel):
    now: datetime = Field(description="The server's clock when the figures were read.")
    chart: RunsChart
    late: LateSlots
    failing_tasks: list[FailingTask] = Field(
        description="Up to 10 tasks with failures since `chart.since`, most failures first."
    )
    tasks: TaskCounts
    runs_last_hour: dict[str, int] = Field(description="Runs finished in the last hour, by status.")
    runs_last_day: dict[str, int] = Field(description="Runs finished in the last 24 hours, by status.")
    runs_per_hour: list[HourBucket] = Field(description="24 hourly buckets, oldest first.")
    success_rate_last_day: float | None = Field(description="succeeded / (succeeded + failed + timed out)")
    queued: int
    running: int
    oldest_queued_at: datetime | None
    workers_online: int
    next_due: list[DueTask]
    latest_failures: list[Run]


class ComponentHealth(BaseModel):
    ok: bool
    error: str | None = Field(description="Why it is not usable, in words; null when ok.")


class SchedulerStatus(BaseModel):
    name: str
    hostname: str
    pid: int
    alive: bool = Field(description="Its loop passed in the last 30 seconds and it has not stopped.")
    started_at: datetime
    last_tick_at: datetime


class WorkerCapacity(BaseModel):
    alive: int = Field(description="Workers that heartbeat within a lease and have not stopped.")
    slots: int = Field(description="Runs the live workers can execute at once.")
    busy: int = Field(description="Of those slots, how many are running a run.")


class QueueBacklog(BaseModel):
    queue: str
    queued: int
    oldest_age_seconds: float = Field(description="How long the earliest claimable run has waited (0: none).")


class Backlog(BaseModel):
    queued: int
    running: int
    queues: list[QueueBacklog]


class Throughput(BaseModel):
    finished: int = Field(description="Runs that reached any final status.")
    succeeded: int
    failed: int = Field(description="Failed or timed out.")


class MinuteThroughput(Throughput):
    minute: datetime


class HourThroughput(Throughput):
    hour: datetime


class ThroughputSeries(BaseModel):
    per_minute: list[MinuteThroughput] = Field(description="The last 60 minutes, oldest first.")
    per_hour: list[HourThroughput] = Field(description="The last 24 hours, oldest first.")


class BackupStatus(BaseModel):
    started_at: datetime
    finished_at: datetime | None
    status: str
    file: str | None
    size_bytes: int | None
    error: str | None


class Status(BaseModel):
    version: str
    at: datetime = Field(description="The server's time of this answer.")
    database: ComponentHealth
    redis: ComponentHealth | None = Field(description="Null when TASKSCHED_REDIS_URL is not set.")
    schedulers: list[SchedulerStatus] = Field(description="Schedulers seen in the last day, alive or not.")
    scheduler_last_tick: datetime | None = Field(description="The latest pass of any running scheduler.")
    workers: WorkerCapacity
    backlog: Backlog
    throughput: ThroughputSeries
    last_hour: Throughput
    last_day: Throughput
    next_due: list[DueTask] = Field(description="The next few slots due, earliest first.")
    last_backup: BackupStatus | None = Field(description="The newest backup; null when none is known.")


def _absent_when_none(schema: dict[str, Any]) -> None:
    # The server leaves such a field out rather than sending null: the schema has no null, so no default.
    schema.pop("default", None)


class FieldError(BaseModel):
    """One refused field of a request, as ``api/errors.py`` reports it."""

    model_config = ConfigDict(populate_by_name=True)

    field: str = Field(
        description="Dotted path inside the body (``schedule.expression``), or the parameter's name."
    )
    message: str
    in_: Literal["path", "query", "header", "cookie"] | SkipJsonSchema[None] = Field(
        default=None,
        alias="in",
        description="Where a parameter was, when it was not in the body; absent for body fields.",
        json_schema_extra=_absent_when_none,
    )


class Problem(BaseModel):
    """An RFC 9457 problem document: every error the API answers, with ``application/problem+json``."""

    type: str = Field(description="Always ``about:blank``: the status and title say what happened.")
    title: str = Field(description="The status's short name, such as ``Invalid input`` or ``Not found``.")
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What was wrong, in words a user can act on.")
    errors: list[FieldError] = Field(
        default=[], description="Each refused field, when the problem is about fields; absent otherwise."
    )
    current_version: int | SkipJsonSchema[None] = Field(
        default=None,
        description="On a 412: the task's version now, to compare with the one sent in `If-Match`.",
        json_schema_extra=_absent_when_none,
    )


class Readiness(BaseModel):
    """/readyz: whether this process can serve (the database reachable, its schema current)."""

    model_config = ConfigDict(populate_by_name=True)

    status: Literal["ready", "unavailable"]
    database: str = Field(description="``ok``, or why the database cannot be used.")
    schema_: str | SkipJsonSchema[None] = Field(
        default=None,
        alias="schema",
        description="The schema revision; present when ready.",
        json_schema_extra=_absent_when_none,
    )


def _iso_text(value: object) -> object:
    """Times as ISO 8601 text only: pydantic would also take ``0.5`` or ``0`` as a Unix time, which
    the schema (a date-time string) does not promise and a user never means."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected a time as ISO 8601 text with its offset, such as 2026-12-01T09:00:00Z")


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class RunFilterBody(StrictModel):
    """The runs list's filter, as a body: what "retry all matching" retries."""

    task_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    status: list[RunStatus] = Field(default_factory=list, max_length=len(RunStatus))
    trigger: list[RunTrigger] = Field(default_factory=list, max_length=len(RunTrigger))
    scheduled_from: IsoTime | None = None
    scheduled_to: IsoTime | None = None
    q: str | None = Field(
        default=None, max_length=200, description="A substring of the error text, any case."
    )
    finished_from: IsoTime | None = Field(
        default=None, description="Runs that finished at or after this time."
    )
    finished_to: IsoTime | None = Field(default=None, description="Runs that finished before this time.")


class RunRetryRequest(StrictModel):
    """Either the runs to retry by id, or a filter: every run it matches (up to 1000) is retried."""

    run_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(default_factory=list, max_length=1000)
    filter: RunFilterBody | None = None


class RunRetrySkip(BaseModel):
    run_id: int
    reason: str


class RunRetryResult(BaseModel):
    queued: list[Run] = Field(description="The new attempts, one per run retried.")
    skipped: list[RunRetrySkip] = Field(description="The runs not retried, each with why.")


IdempotencyKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Per task: a request repeated with the same key queues no second run. 1-200 "
        "printable ASCII characters; kept as long as the run it queued.",
    ),
]


class RunNowRequest(StrictModel):
    """The optional body of run-now."""

    input: RunInput | None = Field(
        default=None,
        description="Applied to the task's action for this run and its retries: `args` and/or "
        "`kwargs` (python), `body` (http) or `env` (shell).",
    )


class RunBatchItem(StrictModel):
    task_id: int = Field(ge=1, le=2**63 - 1)
    input: RunInput | None = None
    idempotency_key: IdempotencyKey | None = None


class RunBatchRequest(StrictModel):
    """Runs to queue now, of one task or many, in one transaction."""

    runs: list[RunBatchItem] = Field(min_length=1, max_length=MAX_BATCH)


class RunBatchEntry(BaseModel):
    index: int = Field(description="The item's position in `runs`.")
    run_id: int
    task_id: int
    created: bool = Field(description="False: the item's idempotency key had queued `run_id` before.")


class RunBatchResult(BaseModel):
    runs: list[RunBatchEntry] = Field(description="One entry per item, in the order given.")
    created: int = Field(description="How many runs this request queued.")
    repeated: int = Field(description="How many items were idempotent repeats (no new run).")


class SpanTask(BaseModel):
    id: int
    name: str
    max_attempts: int | None = Field(
        default=None, description="The attempts its retry policy plans per slot (null: the task is gone)."
    )


class RunSpans(BaseModel):
    """Runs overlapping a window as parallel arrays: entry *i* of each array is about one run.
    Times are Unix milliseconds; ``started``/``finished`` are null while a run has not."""

    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    now: datetime = Field(description="The server's clock: where running spans end for now.")
    truncated: bool = Field(description="More runs overlap the window than `limit`; the latest are kept.")
    limit: int
    tasks: list[SpanTask] = Field(description="The tasks the runs belong to, by name.")
    id: list[int]
    task_id: list[int]
    attempt: list[int]
    status: list[RunStatus]
    ready: list[int] = Field(description="When each run could start: queued and due (available_at).")
    started: list[int | None]
    finished: list[int | None]

    model_config = ConfigDict(populate_by_name=True)
