"""Small asyncio helpers shared by the long-running loops."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import structlog

from tasksched.errors import ServiceUnavailable

log = structlog.get_logger("tasksched")

K = TypeVar("K")
V = TypeVar("V")


async def wait_any(*aws: Awaitable[Any], timeout: float) -> None:
    """Wait until any of ``aws`` completes or ``timeout`` seconds pass; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class SingleFlight(Generic[K, V]):
    """At most one running task per key: callers asking for a key already in flight share its task.

    The task is registered before it first awaits, so no second one can start for the key; it is
    forgotten when done. A failure nobody awaited (a background refresh) is logged, not lost.
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._running: dict[K, asyncio.Task[V]] = {}  # held, so a running task is not collected

    def start(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> asyncio.Task[V]:
        task = self._running.get(key)
        if task is None:
            task = asyncio.create_task(work())
            self._running[key] = task
            task.add_done_callback(functools.partial(self._done, key))
        return task

    async def join(self, key: K, work: Callable[[], Coroutine[Any, Any, V]]) -> V:
        """The result of the key's task, starting it if needed; a caller that gives up (a closed
        connection) does not cancel it for the others."""
        return await asyncio.shield(self.start(key, work))

    def _done(self, key: K, task: asyncio.Task[V]) -> None:
        del self._running[key]
        if not task.cancelled() and (error := task.exception()) is not None:
            if isinstance(error, ServiceUnavailable):
                return  # an outage, which the store logs once: not a line per lookup
            log.warning(f"{self._what} failed", error=f"{type(error).__name__}: {error}")
