"""Tasks as callers see them: secrets masked, times in UTC with ``Z``, the schedule in words.

The store hands rows up; this is where they become what the API shows, above the store and below
the HTTP layer (the CLI and other front ends show the same). ``task_document`` is the fast path
for lists: JSON-ready dictionaries built from rows without validating them again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from tasksched.domain import schedules
from tasksched.domain.base import STORED, utc_text
from tasksched.domain.runs import RunStatus
from tasksched.domain.secrets import mask_action
from tasksched.domain.tasks import Task, TaskSpec
from tasksched.store.mapping import schedule_from_json, schedule_json

_SPEC_FIELDS = tuple(TaskSpec.model_fields)


class TaskView(Task):
    """A task as the API shows it, with its schedule in words."""

    schedule_description: str | None = None


RECENT_RUNS = 20
"""How many of a task's latest runs a task list shows beside it."""
_OUTCOMES = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT})


class RecentRun(BaseModel):
    id: int
    status: RunStatus


class TaskListItem(TaskView):
    """A task in a list, with its health at a glance."""

    recent_runs: list[RecentRun] = Field(
        default_factory=list, description=f"The task's latest {RECENT_RUNS} runs, newest first."
    )
    success_rate: float | None = Field(
        default=None,
        description="Of `recent_runs` that succeeded, failed or timed out, the share that succeeded "
        "(0-1); null when none did any of those.",
    )
    last_duration_ms: int | None = Field(
        default=None, description="How long the latest finished run of `recent_runs` took."
    )


def with_health(doc: dict[str, Any], recent: list[dict[str, Any]]) -> dict[str, Any]:
    """A task document (``task_document``) with ``TaskListItem``'s fields, from the task's latest
    runs (newest first: ``id``, ``status``, ``duration_ms``, ``finished_at``)."""
    outcomes = [row["status"] for row in recent if row["status"] in _OUTCOMES]
    finished = next((row for row in recent if row["duration_ms"] is not None), None)
    return {
        **doc,
        "recent_runs": [{"id": row["id"], "status": row["status"]} for row in recent],
        "success_rate": (outcomes.count(RunStatus.SUCCEEDED) / len(outcomes)) if outcomes else None,
        "last_duration_ms": None if finished is None else finished["duration_ms"],
    }


@dataclass(frozen=True)
class TaskListing:
    """A page of task documents (``TaskView``'s JSON shape) and the number of all matches.

    Pages are cached and served to many callers: nobody may modify ``items``.
    """

    items: list[dict[str, Any]]
    total: int

    @functools.cached_property
    def json(self) -> bytes:
        """The page as the API's response body, encoded on first use and kept with the page."""
        return orjson.dumps({"items": self.items, "total": self.total})


def iso(when: datetime | None) -> str | None:
    """UTC as JSON shows it everywhere in the API: 2027-01-01T09:00:00Z."""
    return None if when is None else utc_text(when)


@functools.lru_cache(maxsize=4096)
def _describe_json(text: str) -> str:
    return schedules.describe(schedule_from_json(text))


def task_document(row: dict[str, Any]) -> dict[str, Any]:
    """A task row as the JSON the API returns (the TaskView shape), without re-validating it.

    The spec columns were written from ``TaskSpec.model_dump(mode="json")``, so they are already in
    their canonical JSON form; validating them again on every read would be the slow part of listing
    tasks. A test checks that this equals ``TaskView``'s own serialisation.
    """
    doc = {name: row[name] for name in _SPEC_FIELDS}
    doc["action"] = mask_action(row["action"])  # secrets are write-only
    last_run = None
    if row.get("last_run_id") is not None:
        last_run = {"id": row["last_run_id"], "status": row["last_run_status"], "at": iso(row["last_run_at"])}
    raw_schedule = row["schedule"]
    doc.update(
        id=row["id"],
        next_run_at=iso(row["next_run_at"]),
        last_run=last_run,
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        version=row["version"],
        schedule_description=None if raw_schedule is None else _describe_json(schedule_json(raw_schedule)),
    )
    return doc


def task_view(row: dict[str, Any]) -> TaskView:
    return TaskView.model_validate(task_document(row), context=STORED)
