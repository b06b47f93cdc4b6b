"""Task health in the task list with 10,000 tasks and their runs: GET /api/tasks?limit=50.

    .venv/bin/python -m bench.task_health [--backend sqlite|postgresql] [--tasks 10000] [--runs 30]

Every task has ``--runs`` finished runs (mixed outcomes). Each request asks for another page (a
new offset), so no cached page answers it; the page's tasks' latest 20 runs are read by one
statement. Printed: the median time of a page through the whole app (in-process ASGI), and the
time of that one statement alone for the same page.
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
from tasksched.domain.principals import CLI, Role
from tasksched.domain.tasks import TaskSpec
from tasksched.services.keys import KeyService
from tasksched.services.views import RECENT_RUNS
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store

KEY = "tsk_bench_health_0123456789abcdefghijklmnopq"
OUTCOMES = ("succeeded", "succeeded", "succeeded", "failed", "timed_out", "skipped")


async def main_async(backend: str, count: int, per_task: int, pages: int) -> None:
    async with fresh_database(backend) as url:
        ctx = await open_context(url)
        try:
            specs = [
                TaskSpec.model_validate(
                    {"name": f"task {i:05d}", "action": {"type": "http", "url": f"https://example.com/{i}"}}
                )
                for i in range(count)
            ]
            ids = await bulk_tasks(ctx, specs, [None] * count)
            now = ctx.clock.now()
            rows = []
            for task_id in ids:
                for k in range(per_task):
                    at = now - timedelta(minutes=per_task - k)
                    rows.append(
                        {
                            "task_id": task_id,
                            "task_name": f"task {task_id}",
                            "trigger": "schedule",
                            "scheduled_for": at,
                            "attempt": 1,
                            "status": OUTCOMES[(task_id + k) % len(OUTCOMES)],
                            "queue": "default",
                            "priority": 0,
                            "queued_at": at,
                            "available_at": at,
                            "started_at": at,
                            "finished_at": at + timedelta(seconds=1),
                            "duration_ms": 1000 + k,
                        }
                    )
            for start in range(0, len(rows), 5000):
                async with ctx.db.write() as tx:
                    await run_store.insert(tx, rows[start : start + 5000])
            await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
            print(
                f"seeded {count} tasks and {len(rows)} runs; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )

            offsets = [(n * 997) % (count - 50) for n in range(pages)]
            app = create_app(ctx.settings, ctx=ctx)
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=transport, base_url="http://bench", headers={"Authorization": f"Bearer {KEY}"}
                ) as client,
            ):
                whole: list[float] = []
                for offset in offsets:
                    began = time.perf_counter()
                    response = await client.get("/api/tasks", params={"limit": 50, "offset": offset + 1})
                    whole.append((time.perf_counter() - began) * 1000)
                    response.raise_for_status()
                    assert len(response.json()["items"][0]["recent_runs"]) == min(per_task, RECENT_RUNS)
            # The statement alone, measured after the pages above warmed the same caches.
            statement: list[float] = []
            listing: list[float] = []
            for offset in offsets:
                async with ctx.db.read() as tx:
                    began = time.perf_counter()
                    page, _ = await task_store.list_(tx, limit=50, offset=offset, total=count)
                    listing.append((time.perf_counter() - began) * 1000)
                    began = time.perf_counter()
                    await run_store.recent_for_tasks(tx, [r["id"] for r in page], RECENT_RUNS)
                    statement.append((time.perf_counter() - began) * 1000)

            print(
                f"{backend} {count} tasks x {per_task} runs: GET /api/tasks?limit=50 median "
                f"{statistics.median(whole):.1f} ms (p90 {sorted(whole)[int(len(whole) * 0.9)]:.1f}); "
                f"the recent-runs statement alone median {statistics.median(statement):.1f} ms, "
                f"the page's task query alone {statistics.median(listing):.1f} ms "
                f"over {pages} pages; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        finally:
            await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pages", type=int, default=40)
    args = parser.parse_args()
    run(main_async(args.backend, args.tasks, args.runs, args.pages))


if __name__ == "__main__":
    main()
