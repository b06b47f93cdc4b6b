"""Task functions for the benchmarks that run a real worker process (``TASKSCHED_IMPORTS=bench.jobs``).

Kept apart from ``bench.common``, which imports the store and the services: a worker importing this
module loads only what a user's module would (``tasksched.task``) plus what the function itself uses.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tasksched import task


@task(name="bench.plain")
def plain() -> None:
    """A plain (sync) function that does nothing: start-up is what is measured."""


_redis: Any = None
_redis_lock = threading.Lock()


@task(name="bench.redis_incr")
def redis_incr() -> None:
    """The issue's job body: one Redis ``INCR`` through redis-py (one client, its own pool of 100)."""
    global _redis
    if _redis is None:
        with _redis_lock:
            if _redis is None:
                import redis

                _redis = redis.Redis.from_url(
                    os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), max_connections=100
                )
    _redis.incr("tasksched-bench:incr")
