"""The upcoming view with 10,000 enabled tasks: GET /api/schedules/upcoming for a day, a week and
the week after (where no task's next slot is known: each task's first slot in it is computed).

    .venv/bin/python -m bench.upcoming [--backend sqlite|postgresql] [--tasks 10000] [--repeat 5]

The tasks mix what people schedule: daily and weekday crons at 600 different times in four zones
(three with DST), every-15-minutes crons, and intervals from one minute to six hours; each task's
next slot is stored as the scheduler would store it. Every request goes through the whole app
(in-process ASGI: authentication, the query, the merge of every task's slots, JSON).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta

import httpx

from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.api.app import create_app
from tasksched.domain import schedules
from tasksched.domain.principals import CLI, Role
from tasksched.domain.tasks import TaskSpec
from tasksched.services.keys import KeyService

KEY = "tsk_bench_upcoming_0123456789abcdefghijklmnop"
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney")


def _schedule(i: int) -> dict[str, object]:
    kind = i % 10
    if kind < 6:
        days = "*" if kind < 3 else "1-5"
        return {
            "type": "cron",
            "expression": f"{i % 60} {(i // 60) % 24} * * {days}",
            "timezone": ZONES[i % 4],
        }
    if kind < 7:
        return {"type": "cron", "expression": "*/15 * * * *", "timezone": ZONES[i % 4]}
    return {"type": "interval", "seconds": (60, 600, 3600, 6 * 3600)[i % 4] + i % 7}


def _specs(count: int) -> list[TaskSpec]:
    return [
        TaskSpec.model_validate(
            {
                "name": f"task {i:05d}",
                "tags": [f"team-{i % 7}"],
                "action": {"type": "http", "url": f"https://example.com/hook/{i}"},
                "schedule": _schedule(i),
            }
        )
        for i in range(count)
    ]


async def main_async(backend: str, count: int, repeat: int) -> None:
    async with fresh_database(backend) as url:
        ctx = await open_context(url)
        try:
            now = ctx.clock.now()
            specs = _specs(count)
            anchor = now.replace(microsecond=0)
            nexts = [
                schedules.next_fire_after(spec.schedule, now, anchor=anchor) if spec.schedule else None
                for spec in specs
            ]
            await bulk_tasks(ctx, specs, nexts)
            await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
            app = create_app(ctx.settings, ctx=ctx)
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {KEY}"}
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client,
            ):
                start = now.replace(minute=0, second=0, microsecond=0)
                # (label, offset of the window from now, its length, limit)
                cases = [
                    ("day, limit 1000", timedelta(0), timedelta(days=1), 1000),
                    ("day, limit 5000", timedelta(0), timedelta(days=1), 5000),
                    ("week, limit 5000", timedelta(0), timedelta(days=7), 5000),
                    # Every task's next slot is before this window: each one's first slot in it is computed.
                    ("next week, limit 1000", timedelta(days=7), timedelta(days=7), 1000),
                ]
                for label, offset, window, limit in cases:
                    params = {
                        "from": (start + offset).isoformat(),
                        "to": (start + offset + window).isoformat(),
                        "limit": str(limit),
                    }
                    times: list[float] = []
                    body: dict[str, object] = {}
                    for _ in range(repeat):
                        began = time.perf_counter()
                        response = await client.get("/api/schedules/upcoming", params=params)
                        times.append((time.perf_counter() - began) * 1000)
                        response.raise_for_status()
                        body = response.json()
                    items = body["items"]
                    assert isinstance(items, list)
                    print(
                        f"{backend} {count} tasks, {label}: median {statistics.median(times):.0f} ms "
                        f"(min {min(times):.0f}, max {max(times):.0f}) for {len(items)} items, "
                        f"truncated={body['truncated']}; load average {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
        finally:
            await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    run(main_async(args.backend, args.tasks, args.repeat))


if __name__ == "__main__":
    main()
