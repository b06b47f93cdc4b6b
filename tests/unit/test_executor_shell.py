"""The shell executor with real subprocesses (Linux: process state is read from /proc)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tasksched.config import Settings
from tasksched.domain.actions import ShellAction
from tasksched.worker.executors.base import ExecutionContext
from tasksched.worker.executors.processes import MARK_VARIABLE
from tasksched.worker.executors.shell import SWEEP_SECONDS, ShellExecutor
from tests.helpers.procfs import alive, parent_of

ENABLED = Settings(enable_shell=True)


def make_ctx() -> ExecutionContext:
    return ExecutionContext(run_id=1, task_id=1, task_name="sh", attempt=1)


async def wait_gone(pids: list[int], timeout: float = 3.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return left


async def pids_from_output(ctx: ExecutionContext, count: int) -> list[int]:
    deadline = time.monotonic() + 5
    while len(lines := ctx.output.text().split()) < count:
        assert time.monotonic() < deadline, f"command printed only {lines!r}"
        await asyncio.sleep(0.01)
    return [int(line) for line in lines[:count]]


async def test_success_merges_stdout_and_stderr_in_order() -> None:
    ctx = make_ctx()
    result = await ShellExecutor(ENABLED).execute(
        ShellAction(command=["sh", "-c", "echo out; echo err >&2; echo more"]), ctx
    )
    assert result.ok
    assert result.exit_code == 0
    assert result.error is None
    assert ctx.output.text() == "out\nerr\nmore\n"


async def test_non_zero_exit_fails() -> None:
    ctx = make_ctx()
    result = await ShellExecutor(ENABLED).execute(ShellAction(command=["sh", "-c", "echo bye; exit 3"]), ctx)
    assert not result.ok
    assert result.exit_code == 3
    assert result.error == "command exited with code 3"
    assert ctx.output.text() == "bye\n"


async def test_arguments_are_not_interpreted_by_a_shell() -> None:
    ctx = make_ctx()
    result = await ShellExecutor(ENABLED).execute(ShellAction(command=["echo", "$HOME; `id` | x"]), ctx)
    assert result.ok
    assert ctx.output.text() == "$HOME; `id` | x\n"


async def test_env_adds_to_the_workers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_THE_WORKER", "worker")
    ctx = make_ctx()
    action = ShellAction(command=["sh", "-c", 'echo "$GREETING $FROM_THE_WORKER"'], env={"GREETING": "hi"})
    assert (await ShellExecutor(ENABLED).execute(action, ctx)).ok
    assert ctx.output.text() == "hi worker\n"


async def test_tasksched_settings_are_not_passed_to_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """The database URL and the bootstrap key stay with tasksched; an action may still set such a name."""
    monkeypatch.setenv("TASKSCHED_DATABASE_URL", "postgresql://app:s3cret@db/tasksched")
    monkeypatch.setenv("TASKSCHED_BOOTSTRAP_KEY", "ts_bootstrap_secret_value")
    ctx = make_ctx()
    action = ShellAction(command=["env"], env={"TASKSCHED_CHOSEN_BY_THE_TASK": "yes"})
    assert (await ShellExecutor(ENABLED).execute(action, ctx)).ok
    seen = dict(line.split("=", 1) for line in ctx.output.text().splitlines() if "=" in line)
    assert {name for name in seen if name.startswith("TASKSCHED_")} == {"TASKSCHED_CHOSEN_BY_THE_TASK"}
    assert "PATH" in seen


async def test_cwd(tmp_path: Path) -> None:
    ctx = make_ctx()
    assert (
        await ShellExecutor(ENABLED).execute(ShellAction(command=["pwd", "-P"], cwd=str(tmp_path)), ctx)
    ).ok
    assert ctx.output.text() == f"{tmp_path.resolve()}\n"


async def test_missing_cwd_is_a_failed_result(tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    result = await ShellExecutor(ENABLED).execute(ShellAction(command=["true"], cwd=missing), make_ctx())
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith(f"cannot use working directory {missing!r}")


async def test_missing_executable_is_a_failed_result() -> None:
    action = ShellAction(command=["tasksched-no-such-binary", "x"])
    result = await ShellExecutor(ENABLED).execute(action, make_ctx())
    assert not result.ok
    assert result.exit_code is None
    assert result.error == "executable not found: 'tasksched-no-such-binary'"


async def test_invalid_utf8_is_replaced() -> None:
    ctx = make_ctx()
    assert (await ShellExecutor(ENABLED).execute(ShellAction(command=["printf", "\\377ok"]), ctx)).ok
    assert ctx.output.text() == "\ufffdok"


async def test_disabled_shell_is_refused() -> None:
    ctx = make_ctx()
    result = await ShellExecutor(Settings(enable_shell=False)).execute(ShellAction(command=["true"]), ctx)
    assert not result.ok
    assert result.error is not None
    assert "TASKSCHED_ENABLE_SHELL" in result.error


async def test_cancelling_kills_the_process_group() -> None:
    ctx = make_ctx()
    # The shell prints its own pid and its background child's, then waits for the child.
    action = ShellAction(command=["sh", "-c", "echo $$; sleep 30 & echo $!; wait"])
    task = asyncio.create_task(ShellExecutor(ENABLED).execute(action, ctx))
    pids = await pids_from_output(ctx, 2)
    assert all(alive(pid) for pid in pids)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone(pids) == []


async def test_output_written_while_stopping_is_kept() -> None:
    ctx = make_ctx()
    action = ShellAction(
        command=["sh", "-c", "trap 'echo cleaning up; exit 1' TERM; echo ready; sleep 30 & wait"]
    )
    task = asyncio.create_task(ShellExecutor(ENABLED).execute(action, ctx))
    while "ready" not in ctx.output.text():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.output.text() == "ready\ncleaning up\n"


async def test_processes_ignoring_sigterm_are_killed_after_the_grace() -> None:
    ctx = make_ctx()
    # SIGTERM ignored by the shell, and inherited as ignored by its child.
    action = ShellAction(command=["sh", "-c", "trap '' TERM; echo $$; sleep 30 & echo $!; wait"])
    task = asyncio.create_task(ShellExecutor(ENABLED, kill_grace=0.2).execute(action, ctx))
    pids = await pids_from_output(ctx, 2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1.5
    assert await wait_gone(pids) == []


async def cancel_after_pids(action: ShellAction, count: int, **kwargs: float) -> list[int]:
    """Start the command, wait until it printed ``count`` pids (all alive), cancel; the pids."""
    ctx = make_ctx()
    task = asyncio.create_task(ShellExecutor(ENABLED, **kwargs).execute(action, ctx))
    pids = await pids_from_output(ctx, count)
    assert all(alive(pid) for pid in pids)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 5  # the run's end is not held up by what it left behind
    return pids


async def test_cancelling_kills_a_process_that_left_the_group_with_setsid() -> None:
    # `setsid sleep` is a session of its own: a group kill misses it, and it holds the output.
    action = ShellAction(command=["sh", "-c", "setsid sleep 300 & echo $!; echo started; sleep 300"])
    pids = await cancel_after_pids(action, 1)
    assert await wait_gone(pids) == []


async def test_cancelling_kills_an_orphan_in_a_new_session_and_collects_its_exit() -> None:
    # The subshell exits at once: its `setsid sleep` is orphaned (re-parented to the worker, its
    # subreaper), in a session of its own, holding nothing of the run but its environment.
    action = ShellAction(command=["sh", "-c", "(setsid sleep 300 >/dev/null 2>&1 & echo $!); sleep 300"])
    ctx = make_ctx()
    task = asyncio.create_task(ShellExecutor(ENABLED).execute(action, ctx))
    (orphan,) = await pids_from_output(ctx, 1)
    deadline = time.monotonic() + 5
    while parent_of(orphan) != os.getpid():
        assert time.monotonic() < deadline, f"the orphan's parent is {parent_of(orphan)}, not the worker"
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone([orphan]) == []
    # Collected too: not left a zombie of the worker's.
    deadline = time.monotonic() + 5
    while Path(f"/proc/{orphan}").exists() and parent_of(orphan) == os.getpid():
        assert time.monotonic() < deadline, "the killed orphan was left a zombie"
        await asyncio.sleep(0.02)


async def test_cancelling_kills_a_descendant_that_cleared_its_environment() -> None:
    action = ShellAction(command=["sh", "-c", "setsid env -i sleep 300 & echo $!; sleep 300"])
    pids = await cancel_after_pids(action, 1)
    assert await wait_gone(pids) == []


async def test_cancelling_stops_a_run_that_keeps_starting_new_sessions() -> None:
    # Bounded, so that code which misses them (as before this was fixed) leaks less for less long.
    spawner = "i=0; while [ $i -lt 300 ]; do setsid sleep 60 & i=$((i+1)); sleep 0.01; done"
    action = ShellAction(command=["sh", "-c", f"setsid sh -c '{spawner}' & echo $!; sleep 300"])
    ctx = make_ctx()
    task = asyncio.create_task(ShellExecutor(ENABLED, kill_grace=0.2).execute(action, ctx))
    (loop_pid,) = await pids_from_output(ctx, 1)
    await asyncio.sleep(0.3)  # let it start a few dozen sessions
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await wait_gone([loop_pid]) == []
    mark = f"{MARK_VARIABLE}=".encode()
    left = [pid for pid in _processes_with(mark) if alive(pid)]
    assert left == []


def _processes_with(entry_prefix: bytes) -> list[int]:
    """Processes of ours whose environment holds a run marker (any run's: no other run is going)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(item.startswith(entry_prefix) for item in environ.split(b"\0")):
                found.append(int(entry.name))
    return found


async def test_a_finished_runs_background_process_is_collected_when_it_exits() -> None:
    """A run that ends by itself leaves its detached processes alone; when one exits, the worker
    (its subreaper now) collects it rather than leaving a zombie."""
    command = "(setsid sleep 0.5 >/dev/null 2>&1 & echo $!)"
    executor = ShellExecutor(ENABLED)
    ctx = make_ctx()
    try:
        assert (await executor.execute(ShellAction(command=["sh", "-c", command]), ctx)).ok
        (daemon,) = [int(line) for line in ctx.output.text().split()]
        assert alive(daemon)
        assert parent_of(daemon) == os.getpid()
        deadline = time.monotonic() + 3 + SWEEP_SECONDS
        while Path(f"/proc/{daemon}").exists() and parent_of(daemon) == os.getpid():
            assert time.monotonic() < deadline, "the daemon's exit was never collected"
            await asyncio.sleep(0.05)
    finally:
        await executor.aclose()


async def test_an_orphan_that_exits_unseen_is_still_collected() -> None:
    """Orphaned and gone before the worker ever looked: it is known as a run's by its session (one
    that is neither the worker's nor its own, which no child the worker forked can be in)."""
    command = "(sleep 0.2 & echo $!); sleep 0.6"
    executor = ShellExecutor(ENABLED)
    ctx = make_ctx()
    try:
        assert (await executor.execute(ShellAction(command=["sh", "-c", command]), ctx)).ok
        (orphan,) = [int(line) for line in ctx.output.text().split()]
        deadline = time.monotonic() + 3 + SWEEP_SECONDS
        while Path(f"/proc/{orphan}").exists() and parent_of(orphan) == os.getpid():
            assert time.monotonic() < deadline, "the orphan was left a zombie of the worker's"
            await asyncio.sleep(0.05)
    finally:
        await executor.aclose()
