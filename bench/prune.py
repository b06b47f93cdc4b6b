"""Prune 1,000,000 old runs while a `tasksched api` process and a `tasksched worker` serve load.

    .venv/bin/python -m bench.prune [--backend sqlite|postgresql] [--runs 1000000] [--before 15]

Every part is its own process, as in production: the API (`tasksched api`), a worker (`tasksched
worker`, draining a backlog of no-op Python runs that this script keeps topped up), an HTTP load
client (16 connections asking for `GET /api/runs?limit=20` and `GET /api/tasks?limit=50`), and
the pruner (`RetentionService.prune`, as the scheduler's upkeep runs it). Printed: API p50/p99 and
worker throughput before and during pruning, and the prune rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.domain.principals import CLI, Role
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.services.keys import KeyService
from tasksched.services.retention import RetentionService
from tasksched.store import runs as run_store
from tests.helpers.processes import PYTHONPATH, free_port, tasksched

KEY = "ts_bench_admin_key_0123456789"
OLD_TASKS = 10
OUTPUT = "a typical line of output from a job that ran fine\n" * 4  # ~200 bytes
CHUNK = 5000


def _spec(name: str, function: str = "bench.noop") -> TaskSpec:
    return TaskSpec.model_validate(
        {"name": name, "action": {"type": "python", "function": function}, "concurrency_policy": "allow"}
    )


async def seed(url: str, runs: int) -> int:
    """OLD_TASKS tasks sharing ``runs`` succeeded runs finished 60 days ago; a live task, returned."""
    ctx = await open_context(url)
    try:
        ids = await bulk_tasks(ctx, [_spec(f"old-{i}") for i in range(OLD_TASKS)], [None] * OLD_TASKS)
        (live,) = await bulk_tasks(ctx, [_spec("live")], [None])
        await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
        old = ctx.clock.now() - timedelta(days=60)
        started = time.perf_counter()
        for start in range(0, runs, CHUNK):
            rows = []
            for i in range(start, min(start + CHUNK, runs)):
                when = old + timedelta(seconds=i)
                rows.append(
                    {
                        "task_id": ids[i % OLD_TASKS],
                        "task_name": f"old-{i % OLD_TASKS}",
                        "trigger": "schedule",
                        "scheduled_for": when,
                        "attempt": 1,
                        "status": "succeeded",
                        "queue": "default",
                        "priority": 0,
                        "queued_at": when,
                        "available_at": when,
                        "started_at": when,
                        "finished_at": when + timedelta(seconds=1),
                        "duration_ms": 1000,
                        "worker": "bench:1",
                        "output": OUTPUT,
                    }
                )
            async with ctx.db.write() as tx:
                await run_store.insert(tx, rows)
        print(f"seeded {runs} old runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        return live
    finally:
        await ctx.close()


async def feed(url: str, live: int, stop: asyncio.Event, backlog: int = 4000) -> None:
    """Keep the worker's backlog of queued no-op runs at about ``backlog``."""
    ctx = await open_context(url)
    n = 0
    try:
        while not stop.is_set():
            async with ctx.db.read() as tx:
                queued, _, _ = await run_store.active_counts(tx)
            if queued < backlog:
                now = ctx.clock.now()
                rows = [
                    {
                        "task_id": live,
                        "task_name": "live",
                        "trigger": "manual",
                        "scheduled_for": now + timedelta(microseconds=n + i),
                        "attempt": 1,
                        "status": "queued",
                        "queue": "default",
                        "priority": 0,
                        "queued_at": now,
                        "available_at": now,
                    }
                    for i in range(backlog)
                ]
                n += backlog
                async with ctx.db.write() as tx:
                    await run_store.insert(tx, rows)
            await asyncio.sleep(0.25)
    finally:
        await ctx.close()


async def succeeded(url: str, live: int) -> int:
    ctx = await open_context(url)
    try:
        async with ctx.db.read() as tx:
            _, total = await run_store.list_(
                tx, task_id=live, statuses=[RunStatus.SUCCEEDED.value], limit=1, offset=1
            )
        return total
    finally:
        await ctx.close()


# -- the load client and the pruner, each in its own process ---------------------------------


