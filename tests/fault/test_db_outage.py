"""PostgreSQL stopped under load, then started again, under a real `tasksched serve` (API,
scheduler and worker in one process).

Clients keep creating tasks and running them now. Counted: no 500 (a 503 with Retry-After while
the database is away), no connection dropped without an HTTP response, no 2xx-acknowledged write
missing afterwards, writes succeeding again within 10 s of the database's return, every queued run
done in the end; the process (its API, scheduler and worker loops) logs the outage once when it
starts and once when it ends, with no traceback.

The cluster is the test's own (tests/helpers/pgcluster.py), never the shared server.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.helpers.pgcluster import own_cluster
from tests.helpers.processes import free_port, tasksched, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "ts_fault_outage_admin_0123456789"
CLIENTS = 6
DOWN_SECONDS = 4.0
BACK_WITHIN_SECONDS = 10.0


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # names of tasks acknowledged with a 201
    queued: list[int] = field(default_factory=list)  # ids of runs acknowledged with a 202
    bad_503: list[str] = field(default_factory=list)  # a 503 that is not the promised problem
    write_ok_at: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _load(base: str, worker: int, stop: threading.Event, tally: Tally) -> None:
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            name = f"load-{worker}-{n}"
            body = {"name": name, "action": {"type": "python", "function": "tests.noop"}}
            for method, url in (("POST", "/api/tasks"), ("GET", "/api/tasks?limit=5")):
                try:
                    response = client.request(method, url, json=body if method == "POST" else None)
                except httpx.TransportError as exc:
                    with tally.lock:
                        tally.dropped.append(f"{method} {url}: {type(exc).__name__}: {exc}")
                    continue
                _record(tally, response, name if method == "POST" else None)
                if method == "POST" and response.status_code == 201:
                    try:
                        run = client.post(f"/api/tasks/{response.json()['id']}/run")
                    except httpx.TransportError as exc:
                        with tally.lock:
                            tally.dropped.append(f"POST run: {type(exc).__name__}: {exc}")
                        continue
                    _record(tally, run, None)
    finally:
        client.close()


def _record(tally: Tally, response: httpx.Response, created: str | None) -> None:
    with tally.lock:
        tally.statuses[response.status_code] += 1
        if response.status_code == 503:
            ok = (
                response.headers.get("content-type", "").startswith("application/problem+json")
                and "database is unreachable" in response.json().get("detail", "")
                and int(response.headers.get("Retry-After", "0")) > 0
            )
            if not ok:
                tally.bad_503.append(f"{response.headers} {response.text}")
        if response.status_code == 201 and created is not None:
            tally.created.append(created)
            tally.write_ok_at.append(time.monotonic())
        if response.status_code == 202:
            tally.queued.append(int(response.json()["id"]))
            tally.write_ok_at.append(time.monotonic())


def _log_events(text: str) -> list[str]:
    events = []
    for line in text.splitlines():
        try:
            events.append(str(json.loads(line).get("event", "")))
        except ValueError:
            events.append(line)
    return events


# fast: a clean shutdown that ends every session; immediate: the server's processes stop dead, as in
# a crash, and it recovers from its WAL when started.
@pytest.mark.parametrize("stop_mode", ["fast", "immediate"])
def test_database_restart_under_load(tmp_path: Path, stop_mode: str) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with own_cluster() as cluster:
        env = {
            "TASKSCHED_DATABASE_URL": cluster.url,
            "TASKSCHED_BOOTSTRAP_KEY": KEY,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        }
        with tasksched(["serve"], env, tmp_path / "serve.log") as proc:
            proc.wait_ready(base)
            tally = Tally()
            stop = threading.Event()
            clients = [
                threading.Thread(target=_load, args=(base, i, stop, tally), daemon=True)
                for i in range(CLIENTS)
            ]
            for thread in clients:
                thread.start()
            time.sleep(2.0)
            before = len(tally.created)
            cluster.stop(stop_mode)
            stopped_at = time.monotonic()
            time.sleep(DOWN_SECONDS)
            during = tally.statuses[503]
            ready = httpx.get(f"{base}/readyz", timeout=10)
            cluster.start()
            back_at = time.monotonic()
            deadline = back_at + BACK_WITHIN_SECONDS
            while time.monotonic() < deadline and not any(t > back_at for t in tally.write_ok_at):
                time.sleep(0.1)
            time.sleep(1.0)  # a little more load on the recovered server
            stop.set()
            for thread in clients:
                thread.join(60)

            summary = f"statuses {dict(tally.statuses)}, {len(tally.dropped)} dropped"
            assert not tally.dropped, f"{summary}: {tally.dropped[:5]}"
            assert not [s for s in tally.statuses if s >= 500 and s != 503], summary
            assert before > 0, f"no write succeeded before the outage; {summary}"
            assert during > 0, f"the outage was not seen by any request; {summary}"
            assert ready.status_code == 503
            assert not tally.bad_503, tally.bad_503[:3]
            first_after = min((t for t in tally.write_ok_at if t > back_at), default=None)
            assert first_after is not None, f"no write succeeded within {BACK_WITHIN_SECONDS} s of the return"
            assert first_after - back_at < BACK_WITHIN_SECONDS
            assert stopped_at < back_at

            # Every acknowledged write is there.
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
            names: set[str] = set()
            offset = 0
            while True:
                page = client.get("/api/tasks", params={"limit": 500, "offset": offset}).json()
                names.update(t["name"] for t in page["items"])
                offset += len(page["items"])
                if not page["items"]:
                    break
            missing = [n for n in tally.created if n not in names]
            assert not missing, f"{len(missing)} acknowledged tasks are missing: {missing[:5]}"
            lost_runs = [r for r in tally.queued if client.get(f"/api/runs/{r}").status_code != 200]
            assert not lost_runs, f"acknowledged runs missing: {lost_runs[:5]}"

            def all_done() -> bool:  # the worker and its database recovered too
                stats = client.get("/api/runs", params={"status": "queued", "limit": 1}).json()
                running = client.get("/api/runs", params={"status": "running", "limit": 1}).json()
                return bool(stats["total"] == 0 and running["total"] == 0)

            wait_for(all_done, 30, interval=0.5, message="every queued run done")
            client.close()
            assert proc.terminate() == 0
        log = proc.log()
    events = _log_events(log)
    assert events.count("database unreachable; what needs it fails until it is back") == 1, log[-3000:]
    assert events.count("database reachable again") == 1, log[-3000:]
    assert "Traceback" not in log, log[-5000:]
    assert not [e for e in events if "failed" in e or e == "unhandled error"], log[-3000:]
