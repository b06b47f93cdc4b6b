"""Queued runs of ``tests.slow_record`` (it appends a line when it starts and when it ends, so a test
can count executions) and reading every run back: what the worker fault tests share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import tests.helpers.tasks  # noqa: F401  (registers the functions the API checks)
from tasksched.config import Settings
from tasksched.domain.principals import CLI
from tasksched.domain.tasks import TaskSpec
from tasksched.services.context import Context
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskService
from tasksched.store import migrate


def slow_task(name: str, record: Path, seconds: float) -> TaskSpec:
    """Runs that take ``seconds``, retried up to 3 attempts at once, any number at a time."""
    return TaskSpec.model_validate(
        {
            "name": name,
            "action": {"type": "python", "function": "tests.slow_record", "args": [str(record), seconds]},
            "concurrency_policy": "allow",
            "retry": {"max_attempts": 3, "backoff_seconds": 0, "jitter": 0},
        }
    )


async def queue_slow_runs(url: str, record: Path, *, runs: int, durations: Sequence[float]) -> list[int]:
    """One task per duration on a migrated database, then ``runs`` manual runs spread over them in
    turn; returns the tasks' ids."""
    ctx = Context.open(Settings(database_url=url))
    try:
        await migrate.upgrade(ctx.db)
        service = TaskService(ctx)
        ids = []
        for seconds in durations:
            name = "slow" if len(durations) == 1 else f"work-{int(seconds * 1000)}ms"
            ids.append((await service.create(slow_task(name, record, seconds), actor=CLI)).id)
        for i in range(runs):
            await RunService(ctx).run_now(ids[i % len(ids)], actor=CLI)
        return ids
    finally:
        await ctx.close()


async def all_runs(url: str, task_id: int | None = None) -> list[dict[str, object]]:
    """Every run (of one task, or of all), newest first, as documents."""
    ctx = Context.open(Settings(database_url=url))
    try:
        found: list[dict[str, object]] = []
        while True:
            query = RunQuery(task_id=task_id, limit=500, offset=len(found))
            items, *_ = await RunService(ctx).list(query)
            found += [r.model_dump() for r in items]
            if len(items) < 500:
                return found
    finally:
        await ctx.close()
