"""The Python producer as a program uses it: ``fn.defer(...)`` one call at a time and ``fn.defer_many``,
straight to the database (SQLite file, PostgreSQL) and through the REST API of a real ``tasksched api``
process. Every figure is runs stored (durably, before the call returns) per second, median of the repeats.

    .venv/bin/python -m bench.producer [--calls 2000] [--many 20000] [--repeat 3] [--paths sqlite,postgresql,rest]

No worker runs: this measures queueing only (the drain is ``bench.drain``'s and ``bench.peers``').
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.common import fresh_database
from tasksched import producer, task

KEY = "ts_bench_producer_admin_0123456789"
ROOT = Path(__file__).resolve().parents[1]


@task(name="bench.deferred")
def deferred(n: int) -> int:
    return n


def _migrate(url: str) -> None:
    env = {**os.environ, "TASKSCHED_DATABASE_URL": url, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [sys.executable, "-m", "tasksched.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )


@contextmanager
def api_server(url: str) -> Iterator[str]:
    """``tasksched api`` on ``url``, registering bench.deferred (its module) so the task can be created."""
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "TASKSCHED_DATABASE_URL": url,
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_IMPORTS": "bench.producer",
        "TASKSCHED_LOG_LEVEL": "warning",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksched.cli", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("tasksched api did not become ready in 30 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def measure(calls: int, many: int) -> tuple[float, float]:
    """(one-by-one runs/s, defer_many runs/s); the first call (which creates the task) is not timed."""
    deferred.defer(-1)
    started = time.perf_counter()
    for n in range(calls):
        deferred.defer(n)
    one = calls / (time.perf_counter() - started)
    started = time.perf_counter()
    done = deferred.defer_many([[n] for n in range(many)])
    bulk = len(done) / (time.perf_counter() - started)
    return one, bulk


async def _one_path(path: str, calls: int, many: int) -> tuple[float, float]:
    backend = "sqlite" if path in ("sqlite", "rest") else "postgresql"
    async with fresh_database(backend) as url:
        await asyncio.to_thread(_migrate, url)
        if path == "rest":
            with api_server(url) as base:
                producer.configure(base, api_key=KEY)
                try:
                    return await asyncio.to_thread(measure, calls, many)
                finally:
                    producer.close()
        producer.configure(url)
        try:
            return await asyncio.to_thread(measure, calls, many)
        finally:
            producer.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000, help="defer calls one by one")
    parser.add_argument("--many", type=int, default=20000, help="calls in one defer_many")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paths", default="sqlite,postgresql,rest")
    args = parser.parse_args()
    os.environ["TASKSCHED_LOG_LEVEL"] = "warning"
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cpus: {os.cpu_count()}")
    print("| path | defer one by one (runs/s) | defer_many (runs/s) | repeats |")
    print("| --- | ---: | ---: | --- |")
    for path in args.paths.split(","):
        results = [asyncio.run(_one_path(path, args.calls, args.many)) for _ in range(args.repeat)]
        ones, bulks = [r[0] for r in results], [r[1] for r in results]
        every = "; ".join(f"{o:,.0f} / {b:,.0f}" for o, b in results)
        label = {
            "sqlite": "database, SQLite",
            "postgresql": "database, PostgreSQL",
            "rest": "REST API (SQLite)",
        }
        print(
            f"| {label[path]} | {statistics.median(ones):,.0f} | {statistics.median(bulks):,.0f} | {every} |"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
