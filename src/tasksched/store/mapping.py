"""Rows ↔ domain models. The domain's Pydantic models are the one definition of each shape.

Rows are validated with ``context=STORED``: a value saved before a check was added still loads.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter

from tasksched.domain import schedules
from tasksched.domain.base import STORED
from tasksched.domain.runs import Run
from tasksched.domain.schedules import Schedule
from tasksched.domain.secrets import mask_action
from tasksched.domain.tasks import Task, TaskSpec

_schedule_adapter: TypeAdapter[Schedule] = TypeAdapter(Schedule)

_SPEC_FIELDS = tuple(TaskSpec.model_fields)


def spec_values(spec: TaskSpec) -> dict[str, Any]:
    """The columns a spec sets (JSON fields as plain JSON-able values)."""
    return spec.model_dump(mode="json")


def spec_from_row(row: dict[str, Any]) -> TaskSpec:
    return TaskSpec.model_validate({name: row[name] for name in _SPEC_FIELDS}, context=STORED)


@functools.lru_cache(maxsize=4096)
def _schedule_from_json(text: str) -> Schedule:
    return _schedule_adapter.validate_json(text, context=STORED)


def schedule_from_row(row: dict[str, Any]) -> Schedule | None:
    """Parsed schedules are cached by their JSON: the scheduler reads the same ones over and over."""
    raw = row["schedule"]
    if raw is None:
        return None
    return _schedule_from_json(json.dumps(raw, sort_keys=True))


@functools.lru_cache(maxsize=4096)
def _describe_json(text: str) -> str:
    return schedules.describe(_schedule_from_json(text))


def describe_row_schedule(row: dict[str, Any]) -> str | None:
    raw = row["schedule"]
    if raw is None:
        return None
    return _describe_json(json.dumps(raw, sort_keys=True))


class TaskView(Task):
    """A task as the API shows it, with its schedule in words."""

    schedule_description: str | None = None


def iso(when: datetime | None) -> str | None:
    """UTC as JSON shows it everywhere in the API: 2027-01-01T09:00:00Z."""
    return None if when is None else when.isoformat().replace("+00:00", "Z")


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
    doc.update(
        id=row["id"],
        next_run_at=iso(row["next_run_at"]),
        last_run=last_run,
        created_at=iso(row["created_at"]),
        updated_at=iso(row["updated_at"]),
        version=row["version"],
        schedule_description=describe_row_schedule(row),
    )
    return doc


def task_from_row(row: dict[str, Any]) -> TaskView:
    return TaskView.model_validate(task_document(row), context=STORED)


def run_from_row(row: dict[str, Any]) -> Run:
    return Run.model_validate(row)
