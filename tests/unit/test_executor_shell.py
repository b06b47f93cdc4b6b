"""The shell executor with real subprocesses (Linux: process state is read from /proc)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tasksched.config import Settings
from tasksched.domain.actions import ShellAction
from tasksched.worker.executors.base import ExecutionContext
from tasksched.worker.executors.shell import ShellExecutor

ENABLED = Settings(enable_shell=True)


def make_ctx() -> ExecutionContext:
    return ExecutionContext(run_id=1, task_id=1, task_name="sh", attempt=1)


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for its (possibly absent) reaper counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


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
