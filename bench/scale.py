"""The cluster at scale: N tasks on a per-minute cron, 2 schedulers, 1/2/4 workers, 2 APIs behind nginx.

    .venv/bin/python -m bench.scale [--tasks 100000] [--workers 1,2,4] [--api-sample 1000] [--wrk-seconds 10]
        [--cluster-nice 10]

Everything runs as real processes on PostgreSQL (the shared server, a throwaway database) behind a
PgBouncer of the bench's own in transaction pooling; LISTEN goes to PostgreSQL directly
(``TASKSCHED_LISTEN_URL``). All tasks are due at :00 of every minute — a stampede of N slots — and
each minute is one phase, with the next worker count of ``--workers`` running. Per phase:

- start lateness: ``started_at - scheduled_for`` of the slot's runs, p50/p99/max (what a user sees:
  the scheduler queues a slot's run up to a second ahead, so ``queued_at`` is early by design), and
  that every task got exactly one run of it;
- drain: runs finished per second from :00 until the queue is empty (or :50);
- the database's CPU: the CPU time of the PostgreSQL backends serving the bench database (from /proc;
  the server is shared with other work, so its own totals would not do), in % of one core, and the
  most connections it had (pg_stat_activity);
- ``wrk -t1 -c64`` on ``GET /api/tasks?limit=50`` through nginx from :05, while the cluster works;
- resident memory of every process at the end.

Creating the tasks: ``--api-sample`` tasks are created through ``POST /api/tasks`` (through nginx, 32
at a time) to measure that path; the N cron tasks themselves are *seeded* through the store (bench
set-up, not a measured path) because at the measured API rate 100,000 would take minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.common import bulk_tasks, fresh_database, open_context, rss_mb
from tasksched.domain.principals import CLI, Role
from tasksched.domain.tasks import TaskSpec
from tasksched.services.keys import KeyService
from tests.helpers import nginx
from tests.helpers.pgbouncer import PgBouncer
from tests.helpers.processes import Proc, free_port

KEY = "ts_bench_admin_key_0123456789"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PHASE_SECONDS = 50  # of each minute: the rest is for stopping and starting workers before :00


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


async def _backends(conn: asyncpg.Connection, database: str) -> list[int]:
    rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return [int(r["pid"]) for r in rows]


def _percentile(values: list[float], share: float) -> float:
    return values[max(0, int(len(values) * share) - 1)]


async def _seed(url: str, count: int, first_slot: datetime) -> float:
    ctx = await open_context(url)
    try:
        started = time.perf_counter()
        specs = [
            TaskSpec.model_validate(
                {
                    "name": f"minutely-{i}",
                    "action": {"type": "python", "function": "bench.noop"},
                    "schedule": {"type": "cron", "expression": "* * * * *", "timezone": "UTC"},
                    # Every slot runs even while the last one is still queued: what is measured is
                    # firing and draining, not the overlap policy.
                    "concurrency_policy": "allow",
                }
            )
            for i in range(count)
        ]
        await bulk_tasks(ctx, specs, [first_slot] * count)
        await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
        return time.perf_counter() - started
    finally:
        await ctx.close()


async def _create_through_api(base: str, count: int) -> float:
    """Tasks per second through POST /api/tasks, 32 requests in flight (manual-only tasks)."""
    queue = list(range(count))
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as http:

        async def client() -> None:
            while queue:
                i = queue.pop()
                body = {"name": f"api-{i}", "action": {"type": "python", "function": "bench.noop"}}
                response = await http.post("/api/tasks", json=body)
                assert response.status_code == 201, response.text

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(32)))
        return count / (time.perf_counter() - started)


def _wrk(base: str, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            "-c64",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {KEY}",
            f"{base}/api/tasks?limit=50",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "p50": _ms(pct["50"]),
        "p99": _ms(pct["99"]),
        "rps": float(rate.group(1)) if rate else 0.0,
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def _sleep_until(when: datetime) -> None:
    await asyncio.sleep(max(0.0, (when - datetime.now(UTC)).total_seconds()))


async def _phase(
    conn: asyncpg.Connection,
    database: str,
    slot: datetime,
    count: int,
    proxy_url: str,
    wrk_seconds: int,
) -> dict[str, Any]:
    await _sleep_until(slot)
    t0 = time.monotonic()
    pids = await _backends(conn, database)
    ticks = {pid: _cpu_ticks(pid) for pid in pids}
    most_connections = len(pids)
    finished_at_start = await conn.fetchval("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL")
    wrk_job = None
    if wrk_seconds:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(5)
        wrk_job = loop.run_in_executor(None, _wrk, proxy_url, wrk_seconds)
    drained_at = None
    while time.monotonic() - t0 < PHASE_SECONDS:
        await asyncio.sleep(1)
        for pid in await _backends(conn, database):
            ticks.setdefault(pid, 0)  # a backend started in the phase: all its CPU is the phase's
        most_connections = max(most_connections, len(ticks))
        queued = await conn.fetchval("SELECT count(*) FROM runs WHERE status IN ('queued', 'running')")
        fired = await conn.fetchval("SELECT count(*) FROM runs WHERE scheduled_for = $1", slot)
        if fired >= count and queued == 0 and (wrk_job is None or wrk_job.done()):
            drained_at = time.monotonic()
            break
    elapsed = (drained_at or time.monotonic()) - t0
    cpu = sum(_cpu_ticks(pid) - start for pid, start in ticks.items()) / CLOCK_TICKS
    finished = (
        await conn.fetchval("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") - finished_at_start
    )
    last_finish = await conn.fetchval("SELECT max(finished_at) FROM runs WHERE scheduled_for = $1", slot)
    late = sorted(
        (r["started_at"] - r["scheduled_for"]).total_seconds() * 1000
        for r in await conn.fetch(
            "SELECT started_at, scheduled_for FROM runs WHERE scheduled_for = $1 AND trigger = 'schedule'"
            " AND started_at IS NOT NULL",
            slot,
        )
    )
    # Fire lateness: when the slot's run became claimable (queued, and its available_at come),
    # against the slot. The scheduler's part, apart from the drain.
    fired = await conn.fetch(
        "SELECT queued_at, available_at, scheduled_for FROM runs WHERE scheduled_for = $1 "
        "AND trigger = 'schedule'",
        slot,
    )
    fire_late = sorted(
        (max(r["queued_at"], r["available_at"]) - r["scheduled_for"]).total_seconds() * 1000 for r in fired
    )
    queued_from = min((r["queued_at"] for r in fired), default=slot)
    queued_to = max((r["queued_at"] for r in fired), default=slot)
    per_task = await conn.fetchrow(
        "SELECT count(DISTINCT task_id) AS tasks, count(*) AS runs FROM runs "
        "WHERE scheduled_for = $1 AND trigger = 'schedule'",
        slot,
    )
    busy = (last_finish.replace(tzinfo=UTC) - slot).total_seconds() if last_finish else elapsed
    return {
        "slot": slot,
        "fired": per_task["runs"],
        "tasks": per_task["tasks"],
        "fire_p50": statistics.median(fire_late) if fire_late else float("nan"),
        "fire_p99": _percentile(fire_late, 0.99) if fire_late else float("nan"),
        "fire_max": fire_late[-1] if fire_late else float("nan"),
        "queued_from_s": (queued_from.replace(tzinfo=UTC) - slot).total_seconds(),
        "queued_to_s": (queued_to.replace(tzinfo=UTC) - slot).total_seconds(),
        "late_p50": statistics.median(late) if late else float("nan"),
        "late_p99": _percentile(late, 0.99) if late else float("nan"),
        "late_max": late[-1] if late else float("nan"),
        "drained": drained_at is not None,
        "finished": finished,
        "seconds": elapsed,
        "slot_done_s": busy,
        "runs_per_s": finished / elapsed,
        "db_cpu_pct": cpu / elapsed * 100,
        "connections": most_connections,
        "wrk": await wrk_job if wrk_job is not None else None,
    }


async def scale(
    count: int, worker_counts: list[int], api_sample: int, wrk_seconds: int, pool: int, cluster_nice: int
) -> None:
    if wrk_seconds and shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk), or --wrk-seconds 0")
    async with fresh_database("postgresql") as url:
        database = url.rsplit("/", 1)[1]
        # Seeding 100,000 tasks takes a while: the first stampede is the first whole minute after it.
        guess = datetime.now(UTC) + timedelta(seconds=60 + count / 1000)
        first_slot = guess.replace(second=0, microsecond=0) + timedelta(minutes=1)
        seeded = await _seed(url, count, first_slot)
        print(f"seeded {count} tasks through the store in {seeded:.1f} s (set-up, not measured)", flush=True)
        folder = Path(tempfile.mkdtemp(prefix="tasksched-scale-"))
        bouncer = PgBouncer(url, folder, free_port(), pool_size=pool)
        bouncer.start()
        env = {
            "TASKSCHED_DATABASE_URL": bouncer.url,
            "TASKSCHED_DATABASE_POOLING": "transaction",
            "TASKSCHED_LISTEN_URL": url,
            "TASKSCHED_IMPORTS": "bench.common",
            "TASKSCHED_LOG_LEVEL": "warning",
            "TASKSCHED_TRUSTED_PROXIES": "127.0.0.1",
        }
        procs: dict[str, Proc] = {}
        conn = await asyncpg.connect(url)
        try:
            with ExitStack() as stack:
                api_ports = []
                for i in (1, 2):
                    port = free_port()
                    procs[f"api-{i}"] = Proc(
                        ["api"], {**env, "TASKSCHED_PORT": str(port)}, folder / f"api-{i}.log"
                    )
                    api_ports.append(port)
                for i in (1, 2):
                    procs[f"scheduler-{i}"] = Proc(["scheduler"], env, folder / f"scheduler-{i}.log")
                    _renice(procs[f"scheduler-{i}"], cluster_nice)
                for port, name in zip(api_ports, ("api-1", "api-2"), strict=True):
                    procs[name].wait_ready(f"http://127.0.0.1:{port}", timeout=120)
                proxy = stack.enter_context(
                    nginx.running([f"127.0.0.1:{p}" for p in api_ports], free_port(), folder / "nginx")
                )
                if api_sample:
                    rate = await _create_through_api(proxy.url, api_sample)
                    print(
                        f"POST /api/tasks through nginx, 32 in flight: {rate:.0f} tasks/s "
                        f"({count / rate:.0f} s for {count})",
                        flush=True,
                    )
                slot = first_slot
                for workers in worker_counts:
                    await _sleep_until(slot - timedelta(seconds=8))
                    for i in range(workers):
                        procs[f"worker-{i + 1}"] = Proc(["worker"], env, folder / f"worker-{i + 1}.log")
                        _renice(procs[f"worker-{i + 1}"], cluster_nice)
                    result = await _phase(conn, database, slot, count, proxy.url, wrk_seconds)
                    rss = {name: rss_mb(p.popen.pid) for name, p in procs.items() if p.popen.poll() is None}
                    _print_phase(workers, count, result, rss)
                    for i in range(workers):
                        procs.pop(f"worker-{i + 1}").terminate()
                    slot += timedelta(minutes=1)
                    while slot - datetime.now(UTC) < timedelta(seconds=9):
                        slot += timedelta(minutes=1)
                doubles = await conn.fetchval(
                    "SELECT count(*) FROM (SELECT 1 FROM runs WHERE trigger = 'schedule' "
                    "GROUP BY task_id, scheduled_for HAVING count(*) > 1) AS d"
                )
                print(f"slots fired more than once, over the whole run: {doubles}")
        finally:
            for proc in procs.values():
                proc.terminate()
            bouncer.kill()
            await conn.close()


def _renice(proc: Proc, nice: int) -> None:
    """Lower a scheduler's or worker's CPU priority (``--cluster-nice``): on one machine, a stand-in
    for the API having cores of its own, as it has in a deployment (docs/operations.md, "Everything on one host")."""
    if nice:
        os.setpriority(os.PRIO_PROCESS, proc.popen.pid, nice)


def _print_phase(workers: int, count: int, r: dict[str, Any], rss: dict[str, float]) -> None:
    print(
        f"{r['slot']:%H:%M}, {workers} worker(s): fired {r['fired']} runs for {r['tasks']} of {count} tasks; "
        f"queued from {r['queued_from_s']:+.1f} s to {r['queued_to_s']:+.1f} s of the slot; "
        f"fire lateness (claimable - slot) p50 {r['fire_p50']:.0f} ms, p99 {r['fire_p99']:.0f} ms, "
        f"max {r['fire_max']:.0f} ms; "
        f"start lateness p50 {r['late_p50']:.0f} ms, p99 {r['late_p99']:.0f} ms, max {r['late_max']:.0f} ms; "
        f"{r['finished']} runs finished in {r['seconds']:.1f} s = {r['runs_per_s']:.0f} runs/s "
        f"({'queue empty' if r['drained'] else 'queue NOT empty'}; the slot's last run finished at "
        f"+{r['slot_done_s']:.1f} s) at {r['db_cpu_pct']:.0f} % of a core of database CPU, "
        f"{r['connections']} database connections",
        flush=True,
    )
    if r["wrk"]:
        w = r["wrk"]
        print(
            f"  API through nginx, 64 connections: p50 {w['p50']:.1f} ms, p99 {w['p99']:.1f} ms, "
            f"{w['rps']:.0f} req/s, non-2xx {w['errors']:.0f}",
            flush=True,
        )
    print("  RSS MB: " + ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(rss.items())), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,4", help="worker processes per phase (one minute each)")
    parser.add_argument(
        "--api-sample", type=int, default=1000, help="tasks created through the API (0: none)"
    )
    parser.add_argument("--wrk-seconds", type=int, default=10, help="API load per phase (0: none)")
    parser.add_argument("--pool", type=int, default=20, help="PgBouncer's server connections")
    parser.add_argument(
        "--cluster-nice",
        type=int,
        default=0,
        help="niceness of the schedulers and workers (0: as started); the APIs keep the default",
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    asyncio.run(scale(args.tasks, workers, args.api_sample, args.wrk_seconds, args.pool, args.cluster_nice))


if __name__ == "__main__":
    main()
