"""Python task functions the tests register (imported by workers via TASKSCHED_IMPORTS too)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

from tasksched import Retry, current_run, task


@task(name="tests.noop")
def noop() -> None:
    return None


@task(name="tests.async_noop")
async def async_noop() -> None:
    return None


@task(name="tests.echo")
def echo(*args: object, **kwargs: object) -> dict[str, object]:
    return {"args": list(args), "kwargs": kwargs}


@task(name="tests.sleep")
async def sleep(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@task(name="tests.blocking_sleep")
def blocking_sleep(seconds: float) -> str:
    """Sleeps in its thread, polling the cancellation flag as a well-behaved function should."""
    deadline = time.monotonic() + seconds
    run = current_run()
    while time.monotonic() < deadline:
        if run.is_cancelled():
            return "stopped early"
        time.sleep(0.01)
    return "done"


@task(name="tests.fail")
def fail(message: str = "boom") -> None:
    raise RuntimeError(message)


@task(name="tests.fail_until")
def fail_until(attempt: int) -> str:
    """Fails until the run's attempt number reaches ``attempt``."""
    run = current_run()
    if run.attempt < attempt:
        raise RuntimeError(f"attempt {run.attempt} fails on purpose")
    return f"succeeded on attempt {run.attempt}"


@task(name="tests.retry_later")
def retry_later(delay: float) -> None:
    raise Retry(delay=delay)


@task(name="tests.record")
def record(path: str) -> str:
    """Appends the run id to a file: a way to count executions across processes."""
    run = current_run()
    with Path(path).open("a") as fh:
        fh.write(f"{run.run_id}:{run.attempt}:{os.getpid()}\n")
    return "recorded"


@task(name="tests.slow_record")
async def slow_record(path: str, seconds: float) -> str:
    """Records the start, sleeps, records the end: a crash in the middle leaves only a start."""
    run = current_run()
    with Path(path).open("a") as fh:
        fh.write(f"start {run.run_id}:{run.attempt}\n")
    await asyncio.sleep(seconds)
    with Path(path).open("a") as fh:
        fh.write(f"end {run.run_id}:{run.attempt}\n")
    return "done"


@task(name="tests.flood")
def flood(chars: int, error_chars: int = 0) -> str:
    """Returns ``chars`` characters (multi-byte ones among them: the output), or fails with an
    ``error_chars``-long message."""
    if error_chars:
        raise ValueError("€" * error_chars)
    return ("é€x" * (chars // 3 + 1))[:chars]


@task(name="tests.note")
def note(path: str, value: str = "", *, suffix: str = "") -> str:
    """Appends ``value + suffix`` as a line to a file: what a deferred call's arguments became."""
    with Path(path).open("a") as fh:
        fh.write(f"{value}{suffix}\n")
    return value


class ThreadCensus:
    """Which threads ran ``tests.count_threads``, and the most that ran it at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.idents: set[int] = set()
            self.running = 0
            self.most_at_once = 0
            self.calls = 0

    def enter(self) -> None:
        with self._lock:
            self.idents.add(threading.get_ident())
            self.running += 1
            self.calls += 1
            self.most_at_once = max(self.most_at_once, self.running)

    def leave(self) -> None:
        with self._lock:
            self.running -= 1


CENSUS = ThreadCensus()


@task(name="tests.count_threads")
def count_threads(seconds: float = 0.002) -> None:
    """A plain function that holds its thread a moment (so runs overlap), counted in ``CENSUS``."""
    CENSUS.enter()
    try:
        time.sleep(seconds)
    finally:
        CENSUS.leave()


class Gathering:
    """Async runs that each wait until ``expected`` of them are inside at once (or give up)."""

    def __init__(self) -> None:
        self.inside = 0
        self.everyone = asyncio.Event()

    def reset(self) -> None:
        self.inside = 0
        self.everyone = asyncio.Event()


GATHERING = Gathering()


@task(name="tests.gather")
async def gather(expected: int, give_up_seconds: float = 10) -> str:
    GATHERING.inside += 1
    if GATHERING.inside >= expected:
        GATHERING.everyone.set()
    await asyncio.wait_for(GATHERING.everyone.wait(), give_up_seconds)
    return "all here"
