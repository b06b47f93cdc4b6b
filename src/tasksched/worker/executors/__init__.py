"""What actually runs a task: one executor per action type, behind one dispatcher.

The worker builds one ``ExecutorSet`` and calls ``execute`` for every run; see ``base.py`` for the
contract (cancellation, output, results). The HTTP and shell executors are built (and their modules
imported: httpx, its TLS context and connection pool) on the first action of their type, so a worker
that runs only Python functions never loads them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tasksched.config import Settings
from tasksched.domain.actions import HttpAction, PythonAction, ShellAction
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult, OutputBuffer
from tasksched.worker.executors.python import PythonExecutor

if TYPE_CHECKING:
    from tasksched.worker.executors.http import AddressPolicy, HttpExecutor
    from tasksched.worker.executors.shell import ShellExecutor

__all__ = ["ExecutionContext", "ExecutionResult", "ExecutorSet", "OutputBuffer", "PythonExecutor"]


class ExecutorSet:
    """Chooses the executor for an action by its type; owns their clients, threads and pools."""

    def __init__(self, settings: Settings, *, http_address_allowed: AddressPolicy | None = None) -> None:
        self._settings = settings
        self._http_address_allowed = http_address_allowed
        self._http: HttpExecutor | None = None
        self._shell: ShellExecutor | None = None
        self.python = PythonExecutor(max_threads=settings.worker_threads)

    @property
    def http(self) -> HttpExecutor:
        if self._http is None:
            from tasksched.worker.executors.http import HttpExecutor

            self._http = HttpExecutor(self._settings, address_allowed=self._http_address_allowed)
        return self._http

    @property
    def shell(self) -> ShellExecutor:
        if self._shell is None:
            from tasksched.worker.executors.shell import ShellExecutor

            self._shell = ShellExecutor(self._settings)
        return self._shell

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
        if self._http is not None:
            await self._http.aclose()
        if self._shell is not None:
            await self._shell.aclose()
        await self.python.aclose()
