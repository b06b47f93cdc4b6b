"""Wake-ups between split processes on one SQLite file: `tasksched api`, `scheduler` and `worker`.

    .venv/bin/python -m bench.wakeup [--runs 200] [--scheduled 20] [--pause 2.5] [--src PATH]

Real processes, as a user starts them, on a fresh file. Two figures:

- a run queued by ``POST /api/tasks/{id}/run`` on an idle worker: from just before the request to
  the run's recorded ``started_at``, ``--runs`` runs one after another, each after a random pause of
  up to ``--pause`` seconds (longer than the worker's 2 s idle poll, so that without wake-ups a
  request lands anywhere in it);
- a task created through the API with a ``once`` slot a second or two ahead: from the slot to the
  run's ``started_at`` (the scheduler must learn of the task before the slot), ``--scheduled`` tasks.

``--src`` runs another checkout's code (its ``src`` folder), e.g. the one before the socket relay,
to measure the polls alone. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TASKSCHED = Path(sys.executable).parent / "tasksched"
KEY = "ts_bench_wakeup_admin_0123456789abcdef"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _cluster(folder: Path, src: Path) -> Iterator[httpx.Client]:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), str(REPO)]),
        "TASKSCHED_DATABASE_URL": f"sqlite:///{folder / 'tasks.db'}",
        "TASKSCHED_IMPORTS": "bench.common",
        "TASKSCHED_LOG_LEVEL": "info",
        "TASKSCHED_LOG_FORMAT": "json",
        "TASKSCHED_RATE_LIMIT": "",
        "TASKSCHED_RATE_LIMIT_ANONYMOUS": "",
        "TASKSCHED_RATE_LIMIT_AUTH_FAILURES": "",
    }
    procs: list[subprocess.Popen[bytes]] = []
    with ExitStack() as stack:

        def start(name: str, extra: dict[str, str]) -> None:
            log = stack.enter_context((folder / f"{name}.log").open("wb"))
            procs.append(
                subprocess.Popen([str(TASKSCHED), name], env={**env, **extra}, stdout=log, stderr=log)
            )

        try:
            start("api", {"TASKSCHED_PORT": str(port), "TASKSCHED_BOOTSTRAP_KEY": KEY})
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or procs[0].poll() is not None:
                    raise RuntimeError((folder / "api.log").read_text())
                time.sleep(0.1)
            start("scheduler", {})
            start("worker", {})
            for name in ("scheduler", "worker"):  # started, and idle in their polls a moment later
                while f"{name} started" not in (folder / f"{name}.log").read_text(errors="replace"):
                    if time.monotonic() > deadline + 60:
                        raise RuntimeError((folder / f"{name}.log").read_text())
                    time.sleep(0.1)
            time.sleep(1)
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            ) as client:
                yield client
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)


def _finished(client: httpx.Client, run_id: int) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run: dict[str, str] = client.get(f"/api/runs/{run_id}").json()
        if run["status"] == "succeeded":
            return run
        time.sleep(0.01)
    raise TimeoutError(f"run {run_id} did not finish in 60 s")


def _latest_run(client: httpx.Client, task_id: int) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = client.get("/api/runs", params={"task_id": task_id, "limit": 1}).json()["items"]
        if items and items[0]["status"] == "succeeded":
            return dict(items[0])
        time.sleep(0.01)
    raise TimeoutError(f"task {task_id} did not run in 60 s")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(name: str, ms: list[float]) -> str:
    return (
        f"{name}: n={len(ms)} p50 {statistics.median(ms):.1f} ms, p99 {_pct(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--scheduled", type=int, default=20)
    parser.add_argument("--pause", type=float, default=2.5, help="longest random pause between requests (s)")
    parser.add_argument("--src", type=Path, default=REPO / "src", help="the checkout's src folder to run")
    args = parser.parse_args()
    rng = random.Random(7)
    with (
        tempfile.TemporaryDirectory(prefix="tasksched-wakeup-") as tmp,
        _cluster(Path(tmp), args.src) as client,
    ):
        task = client.post(
            "/api/tasks", json={"name": "now", "action": {"type": "python", "function": "bench.sync_noop"}}
        )
        task.raise_for_status()
        _finished(client, int(client.post(f"/api/tasks/{task.json()['id']}/run").json()["id"]))  # warm-up
        to_start: list[float] = []
        for _ in range(args.runs):
            time.sleep(rng.uniform(0, args.pause))
            sent = datetime.now(UTC)
            response = client.post(f"/api/tasks/{task.json()['id']}/run")
            response.raise_for_status()
            run = _finished(client, int(response.json()["id"]))
            to_start.append((datetime.fromisoformat(run["started_at"]) - sent).total_seconds() * 1000)
        late: list[float] = []
        for i in range(args.scheduled):
            time.sleep(rng.uniform(0, args.pause))
            at = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
            created = client.post(
                "/api/tasks",
                json={
                    "name": f"soon-{i}",
                    "action": {"type": "python", "function": "bench.sync_noop"},
                    "schedule": {"type": "once", "at": at.isoformat()},
                },
            )
            created.raise_for_status()
            run = _latest_run(client, int(created.json()["id"]))
            late.append((datetime.fromisoformat(run["started_at"]) - at).total_seconds() * 1000)
    print(f"code: {args.src}")
    print(_line("POST /run -> started_at", to_start))
    print(_line("once slot -> started_at", late))
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
