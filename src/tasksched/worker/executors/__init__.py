"""What actually runs a task: one executor per action type, behind one dispatcher.

The worker builds one ``ExecutorSet`` and calls ``execute`` for every run; see ``base.py`` for the
contract (cancellation, output, results).
"""

from __future__ import annotations

import asyncio

from tasksched.config import Settings
from tasksched.domain.actions import HttpAction, PythonAction, ShellAction
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult, OutputBuffer
from tasksched.worker.executors.http import AddressPolicy, HttpExecutor
from tasksched.worker.executors.python import PythonExecutor
from tasksched.worker.executors.shell import ShellExecutor

__all__ = [
    "ExecutionContext",
    "ExecutionResult",
    "ExecutorSet",
    "HttpExecutor",
    "OutputBuffer",
    "PythonExecutor",
    "ShellExecutor",
]


class ExecutorSet:
    """Chooses the executor for an action by its type; owns their clients, threads and pools."""

    def __init__(self, settings: Settings, *, http_address_allowed: AddressPolicy | None = None) -> None:
        self.http = HttpExecutor(settings, address_allowed=http_address_allowed)
        self.shell = ShellExecutor(settings)
        self.python = PythonExecutor(max_threads=settings.worker_concurrency)

    async def execute(
        self, action: HttpAction | ShellAction | PythonAction, ctx: ExecutionContext
    ) -> ExecutionResult:
        try:
            if isinstance(action, HttpAction):
                return await self.http.execute(action, ctx)
            if isinstance(action, ShellAction):
                return await self.shell.execute(action, ctx)
            return await self.python.execute(action, ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Executors report failures as results; an exception here is a bug in tasksched. It still
            # ends as a failed run with a message rather than taking the worker's loop down.
            return ExecutionResult(
                ok=False, error=f"internal error in the {action.type} executor: {type(exc).__name__}: {exc}"
            )

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.shell.aclose()
        await self.python.aclose()
