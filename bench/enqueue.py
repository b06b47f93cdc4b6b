"""Enqueue through the REST API, as a user does: one run per request, and in bulk.

    .venv/bin/python -m bench.enqueue [--backend sqlite|postgresql] [--command serve|api]
                                      [--seconds 10] [--batches 5] [--batch-size 5000] [--src PATH]

A real server in its own process (`tasksched serve` by default; `api` for the API alone) on a fresh
database, and one client (httpx, keep-alive, one request at a time):

- `POST /api/tasks/{id}/run` without a body, for ``--seconds``: requests/s;
- the same with an input and an `Idempotency-Key` (a new key each time);
- `POST /api/runs:batch` of ``--batch-size`` runs, ``--batches`` times: runs/s (each run durably
  stored when the response arrives).

``--src`` runs the server from another checkout's ``src`` (e.g. ``/work/main/src``) to measure
before a change; what that server lacks (inputs, the batch endpoint) is skipped. The load average
(`uptime`) is printed beside the figures: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import fresh_database
from tasksched.client import Client
from tests.helpers.processes import PYTHONPATH, free_port, tasksched

KEY = "ts_bench_admin_key_0123456789"
WARM_UP = 200  # requests before each measured round


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (what it costs whatever the machine's load)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def _one_by_one(
    client: Client, task_id: int, seconds: float, *, with_input: bool, pid: int
) -> tuple[int, float, float]:
    def once(i: int) -> None:
        if with_input:
            client.run_task(task_id, input={"kwargs": {"n": i}}, idempotency_key=f"k-{time.time_ns()}-{i}")
        else:
            client.run_task(task_id)

    for i in range(WARM_UP):
        once(i)
    done, started, cpu = 0, time.perf_counter(), _cpu_seconds(pid)
    while (elapsed := time.perf_counter() - started) < seconds:
        once(done)
        done += 1
    return done, elapsed, _cpu_seconds(pid) - cpu


def _bulk(client: Client, task_id: int, batches: int, size: int, pid: int) -> tuple[list[float], float]:
    rates, cpu = [], 0.0
    for b in range(batches + 1):  # the first batch warms up
        items = [{"task_id": task_id, "input": {"kwargs": {"n": i}}} for i in range(size)]
        started, cpu_before = time.perf_counter(), _cpu_seconds(pid)
        result = client.run_batch(items)
        elapsed = time.perf_counter() - started
        assert result["created"] == size, result
        if b:
            rates.append(size / elapsed)
            cpu += _cpu_seconds(pid) - cpu_before
    return rates, cpu


def measure(backend: str, command: str, seconds: float, batches: int, size: int, src: str | None) -> None:
    async def fresh() -> None:
        async with fresh_database(backend) as url:
            await asyncio.to_thread(_serve, url)

    def _serve(url: str) -> None:
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        env = {
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_LOG_LEVEL": "warning",
            "TASKSCHED_BOOTSTRAP_KEY": KEY,
            "TASKSCHED_IMPORTS": "bench.common",
            "PYTHONPATH": PYTHONPATH if src is None else os.pathsep.join([src, str(Path(src).parent)]),
        }
        with tasksched([command], env, folder / "server.log") as server:
            base = f"http://127.0.0.1:{port}"
            server.wait_ready(base, timeout=90)
            label = f"{backend}, tasksched {command}, server from {src or 'this checkout'}"
            print(f"{label}\n  {_uptime()}")
            with Client(base, KEY, timeout=120) as client:
                pid = server.popen.pid
                task = client.create_task(
                    {"name": "bench enqueue", "action": {"type": "python", "function": "bench.sync_noop"}}
                )
                n, elapsed, cpu = _one_by_one(client, task["id"], seconds, with_input=False, pid=pid)
                print(
                    f"  POST /api/tasks/{{id}}/run, no body: {n / elapsed:,.0f} requests/s ({n} in {elapsed:.1f} s), "
                    f"server CPU {cpu / n * 1000:.2f} ms/request"
                )
                spec = httpx.get(f"{base}/api/openapi.json").json()
                if "/api/runs:batch" not in spec["paths"]:
                    print("  (this server has no run input and no /api/runs:batch: skipped)")
                    return
                task = client.create_task(
                    {
                        "name": "bench enqueue input",
                        "action": {"type": "python", "function": "bench.sync_kwargs"},
                    }
                )
                n, elapsed, cpu = _one_by_one(client, task["id"], seconds, with_input=True, pid=pid)
                print(
                    f"  POST /api/tasks/{{id}}/run with an input and an Idempotency-Key: "
                    f"{n / elapsed:,.0f} requests/s ({n} in {elapsed:.1f} s), server CPU {cpu / n * 1000:.2f} ms/request"
                )
                rates, cpu = _bulk(client, task["id"], batches, size, pid)
                rates.sort()
                print(
                    f"  POST /api/runs:batch of {size:,} runs with an input, {batches} times: median "
                    f"{rates[len(rates) // 2]:,.0f} runs/s (min {rates[0]:,.0f}, max {rates[-1]:,.0f}), "
                    f"server CPU {cpu / (size * batches) * 1e6:.0f} µs/run"
                )
            print(f"  {_uptime()}")

    asyncio.run(fresh())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--command", choices=["serve", "api"], default=None, help="serve (SQLite) or api (PostgreSQL)"
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--src", default=None, help="run the server from this src folder (before a change)")
    args = parser.parse_args()
    command = args.command or ("serve" if args.backend == "sqlite" else "api")
    measure(args.backend, command, args.seconds, args.batches, args.batch_size, args.src)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
