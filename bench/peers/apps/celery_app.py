"""Celery: Redis broker, results ignored. Worker: ``celery -A bench.peers.apps.celery_app worker -c 2``."""

from __future__ import annotations

from datetime import UTC, datetime

from celery import Celery

from bench.peers import job
from bench.peers.apps.produce import RUN

QUEUE = f"peers-celery-{RUN}"

app = Celery("peers", broker=f"redis://{job.REDIS_HOST}:{job.REDIS_PORT}/0")
app.conf.update(task_ignore_result=True, task_default_queue=QUEUE, worker_hijack_root_logger=False)


@app.task(name="peers.incr")
def incr(key: str, due: float | None = None) -> None:
    job.incr(key, due)


def enqueue(key: str, n: int, bulk: bool) -> None:
    for _ in range(n):
        incr.delay(key)


def schedule(key: str, n: int, due: float) -> None:
    eta = datetime.fromtimestamp(due, UTC)
    for _ in range(n):
        incr.apply_async((key, due), eta=eta)


BULK = False
