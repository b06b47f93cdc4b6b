"""Memory of N workers (``--processes``, default 2): ``worker --processes N`` (one parent, N forked
children) against N separate ``worker`` processes, while they drain the same queued runs of a plain
function.

.venv/bin/python -m bench.prefork_memory [--backend sqlite|postgresql|both] [--runs 5000] [-n 3] [--processes 2]

Each repetition queues ``--runs`` runs of ``bench.plain`` (``bench/jobs.py``) and starts one of the two
set-ups on the database (``python -m tasksched.cli worker``, alternating set-up by set-up, so that
both share the machine's load drift). While they drain, the PSS of every process of the set-up (for
``--processes N`` the parent and its children) is read from ``/proc/PID/smaps_rollup`` every 0.2 s
and summed; reported are the peak of that sum and the sum once the queue is empty, then the set-up is
stopped with SIGTERM. PSS splits a shared page between the processes that map it, so the sum counts
the pages the children share with their parent once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import bulk_runs, bulk_tasks, fresh_database, open_context, run
from bench.startup import memory_kb
from tasksched.domain.runs import RunStatus
from tasksched.domain.tasks import TaskSpec
from tasksched.services.runs import RunQuery, RunService

ROOT = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def pss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it has just ended
            total += memory_kb(pid)["Pss"]
    return total / 1024


async def queue(url: str, task_id: int | None, runs: int) -> int:
    ctx = await open_context(url)
    try:
        if task_id is None:
            spec = TaskSpec.model_validate(
                {
                    "name": "plain",
                    "action": {"type": "python", "function": "bench.plain"},
                    "concurrency_policy": "allow",
                }
            )
            (task_id,) = await bulk_tasks(ctx, [spec], [None])
        await bulk_runs(ctx, task_id, "plain", runs)
        return task_id
    finally:
        await ctx.close()


async def succeeded(url: str, task_id: int) -> int:
    ctx = await open_context(url)
    try:
        return await RunService(ctx).count(RunQuery(task_id=task_id, statuses=[RunStatus.SUCCEEDED], limit=1))
    finally:
        await ctx.close()


def drain_once(url: str, setup: str, count: int, task_id: int, target: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        "TASKSCHED_DATABASE_URL": url,
        "TASKSCHED_IMPORTS": "bench.jobs",
        "TASKSCHED_LOG_FORMAT": "json",
        "TASKSCHED_LOG_LEVEL": "warning",
    }
    env.pop("TASKSCHED_REDIS_URL", None)
    command = [sys.executable, "-m", "tasksched.cli", "worker"]
    if setup == "processes":
        procs = [subprocess.Popen([*command, "--processes", str(count)], env=env, cwd=ROOT)]
    else:
        procs = [subprocess.Popen(command, env=env, cwd=ROOT) for _ in range(count)]
    started = time.perf_counter()
    peak, samples = 0.0, 0
    try:
        next_count = 0.0
        while True:
            pids = [p.pid for p in procs]
            if setup == "processes":
                pids += children_of(procs[0].pid)
            peak = max(peak, pss_mb(pids))
            samples += 1
            if time.perf_counter() >= next_count:
                if run(succeeded(url, task_id)) >= target:
                    break
                next_count = time.perf_counter() + 0.5
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker ended early ({[p.returncode for p in procs]})")
            if time.perf_counter() - started > 600:
                raise TimeoutError("the runs were not drained in 600 s")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        pids = [p.pid for p in procs] + (children_of(procs[0].pid) if setup == "processes" else [])
        after = pss_mb(pids)
        peak = max(peak, after)
        per_process = {str(pid): round(pss_mb([pid]), 1) for pid in pids}
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    return {
        "peak_pss_mb": peak,
        "drained_pss_mb": after,
        "per_process_mb": per_process,
        "seconds": elapsed,
        "samples": samples,
    }


def measure(backend: str, repetitions: int, runs: int, count: int) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {"processes": [], "separate": []}

    async def body() -> None:
        async with fresh_database(backend) as url:
            task_id = None
            target = 0
            for _ in range(repetitions):
                for setup in results:
                    task_id = await queue(url, task_id, runs)
                    target += runs
                    # The drain polls and samples from this thread; the database calls are short.
                    results[setup].append(await _to_thread(drain_once, url, setup, count, task_id, target))

    run(body())
    return results


async def _to_thread(func: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(func, *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5000, help="runs queued for each drain")
    parser.add_argument("-n", type=int, default=3, help="repetitions per set-up (the median is reported)")
    parser.add_argument("--processes", type=int, default=2, help="workers in each set-up")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"load average before: {os.getloadavg()}")
    for backend in backends:
        for setup, results in measure(backend, args.n, args.runs, args.processes).items():
            label = (
                f"--processes {args.processes}"
                if setup == "processes"
                else f"{args.processes} separate workers"
            )
            peak = statistics.median(r["peak_pss_mb"] for r in results)
            drained = statistics.median(r["drained_pss_mb"] for r in results)
            print(
                f"{backend} {label}: PSS summed over its processes, median peak {peak:.1f} MB, "
                f"after the drain {drained:.1f} MB; every run: "
                + json.dumps(
                    [
                        {
                            "peak": round(r["peak_pss_mb"], 1),
                            "drained": round(r["drained_pss_mb"], 1),
                            "seconds": round(r["seconds"], 1),
                            "per_process": list(r["per_process_mb"].values()),
                        }
                        for r in results
                    ]
                )
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
