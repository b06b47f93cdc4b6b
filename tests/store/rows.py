"""Small builders of valid rows, so each test states only what it is about."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from tasksched.domain.tasks import TaskSpec
from tasksched.store import Tx
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import spec_values

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)

_SPEC_FIELDS = frozenset(TaskSpec.model_fields)
_names = itertools.count(1)
_RUN_OPTIONAL = (
    "started_at", "finished_at", "duration_ms", "worker", "lease_until",
    "exit_code", "http_status", "output", "error",
)  # fmt: skip


def at(seconds: float) -> datetime:
    """T0 plus ``seconds``: tests speak in offsets from one fixed instant."""
    return T0 + timedelta(seconds=seconds)


def make_task_values(**overrides: Any) -> dict[str, Any]:
    """A valid row for ``tasks.insert``: the spec columns from a ``TaskSpec``, then the system's."""
    spec_fields = {k: v for k, v in overrides.items() if k in _SPEC_FIELDS}
    spec_fields.setdefault("name", f"task-{next(_names):05d}")
    spec_fields.setdefault("action", {"type": "python", "function": "tests.noop"})
    spec_fields.setdefault("schedule", {"type": "interval", "seconds": 60})
    values = spec_values(TaskSpec.model_validate(spec_fields))
    values.update(
        schedule_anchor=T0,
        next_run_at=at(60),
        paused_at=None,
        created_at=T0,
        updated_at=T0,
        version=1,
    )
    values.update({k: v for k, v in overrides.items() if k not in _SPEC_FIELDS})
    return values


def make_run_values(task: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """A valid queued run of ``task`` (a task row) for ``runs.insert``."""
    values: dict[str, Any] = {
        "task_id": task["id"],
        "task_name": task["name"],
        "trigger": "schedule",
        "scheduled_for": T0,
        "attempt": 1,
        "status": "queued",
        "reason": None,
        "queue": task["queue"],
        "priority": task["priority"],
        "queued_at": T0,
        "available_at": T0,
        # Every row carries every column, so that rows of one batch share their keys (executemany).
        **dict.fromkeys(_RUN_OPTIONAL),
    }
    values.update(overrides)
    return values


async def add_task(tx: Tx, **overrides: Any) -> dict[str, Any]:
    return await task_store.insert(tx, make_task_values(**overrides))


async def add_runs(tx: Tx, task: dict[str, Any], *specs: dict[str, Any]) -> list[dict[str, Any]]:
    """Insert runs of ``task``, one per dict of overrides; each gets its own slot unless told."""
    rows = [make_run_values(task, **{"scheduled_for": at(i), **spec}) for i, spec in enumerate(specs)]
    inserted = await run_store.insert(tx, rows)
    assert len(inserted) == len(rows), "a helper run collided with another; give it its own slot"
    return inserted
