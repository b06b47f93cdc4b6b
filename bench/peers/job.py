"""The one job body every system runs: a plain function doing one Redis INCR on the run's key.

Imported by each peer's app module inside that peer's own virtual environment, and by tasksched's
registered function in the shared one, so the work per job is the same everywhere. With ``due`` (a
Unix time) the job also records its lateness, ``time.time() - due``, measured before anything else.
"""

from __future__ import annotations

import time

import redis

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379

_client: redis.Redis | None = None


def client() -> redis.Redis:
    """One client per process (redis-py resets its pool after a fork)."""
    global _client
    if _client is None:
        _client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    return _client


def incr(key: str, due: float | None = None) -> None:
    if due is None:
        client().incr(key)
        return
    late = time.time() - due
    pipe = client().pipeline(transaction=False)
    pipe.rpush(f"{key}:late", repr(late))
    pipe.incr(key)
    pipe.execute()
