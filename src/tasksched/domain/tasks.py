"""A task: what to run, when, and under which retry / overlap / misfire rules."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from tasksched.domain.actions import Action
from tasksched.domain.base import StrictModel
from tasksched.domain.notifications import NotifyRules
from tasksched.domain.runs import RetryPolicy, RunStatus
from tasksched.domain.schedules import Schedule
from tasksched.domain.task_sort import SORT_FIELDS as SORT_FIELDS  # re-exported
from tasksched.domain.task_sort import TaskSort as TaskSort

TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"
_TAG = re.compile(TAG_PATTERN)
_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
MAX_TIMEOUT_SECONDS = 7 * 86_400


class ConcurrencyPolicy(StrEnum):
    """What a slot does while an earlier run of the same task is still active (as Kubernetes CronJob)."""

    ALLOW = "allow"
    FORBID = "forbid"
    REPLACE = "replace"


class MisfirePolicy(StrEnum):
    """What slots missed during downtime (later than the grace period) become."""

    RUN_ONCE = "run_once"
    SKIP = "skip"
    RUN_ALL = "run_all"


Tag = Annotated[str, Field(min_length=1, max_length=64)]


class Retention(StrictModel):
    """How long this task's finished runs are kept; each field left out follows the server's setting."""

    success_days: int | None = Field(
        default=None, ge=0, le=100_000, description="Days succeeded runs are kept (0: forever)."
    )
    failure_days: int | None = Field(
        default=None,
        ge=0,
        le=100_000,
        description="Days failed, timed-out, skipped and cancelled runs are kept (0: forever).",
    )
    keep_last: int | None = Field(
        default=None, ge=0, le=1_000_000, description="Newest runs always kept, whatever their age."
    )


class TaskSpec(StrictModel):
    """Everything a user sets on a task; the body of POST and PUT."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    enabled: bool = True
    action: Action
    schedule: Schedule | None = None
    timeout_seconds: float | None = Field(default=3600, gt=0, le=MAX_TIMEOUT_SECONDS)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    misfire_grace_seconds: float = Field(default=60, ge=0, le=MAX_TIMEOUT_SECONDS)
    priority: int = Field(default=0, ge=-1000, le=1000, description="Higher runs first.")
    queue: str = Field(default="default", min_length=1, max_length=64)
    retention: Retention | None = Field(
        default=None, description="Overrides of the server's retention settings for this task's runs."
    )
    notify: NotifyRules | None = Field(
        default=None,
        description="When this task's notices are written; none: the global rules (GET /api/notification-rules).",
    )

    @field_validator("name")
    @classmethod
    def _printable_name(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("must not start or end with white space")
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not _TAG.match(tag):
                raise ValueError(f"tag {tag!r} may use letters, digits and _ . : / - only")
        return sorted(set(value))

    @field_validator("queue")
    @classmethod
    def _valid_queue(cls, value: str) -> str:
        if not _QUEUE.match(value):
            raise ValueError("may use letters, digits and _ . : - only")
        return value


class TaskPatch(StrictModel):
    """The body of PATCH: only the fields given change (JSON merge semantics at the top level)."""

    name: str | None = None
    description: str | None = None
    tags: list[Tag] | None = None
    enabled: bool | None = None
    action: Action | None = None
    schedule: Schedule | None = None
    timeout_seconds: float | None = None
    retry: RetryPolicy | None = None
    concurrency_policy: ConcurrencyPolicy | None = None
    misfire_policy: MisfirePolicy | None = None
    misfire_grace_seconds: float | None = None
    priority: int | None = None
    queue: str | None = None
    retention: Retention | None = None
    notify: NotifyRules | None = None

    def apply_to(self, spec: TaskSpec) -> TaskSpec:
        """The spec with this patch applied, validated again as a whole."""
        merged = spec.model_dump(mode="json")
        merged.update(self.model_dump(mode="json", exclude_unset=True))
        return TaskSpec.model_validate(merged)


class LastRun(BaseModel):
    id: int
    status: RunStatus
    at: datetime


class Task(TaskSpec):
    """A stored task as the API shows it: the spec plus what the system keeps."""

    model_config = {"extra": "ignore", "frozen": True}

    id: int
    next_run_at: datetime | None = None
    last_run: LastRun | None = None
    created_at: datetime
    updated_at: datetime
    version: int
