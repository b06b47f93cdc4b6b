"""Steady API load for fault tests: clients creating tasks, listing them and running them now,
with every answer counted, and checks afterwards that each acknowledged write is there."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from tests.helpers.processes import Proc, wait_for


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: list[str] = field(default_factory=list)  # a connection ended without an HTTP answer
    bad_503: list[str] = field(default_factory=list)  # a 503 that is not the promised problem
    created: list[str] = field(default_factory=list)  # tasks acknowledged with a 201
    queued: list[int] = field(default_factory=list)  # runs acknowledged with a 202
    write_ok_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def server_errors(self) -> list[int]:
        return [s for s in self.statuses if s >= 500 and s != 503]


class Load:
    def __init__(self, base: str, key: str, clients: int = 4) -> None:
        self.base = base
        self.key = key
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _run(self, worker: int) -> None:
        with self.client() as client:
            n = 0
            while not self._stop.is_set():
                n += 1
                name = f"load-{worker}-{n}"
                body = {"name": name, "action": {"type": "python", "function": "tests.noop"}}
                created = self._call(client, "POST", "/api/tasks", body, name)
                self._call(client, "GET", "/api/tasks?limit=5", None, None)
                if created is not None and created.status_code == 201:
                    self._call(client, "POST", f"/api/tasks/{created.json()['id']}/run", None, None)
                time.sleep(0.02)

    def _call(
        self, client: httpx.Client, method: str, url: str, body: object, name: str | None
    ) -> httpx.Response | None:
        try:
            response = client.request(method, url, json=body)
        except httpx.TransportError as exc:
            with self.tally.lock:
                self.tally.dropped.append(f"{method} {url}: {type(exc).__name__}: {exc}")
            return None
        with self.tally.lock:
            self.tally.statuses[response.status_code] += 1
            if response.status_code == 503 and not (
                response.headers.get("content-type", "").startswith("application/problem+json")
                and int(response.headers.get("Retry-After", "0")) > 0
            ):
                self.tally.bad_503.append(response.text[:300])
            if response.status_code == 201 and name is not None:
                self.tally.created.append(name)
                self.tally.write_ok_at.append(time.monotonic())
            if response.status_code == 202:
                self.tally.queued.append(int(response.json()["id"]))
                self.tally.write_ok_at.append(time.monotonic())
        return response

    def assert_nothing_lost(self) -> None:
        """Every acknowledged task and run is there, and every run ends (the worker recovered)."""
        with self.client() as client:
            names: set[str] = set()
            offset = 0
            while page := client.get("/api/tasks", params={"limit": 500, "offset": offset}).json()["items"]:
                names.update(t["name"] for t in page)
                offset += len(page)
            missing = [n for n in self.tally.created if n not in names]
            assert not missing, f"{len(missing)} acknowledged tasks are missing: {missing[:5]}"
            lost = [r for r in self.tally.queued if client.get(f"/api/runs/{r}").status_code != 200]
            assert not lost, f"acknowledged runs missing: {lost[:5]}"

            def all_done() -> bool:
                left = [client.get("/api/runs", params={"status": s, "limit": 1}).json()["total"]
                        for s in ("queued", "running")]  # fmt: skip
                return bool(sum(left) == 0)

            wait_for(all_done, 60, interval=0.5, message="every queued run done")


def wake_up_delays(client: httpx.Client, task_id: int, rounds: int, pause: float) -> list[float]:
    """Seconds from queued to started for ``rounds`` runs of an idle worker, one after another."""
    delays = []
    for _ in range(rounds):
        time.sleep(pause)
        response = client.post(f"/api/tasks/{task_id}/run")
        assert response.status_code == 202, response.text
        run_id = int(response.json()["id"])

        def done(run_id: int = run_id) -> bool:
            return bool(client.get(f"/api/runs/{run_id}").json()["status"] == "succeeded")

        wait_for(done, 20, interval=0.05, message=f"run {run_id} succeeded")
        run = client.get(f"/api/runs/{run_id}").json()
        started = datetime.fromisoformat(run["started_at"]) - datetime.fromisoformat(run["queued_at"])
        delays.append(started.total_seconds())
    return delays


def wake_ups_after_recovery(load: Load, rounds: int = 4) -> list[float]:
    """A fresh task's runs, one after another on idle workers: seconds from queued to started."""
    with load.client() as client:
        task = client.post(
            "/api/tasks", json={"name": "probe", "action": {"type": "python", "function": "tests.noop"}}
        )
        assert task.status_code == 201, task.text
        return wake_up_delays(client, int(task.json()["id"]), rounds=rounds, pause=1.0)


def assert_clean_exit(procs: list[Proc]) -> None:
    """Every process stops on SIGTERM with status 0, and none logged a traceback or an unhandled error."""
    for proc in procs:
        assert proc.terminate() == 0, proc.log()[-3000:]
    for proc in procs:
        log = proc.log()
        assert "Traceback" not in log, log[-5000:]
        assert "unhandled error" not in log, log[-3000:]
