"""Two scheduler processes on one PostgreSQL database: every slot fires exactly once."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tasksched.config import Settings
from tasksched.domain.principals import CLI
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.runtime import start_relay
from tasksched.services.context import Context
from tasksched.services.runs import RunQuery, RunService
from tasksched.services.tasks import TaskService
from tasksched.store import migrate
from tests.helpers.processes import tasksched

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TASKS = 30


async def _create(url: str) -> list[int]:
    ctx = Context.open(Settings(database_url=url))
    stop_relay = await start_relay(ctx)  # as in an API process: changes are announced by NOTIFY
    try:
        await migrate.upgrade(ctx.db)
        service = TaskService(ctx)
        ids = []
        for i in range(TASKS):
            task = await service.create(
                TaskSpec.model_validate(
                    {
                        "name": f"tick-{i}",
                        "action": {"type": "http", "url": "https://example.invalid/"},
                        "schedule": {"type": "interval", "seconds": 1},
                        "concurrency_policy": "allow",
                    }
                ),
                actor=CLI,
            )
            ids.append(task.id)
        await asyncio.sleep(0.2)  # let the relay send its batch
        return ids
    finally:
        if stop_relay:
            stop_relay()
        await ctx.close()


async def _slots(url: str, task_ids: list[int]) -> dict[int, list[tuple[datetime, RunStatus]]]:
    ctx = Context.open(Settings(database_url=url))
    try:
        out = {}
        for task_id in task_ids:
            items, *_ = await RunService(ctx).list(RunQuery(task_id=task_id, limit=500))
            out[task_id] = sorted((r.scheduled_for, r.status) for r in items)
        return out
    finally:
        await ctx.close()


def test_two_schedulers_never_double_fire(pg_url: str, tmp_path: Path) -> None:
    env = {"TASKSCHED_DATABASE_URL": pg_url}
    with (
        tasksched(["scheduler"], env, tmp_path / "a.log") as a,
        tasksched(["scheduler"], env, tmp_path / "b.log") as b,
    ):
        time.sleep(1.5)  # both have started and migrated (one waited on the other's lock)
        task_ids = asyncio.run(_create(pg_url))
        time.sleep(5)
        assert a.terminate() == 0
        assert b.terminate() == 0
    slots = asyncio.run(_slots(pg_url, task_ids))
    for task_id, runs in slots.items():
        times = [t for t, _ in runs]
        assert len(times) == len(set(times)), f"task {task_id} fired a slot twice"
        assert len(times) >= 4, f"task {task_id} fired only {len(times)} slots in 5 s"
        gaps = {b - a for a, b in itertools.pairwise(times)}
        assert gaps == {timedelta(seconds=1)}, f"task {task_id} skipped or doubled a slot: {gaps}"
        assert {status for _, status in runs} == {"queued"}
    for proc in (a, b):
        assert "Traceback" not in proc.log()
    fired = [proc.log().count('"event": "fired"') for proc in (a, b)]
    assert sum(fired) > 0
