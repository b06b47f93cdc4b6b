"""The worker's pool for plain functions (worker/executors/threads.py): bounded, in order, cancellable."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import sys
import threading

import pytest

from tasksched.worker.executors.threads import ThreadPool

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


async def test_calls_run_in_at_most_the_bound_of_threads_and_return_their_values() -> None:
    pool = ThreadPool(3)
    seen: set[int] = set()
    lock = threading.Lock()
    running = most = 0
    release = threading.Event()

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            seen.add(threading.get_ident())
            running += 1
            most = max(most, running)
        release.wait(10)
        with lock:
            running -= 1
        return i * 2

    calls = [asyncio.ensure_future(pool.run(functools.partial(work, i))) for i in range(30)]
    await asyncio.sleep(0)
    assert pool.in_flight == 30
    assert pool.threads == 3
    release.set()
    assert await asyncio.gather(*calls) == [i * 2 for i in range(30)]
    assert pool.threads == 3
    assert pool.in_flight == 0
    assert len(seen) <= 3
    assert most <= 3
    pool.close()


async def test_an_exception_reaches_the_caller_and_the_context_the_thread() -> None:
    pool = ThreadPool(1)
    where.set("the caller's")

    def boom() -> None:
        raise ValueError(where.get())

    with pytest.raises(ValueError, match="the caller's"):
        await pool.run(boom)
    with pytest.raises(SystemExit):
        await pool.run(lambda: sys.exit(3))
    pool.close()


async def test_a_call_cancelled_while_waiting_never_runs_and_hooks_say_when_it_waits_and_starts() -> None:
    pool = ThreadPool(1)
    release = threading.Event()
    ran: list[str] = []
    events: list[str] = []
    holder = asyncio.ensure_future(pool.run(lambda: release.wait(10)))
    waiter = asyncio.ensure_future(
        pool.run(lambda: ran.append("waiter"), on_wait=lambda: events.append("wait"))
    )
    after = asyncio.ensure_future(
        pool.run(
            lambda: ran.append("after"),
            on_wait=lambda: events.append("wait"),
            on_start=lambda: events.append("start"),
        )
    )
    await asyncio.sleep(0)
    waiter.cancel()
    release.set()
    await holder
    await after
    assert waiter.cancelled()
    assert ran == ["after"]
    assert events == ["wait", "wait", "start"]
    pool.close()
