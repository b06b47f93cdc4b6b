"""100,000 enabled tasks stored: CPU of an idle `tasksched serve` and its memory.

    .venv/bin/python -m bench.idle [--backend sqlite|postgresql] [--tasks 100000] [--seconds 30]

Every task is enabled with a schedule whose next slot is months away, so the scheduler has
100,000 tasks to watch and nothing to fire: what it costs to wait.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from bench.api_latency import KEY, _specs
from bench.common import bulk_tasks, fresh_database, open_context, rss_mb
from tasksched.domain.principals import CLI, Role
from tasksched.services.keys import KeyService
from tests.helpers.processes import free_port, tasksched

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def seed(url: str, count: int) -> None:
    ctx = await open_context(url)
    try:
        specs = _specs(count)
        later = ctx.clock.now().replace(year=ctx.clock.now().year + 1)
        await bulk_tasks(ctx, specs, [later] * count)
        await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
    finally:
        await ctx.close()


async def main_async(backend: str, count: int, seconds: int) -> None:
    async with fresh_database(backend) as url:
        started = time.perf_counter()
        await seed(url, count)
        print(f"seeded {count} tasks in {time.perf_counter() - started:.0f} s", flush=True)
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        env = {
            **os.environ,
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_LOG_LEVEL": "warning",
        }
        with tasksched(["serve"], env, folder / "serve.log") as server:
            base = f"http://127.0.0.1:{port}"
            server.wait_ready(base, timeout=60)
            headers = {"Authorization": f"Bearer {KEY}"}
            assert httpx.get(f"{base}/api/tasks?limit=50", headers=headers).json()["total"] == count
            time.sleep(5)  # let start-up work settle
            before, t0 = cpu_seconds(server.popen.pid), time.monotonic()
            time.sleep(seconds)
            used, elapsed = cpu_seconds(server.popen.pid) - before, time.monotonic() - t0
            rss = rss_mb(server.popen.pid)
            # A few requests, then memory again: a working server, not only an idle one.
            for offset in range(0, 5000, 500):
                httpx.get(f"{base}/api/tasks?limit=500&offset={offset}", headers=headers)
            rss_after = rss_mb(server.popen.pid)
    print(
        f"{backend}: {count} enabled tasks, idle `serve` for {elapsed:.0f} s: {100 * used / elapsed:.2f} % of a core, "
        f"RSS {rss:.0f} MB ({rss_after:.0f} MB after listing 5,000 tasks)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main_async(args.backend, args.tasks, args.seconds))


if __name__ == "__main__":
    main()
