"""Worker start-up: wall time from spawning ``tasksched worker`` to its first finished job, and its memory.

.venv/bin/python -m bench.startup [--backend sqlite|postgresql|both] [-n 5] [--checkout PATH ...]

Each repetition queues one run of a registered plain function (``bench.plain``, from ``bench.jobs``),
spawns a real worker process (``python -m tasksched.cli worker``) on the database and times until the
worker logs ``run succeeded`` (logged only once the outcome is committed). Then the worker's PSS is read
from ``/proc/PID/smaps_rollup`` (and RSS) and the CPU time it used so far from ``/proc/PID/stat``
(steadier than wall time on a loaded machine), and the worker is stopped with SIGTERM. Reports the median of
``-n`` repetitions, and every run. ``--checkout`` (repeatable) runs the worker from another checkout's
``src`` too, alternating with this one's run by run, so that a before/after comparison shares one
sitting (the machine's load drifts).

``--cached-bytecode`` measures a worker as an installed tasksched starts: with the environment's
``PYTHONDONTWRITEBYTECODE`` (set on this machine) every start compiles tasksched's own modules from
source, which an installed package (its ``.pyc`` written by pip) never does. It gives the workers a
private bytecode cache (``PYTHONPYCACHEPREFIX``, a temporary folder: nothing is written into the
checkouts) and runs one uncounted warm-up worker per checkout first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import bulk_runs, bulk_tasks, fresh_database, open_context, run
from tasksched.domain.tasks import TaskSpec

ROOT = Path(__file__).resolve().parent.parent


def memory_kb(pid: int) -> dict[str, int]:
    """Pss and Rss of a live process, in kB, from /proc/PID/smaps_rollup."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss", "Rss"):
            values[key] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def queue_one(url: str, task_id: int | None) -> int:
    ctx = await open_context(url)
    try:
        if task_id is None:
            spec = TaskSpec.model_validate(
                {"name": "plain", "action": {"type": "python", "function": "bench.plain"}}
            )
            (task_id,) = await bulk_tasks(ctx, [spec], [None])
        await bulk_runs(ctx, task_id, "plain", 1)
        return task_id
    finally:
        await ctx.close()


def spawn_once(url: str, checkout: Path = ROOT, pycache: Path | None = None) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(checkout / "src"), str(ROOT)]),
        "TASKSCHED_DATABASE_URL": url,
        "TASKSCHED_IMPORTS": "bench.jobs",
        "TASKSCHED_LOG_FORMAT": "json",
        "TASKSCHED_LOG_LEVEL": "info",
    }
    env.pop("TASKSCHED_REDIS_URL", None)
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tasksched.cli", "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if '"run succeeded"' in line:
                elapsed = time.perf_counter() - started
                break
        else:
            raise RuntimeError(f"the worker ended (code {proc.wait()}) before finishing a run")
        memory = memory_kb(proc.pid)
        cpu = cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "pss_mb": memory["Pss"] / 1024,
        "rss_mb": memory["Rss"] / 1024,
    }


async def measure(
    backend: str, repetitions: int, checkouts: list[Path], pycache: Path | None = None
) -> dict[Path, list[dict[str, float]]]:
    results: dict[Path, list[dict[str, float]]] = {checkout: [] for checkout in checkouts}
    async with fresh_database(backend) as url:
        task_id = None
        if pycache is not None:  # fills the bytecode cache: not counted
            for checkout in checkouts:
                task_id = await queue_one(url, task_id)
                spawn_once(url, checkout, pycache)
        for _ in range(repetitions):
            for checkout in checkouts:
                task_id = await queue_one(url, task_id)
                results[checkout].append(spawn_once(url, checkout, pycache))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("-n", type=int, default=5, help="repetitions (the median is reported)")
    parser.add_argument(
        "--checkout", type=Path, action="append", default=[], help="another checkout to compare"
    )
    parser.add_argument(
        "--cached-bytecode",
        action="store_true",
        help="workers read compiled bytecode from a private cache, as an installed tasksched does",
    )
    args = parser.parse_args()
    pycache = Path(tempfile.mkdtemp(prefix="tasksched-pycache-")) if args.cached_bytecode else None
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    checkouts = [ROOT, *(c.resolve() for c in args.checkout)]
    print(f"load average before: {os.getloadavg()}")
    for backend in backends:
        by_checkout: dict[Path, list[dict[str, Any]]] = run(measure(backend, args.n, checkouts, pycache))
        for checkout, results in by_checkout.items():
            median = {key: statistics.median(r[key] for r in results) for key in results[0]}
            print(
                f"{backend} ({checkout}): spawn → first finished job median {median['seconds'] * 1000:.0f} ms "
                f"(worker CPU {median['cpu_seconds'] * 1000:.0f} ms), "
                f"worker PSS {median['pss_mb']:.1f} MB (RSS {median['rss_mb']:.1f} MB), {args.n} runs (ms): "
                + json.dumps([round(r["seconds"] * 1000) for r in results])
            )
    print(f"load average after: {os.getloadavg()}")
    if pycache is not None:
        shutil.rmtree(pycache, ignore_errors=True)


if __name__ == "__main__":
    main()
