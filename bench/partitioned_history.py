"""Claim, fire and GET /api/runs latency on a partitioned PostgreSQL run history, against an empty one.

    .venv/bin/python -m bench.partitioned_history [--runs 5000000] [--tasks 1000] [--samples 200]
        [--rounds 4] [--settle 60]

Two throwaway databases on the local PostgreSQL, both migrated (so ``runs`` is partitioned by
month): one empty, one with ``--runs`` finished runs of history spread over the last 80 days
(inside the default retention, so nothing is pruned), made server-side with
``INSERT … SELECT generate_series`` in chunks and then vacuumed and analysed (the state
autovacuum keeps a live database in). Both are built first; then a checkpoint and ``--settle``
seconds of quiet, and the two are measured in ``--rounds`` alternating rounds (each round a share of
the samples on one, then on the other, the order swapped every round), so that whatever changes
over the sitting (the machine's load, the build's writes being flushed) weighs on both alike. On
each it measures, one at a time:

- claim: one queued run inserted (not timed), then ``ExecutionService.claim`` of one run;
- fire: one task made due (not timed), then ``FiringService.fire_due``;
- ``GET /api/runs?limit=50`` and ``GET /api/runs?task_id=…&limit=50`` through a real
  ``tasksched api`` process per database (httpx, one request at a time, a warm-up round first).

The listed task gets ``LISTED`` runs of its own in *both* databases, spread like the history, so
that its page is full and its count reaches the cap in the empty one too: otherwise the empty
database's task page would be an empty answer, cheaper for a reason that has nothing to do with
the history (an early version compared that, and reported +114 %).

Both databases are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import bulk_tasks, fresh_database, open_context, run
from tasksched.domain.principals import CLI, Role
from tasksched.domain.tasks import TaskSpec
from tasksched.services.context import Context
from tasksched.services.execution import ExecutionService
from tasksched.services.firing import FiringService
from tasksched.services.keys import KeyService
from tasksched.store import partitions
from tasksched.store import runs as run_store
from tests.helpers.processes import free_port, tasksched

KEY = "ts_bench_admin_key_0123456789"
CHUNK = 1_000_000
HISTORY_DAYS = 80
# The listed task's own runs in both databases: a full page of 50 and the count's cap (1,000 past it).
LISTED = 1_100
OPERATIONS = {
    "claim": "claim (one run)",
    "fire": "fire (one due task)",
    "GET all": "GET /api/runs?limit=50",
    "GET task": "GET /api/runs?task_id=…&limit=50",
}


def _specs(count: int) -> list[TaskSpec]:
    return [
        TaskSpec.model_validate(
            {
                "name": f"history {i:05d}",
                "action": {"type": "python", "function": "bench.noop"},
                "schedule": {"type": "interval", "seconds": 86_400 * 365},
            }
        )
        for i in range(count)
    ]


async def _history(ctx: Context, task_ids: list[int], runs: int) -> float:
    """Insert ``runs`` finished runs, server-side; returns the seconds it took."""
    now = ctx.clock.now()
    start = now - timedelta(days=HISTORY_DAYS)
    step = timedelta(days=HISTORY_DAYS - 1) / max(runs, 1)
    insert = sa.text(
        "INSERT INTO runs (task_id, task_name, trigger, scheduled_for, attempt, status, queue, priority,"
        " queued_at, available_at, started_at, finished_at, duration_ms, worker, exit_code)"
        " SELECT t.id, t.name, 'schedule', s.at, 1,"
        " CASE WHEN s.g % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 'default', 0,"
        " s.at, s.at, s.at, s.at + interval '1 second', 1000, 'bench', 0"
        " FROM (SELECT g, :first + (g % :tasks) AS task_id, CAST(:start AS timestamptz) + g * CAST(:step AS interval) AS at"
        "       FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g) AS s"
        " JOIN tasks t ON t.id = s.task_id"
    )
    # The months the history covers, as the scheduler's upkeep made each of them in its time.
    async with ctx.db.write() as tx:
        await partitions.ensure_months(tx, [start + timedelta(days=d) for d in range(HISTORY_DAYS + 1)])
    began = time.monotonic()
    for lo in range(0, runs, CHUNK):
        hi = min(lo + CHUNK, runs) - 1
        async with ctx.db.write() as tx:
            await tx.execute(
                insert,
                {
                    "first": task_ids[0],
                    "tasks": len(task_ids),
                    "start": start,
                    "step": step,
                    "lo": lo,
                    "hi": hi,
                },
            )
        print(f"  {hi + 1:,} runs inserted ({time.monotonic() - began:.0f} s)", flush=True)
    return time.monotonic() - began


async def _vacuum(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("VACUUM (ANALYZE) runs")
    finally:
        await conn.close()


async def _listed_task(ctx: Context, task_id: int) -> None:
    """The listed task's own runs: more than a page plus the count's cap."""
    await _history(ctx, [task_id], LISTED)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"median {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


async def _claims(ctx: Context, task_id: int, samples: int) -> list[float]:
    service = ExecutionService(ctx)
    took: list[float] = []
    for i in range(samples):
        now = ctx.clock.now()
        row = {
            "task_id": task_id, "task_name": "history", "trigger": "manual",
            "scheduled_for": now + timedelta(microseconds=i), "attempt": 1, "status": "queued",
            "queue": "default", "priority": 0, "queued_at": now, "available_at": now,
        }  # fmt: skip
        async with ctx.db.write() as tx:
            await run_store.insert(tx, [row])
        began = time.perf_counter()
        claimed = await service.claim("bench", ["default"], 1, prefetch=timedelta(0))
        took.append(time.perf_counter() - began)
        assert len(claimed) == 1
    return took


async def _fires(ctx: Context, task_ids: list[int], samples: int) -> list[float]:
    service = FiringService(ctx)
    took: list[float] = []
    for i in range(samples):
        async with ctx.db.write() as tx:
            await tx.execute(
                sa.text("UPDATE tasks SET next_run_at = now() - interval '1 second' WHERE id = :id"),
                {"id": task_ids[i % len(task_ids)]},
            )
        began = time.perf_counter()
        report = await service.fire_due()
        took.append(time.perf_counter() - began)
        assert report.queued == 1, report
    return took


@dataclass
class _Database:
    """One of the two databases, built and kept until both are measured."""

    label: str
    url: str
    ctx: Context
    task_ids: list[int]
    summary: str
    took: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    fired: int = 0  # tasks fired so far (each is fired once)


async def _build(label: str, url: str, runs: int, tasks: int) -> _Database:
    print(f"{label}: {runs:,} runs of history", flush=True)
    ctx = await open_context(url)
    specs = _specs(tasks)
    far = ctx.clock.now() + timedelta(days=3650)
    task_ids = await bulk_tasks(ctx, specs, [far] * tasks)
    await KeyService(ctx).create("bench", Role.ADMIN, actor=CLI, key=KEY)
    made = await _history(ctx, task_ids, runs) if runs else 0.0
    await _listed_task(ctx, task_ids[1])
    await _vacuum(url)
    async with ctx.db.read() as tx:
        stored = int((await tx.execute(sa.text("SELECT count(*) FROM runs"))).scalar_one())
        in_default = await partitions.default_rows(tx)
        parts = int(
            (
                await tx.execute(
                    sa.text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'runs'::regclass")
                )
            ).scalar_one()
        )
    summary = f"{stored:,} in {parts} partitions, {in_default} in the default (made in {made:.0f} s)"
    print(f"  runs: {summary}", flush=True)
    return _Database(label, url, ctx, task_ids, summary)


async def _settle(url: str, seconds: float) -> None:
    """Write out what the build left dirty (a checkpoint), then let the machine go quiet: the
    first measurement of an earlier version ran while the 50 M build's writes were still being
    flushed, and its claims (commits) were 39 % slower for it."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    await asyncio.sleep(seconds)


