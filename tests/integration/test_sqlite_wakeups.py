"""Split processes on one SQLite file wake each other: `tasksched api`, `scheduler` and `worker`
as real processes, their events carried by the socket relay (``events/local.py``).

No timing is asserted. The worker's and the scheduler's safety polls are set to a minute, so a
process that nothing woke looks at the database again only a minute after its previous look, and
none looked before it was launched: whatever they do before ``launch + POLL`` they were woken to
do. A run queued through the API must then finish before that instant, and so must the run of a
task created through the API (the scheduler must learn of it) with its slot two seconds later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tasksched.events.local import events_dir
from tests.helpers.processes import Proc, free_port, tasksched, wait_for

pytestmark = pytest.mark.slow

KEY = "ts_sqlite_wakeups_admin_0123456789"
POLL = 60.0
ROUNDS = 5


@contextmanager
def split_on_sqlite(tmp_path: Path) -> Iterator[tuple[httpx.Client, list[Proc], float]]:
    """An API, a scheduler and a worker on one file; the client, the processes, and the instant
    (monotonic) before which neither the scheduler nor the worker can have polled."""
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'tasks.db'}",
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_WORKER_POLL_SECONDS": str(POLL),
        "TASKSCHED_SCHEDULER_POLL_SECONDS": str(POLL),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        api_env = {**env, "TASKSCHED_PORT": str(port), "TASKSCHED_BOOTSTRAP_KEY": KEY}
        api = stack.enter_context(tasksched(["api"], api_env, tmp_path / "api.log"))
        api.wait_ready(base)  # it created the schema: the others start on a current one
        launched = time.monotonic()
        scheduler = stack.enter_context(tasksched(["scheduler"], env, tmp_path / "scheduler.log"))
        worker = stack.enter_context(tasksched(["worker"], env, tmp_path / "worker.log"))
        for proc, line in ((scheduler, "scheduler started"), (worker, "worker started")):
            wait_for(lambda p=proc, s=line: s in p.log(), 30, message=line)
        client = stack.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        )
        yield client, [api, scheduler, worker], launched + POLL


def _succeeded_before(client: httpx.Client, task_id: int, deadline: float) -> None:
    """The task's latest run succeeded before ``deadline``."""

    def done() -> bool:
        items = client.get("/api/runs", params={"task_id": task_id, "limit": 1}).json()["items"]
        return bool(items) and items[0]["status"] == "succeeded"

    left = deadline - time.monotonic()
    assert left > 5, "the processes took most of a poll interval to start: nothing can be told apart"
    # Not a speed check: past this instant a poll could have done it, so only a wake-up counts.
    wait_for(done, left - 1, interval=0.05, message=f"the run of task {task_id} succeeded before any poll")


def test_api_scheduler_and_worker_on_one_sqlite_file_wake_each_other(tmp_path: Path) -> None:
    with split_on_sqlite(tmp_path) as (client, procs, before_any_poll):
        # Each process has its socket beside the database.
        assert len(list(events_dir(tmp_path / "tasks.db").glob("*.sock"))) == 3
        task = client.post(
            "/api/tasks", json={"name": "now", "action": {"type": "python", "function": "tests.noop"}}
        )
        assert task.status_code == 201, task.text
        for _ in range(ROUNDS):  # the worker idles again between runs, each time for a whole poll
            run = client.post(f"/api/tasks/{task.json()['id']}/run")
            assert run.status_code == 202, run.text
            _succeeded_before(client, task.json()["id"], before_any_poll)
            assert client.get(f"/api/runs/{run.json()['id']}").json()["status"] == "succeeded"

        # The scheduler idles in its poll: a task due in two seconds must wake it (and then the worker).
        at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        soon = client.post(
            "/api/tasks",
            json={
                "name": "soon",
                "action": {"type": "python", "function": "tests.noop"},
                "schedule": {"type": "once", "at": at.isoformat()},
            },
        )
        assert soon.status_code == 201, soon.text
        _succeeded_before(client, soon.json()["id"], before_any_poll)

        for proc in procs:
            assert proc.terminate() == 0, proc.log()[-3000:]
    for proc in procs:
        log = proc.log()
        assert "Traceback" not in log, log[-3000:]
        assert '"via": "sockets"' in log or "via=sockets" in log, log[-3000:]
    assert list(events_dir(tmp_path / "tasks.db").glob("*.sock")) == []  # each removed its own
