"""Runs a function registered with ``@task``.

Async functions are awaited on the worker's loop; plain functions run in a thread pool of this
executor's own (``threads.py``), so a slow task function cannot starve the loop's default executor
(which, among other things, resolves host names for HTTP actions), and at most
``TASKSCHED_WORKER_THREADS`` of them run at once, whatever the worker's concurrency. A plain function
waiting for a thread has not begun: its timeout starts when it gets one (``ExecutionContext.begin``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import traceback
from typing import Any

from tasksched.domain.actions import PythonAction
from tasksched.registry import Retry, RunContext, bind_run, get_function
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult
from tasksched.worker.executors.threads import ThreadPool

# How much of a traceback goes to the output: the innermost frames and the message are what helps.
TRACEBACK_TAIL_LINES = 40


class PythonExecutor:
    def __init__(self, max_threads: int = 32) -> None:
        self.threads = ThreadPool(max_threads)

    async def execute(self, action: PythonAction, ctx: ExecutionContext) -> ExecutionResult:
        registered = get_function(action.function)
        if registered is None:
            return ExecutionResult(
                ok=False,
                error=(
                    f"unknown task function {action.function!r}: no function is registered under this "
                    "name on this worker (is its module listed in TASKSCHED_IMPORTS?)"
                ),
            )
        run = RunContext(
            run_id=ctx.run_id,
            task_id=ctx.task_id,
            task_name=ctx.task_name,
            attempt=ctx.attempt,
            cancelled=ctx.cancelled,
            _write=ctx.output.write,
        )
        try:
            with bind_run(run):
                if registered.is_async:
                    value = await registered.func(*action.args, **action.kwargs)
                else:
                    # The pool copies the context after bind_run, so the thread sees current_run().
                    call = functools.partial(registered.func, *action.args, **action.kwargs)
                    value = await self.threads.run(call, on_wait=ctx.waiting, on_start=ctx.begin)
        except asyncio.CancelledError:
            # A thread cannot be killed: a sync function keeps running until it returns, so it should
            # poll current_run().is_cancelled(). An async function has already received the
            # cancellation at its current await.
            ctx.cancelled.set()
            raise
        except Retry as exc:
            when = "after the task's backoff" if exc.delay is None else f"in {exc.delay:g}s"
            message = f"retry requested {when}" + (f": {exc.reason}" if exc.reason else "")
            ctx.output.write(message + "\n")
            return ExecutionResult(ok=False, error=message, retry_after=exc.delay)
        except (Exception, SystemExit) as exc:
            # SystemExit too: a task calling sys.exit() must fail its run, not stop the worker.
            ctx.output.write(_traceback_tail(exc))
            return ExecutionResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if value is not None:
            ctx.output.write(_render(value) + "\n")
        return ExecutionResult(ok=True)

    async def aclose(self) -> None:
        # Do not wait: a function that ignores its cancellation flag would block shutdown forever.
        self.threads.close()


def _render(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON-shaped, or circular
        return repr(value)


def _traceback_tail(exc: BaseException) -> str:
    lines = "".join(traceback.format_exception(exc)).splitlines()
    if len(lines) > TRACEBACK_TAIL_LINES:
        dropped = len(lines) - TRACEBACK_TAIL_LINES
        lines = [f"[… {dropped} traceback lines dropped …]", *lines[-TRACEBACK_TAIL_LINES:]]
    return "\n".join(lines) + "\n"
