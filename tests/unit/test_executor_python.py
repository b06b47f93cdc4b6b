"""The Python executor with real registered functions, sync (in a thread) and async."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator

import pytest

from tasksched.config import Settings
from tasksched.domain.actions import PythonAction, ShellAction
from tasksched.registry import Retry, current_run, task
from tasksched.worker.executors import ExecutorSet
from tasksched.worker.executors.base import ExecutionContext
from tasksched.worker.executors.python import PythonExecutor

started = threading.Event()
saw_cancel = threading.Event()


@task(name="pytests.add")
def add(a: int, b: int = 0) -> int:
    return a + b


@task(name="pytests.greet")
async def greet(name: str) -> dict[str, object]:
    await asyncio.sleep(0)
    return {"hello": name, "ok": True}


@task(name="pytests.opaque")
def opaque() -> object:
    return {1, 2}


@task(name="pytests.fail")
def fail(message: str) -> None:
    raise ValueError(message)


@task(name="pytests.exit")
def exit_() -> None:
    sys.exit(3)


@task(name="pytests.retry")
async def retry(delay: float | None = None) -> None:
    raise Retry(delay=delay, reason="upstream busy")


@task(name="pytests.context")
def context_sync() -> dict[str, object]:
    run = current_run()
    run.log("hello from a thread")
    return {"run": run.run_id, "task": run.task_id, "name": run.task_name, "attempt": run.attempt}


@task(name="pytests.context_async")
async def context_async() -> int:
    run = current_run()
    run.log("hello from the loop\n")
    return run.attempt


@task(name="pytests.poll")
def poll_until_cancelled() -> None:
    started.set()
    while not current_run().is_cancelled():
        threading.Event().wait(0.01)
    saw_cancel.set()


@task(name="pytests.sleep")
async def sleep_long() -> None:
    started.set()
    await asyncio.sleep(30)


def make_ctx() -> ExecutionContext:
    return ExecutionContext(run_id=11, task_id=22, task_name="nightly", attempt=3)


@pytest.fixture
async def executor() -> AsyncIterator[PythonExecutor]:
    ex = PythonExecutor(max_threads=4)
    yield ex
    await ex.aclose()


async def test_sync_function_runs_and_its_value_is_written_as_json(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    result = await executor.execute(PythonAction(function="pytests.add", args=[1], kwargs={"b": 2}), ctx)
    assert result.ok
    assert result.error is None
    assert ctx.output.text() == "3\n"


async def test_async_function_is_awaited(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    result = await executor.execute(PythonAction(function="pytests.greet", args=["Zoë"]), ctx)
    assert result.ok
    assert ctx.output.text() == '{"hello": "Zoë", "ok": true}\n'


async def test_value_that_is_not_json_is_written_as_repr(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    assert (await executor.execute(PythonAction(function="pytests.opaque"), ctx)).ok
    assert ctx.output.text() == "{1, 2}\n"


async def test_exception_fails_the_run_with_its_traceback(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    result = await executor.execute(PythonAction(function="pytests.fail", args=["no data"]), ctx)
    assert not result.ok
    assert result.error == "ValueError: no data"
    output = ctx.output.text()
    assert "raise ValueError(message)" in output
    assert output.rstrip().endswith("ValueError: no data")


async def test_sys_exit_fails_the_run_not_the_worker(executor: PythonExecutor) -> None:
    result = await executor.execute(PythonAction(function="pytests.exit"), make_ctx())
    assert not result.ok
    assert result.error == "SystemExit: 3"


async def test_retry_with_a_delay(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    result = await executor.execute(PythonAction(function="pytests.retry", kwargs={"delay": 5}), ctx)
    assert not result.ok
    assert result.retry_after == 5.0
    assert result.error == "retry requested in 5s: upstream busy"


async def test_retry_without_a_delay_uses_the_backoff(executor: PythonExecutor) -> None:
    result = await executor.execute(PythonAction(function="pytests.retry"), make_ctx())
    assert not result.ok
    assert result.retry_after is None
    assert result.error == "retry requested after the task's backoff: upstream busy"


async def test_unknown_function(executor: PythonExecutor) -> None:
    result = await executor.execute(PythonAction(function="pytests.nothing_here"), make_ctx())
    assert not result.ok
    assert result.error is not None
    assert "unknown task function 'pytests.nothing_here'" in result.error


async def test_run_context_reaches_a_thread(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    result = await executor.execute(PythonAction(function="pytests.context"), ctx)
    assert result.ok, ctx.output.text()
    assert ctx.output.text() == (
        'hello from a thread\n{"run": 11, "task": 22, "name": "nightly", "attempt": 3}\n'
    )


async def test_run_context_in_an_async_function(executor: PythonExecutor) -> None:
    ctx = make_ctx()
    assert (await executor.execute(PythonAction(function="pytests.context_async"), ctx)).ok
    assert ctx.output.text() == "hello from the loop\n3\n"


async def test_cancelling_raises_the_flag_a_sync_function_polls(executor: PythonExecutor) -> None:
    started.clear()
    saw_cancel.clear()
    ctx = make_ctx()
    run = asyncio.create_task(executor.execute(PythonAction(function="pytests.poll"), ctx))
    assert await asyncio.to_thread(started.wait, 5)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert ctx.cancelled.is_set()
    assert await asyncio.to_thread(saw_cancel.wait, 5)


async def test_cancelling_an_async_function(executor: PythonExecutor) -> None:
    started.clear()
    ctx = make_ctx()
    run = asyncio.create_task(executor.execute(PythonAction(function="pytests.sleep"), ctx))
    while not started.is_set():
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert ctx.cancelled.is_set()


async def test_executor_set_dispatches_by_action_type() -> None:
    executors = ExecutorSet(Settings(enable_shell=False))
    try:
        ctx = make_ctx()
        assert (await executors.execute(PythonAction(function="pytests.add", args=[2, 2]), ctx)).ok
        assert ctx.output.text() == "4\n"
        shell = await executors.execute(ShellAction(command=["true"]), make_ctx())
        assert not shell.ok
        assert shell.error is not None
        assert "TASKSCHED_ENABLE_SHELL" in shell.error
    finally:
        await executors.aclose()
