"""Huey on Redis. Worker: ``huey_consumer bench.peers.apps.huey_app.huey -w 2 -k process``."""

from __future__ import annotations

from datetime import UTC, datetime

from huey import RedisHuey

from bench.peers import job
from bench.peers.apps.produce import RUN

huey = RedisHuey(f"peers-huey-{RUN}", host=job.REDIS_HOST, port=job.REDIS_PORT, results=False)


@huey.task()
def incr(key: str, due: float | None = None) -> None:
    job.incr(key, due)


def enqueue(key: str, n: int, bulk: bool) -> None:
    for _ in range(n):
        incr(key)


def schedule(key: str, n: int, due: float) -> None:
    # Huey's eta is naive local time unless the instance is utc=True (its default): naive UTC.
    eta = datetime.fromtimestamp(due, UTC).replace(tzinfo=None)
    for _ in range(n):
        incr.schedule((key, due), eta=eta)


BULK = False
