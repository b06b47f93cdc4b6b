"""Procrastinate on PostgreSQL: ``procrastinate --app=bench.peers.apps.procrastinate_app.app worker``, 2 processes."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import procrastinate

from bench.peers import job
from bench.peers.apps.produce import RUN

QUEUE = f"peers-{RUN}"

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=os.environ.get("PEERS_PG_URL", "")))


@app.task(name="peers.incr", queue=QUEUE)
def incr(key: str, due: float | None = None) -> None:
    job.incr(key, due)


# Bulk jobs go to a queue the workers are not started on: only their enqueue is measured.
@app.task(name="peers.incr_bulk", queue=f"{QUEUE}-bulk")
def incr_bulk(key: str, due: float | None = None) -> None:
    job.incr(key, due)


def enqueue(key: str, n: int, bulk: bool) -> None:
    with app.open():
        if bulk:
            for start in range(0, n, 1000):
                incr_bulk.batch_defer(*({"key": key} for _ in range(min(1000, n - start))))
            return
        for _ in range(n):
            incr.defer(key=key)


def schedule(key: str, n: int, due: float) -> None:
    at = datetime.fromtimestamp(due, UTC)
    with app.open():
        for _ in range(n):
            incr.configure(schedule_at=at).defer(key=key, due=due)


BULK = hasattr(procrastinate.tasks.Task, "batch_defer")
