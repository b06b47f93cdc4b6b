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
        _log_failure(self._what, task)


class FreshFlight(Generic[K, V]):
    """At most one load running per key, and each caller's answer loaded after it asked.

    A caller says which version of the data it has seen (an event counter, ``EventBus.version``).
    It shares the load running for its key when that load started at that version or later;
    otherwise it waits for that load to end and shares the next one. Under a stream of changes,
    where every caller sees a new version, a key then costs one load at a time however many ask,
    and no answer predates a change its caller had seen (``SingleFlight`` keyed by version would
    start one load per caller).
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._running: dict[K, tuple[int, asyncio.Task[V]]] = {}

    def start(
        self, key: K, version: Callable[[], int], work: Callable[[int], Coroutine[Any, Any, V]]
    ) -> tuple[int, asyncio.Task[V]]:
        """The key's running load, or a new one of the version current now."""
        running = self._running.get(key)
        if running is None or running[1].done():
            started = version()
            task = asyncio.create_task(work(started))
            running = self._running[key] = (started, task)
            task.add_done_callback(functools.partial(self._done, key))
        return running

    async def join(
        self, key: K, seen: int, version: Callable[[], int], work: Callable[[int], Coroutine[Any, Any, V]]
    ) -> V:
        while True:
            started, task = self.start(key, version, work)
            if started >= seen:
                # A caller that gives up (a closed connection) does not cancel it for the others.
                return await asyncio.shield(task)
            await asyncio.wait([task])  # it began before what this caller saw: the next one will do

    def _done(self, key: K, task: asyncio.Task[V]) -> None:
        if (running := self._running.get(key)) is not None and running[1] is task:
            del self._running[key]
        _log_failure(self._what, task)


def _log_failure(what: str, task: asyncio.Task[Any]) -> None:
    """A failure nobody awaited (a background refresh) is logged, not lost."""
    if not task.cancelled() and (error := task.exception()) is not None:
        if isinstance(error, ServiceUnavailable):
            return  # an outage, which the store logs once: not a line per lookup
        log.warning(f"{what} failed", error=f"{type(error).__name__}: {error}")
