"""The threads plain (sync) task functions run in: a fixed bound, whatever the worker's concurrency.

``TASKSCHED_WORKER_CONCURRENCY`` is how many runs a worker has in flight; async functions, http and
shell actions wait on the event loop and cost no thread. A plain function needs a thread for as long
as it runs, so this pool has its own bound (``TASKSCHED_WORKER_THREADS``): at concurrency 1,000, a
thousand sync runs do not start a thousand threads (and a thousand connections from the function's
own client pool at once); the ones past the bound wait here, on the loop, for a thread.

Per run, the hop is one put on a queue the threads take from, and one append to a list of finished
calls; the loop is woken once for every batch of calls finished while it was busy (not once per
call), and then resolves them all. A call cancelled while waiting never starts; a call cancelled
while running cannot be stopped (a thread cannot be killed: the function should poll its run's
cancellation flag), so its thread stays counted until it returns. Threads are started as needed, up
to the bound, and kept; they are daemons, so a function that never returns does not keep the
process from exiting once the worker has released its runs.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

_STOP = None


class _Call:
    __slots__ = ("context", "exc", "func", "future", "on_start", "value")

    def __init__(
        self,
        func: Callable[[], Any],
        context: contextvars.Context,
        future: asyncio.Future[Any],
        on_start: Callable[[], None] | None,
    ) -> None:
        self.func, self.context, self.future, self.on_start = func, context, future, on_start
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
        self._busy = 0  # calls handed to threads and not yet seen back on the loop
        self._waiting: collections.deque[_Call] = collections.deque()
        self._done: list[_Call] = []  # finished in a thread, not yet resolved on the loop
        self._done_lock = threading.Lock()
        self._closed = False

    @property
    def threads(self) -> int:
        """Threads started so far (never more than ``max_threads``)."""
        return len(self._threads)

    @property
    def busy(self) -> int:
        return self._busy

    async def run(
        self,
        func: Callable[[], Any],
        *,
        on_wait: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> Any:
        """Run ``func()`` in a thread, in a copy of the caller's context. When every thread is busy,
        ``on_wait`` is called first; ``on_start`` is called on the loop when a thread takes it."""
        if self._closed:
            raise RuntimeError("the thread pool is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed() and (self._busy or self._waiting):
                raise RuntimeError("a thread pool serves one event loop at a time")
            # A first loop, or the last one ended: what it left running reports to nobody.
            self._loop, self._busy = loop, 0
            self._waiting.clear()
        call = _Call(func, contextvars.copy_context(), loop.create_future(), on_start)
        if self._busy < self.max_threads:
            self._hand_over(call)
        else:
            if on_wait is not None:
                on_wait()
            self._waiting.append(call)
        return await call.future

    # -- on the loop ---------------------------------------------------------------------------

    def _hand_over(self, call: _Call) -> None:
        self._busy += 1
        if self._busy > len(self._threads):
            thread = threading.Thread(
                target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        if call.on_start is not None:
            call.on_start()
        self._inbox.put(call)

    def _resolve(self) -> None:
        with self._done_lock:
            done, self._done = self._done, []
        for call in done:
            if call.future.get_loop() is not self._loop:  # left by an earlier loop (see run)
                continue
            self._busy -= 1
            if not call.future.done():  # cancelled while it ran: nobody waits for the result
                if call.exc is not None:
                    call.future.set_exception(call.exc)
                else:
                    call.future.set_result(call.value)
        while self._waiting and self._busy < self.max_threads and not self._closed:
            waiting = self._waiting.popleft()
            if not waiting.future.done():  # cancelled (a timeout, a cancel, a drain) before it began
                self._hand_over(waiting)

    # -- in the threads ------------------------------------------------------------------------

    def _work(self) -> None:
        while (call := self._inbox.get()) is not _STOP:
            try:
                call.value = call.context.run(call.func)
            except BaseException as exc:  # handed to the awaiting task, which decides
                call.exc = exc
            call.func = call.context = None  # type: ignore[assignment]  # drop references early
            with self._done_lock:
                self._done.append(call)
                first = len(self._done) == 1
            if first:  # the loop has not been woken for this batch yet
                assert self._loop is not None
                try:
                    self._loop.call_soon_threadsafe(self._resolve)
                except RuntimeError:  # the loop is closed: nobody waits for these results
                    with self._done_lock:
                        self._done.clear()

    def close(self) -> None:
        """Start no more calls; idle threads end. Running calls are not waited for."""
        self._closed = True
        for call in self._waiting:
            call.future.cancel()
        self._waiting.clear()
        for _ in self._threads:
            self._inbox.put(_STOP)
