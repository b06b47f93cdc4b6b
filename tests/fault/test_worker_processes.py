"""``tasksched worker --processes 2``: one parent forks two workers and supervises them.

Real processes on a SQLite file and on PostgreSQL: both children take runs (two worker names on the
runs), each run is recorded once, SIGTERM to the parent drains the children, and a child killed with
SIGKILL is started again while the runs it held come back after their lease, as with a lone worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from pathlib import Path

import pytest

import tests.helpers.tasks  # noqa: F401  (registers the functions the API checks)
from tests.fault.slow_runs import all_runs, queue_slow_runs
from tests.helpers.processes import tasksched, wait_for
from tests.helpers.procfs import alive, children_of

pytestmark = pytest.mark.slow


def _env(url: str, **extra: str) -> dict[str, str]:
    return {
        "TASKSCHED_DATABASE_URL": url,
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_WORKER_CONCURRENCY": "2",
        **extra,
    }


def _lines(record: Path, kind: str) -> list[str]:
    if not record.exists():
        return []
    return [line.split()[1] for line in record.read_text().splitlines() if line.startswith(kind)]


def test_burst_drains_the_queue_with_both_children(database_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    (task_id,) = asyncio.run(queue_slow_runs(database_url, record, runs=24, durations=[0.3]))
    # Two runs at a time per child: one child alone would need 3.6 s, the other starts well before.
    with tasksched(["worker", "--processes", "2", "--burst"], _env(database_url), tmp_path / "w.log") as proc:
        proc.popen.wait(120)
        assert proc.terminate() == 0, proc.log()  # already ended: this closes its log
    figures = json.loads(proc.log().strip().splitlines()[-1])
    assert figures == {"claimed": 24, "finished": 24, "by_status": {"succeeded": 24}}

    runs = asyncio.run(all_runs(database_url, task_id))
    assert len(runs) == 24
    assert all(r["status"] == "succeeded" and r["attempt"] == 1 for r in runs)
    workers = {r["worker"] for r in runs}
    assert len(workers) == 2, workers
    host = socket.gethostname()
    assert all(str(w).startswith(f"{host}:") and str(w) != f"{host}:{proc.popen.pid}" for w in workers)
    # Every run executed exactly once.
    assert (
        sorted(_lines(record, "start")) == sorted(_lines(record, "end")) == sorted({*_lines(record, "end")})
    )
    assert len(_lines(record, "end")) == 24


def test_sigterm_to_the_parent_drains_the_children(database_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    (task_id,) = asyncio.run(queue_slow_runs(database_url, record, runs=8, durations=[1.5]))
    env = _env(database_url, TASKSCHED_WORKER_NAME="pool")
    with tasksched(["worker", "--processes", "2"], env, tmp_path / "w.log") as proc:
        wait_for(lambda: len(_lines(record, "start")) >= 4, 30, message="both children running runs")
        children = children_of(proc.popen.pid)
        assert len(children) == 2
        started = set(_lines(record, "start"))
        assert proc.terminate(60) == 0, proc.log()
    assert not any(alive(pid) for pid in children)
    # The runs in hand when SIGTERM came were finished, not cut off; nothing new was claimed.
    assert started <= set(_lines(record, "end"))
    runs = asyncio.run(all_runs(database_url, task_id))
    assert not [r for r in runs if r["status"] == "running"]
    assert {r["worker"] for r in runs if r["status"] == "succeeded"} == {"pool-1", "pool-2"}
    assert proc.log().count('"worker stopped"') == 2
    assert "died" not in proc.log()


def test_a_killed_child_is_restarted_and_its_runs_come_back(database_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    (task_id,) = asyncio.run(queue_slow_runs(database_url, record, runs=12, durations=[1.5]))
    env = _env(database_url, TASKSCHED_LEASE_SECONDS="2", TASKSCHED_WORKER_CONCURRENCY="3")
    with tasksched(["worker", "--processes", "2"], env, tmp_path / "w.log") as proc:
        wait_for(lambda: len(_lines(record, "start")) >= 6, 30, message="both children running runs")
        first = children_of(proc.popen.pid)
        assert len(first) == 2
        victim = first[0]
        held = len(_lines(record, "start")) - len(_lines(record, "end"))
        assert held >= 1
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: len(children_of(proc.popen.pid)) == 2 and victim not in children_of(proc.popen.pid),
            30,
            message="the killed child replaced",
        )

        def all_done() -> bool:
            return all(
                r["status"] not in ("queued", "running") for r in asyncio.run(all_runs(database_url, task_id))
            )

        wait_for(all_done, 90, interval=0.5, message="every run finished")
        assert proc.terminate(60) == 0, proc.log()
    log = proc.log()
    assert '"worker process died; restarting it"' in log
    assert "SIGKILL" in log

    runs = asyncio.run(all_runs(database_url, task_id))
    victim_name = f"{socket.gethostname()}:{victim}"
    lost = [r for r in runs if r["worker"] == victim_name and r["status"] != "succeeded"]
    assert lost, "the killed child held runs"
    assert all(r["status"] == "failed" and victim_name in str(r["error"]) for r in lost)
    # Every manual run (a distinct slot) ended in success, on its first or its retried attempt.
    assert len({r["scheduled_for"] for r in runs if r["status"] == "succeeded"}) == 12
    # The replacement is a worker of its own: registered under its own name, then stopped with the rest.
    assert log.count('"worker started"') == 3
    assert log.count('"worker stopped"') == 2


def test_a_process_count_below_one_is_refused_by_name(sqlite_url: str, tmp_path: Path) -> None:
    with tasksched(["worker", "--processes", "0"], _env(sqlite_url), tmp_path / "w.log") as proc:
        proc.popen.wait(60)
        assert proc.terminate() == 1
    (line,) = proc.log().strip().splitlines()
    assert line.startswith("Error: invalid worker_processes (--worker-processes, TASKSCHED_WORKER_PROCESSES)")
