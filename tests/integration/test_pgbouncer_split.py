"""A split deployment through a real PgBouncer in transaction-pooling mode: two API, a scheduler and
a worker process whose every database connection goes through it, with events carried between
them by a direct LISTEN connection (``TASKSCHED_LISTEN_URL``) or by Redis.

An SSE client of one API instance sees a task created through the other. Wake-ups must cross
processes: a run queued through the API starts on the worker well within its
idle poll (2 s), and a task created through the API fires on the scheduler at its slot, not at its
next safety poll (5 s). Several runs in a row, each started after a random pause, rule out luck.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_pg_database
from tests.helpers.pgbouncer import own_pgbouncer
from tests.helpers.processes import Proc, free_port, tasksched, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "ts_pgbouncer_split_admin_0123456789"
ROUNDS = 6
WORKER_IDLE_POLL = 2.0
STARTED_WITHIN = 0.8  # 40 % of the idle poll: six in a row by chance is one in 250


@contextmanager
def split_cluster(
    tmp_path: Path, env: dict[str, str], apis: int = 1
) -> Iterator[tuple[list[str], list[Proc]]]:
    """API processes (their base URLs first in the list), a scheduler and a worker."""
    common = {"TASKSCHED_IMPORTS": "tests.helpers.tasks", **env}
    with ExitStack() as stack:
        bases, procs = [], []
        for i in range(apis):
            port = free_port()
            api_env = {**common, "TASKSCHED_PORT": str(port), "TASKSCHED_BOOTSTRAP_KEY": KEY}
            api = stack.enter_context(tasksched(["api"], api_env, tmp_path / f"api{i}.log"))
            bases.append(f"http://127.0.0.1:{port}")
            api.wait_ready(bases[-1])  # the first migrated the schema: the others start on a current one
            procs.append(api)
        scheduler = stack.enter_context(tasksched(["scheduler"], common, tmp_path / "scheduler.log"))
        worker = stack.enter_context(tasksched(["worker"], common, tmp_path / "worker.log"))
        procs += [scheduler, worker]
        wait_for(lambda: '"worker started"' in worker.log() or "worker started" in worker.log(), 20,
                 message="the worker started")  # fmt: skip
        yield bases, procs


def _check_sse_across_apis(first: str, second: str) -> None:
    """A change made through one API instance reaches an SSE client of the other."""
    lines: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        headers = {"Authorization": f"Bearer {KEY}"}
        with (
            httpx.Client(base_url=second, headers=headers, timeout=httpx.Timeout(10, read=15)) as client,
            client.stream("GET", "/api/events") as stream,
        ):
            opened.set()
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:") and len(lines) > 1 and lines[-2] == "event: task.created":
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(10), "the event stream did not open"
    time.sleep(0.3)  # subscribed before the change
    with httpx.Client(base_url=first, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
        task = client.post(
            "/api/tasks", json={"name": "sse-probe", "action": {"type": "python", "function": "tests.noop"}}
        )
        assert task.status_code == 201, task.text
    thread.join(10)
    assert not thread.is_alive(), f"no task.created event on the other instance: {lines[-10:]}"
    assert json.loads(lines[-1].removeprefix("data:"))["task_id"] == task.json()["id"], lines[-10:]


def _started_after_queue(client: httpx.Client, run_id: int) -> float:
    def done() -> bool:
        return bool(client.get(f"/api/runs/{run_id}").json()["status"] == "succeeded")

    wait_for(done, 15, interval=0.05, message=f"run {run_id} succeeded")
    run = client.get(f"/api/runs/{run_id}").json()
    return (
        datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(run["queued_at"])
    ).total_seconds()


def _check_wake_ups(base: str) -> None:
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    try:
        task = client.post(
            "/api/tasks", json={"name": "now", "action": {"type": "python", "function": "tests.noop"}}
        )
        assert task.status_code == 201, task.text
        time.sleep(WORKER_IDLE_POLL + 0.5)  # the worker idles in its poll now
        delays = []
        for _ in range(ROUNDS):
            time.sleep(random.uniform(0.2, WORKER_IDLE_POLL))
            run = client.post(f"/api/tasks/{task.json()['id']}/run")
            assert run.status_code == 202, run.text
            delays.append(_started_after_queue(client, int(run.json()["id"])))
        assert max(delays) < STARTED_WITHIN, f"runs started {delays} s after being queued"

        # The scheduler idles in its safety poll (5 s); a task due in 2 s wakes it.
        at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
        body = {
            "name": "soon",
            "action": {"type": "python", "function": "tests.noop"},
            "schedule": {"type": "once", "at": at.isoformat()},
        }
        soon = client.post("/api/tasks", json=body)
        assert soon.status_code == 201, soon.text

        def fired() -> bool:
            page = client.get("/api/runs", params={"task_id": soon.json()["id"]}).json()
            return bool(page["items"]) and page["items"][0]["status"] == "succeeded"

        wait_for(fired, 15, interval=0.05, message="the scheduled task ran")
        run = client.get("/api/runs", params={"task_id": soon.json()["id"]}).json()["items"][0]
        late = (
            datetime.fromisoformat(run["queued_at"]) - datetime.fromisoformat(run["scheduled_for"])
        ).total_seconds()
        assert late < 1.0, f"fired {late} s after its slot"
    finally:
        client.close()


@pytest.mark.parametrize("relay", ["listen_url", pytest.param("redis", marks=pytest.mark.redis)])
def test_processes_through_pgbouncer_wake_each_other(
    tmp_path: Path, relay: str, request: pytest.FixtureRequest
) -> None:
    with fresh_pg_database() as direct, own_pgbouncer(direct) as bouncer:
        env = {"TASKSCHED_DATABASE_URL": bouncer.url, "TASKSCHED_DATABASE_POOLING": "transaction"}
        if relay == "listen_url":
            env["TASKSCHED_LISTEN_URL"] = direct
        else:
            env["TASKSCHED_REDIS_URL"] = request.getfixturevalue("redis_url")
            env["TASKSCHED_REDIS_PREFIX"] = request.getfixturevalue("redis_prefix")
        with split_cluster(tmp_path, env, apis=2) as (bases, procs):
            _check_sse_across_apis(bases[0], bases[1])
            _check_wake_ups(bases[1])
            for proc in procs:
                assert proc.terminate() == 0, proc.log()[-3000:]
        for proc in procs:
            log = proc.log()
            assert "Traceback" not in log, log[-3000:]
            assert "no event relay" not in log


def test_without_a_way_to_listen_a_process_warns_and_still_works(tmp_path: Path) -> None:
    with fresh_pg_database() as direct, own_pgbouncer(direct) as bouncer:
        env = {"TASKSCHED_DATABASE_URL": bouncer.url, "TASKSCHED_DATABASE_POOLING": "transaction"}
        with split_cluster(tmp_path, env) as (bases, procs):
            client = httpx.Client(base_url=bases[0], headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
            task = client.post(
                "/api/tasks", json={"name": "t", "action": {"type": "python", "function": "tests.noop"}}
            )
            run = client.post(f"/api/tasks/{task.json()['id']}/run").json()
            _started_after_queue(client, int(run["id"]))  # by the worker's poll
            client.close()
            for proc in procs:
                assert proc.terminate() == 0
        for proc in procs:
            assert "no event relay: LISTEN does not work through PgBouncer" in proc.log()
