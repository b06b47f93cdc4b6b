"""RQ: ``rq worker`` (forking) or ``rq worker -w rq.worker.SimpleWorker``, 2 of each kind at once."""

from __future__ import annotations

from datetime import UTC, datetime

from redis import Redis
from rq import Queue

from bench.peers import job
from bench.peers.apps.produce import RUN

QUEUE = f"peers-rq-{RUN}"


def incr(key: str, due: float | None = None) -> None:
    job.incr(key, due)


def _queue(name: str = QUEUE) -> Queue:
    return Queue(name, connection=Redis(host=job.REDIS_HOST, port=job.REDIS_PORT))


def enqueue(key: str, n: int, bulk: bool) -> None:
    # Bulk jobs go to a queue no worker takes: only their enqueue is measured (deleted at the end).
    queue = _queue(f"{QUEUE}-bulk" if bulk else QUEUE)
    if bulk:
        for start in range(0, n, 1000):
            chunk = min(1000, n - start)
            queue.enqueue_many([Queue.prepare_data(incr, (key,), result_ttl=0) for _ in range(chunk)])
        return
    for _ in range(n):
        queue.enqueue(incr, key, result_ttl=0)


def schedule(key: str, n: int, due: float) -> None:
    queue = _queue()
    at = datetime.fromtimestamp(due, UTC)
    for _ in range(n):
        queue.enqueue_at(at, incr, key, due, result_ttl=0)


BULK = True
