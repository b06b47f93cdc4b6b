"""Bytes a finished run adds to the database, by output size, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.run_size [--runs 5000]

Inserts ``--runs`` finished runs of one task for each output size (a tenth as many at 64 KiB) into a fresh database and
prints the growth per run (table, indexes and, on PostgreSQL, TOAST; after a VACUUM-free insert,
as in normal life). The output sizes: none (an HTTP call answering 204), a short line (~60 B), a
typical log (~2 KiB), and the default tail limit (64 KiB, the most a run stores).
"""

from __future__ import annotations

import argparse
import random
from datetime import timedelta

from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.domain.tasks import TaskSpec
from tasksched.store import runs as run_store
from tasksched.store.health import database_bytes

SIZES = {"none": 0, "60 B": 60, "2 KiB": 2048, "64 KiB": 65536}


def _text(size: int, rng: random.Random) -> str | None:
    if size == 0:
        return None
    # Log-like text: words and numbers, which compress the way real output does (PostgreSQL
    # compresses large values; SQLite stores them as they are).
    words = []
    total = 0
    while total < size:
        word = rng.choice(
            ["GET", "/api/items", "200", "ok", "took", f"{rng.random():.4f}", "ms", "INFO", "\n"]
        )
        words.append(word)
        total += len(word) + 1
    return " ".join(words)[:size]


async def measure(backend: str, many: int) -> dict[str, float]:
    rng = random.Random(7)
    found: dict[str, float] = {}
    for label, size in SIZES.items():
        runs = many // 10 if size > 10_000 else many
        async with fresh_database(backend) as url:
            ctx = await open_context(url)
            try:
                spec = TaskSpec.model_validate(
                    {"name": "job", "action": {"type": "http", "url": "https://example.com/"}}
                )
                (task_id,) = await bulk_tasks(ctx, [spec], [None])
                empty = await database_bytes(ctx.db)
                now = ctx.clock.now()
                for start in range(0, runs, 1000):
                    rows = []
                    for i in range(start, min(runs, start + 1000)):
                        when = now - timedelta(minutes=i)
                        rows.append(
                            {
                                "task_id": task_id,
                                "task_name": "job",
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
                                "worker": "host-1.example.com:12345",
                                "http_status": 200,
                                "output": _text(size, rng),
                            }
                        )
                    async with ctx.db.write() as tx:
                        await run_store.insert(tx, rows)
                found[label] = (await database_bytes(ctx.db) - empty) / runs
            finally:
                await ctx.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5000)
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql"):
        sizes = run(measure(backend, args.runs))
        print(
            f"{backend}: bytes per run by output size: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in sizes.items())
        )


if __name__ == "__main__":
    main()
