"""How long ``GET /metrics`` takes with 10,000 tasks and their history.

    .venv/bin/python -m bench.metrics_scrape [--backend sqlite|postgresql] [--tasks 10000] [--runs 10]

Every task gets ``--runs`` finished runs (alternately succeeded and failed) and one queued run, so
each per-task gauge (last success, last start) has rows to find. The scrape goes through the app
(in process, over ASGI) and is repeated; the database part is also printed on its own
(``tasksched_metrics_database_seconds``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import timedelta

import httpx

from bench.api_latency import _specs
from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.api.app import create_app
from tasksched.store import runs as run_store


async def main_async(backend: str, count: int, runs_per_task: int, scrapes: int) -> None:
    async with fresh_database(backend) as url:
        ctx = await open_context(url)
        try:
            started = time.perf_counter()
            now = ctx.clock.now()
            names = [s.name for s in _specs(count)]
            ids = await bulk_tasks(ctx, _specs(count), [now + timedelta(days=30)] * count)
            rows = []
            for task_id, name in zip(ids, names, strict=True):
                for i in range(runs_per_task + 1):
                    at = now - timedelta(minutes=runs_per_task - i)
                    done = i < runs_per_task
                    rows.append(
                        {
                            "task_id": task_id,
                            "task_name": name,
                            "trigger": "manual",
                            "scheduled_for": at,
                            "attempt": 1,
                            "status": ("succeeded" if i % 2 else "failed") if done else "queued",
                            "queue": "default",
                            "priority": 0,
                            "queued_at": at,
                            "available_at": at,
                            "started_at": at if done else None,
                            "finished_at": at + timedelta(seconds=1) if done else None,
                        }
                    )
            for start in range(0, len(rows), 5000):
                async with ctx.db.write() as tx:
                    await run_store.insert(tx, rows[start : start + 5000])
            print(
                f"seeded {count} tasks, {len(rows)} runs in {time.perf_counter() - started:.0f} s", flush=True
            )
            app = create_app(ctx.settings, ctx=ctx)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as client:
                took: list[float] = []
                database: list[float] = []
                size = 0
                for _ in range(scrapes):
                    t0 = time.perf_counter()
                    response = await client.get("/metrics")
                    took.append(time.perf_counter() - t0)
                    assert response.status_code == 200
                    size = len(response.content)
                    line = next(
                        x
                        for x in response.text.splitlines()
                        if x.startswith("tasksched_metrics_database_seconds ")
                    )
                    database.append(float(line.split()[1]))
                    assert "tasksched_database_up 1.0" in response.text
            ms = sorted(t * 1000 for t in took)
            db_ms = sorted(t * 1000 for t in database)
            print(
                f"{backend}: {count} tasks, {scrapes} scrapes: /metrics p50 {statistics.median(ms):.0f} ms, "
                f"max {ms[-1]:.0f} ms (database part p50 {statistics.median(db_ms):.0f} ms); "
                f"{size / 1024:.0f} KiB of text",
                flush=True,
            )
        finally:
            await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    run(main_async(args.backend, args.tasks, args.runs, args.scrapes))


if __name__ == "__main__":
    main()
