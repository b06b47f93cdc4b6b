"""Rows ↔ domain models. The domain's Pydantic models are the one definition of each shape.

Rows are validated with ``context=STORED``: a value saved before a check was added still loads.

What callers see of a task (masked secrets, ``Z`` times, the schedule in words) is built above the
store, in ``services/views.py``.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import TypeAdapter

from tasksched.domain.base import STORED
from tasksched.domain.principals import Principal, Role
from tasksched.domain.runs import Run
from tasksched.domain.schedules import Schedule
from tasksched.domain.tasks import TaskSpec

_schedule_adapter: TypeAdapter[Schedule] = TypeAdapter(Schedule)

_SPEC_FIELDS = tuple(TaskSpec.model_fields)


def spec_values(spec: TaskSpec) -> dict[str, Any]:
    """The columns a spec sets (JSON fields as plain JSON-able values)."""
    return spec.model_dump(mode="json")


def spec_from_row(row: dict[str, Any]) -> TaskSpec:
    return TaskSpec.model_validate({name: row[name] for name in _SPEC_FIELDS}, context=STORED)


def schedule_json(raw: Any) -> str:
    """A stored schedule's canonical text: the key of the caches of parsed schedules."""
    return json.dumps(raw, sort_keys=True)


@functools.lru_cache(maxsize=4096)
def schedule_from_json(text: str) -> Schedule:
    return _schedule_adapter.validate_json(text, context=STORED)


def schedule_from_row(row: dict[str, Any]) -> Schedule | None:
    """Parsed schedules are cached by their JSON: the scheduler reads the same ones over and over."""
    raw = row["schedule"]
    if raw is None:
        return None
    return schedule_from_json(schedule_json(raw))


def run_from_row(row: dict[str, Any]) -> Run:
    return Run.model_validate(row)


def principal_from_row(row: dict[str, Any]) -> Principal:
    """The caller an API key's row stands for (its revocation is the caller's to check)."""
    return Principal(key_id=row["id"], name=row["name"], role=Role(row["role"]), prefix=row["prefix"])
