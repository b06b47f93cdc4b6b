"""Python task functions the tests register (imported by workers via TASKSCHED_IMPORTS too)."""

from __future__ import annotations

import asyncio
import os
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