async def _round(db: _Database, client: httpx.Client, samples: int) -> None:
    db.took["claim"] += await _claims(db.ctx, db.task_ids[0], samples)
    # Tasks not fired before: a fired one keeps its run queued (nothing executes it), and its overlap
    # policy would skip the next slot. Nor the task the claims left running.
    fresh = db.task_ids[2 + db.fired :]
    assert len(fresh) >= samples, "more samples than tasks (raise --tasks)"
    db.took["fire"] += await _fires(db.ctx, fresh, samples)
    db.fired += samples
    listed = db.task_ids[1]
    for op, path in (("GET all", "/api/runs?limit=50"), ("GET task", f"/api/runs?task_id={listed}&limit=50")):
        for _ in range(samples):
            began = time.perf_counter()
            client.get(path).raise_for_status()
            db.took[op].append(time.perf_counter() - began)


async def main_async(runs: int, tasks: int, samples: int, rounds: int, settle: float) -> None:
    async with fresh_database("postgresql") as empty_url, fresh_database("postgresql") as history_url:
        built = [
            await _build("empty", empty_url, 0, tasks),
            await _build("history", history_url, runs, tasks),
        ]
        try:
            await _settle(history_url, settle)
            with ExitStack() as stack:
                clients = [stack.enter_context(_api_client(db.url, db.task_ids[1])) for db in built]
                per_round = max(1, samples // rounds)
                for r in range(rounds):
                    # Alternating which goes first, so drift over the sitting falls on both alike.
                    order = [0, 1] if r % 2 == 0 else [1, 0]
                    for i in order:
                        await _round(built[i], clients[i], per_round)
                    print(
                        f"  round {r + 1}/{rounds}: "
                        + "; ".join(
                            f"{db.label} claim {_median(db.took['claim'][-per_round:])}"
                            f" GET task {_median(db.took['GET task'][-per_round:])}"
                            for db in built
                        )
                        + f"; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
                        flush=True,
                    )
        finally:
            for db in built:
                await db.ctx.close()
    empty, history = built
    print(f"history: {history.summary}")
    for op in OPERATIONS:
        a, b = statistics.median(empty.took[op]), statistics.median(history.took[op])
        print(
            f"  {OPERATIONS[op]}: empty {_ms(empty.took[op])}; history {_ms(history.took[op])};"
            f" change {(b / a - 1) * 100:+.0f} %",
            flush=True,
        )


def _median(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms"


@contextmanager
def _api_client(url: str, listed: int) -> Iterator[httpx.Client]:
    """A real ``tasksched api`` process on ``url``, and a client of it, warmed up."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="tasksched-bench-"))
    env = {"TASKSCHED_DATABASE_URL": url, "TASKSCHED_PORT": str(port), "TASKSCHED_LOG_LEVEL": "warning"}
    with tasksched(["api"], env, folder / "api.log") as server:
        base = f"http://127.0.0.1:{port}"
        server.wait_ready(base, timeout=60)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
            for path in ("/api/runs?limit=50", f"/api/runs?task_id={listed}&limit=50"):
                for _ in range(10):
                    client.get(path).raise_for_status()
            yield client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5_000_000)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=200, help="per operation and database, in all")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the samples are split into")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds of quiet after the build")
    args = parser.parse_args()
    run(main_async(args.runs, args.tasks, args.samples, args.rounds, args.settle))


if __name__ == "__main__":
    main()
