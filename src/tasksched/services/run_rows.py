"""The one place a run row is built: scheduled slots, skipped slots, manual runs and retries alike.

Its own module because both ``runs`` (manual runs) and ``outcomes`` (retries) build rows, and
``runs`` also hands its cancellations to ``outcomes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tasksched.domain.runs import RunStatus, RunTrigger


def new_run_row(
    task: Mapping[str, Any],
    *,
    trigger: RunTrigger,
    scheduled_for: datetime,
    attempt: int,
    now: datetime,
    available_at: datetime | None = None,
    status: RunStatus = RunStatus.QUEUED,
    reason: str | None = None,
    run_input: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The row of a new run of ``task`` (a task row), queued unless told otherwise.

    The one place a run row is built: scheduled slots, skipped slots, manual runs and retries alike.
    """
    return {
        "task_id": task["id"],
        "task_name": task["name"],
        "trigger": trigger.value,
        "scheduled_for": scheduled_for,
        "attempt": attempt,
        "status": status.value,
        "reason": reason,
        "queue": task["queue"],
        "priority": task["priority"],
        "queued_at": now,
        "available_at": available_at or now,
        "finished_at": now if status.is_terminal else None,
        # What the run takes on top of its task's action; a retry carries its run's.
        "input": run_input,
    }
