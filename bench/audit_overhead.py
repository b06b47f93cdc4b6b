"""What the audit row costs a write: task PATCHes through the service, with and without ``record``.

    .venv/bin/python -m bench.audit_overhead [--backend sqlite|postgresql] [--writes 500]

One process, one writer at a time, in process (no HTTP): the difference is the audit insert alone.
"Without" replaces ``services.audit.record`` with a function that does nothing, for this run only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

from bench.common import fresh_database, open_context
from tasksched.domain.principals import Actor
from tasksched.domain.tasks import TaskPatch, TaskSpec
from tasksched.services import audit
from tasksched.services.tasks import TaskService

ACTOR = Actor("key", "bench", 1, "127.0.0.1")


async def _patches(url: str, writes: int) -> list[float]:
    ctx = await open_context(url)
    try:
        tasks = TaskService(ctx)
        spec = {
            "name": "bench",
            "action": {"type": "http", "url": "https://example.com/", "headers": {"A": "b"}},
        }
        task = await tasks.create(TaskSpec.model_validate(spec), actor=ACTOR)
        times = []
        for i in range(writes):
            started = time.perf_counter()
            await tasks.patch(task.id, TaskPatch.model_validate({"description": f"edit {i}"}), actor=ACTOR)
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        await ctx.close()


async def _round(backend: str, writes: int) -> list[float]:
    async with fresh_database(backend) as url:
        return await _patches(url, writes)


async def main(backend: str, writes: int) -> None:
    real = audit.record

    async def nothing(*_args: Any, **_kwargs: Any) -> None:
        return None

    results = {}
    for label in ("with audit", "without audit", "with audit (again)"):
        audit.record = real if "with " in label else nothing
        times = await _round(backend, writes)
        results[label] = times
    audit.record = real
    for label, times in results.items():
        ordered = sorted(times)
        print(
            f"{backend} {label:<20} {writes} PATCHes: median {statistics.median(times):.2f} ms, "
            f"p95 {ordered[int(len(ordered) * 0.95)]:.2f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.backend, args.writes))
