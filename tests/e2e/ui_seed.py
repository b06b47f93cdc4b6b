"""Runs written straight into a browser test's database (the SQLite file `tasksched serve` uses),
with the times a test needs: slots in the past, queue waits, outcomes, attempts. Through the store,
in chunks, so ten thousand take a second or two."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tasksched.store import runs as run_store
from tasksched.store.engine import connect


def database_url(folder: Path) -> str:
    """The database running_server(folder) gives its server."""
    return f"sqlite:///{folder / 'ui.db'}"


def run_row(
    task: dict[str, Any],
    status: str,
    ready: datetime,
    *,
    wait: float | None = 0.0,
    duration: float | None = 1.0,
    attempt: int = 1,
    slot: datetime | None = None,
    error: str | None = None,
    queue: str = "default",
) -> dict[str, Any]:
    """A run of `task` that could start at `ready`, waited `wait` s (None: never started) and ran
    `duration` s (None: not finished). `slot` is its scheduled_for (a retry keeps its slot's)."""
    started = None if wait is None else ready + timedelta(seconds=wait)
    finished: datetime | None
    if status in ("queued", "running"):
        finished = None
    elif started is None:
        finished = ready  # cancelled or skipped before it started
    else:
        finished = started + timedelta(seconds=duration or 0)
    return {
        "task_id": task["id"],
        "task_name": task["name"],
        "trigger": "retry" if attempt > 1 else "schedule",
        "scheduled_for": slot or ready,
        "attempt": attempt,
        "status": status,
        "queue": queue,
        "priority": 0,
        "queued_at": ready,
        "available_at": ready,
        "started_at": started,
        "finished_at": finished,
        "duration_ms": int((finished - started).total_seconds() * 1000) if finished and started else None,
        "error": error,
    }


def insert_runs(url: str, rows: Sequence[dict[str, Any]], chunk: int = 5000) -> list[int]:
    """Insert the rows (in transactions of `chunk`); their ids, in order."""

    async def go() -> list[int]:
        db = connect(url)
        ids: list[int] = []
        try:
            for start in range(0, len(rows), chunk):
                async with db.write() as tx:
                    inserted = await run_store.insert(tx, rows[start : start + chunk])
                assert len(inserted) == len(rows[start : start + chunk]), "a run's slot was taken already"
                # RETURNING's order is not promised: match each row by its slot's key.
                made = {(r["task_id"], r["scheduled_for"], r["attempt"]): int(r["id"]) for r in inserted}
                ids += [
                    made[(r["task_id"], r["scheduled_for"], r["attempt"])]
                    for r in rows[start : start + chunk]
                ]
        finally:
            await db.dispose()
        return ids

    # In a thread of its own: Playwright's sync API keeps an event loop running in the test's thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()
