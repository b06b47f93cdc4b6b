"""APScheduler 3, in-process: a BackgroundScheduler with its default thread pool runs the date jobs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bench.peers import job


def enqueue(key: str, n: int, bulk: bool) -> None:
    raise SystemExit("APScheduler has no queue to enqueue into")


def schedule(key: str, n: int, due: float) -> None:
    """Adds the jobs, then waits in the same process until they all ran (or 60 s past the slot)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    at = datetime.fromtimestamp(due, UTC)
    for _ in range(n):
        scheduler.add_job(job.incr, "date", run_date=at, args=(key, due))
    while time.time() < due + 60 and int(job.client().get(key) or 0) < n:
        time.sleep(0.05)
    scheduler.shutdown(wait=True)


BULK = False
