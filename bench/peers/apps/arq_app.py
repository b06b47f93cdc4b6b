"""arq: ``arq bench.peers.apps.arq_app.WorkerSettings``, 2 processes. arq runs coroutines, so the plain
job body runs in the event loop's default thread pool, as arq's documentation advises for sync code."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings

from bench.peers import job
from bench.peers.apps.produce import RUN

QUEUE = f"peers-arq-{RUN}"
REDIS = RedisSettings(host=job.REDIS_HOST, port=job.REDIS_PORT)


async def incr(ctx: dict[str, Any], key: str, due: float | None = None) -> None:
    await asyncio.get_running_loop().run_in_executor(None, job.incr, key, due)


class WorkerSettings:
    functions = [incr]
    redis_settings = REDIS
    queue_name = QUEUE
    keep_result = 0


async def _enqueue(key: str, n: int) -> None:
    pool = await create_pool(REDIS, default_queue_name=QUEUE)
    for _ in range(n):
        await pool.enqueue_job("incr", key)
    await pool.aclose()


async def _schedule(key: str, n: int, due: float) -> None:
    from datetime import UTC, datetime

    pool = await create_pool(REDIS, default_queue_name=QUEUE)
    at = datetime.fromtimestamp(due, UTC)
    for _ in range(n):
        await pool.enqueue_job("incr", key, due, _defer_until=at)
    await pool.aclose()


def enqueue(key: str, n: int, bulk: bool) -> None:
    asyncio.run(_enqueue(key, n))


def schedule(key: str, n: int, due: float) -> None:
    asyncio.run(_schedule(key, n, due))


BULK = False
