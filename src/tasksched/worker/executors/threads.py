"""The threads plain (sync) task functions run in: a fixed bound, whatever the worker's concurrency.

``TASKSCHED_WORKER_CONCURRENCY`` is how many runs a worker has in flight; async functions, http and
shell actions wait on the event loop and cost no thread. A plain function needs a thread for as long
as it runs, so this pool has its own bound (``TASKSCHED_WORKER_THREADS``): at concurrency 1,000, a
thousand sync runs do not start a thousand threads (and a thousand connections from the function's
own client pool at once); the ones past the bound wait, in order, for a thread.

Per call, the hop is one put on the queue the threads take from, and one append to a list of what
the threads report; the loop is woken once for every batch of reports made while it was busy (not
once per call), and resolves them all. A thread that finishes a call takes the next waiting one
itself, without a round trip through the loop, so the bound costs no extra latency per call. A call
cancelled while it waits never starts; a call cancelled while it runs cannot be stopped (a thread
cannot be killed: the function should poll its run's cancellation flag), so its thread stays taken
until it returns. Threads are started as needed, up to the bound, and kept; they are daemons, so a
function that never returns does not keep the process from exiting once the worker has released its
runs.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


class _Call:
    __slots__ = ("context", "exc", "func", "future", "on_start", "value", "waits")

    def __init__(
        self,
        func: Callable[[], Any],
        context: contextvars.Context,
        future: asyncio.Future[Any],
        on_start: Callable[[], None] | None,
        waits: bool,
    ) -> None:
        self.func, self.context, self.future, self.on_start = func, context, future, on_start
        self.waits = waits  # no thread was free when it came: its start is reported to the loop
        self.value: Any = None
        self.exc: BaseException | None = None


class ThreadPool:
    """At most ``max_threads`` calls run at once; the rest wait in order. Used from one event loop."""

    def __init__(self, max_threads: int, *, name: str = "tasksched-task") -> None:
        if max_threads < 1:
            raise ValueError("a thread pool needs at least one thread")
        self.max_threads = max_threads
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._in_flight = 0  # calls put on the inbox whose end the loop has not seen yet
        # What the threads report, for the loop: (True, call) once it ended, (False, call) when a call
        # that had to wait begins.
        self._reports: list[tuple[bool, _Call]] = []
        self._reports_lock = threading.Lock()
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads started so far (never more than ``max_threads``)."""
        return len(self._threads)

    @property
    def in_flight(self) -> int:
        """Calls running or waiting for a thread."""
        return self._in_flight

    async def run(
        self,
        func: Callable[[], Any],
        *,
        on_wait: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> Any:
        """Run ``func()`` in a thread, in a copy of the caller's context. When every thread is taken,
        ``on_wait`` is called at once and ``on_start`` (on the loop) when a thread takes the call;
        otherwise ``on_start`` is called at once."""
        if self._closed:
            raise RuntimeError("the thread pool is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed() and self._in_flight:
                raise RuntimeError("a thread pool serves one event loop at a time")
            # A first loop, or the last one ended: what it left running reports to nobody.
            self._loop, self._in_flight = loop, 0
        self._in_flight += 1
        if self._in_flight > len(self._threads) < self.max_threads:
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        waits = self._in_flight > self.max_threads
        call = _Call(func, contextvars.copy_context(), loop.create_future(), on_start, waits)
        if waits:
            if on_wait is not None:
                on_wait()
        elif on_start is not None:
            on_start()
        self._inbox.put(call)
        return await call.future

    # -- on the loop ---------------------------------------------------------------------------

    def _resolve(self) -> None:
        with self._reports_lock:
            reports, self._reports = self._reports, []
        for ended, call in reports:
            if call.future.get_loop() is not self._loop:  # left by an earlier loop (see run)
                continue
            if not ended:
                if call.on_start is not None and not call.future.done():
                    call.on_start()
                continue
            self._in_flight -= 1
            if not call.future.done():  # else cancelled: nobody waits for the result
                if call.exc is not None:
                    call.future.set_exception(call.exc)
                else:
                    call.future.set_result(call.value)

    # -- in the threads ------------------------------------------------------------------------

    def _report(self, ended: bool, call: _Call) -> None:
        with self._reports_lock:
            self._reports.append((ended, call))
            first = len(self._reports) == 1
        if first:  # the loop has not been woken for this batch yet
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._resolve)
            except RuntimeError:  # the loop is closed: nobody waits for these
                with self._reports_lock:
                    self._reports.clear()

    def _work(self) -> None:
        while (call := self._inbox.get()) is not _STOP:
            # Cancelled while it waited (a timeout, a cancel, a drain), or the pool closed: skip it.
            # (Reading a future's state from this thread is safe; a cancel landing just after the
            # check is a cancel of a running call, which the function learns from its flag.)
            if not self._closed and not call.future.done():
                if call.waits:
                    self._report(False, call)
                try:
                    call.value = call.context.run(call.func)
                except BaseException as exc:  # handed to the awaiting task, which decides
                    call.exc = exc
            call.func = call.context = None  # type: ignore[assignment]  # drop references early
            self._report(True, call)

    def close(self) -> None:
        """Start no more calls (those waiting are skipped); idle threads end. Running calls are not
        waited for."""
        self._closed = True
        for _ in self._threads:
            self._inbox.put(_STOP)
