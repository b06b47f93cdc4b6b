"""kill -9 a worker in the middle of runs: its runs come back when the lease expires; none is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import tests.helpers.tasks  # noqa: F401  (registers the functions the API checks)
from tasksched.config import Settings
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.services.context import Context
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskService
from tasksched.store import migrate
from tests.helpers.processes import tasksched, wait_for

pytestmark = pytest.mark.slow

RUNS = 12


async def _setup(url: str, record: Path) -> int:
    ctx = Context.open(Settings(database_url=url))
    try:
        await migrate.upgrade(ctx.db)
        task = await TaskService(ctx).create(
            TaskSpec.model_validate(
                {
                    "name": "slow",
                    "action": {"type": "python", "function": "tests.slow_record", "args": [str(record), 1.5]},
                    "concurrency_policy": "allow",
                    "retry": {"max_attempts": 3, "backoff_seconds": 0, "jitter": 0},
                }
            ),
            actor=CLI,
        )
        for _ in range(RUNS):
            await RunService(ctx).run_now(task.id, actor=CLI)
        return task.id
    finally:
        await ctx.close()


async def _runs(url: str, task_id: int) -> list[dict[str, object]]:
    ctx = Context.open(Settings(database_url=url))
    try:
        items, *_ = await RunService(ctx).list(RunQuery(task_id=task_id, limit=500))
        return [r.model_dump() for r in items]
    finally:
        await ctx.close()


def test_killed_worker_loses_nothing(database_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    task_id = asyncio.run(_setup(database_url, record))
    env = {
        "TASKSCHED_DATABASE_URL": database_url,
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_LEASE_SECONDS": "2",
        "TASKSCHED_WORKER_CONCURRENCY": "6",
    }
    with tasksched(["worker", "--worker-name", "victim"], env, tmp_path / "victim.log") as victim:
        wait_for(
            lambda: record.exists() and record.read_text().count("start") >= 6, 20, message="runs started"
        )
        victim.kill9()
    started_by_victim = record.read_text().count("start")
    assert record.read_text().count("end") == 0  # killed in the middle of every run it held

    with tasksched(["worker", "--worker-name", "rescuer"], env, tmp_path / "rescuer.log") as rescuer:

        def all_done() -> bool:
            runs = asyncio.run(_runs(database_url, task_id))
            return all(r["status"] not in ("queued", "running") for r in runs)

        wait_for(all_done, 60, interval=0.5, message="every run finished")
        assert rescuer.terminate() == 0

    runs = asyncio.run(_runs(database_url, task_id))
    assert not [r for r in runs if r["status"] in (RunStatus.QUEUED, RunStatus.RUNNING)]
    lost = [r for r in runs if r["worker"] == "victim"]
    assert len(lost) == started_by_victim
    assert all(r["status"] == "failed" and "victim" in str(r["error"]) for r in lost)
    # Every manual run (a distinct slot) ended in success, on its first or its retried attempt.
    succeeded_slots = {r["scheduled_for"] for r in runs if r["status"] == "succeeded"}
    assert len(succeeded_slots) == RUNS
    assert record.read_text().count("end") == RUNS
