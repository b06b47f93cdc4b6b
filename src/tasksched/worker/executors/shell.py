"""Runs a ``shell`` action: an argv list executed directly (never through a shell).

The command runs in a new session, so it leads its own process group: cancelling the run (timeout,
cancel request, ``replace`` policy) stops the whole group, not only the first process, and the worker's
own signals (a Ctrl-C on ``tasksched serve``) do not reach it.

The run ends when the command has exited *and* its output is closed: like ``subprocess.run``, a command
that leaves a background process holding its stdout keeps the run going until that process exits or
the run times out (which stops the group).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import subprocess

from tasksched.config import Settings
from tasksched.domain.actions import ShellAction
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult

READ_CHUNK = 64 * 1024
DEFAULT_KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
_REAP_TIMEOUT = 1.0


class ShellExecutor:
    def __init__(self, settings: Settings, *, kill_grace: float = DEFAULT_KILL_GRACE) -> None:
        self._enabled = settings.enable_shell
        self._kill_grace = kill_grace

    async def execute(self, action: ShellAction, ctx: ExecutionContext) -> ExecutionResult:
        if not self._enabled:
            # The API refuses shell actions already; this is the same rule enforced where it matters.
            return ExecutionResult(
                ok=False,
                error=(
                    "shell actions are disabled on this worker; set TASKSCHED_ENABLE_SHELL=true to allow them"
                ),
            )

        program = action.command[0]
        try:
            proc = await asyncio.create_subprocess_exec(
                *action.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one stream, in the order the command wrote it
                cwd=action.cwd,
                env={**_inherited_environment(), **action.env},
                start_new_session=True,
            )
        except OSError as exc:
            # The child reports a failed chdir with the cwd as the filename, a failed exec with the
            # program: checking here rather than before the start leaves no window for a race.
            if action.cwd is not None and exc.filename == action.cwd:
                return ExecutionResult(
                    ok=False, error=f"cannot use working directory {action.cwd!r}: {exc.strerror or exc}"
                )
            if isinstance(exc, FileNotFoundError):
                return ExecutionResult(ok=False, error=f"executable not found: {program!r}")
            if isinstance(exc, PermissionError):
                return ExecutionResult(ok=False, error=f"permission denied executing {program!r}")
            return ExecutionResult(ok=False, error=f"cannot start {program!r}: {exc.strerror or exc}")

        try:
            await _copy_output(proc, ctx)
            returncode = await proc.wait()
        except asyncio.CancelledError:
            await self._stop_group(proc, ctx)
            raise

        if returncode == 0:
            return ExecutionResult(ok=True, exit_code=0)
        if returncode < 0:
            name = signal.Signals(-returncode).name if -returncode in _SIGNAL_NUMBERS else str(-returncode)
            return ExecutionResult(ok=False, exit_code=returncode, error=f"command killed by signal {name}")
        return ExecutionResult(ok=False, exit_code=returncode, error=f"command exited with code {returncode}")

    async def _stop_group(self, proc: asyncio.subprocess.Process, ctx: ExecutionContext) -> None:
        """SIGTERM the command's process group, SIGKILL whatever is left after the grace, reap."""
        pgid = proc.pid  # a session leader's process group id is its pid
        try:
            _signal_group(pgid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._kill_grace):
                    # Keep what the command prints while it shuts down. The output ends when every
                    # process holding it has exited, so this waits for the group's children too
                    # (their zombies, which only their reaper can clear, do not count).
                    await _copy_output(proc, ctx)
                    await proc.wait()
        finally:
            # Also runs if this wait is itself cancelled: nothing of the group may outlive the run.
            _signal_group(pgid, signal.SIGKILL)
        # wait() also waits for the output pipe to close; a process that left the group (setsid) may
        # hold it open, and must not hang the worker.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _REAP_TIMEOUT)


_SIGNAL_NUMBERS = {s.value for s in signal.Signals}


async def _copy_output(proc: asyncio.subprocess.Process, ctx: ExecutionContext) -> None:
    assert proc.stdout is not None
    # Incremental, so a multi-byte character split across two reads is not mangled.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await proc.stdout.read(READ_CHUNK):
        ctx.output.write(decoder.decode(chunk))
    ctx.output.write(decoder.decode(b"", final=True))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(pgid, sig)


def _inherited_environment() -> dict[str, str]:
    """The worker's environment without tasksched's own settings.

    ``TASKSCHED_*`` hold the database URL (with its password, if any) and the bootstrap key: a command
    has no business reading them. Everything else (PATH, HOME, proxies, locale) is passed on, and the
    action's ``env`` is added on top.
    """
    return {name: value for name, value in os.environ.items() if not name.startswith("TASKSCHED_")}
