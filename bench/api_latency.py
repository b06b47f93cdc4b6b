"""GET /api/tasks?limit=50 with 10,000 tasks stored, 64 concurrent connections (wrk), on `tasksched serve`.

    .venv/bin/python -m bench.api_latency [--backend sqlite|postgresql] [--tasks 10000] [--seconds 10]

Needs `wrk` (Debian package wrk). The server runs in its own process, as users run it. A 2-second
round of the same load warms the server up before the measured round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import bulk_tasks, fresh_database, open_context, rss_mb
from tasksched.domain.principals import CLI, Role
from tasksched.domain.schedules import CronSchedule
from tasksched.domain.tasks import TaskSpec
from tasksched.services.keys import KeyService
from tests.helpers.processes import free_port, tasksched

KEY = "ts_bench_admin_key_0123456789"
EXPRESSIONS = ["0 0 1 1 *", "30 4 1 1 *", "15 2 1 1 *", "0 12 1 1 *"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]
WARM_UP_SECONDS = 2


def _specs(count: int) -> list[TaskSpec]:
    return [
        TaskSpec.model_validate(
            {
                "name": f"task {i:05d}",
                "description": f"benchmark task number {i}",
                "tags": [f"team-{i % 7}", "bench"],
                "action": {"type": "http", "method": "POST", "url": f"https://example.com/hook/{i}"},
                "schedule": {"type": "cron", "expression": EXPRESSIONS[i % 4], "timezone": ZONES[i % 4]},
            }
        )
        for i in range(count)
    ]


async def _seed(url: str, count: int) -> None:
    ctx = await open_context(url)
    try:
        specs = _specs(count)
        nxt = [
            ctx.clock.now().replace(year=ctx.clock.now().year + 1)
            if isinstance(s.schedule, CronSchedule)
            else None
            for s in specs
        ]
        await bulk_tasks(ctx, specs, nxt)
        await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
    finally:
        await ctx.close()


def _spread_script(folder: Path, count: int) -> Path:
    """A wrk script asking for a random page of 50 each time, so pages are rarely served twice."""
    script = folder / "spread.lua"
    script.write_text(
        "request = function()\n"
        f'  return wrk.format(nil, "/api/tasks?limit=50&offset=" .. math.random(0, {count // 50 - 1}) * 50)\n'
        "end\n"
    )
    return script


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def main_async(backend: str, count: int, seconds: int, spread: bool) -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    async with fresh_database(backend) as url:
        await _seed(url, count)
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
        env = {
            **os.environ,
            "TASKSCHED_DATABASE_URL": url,
            "TASKSCHED_PORT": str(port),
            "TASKSCHED_LOG_LEVEL": "warning",
        }
        with tasksched([os.environ.get("BENCH_COMMAND", "serve")], env, folder / "serve.log") as server:
            base = f"http://127.0.0.1:{port}"
            server.wait_ready(base, timeout=60)
            page = httpx.get(f"{base}/api/tasks?limit=50", headers={"Authorization": f"Bearer {KEY}"}).json()
            assert page["total"] == count
            assert len(page["items"]) == 50

            def wrk(duration: int) -> str:
                return subprocess.run(
                    [
                        "wrk",
                        # One client thread: on two cores a second one takes CPU the server needs, and
                        # the figures then measure the client's starvation (p99 varied 30-260 ms).
                        "-t1",
                        "-c64",
                        f"-d{duration}s",
                        "--latency",
                        "-H",
                        f"Authorization: Bearer {KEY}",
                        *(["-s", str(_spread_script(folder, count))] if spread else []),
                        f"{base}/api/tasks?limit=50",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout

            # A warm-up round first (first-use imports and caches), then the measured one. The pause
            # between them matters: a round started the instant another one's 64 connections close
            # had p99 110-200 ms, against 20-30 ms a second later (and for a single request, 1-3 ms
            # throughout); we measure the server, not that hand-over.
            wrk(WARM_UP_SECONDS)
            time.sleep(1)
            out = wrk(seconds)
            rss = rss_mb(server.popen.pid)
    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    print(
        f"{backend}: GET /api/tasks?limit=50{' at random offsets' if spread else ''} of {count} tasks, 64 connections, {seconds} s: "
        f"p50 {_ms(percentiles['50']):.1f} ms, p90 {_ms(percentiles['90']):.1f} ms, p99 {_ms(percentiles['99']):.1f} ms, "
        f"{float(rate.group(1)) if rate else 0:.0f} req/s, errors {errors.group(1) if errors else 0}, server RSS {rss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--spread",
        action="store_true",
        help="ask for a random page each time (offsets across all tasks): measures uncached pages",
    )
    args = parser.parse_args()
    asyncio.run(main_async(args.backend, args.tasks, args.seconds, args.spread))


if __name__ == "__main__":
    main()
