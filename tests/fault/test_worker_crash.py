"""kill -9 a worker in the middle of runs: its runs come back when the lease expires; none is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import tests.helpers.tasks  # noqa: F401  (registers the functions the API checks)
from tasksched.domain.runs import RunStatus
from tests.fault.slow_runs import all_runs, queue_slow_runs
from tests.helpers.processes import tasksched, wait_for

pytestmark = pytest.mark.slow

RUNS = 12


def test_killed_worker_loses_nothing(database_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    (task_id,) = asyncio.run(queue_slow_runs(database_url, record, runs=RUNS, durations=[1.5]))
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
            runs = asyncio.run(all_runs(database_url, task_id))
            return all(r["status"] not in ("queued", "running") for r in runs)

        wait_for(all_done, 60, interval=0.5, message="every run finished")
        assert rescuer.terminate() == 0

    runs = asyncio.run(all_runs(database_url, task_id))
    assert not [r for r in runs if r["status"] in (RunStatus.QUEUED, RunStatus.RUNNING)]
    lost = [r for r in runs if r["worker"] == "victim"]
    assert len(lost) == started_by_victim
    assert all(r["status"] == "failed" and "victim" in str(r["error"]) for r in lost)
    # Every manual run (a distinct slot) ended in success, on its first or its retried attempt.
    succeeded_slots = {r["scheduled_for"] for r in runs if r["status"] == "succeeded"}
    assert len(succeeded_slots) == RUNS
    assert record.read_text().count("end") == RUNS
