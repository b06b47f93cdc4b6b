"""Two API instances behind the real nginx (deploy/nginx.conf), a scheduler and a worker, on one
PostgreSQL database; then one API instance is killed with SIGKILL.

Everything the client does goes through nginx: tasks are created, run and watched there, and two
event streams are held there (nginx puts them on different instances). A change made through
either instance reaches both streams (the PostgreSQL relay carries it between processes). After
the kill, at most the requests in flight fail, every later one succeeds on the survivor, and the
stream that was on the dead instance reconnects (sending Last-Event-ID, as EventSource does) and
is told to ``resync`` first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY
from tests.helpers import nginx
from tests.helpers.processes import Proc, free_port, tasksched, wait_for
from tests.helpers.sse import SseClient

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
LOADERS = 4  # client threads sending requests while an instance is killed


class Cluster:
    def __init__(self, proxy: nginx.Nginx, apis: list[Proc], ports: list[int]) -> None:
        self.proxy = proxy
        self.url = proxy.url
        self.apis = apis
        self.ports = ports
        self.http = httpx.Client(base_url=proxy.url, headers=AUTH, timeout=10)

    def create_task(self, name: str) -> dict[str, Any]:
        body = {"name": name, "action": {"type": "python", "function": "tests.noop"}}
        response = self.http.post("/api/tasks", json=body)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    def run_to_the_end(self, task_id: int) -> dict[str, Any]:
        response = self.http.post(f"/api/tasks/{task_id}/run")
        assert response.status_code in (200, 201, 202), response.text
        run_id = response.json()["id"]
        final: dict[str, Any] = {}

        def finished() -> bool:
            items = self.http.get("/api/runs", params={"task_id": task_id}).json()["items"]
            final.update(next(r for r in items if r["id"] == run_id))
            return final["status"] in ("succeeded", "failed", "cancelled", "timed_out")

        wait_for(finished, timeout=20, interval=0.2, message=f"run {run_id} finishing")
        return final


@pytest.fixture
def cluster(pg_url: str, tmp_path: Path) -> Iterator[Cluster]:
    env = {
        "TASKSCHED_DATABASE_URL": pg_url,
        "TASKSCHED_BOOTSTRAP_KEY": ADMIN_KEY,
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_TRUSTED_PROXIES": "127.0.0.1",
    }
    with ExitStack() as stack:
        apis = []
        for name in ("api-1", "api-2"):  # started together; one migrates while the other waits
            port = free_port()
            proc = stack.enter_context(
                tasksched(["api"], {**env, "TASKSCHED_PORT": str(port)}, tmp_path / f"{name}.log")
            )
            apis.append((proc, port))
        for proc, port in apis:
            proc.wait_ready(f"http://127.0.0.1:{port}")
        stack.enter_context(tasksched(["scheduler"], env, tmp_path / "scheduler.log"))
        stack.enter_context(tasksched(["worker"], env, tmp_path / "worker.log"))
        proxy = stack.enter_context(
            nginx.running([f"127.0.0.1:{port}" for _, port in apis], free_port(), tmp_path / "nginx")
        )
        cluster = Cluster(proxy, [proc for proc, _ in apis], [port for _, port in apis])
        stack.callback(cluster.http.close)
        yield cluster


def _load(url: str, stop: threading.Event, outcomes: list[int | str]) -> None:
    with httpx.Client(base_url=url, headers=AUTH, timeout=10) as client:
        while not stop.is_set():
            try:
                outcomes.append(client.get("/api/tasks").status_code)
            except httpx.HTTPError as exc:
                outcomes.append(type(exc).__name__)


def test_two_instances_behind_nginx_survive_a_kill(cluster: Cluster) -> None:
    streams = [SseClient(cluster.url + "/api/events", AUTH) for _ in range(2)]
    try:
        for stream in streams:  # consecutive requests: nginx puts them on different instances
            stream.connect()

        # Changes through either instance (POSTs alternate between them) reach both streams.
        tasks = [cluster.create_task(f"through-nginx-{i}") for i in range(4)]
        for stream in streams:
            stream.wait_for_all("task.created", "task_id", [task["id"] for task in tasks])
        created_on = cluster.proxy.answered_by("POST", "/api/tasks")
        assert sorted(set(created_on)) == sorted(f"127.0.0.1:{p}" for p in cluster.ports), created_on

        # Runs: fired through nginx, executed by the worker, watched through nginx and on both streams.
        run = cluster.run_to_the_end(tasks[0]["id"])
        assert run["status"] == "succeeded", run
        for stream in streams:
            stream.wait_for("run.updated", {"run_id": run["id"], "status": "succeeded"})

        # Kill one instance while clients keep sending requests.
        stop = threading.Event()
        outcomes: list[int | str] = []
        loaders = [threading.Thread(target=_load, args=(cluster.url, stop, outcomes)) for _ in range(LOADERS)]
        for loader in loaders:
            loader.start()
        time.sleep(1.0)
        before_kill = len(outcomes)
        cluster.apis[0].kill9()
        time.sleep(2.0)
        stop.set()
        for loader in loaders:
            loader.join(15)
        assert before_kill > 0
        assert all(o == 200 for o in outcomes[:before_kill])
        failed = [o for o in outcomes[before_kill:] if o != 200]
        assert len(failed) <= LOADERS, f"more than the in-flight requests failed: {failed}"
        assert len(outcomes) - before_kill > 20  # requests went on being served meanwhile

        # Every request from now on succeeds, on the survivor.
        for _ in range(20):
            assert cluster.http.get("/api/tasks").status_code == 200
            assert cluster.http.get("/readyz").status_code == 200
        after = cluster.create_task("after-the-kill")
        assert cluster.run_to_the_end(after["id"])["status"] == "succeeded"

        # Exactly one stream was on the killed instance: it ended, the other goes on.
        wait_for(lambda: any(s.closed.is_set() for s in streams), timeout=10, message="a stream ending")
        dropped = [s for s in streams if s.closed.is_set()]
        kept = [s for s in streams if not s.closed.is_set()]
        assert (len(dropped), len(kept)) == (1, 1), "the two streams were not on different instances"
        kept[0].wait_for("task.created", {"task_id": after["id"]})

        # The dropped one reconnects through nginx (to the survivor) and is told to re-read first.
        stream = dropped[0]
        assert stream.last_id is not None
        stream.events = type(stream.events)()  # what it had queued before the drop is not the question
        stream.reconnect()
        assert stream.first_event() == ("resync", {})
        last = cluster.create_task("seen-after-reconnect")
        for s in streams:
            s.wait_for("task.created", {"task_id": last["id"]})
    finally:
        for stream in streams:
            stream.close()
    for proc in cluster.apis[1:]:
        assert "Traceback" not in proc.log()
