"""Runs a ``shell`` action: an argv list executed directly (never through a shell).

The command runs in a new session, so it leads its own process group, and the worker's own signals
(a Ctrl-C on ``tasksched serve``) do not reach it. Cancelling the run (timeout, cancel request,
``replace`` policy, a draining worker) stops every process the run started, not only the group:
also those that left it with ``setsid`` and those whose parent exited (see ``processes.py``; the
worker is their child subreaper and collects their exits).

The run ends when the command has exited *and* its output is closed: like ``subprocess.run``, a command
that leaves a background process holding its stdout keeps the run going until that process exits or
the run times out (which stops it). Background processes that do not hold the output outlive a run
that ends by itself, as they would under cron.
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
from tasksched.services.shell_allow import ShellNotAllowed, resolve_allowed
from tasksched.worker.executors import processes
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult
from tasksched.worker.executors.processes import Adopted, RunProcesses

READ_CHUNK = 64 * 1024
DEFAULT_KILL_GRACE = 2.0  # seconds between SIGTERM and SIGKILL
_REAP_TIMEOUT = 1.0
# How often the processes of runs (going on, or finished with processes left) are looked for.
SWEEP_SECONDS = 2.0


class ShellExecutor:
    def __init__(self, settings: Settings, *, kill_grace: float = DEFAULT_KILL_GRACE) -> None:
        self._enabled = settings.enable_shell
        self._allowed = settings.shell_allow_list
        self._kill_grace = kill_grace
        self._adopted = Adopted()
        self._running: set[RunProcesses] = set()
        self._lingering: list[RunProcesses] = []  # finished runs whose background processes live on
        self._sweeper: asyncio.Task[None] | None = None

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
        executable: str | None = None  # what execve runs; argv stays as given
        if self._allowed:
            try:
                executable = resolve_allowed(program, self._allowed, action.env)
            except ShellNotAllowed as exc:
                return ExecutionResult(ok=False, error=str(exc))
        processes.become_subreaper()  # before the first command: its orphans come back to us
        tree = RunProcesses()
        try:
            proc = await asyncio.create_subprocess_exec(
                *action.command,
                executable=executable,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,  # one stream, in the order the command wrote it
                cwd=action.cwd,
                env={**_inherited_environment(), **action.env, **tree.environment},
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

        tree.started(proc.pid)
        self._adopted.remember([tree])  # its first process is asyncio's to wait for, never ours
        self._running.add(tree)
        self._ensure_sweeper()
        try:
            await _copy_output(proc, ctx)
            returncode = await proc.wait()
        except asyncio.CancelledError:
            await self._stop(proc, tree, ctx)
            raise
        finally:
            self._finished(tree)

        if returncode == 0:
            return ExecutionResult(ok=True, exit_code=0)
        if returncode < 0:
            name = signal.Signals(-returncode).name if -returncode in _SIGNAL_NUMBERS else str(-returncode)
            return ExecutionResult(ok=False, exit_code=returncode, error=f"command killed by signal {name}")
        return ExecutionResult(ok=False, exit_code=returncode, error=f"command exited with code {returncode}")

    async def _stop(
        self, proc: asyncio.subprocess.Process, tree: RunProcesses, ctx: ExecutionContext
    ) -> None:
        """SIGTERM every process of the run, SIGKILL whatever is left after the grace, reap."""
        pgid = proc.pid  # a session leader's process group id is its pid
        try:
            tree.terminate()  # all of the run's processes, also those that left the group
            _signal_group(pgid, signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._kill_grace):
                    # Keep what the command prints while it shuts down. The output ends when every
                    # process holding it has exited, so this waits for the run's other processes too
                    # (their zombies, which only their reaper can clear, do not count).
                    await _copy_output(proc, ctx)
                    await proc.wait()
        finally:
            # Also runs if this wait is itself cancelled: nothing of the run may outlive it.
            tree.kill()
            _signal_group(pgid, signal.SIGKILL)
        # wait() also waits for the output pipe to close; a process we could not find (see
        # processes.py for which) may hold it open, and must not hang the worker.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _REAP_TIMEOUT)

    def _finished(self, tree: RunProcesses) -> None:
        """Hand the run's processes still around to the sweeper, which collects their exits when they
        come to us (no look at /proc here: a worker ending many runs a second would spend its time on it).
        """
        self._running.discard(tree)
        tree.session_open = False
        self._lingering.append(tree)
        self._adopted.remember([tree])
        self._adopted.look()  # orphans of the run now ours, while they live (cheap: our children only)
        self._adopted.reap()
        self._ensure_sweeper()

    def _ensure_sweeper(self) -> None:
        if (self._running or self._lingering or len(self._adopted)) and (
            self._sweeper is None or self._sweeper.done()
        ):
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), name="tasksched-shell-sweep"
            )

    async def _sweep(self) -> None:
        while self._running or self._lingering or len(self._adopted):
            await asyncio.sleep(SWEEP_SECONDS)
            self.sweep()

    def sweep(self) -> None:
        """One look at /proc for every run: know their processes, collect the exits that are ours."""
        every = processes.snapshot() if self._running or self._lingering else {}
        for tree in self._running:
            tree.find(every)  # know them while their parents live: one may clear its environment
        self._adopted.remember(self._running)
        self._adopted.remember(self._lingering)  # the last look's finds, dead ones included
        self._lingering = [tree for tree in self._lingering if tree.alive(every)]
        self._adopted.remember(self._lingering)
        self._adopted.look()
        self._adopted.reap()

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper


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