async def load(base: str, out: Path, stop_file: Path) -> None:
    """16 connections until ``stop_file`` exists; then writes (start time, latency ms, status) of
    every request to ``out``."""
    records: list[tuple[float, float, int]] = []
    paths = ["/api/runs?limit=20", "/api/tasks?limit=50"]
    ready = out.with_suffix(".ready")
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as client:

        async def one(k: int) -> None:
            i = k
            while not stop_file.exists():
                began = time.time()
                try:
                    status = (await client.get(paths[i % 2])).status_code
                except httpx.HTTPError:  # counted as an error (status 0), and the load goes on
                    status = 0
                records.append((began, (time.time() - began) * 1000, status))
                i += 1
                if i == k + 1:
                    ready.touch()

        await asyncio.gather(*(one(k) for k in range(16)))
    out.write_text(json.dumps(records))


async def prune(url: str) -> None:
    ctx = await open_context(url)
    try:
        began = time.time()
        report = await RetentionService(ctx).prune()
        print(
            json.dumps(
                {"deleted": report.deleted, "batches": report.batches, "began": began, "ended": time.time()}
            )
        )
    finally:
        await ctx.close()


# -- the experiment ---------------------------------------------------------------------------


def _window(records: list[list[float]], start: float, end: float) -> dict[str, float]:
    inside = sorted(r[1] for r in records if start <= r[0] < end)
    errors = sum(1 for r in records if start <= r[0] < end and r[2] != 200)
    if not inside:
        return {"n": 0, "p50": float("nan"), "p99": float("nan"), "errors": errors}
    return {
        "n": len(inside),
        "p50": statistics.median(inside),
        "p99": inside[min(len(inside) - 1, int(len(inside) * 0.99))],
        "rps": len(inside) / (end - start),
        "errors": errors,
    }


async def experiment(backend: str, runs: int, before: float) -> dict[str, Any]:
    async with fresh_database(backend) as url:
        live = await seed(url, runs)
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": PYTHONPATH,
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_LOG_LEVEL": "warning",
            "TASKSCHED_IMPORTS": "bench.common",
        }
        base = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        with (
            tasksched(["api"], env, folder / "api.log") as api,
            tasksched(["worker", "--worker-name", "bench-worker"], env, folder / "worker.log"),
        ):
            api.wait_ready(base, timeout=120)
            feeder = asyncio.create_task(feed(url, live, stop))
            await asyncio.sleep(3)  # warm up: first claims, first pages
            stop_file = folder / "stop"
            loader = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.prune",
                "--load",
                base,
                str(folder / "load.json"),
                str(stop_file),
                env=env,
            )
            while not (folder / "load.ready").exists():  # the client has started (imports take a while)
                await asyncio.sleep(0.1)
            await asyncio.sleep(1)
            t0, done0 = time.time(), await succeeded(url, live)
            await asyncio.sleep(before)
            t1, done1 = time.time(), await succeeded(url, live)
            pruner = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.prune", "--prune", url, env=env, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await pruner.communicate()
            report = json.loads(out)
            t2, done2 = time.time(), await succeeded(url, live)
            stop_file.touch()
            await loader.wait()
            stop.set()
            await feeder
    records = json.loads((folder / "load.json").read_text())
    return {
        "backend": backend,
        "runs": runs,
        "deleted": report["deleted"],
        "prune_seconds": report["ended"] - report["began"],
        "prune_rate": report["deleted"] / (report["ended"] - report["began"]),
        "worker_before": (done1 - done0) / (t1 - t0),
        "worker_during": (done2 - done1) / (t2 - t1),
        "api_before": _window(records, t0, t1),
        "api_during": _window(records, report["began"], report["ended"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--before", type=float, default=15.0, help="seconds measured before pruning")
    parser.add_argument("--load", nargs=3, metavar=("BASE", "OUT", "STOP_FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--prune", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        run(load(args.load[0], Path(args.load[1]), Path(args.load[2])))
        return
    if args.prune:
        run(prune(args.prune))
        return
    r = run(experiment(args.backend, args.runs, args.before))
    b, d = r["api_before"], r["api_during"]
    print(
        f"{r['backend']}: pruned {r['deleted']} of {r['runs']} old runs in {r['prune_seconds']:.1f} s = "
        f"{r['prune_rate']:.0f} runs/s; API before p50 {b['p50']:.1f} ms p99 {b['p99']:.1f} ms "
        f"({b['rps']:.0f} req/s, {b['errors']} errors), during p50 {d['p50']:.1f} ms p99 {d['p99']:.1f} ms "
        f"({d['rps']:.0f} req/s, {d['errors']} errors); worker {r['worker_before']:.0f} runs/s before, "
        f"{r['worker_during']:.0f} runs/s during"
    )


if __name__ == "__main__":
    main()
