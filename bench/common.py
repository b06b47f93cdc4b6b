"""Shared set-up for the benchmarks: fresh databases, bulk task and run creation."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from tasksched import current_run, task
from tasksched.config import Settings
from tasksched.domain.tasks import TaskSpec
from tasksched.observability.logging import configure
from tasksched.services.context import Context
from tasksched.store import migrate
from tasksched.store import runs as run_store
from tasksched.store import tasks as task_store
from tasksched.store.mapping import spec_values

PG_ADMIN = os.environ.get("TASKSCHED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@task(name="bench.noop")
async def noop() -> None:
    return None


# run id → when the function really began (time.time()): lateness as a user would see it.
STARTED: dict[int, float] = {}


@task(name="bench.stamp")
async def stamp() -> None:
    STARTED[current_run().run_id] = time.time()


@task(name="bench.sync_noop")
def sync_noop() -> None:
    return None


@task(name="bench.sync_kwargs")
def sync_kwargs(**_kwargs: object) -> None:
    """A plain function that takes whatever a run's input gives it."""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    return int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) / 1024


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        folder = Path(mkdtemp(prefix="tasksched-bench-"))
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"tasksched_bench_{uuid.uuid4().hex[:10]}"
    await _pg(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def open_context(url: str, **settings: Any) -> Context:
    configure("warning", "json")
    ctx = Context.open(Settings(database_url=url, log_level="warning", **settings))
    await migrate.upgrade(ctx.db)
    return ctx


def task_values(spec: TaskSpec, now: datetime, next_run_at: datetime | None) -> dict[str, Any]:
    values = spec_values(spec)
    values.update(
        schedule_anchor=now.replace(microsecond=0),
        next_run_at=next_run_at,
        paused_at=None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    return values


async def bulk_tasks(ctx: Context, specs: list[TaskSpec], next_runs: list[datetime | None]) -> list[int]:
    """Insert tasks straight through the store (set-up speed, not what is measured)."""
    now = ctx.clock.now()
    ids: list[int] = []
    chunk = 2000
    for start in range(0, len(specs), chunk):
        rows = [
            task_values(spec, now, nxt)
            for spec, nxt in zip(specs[start : start + chunk], next_runs[start : start + chunk], strict=True)
        ]
        async with ctx.db.write() as tx:
            ids.extend(await task_store.insert_many(tx, rows))
    return ids


async def bulk_runs(ctx: Context, task_id: int, task_name: str, count: int) -> None:
    now = ctx.clock.now()
    rows = [
        {
            "task_id": task_id,
            "task_name": task_name,
            "trigger": "manual",
            "scheduled_for": now + timedelta(microseconds=i),
            "attempt": 1,
            "status": "queued",
            "queue": "default",
            "priority": 0,
            "queued_at": now,
            "available_at": now,
        }
        for i in range(count)
    ]
    for start in range(0, count, 2000):
        async with ctx.db.write() as tx:
            await run_store.insert(tx, rows[start : start + 2000])


def run(coro: Any) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)
