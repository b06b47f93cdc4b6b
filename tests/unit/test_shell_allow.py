"""``TASKSCHED_SHELL_ALLOW`` with real files, symlinks and subprocesses.

The generated test sends hostile arguments (shell syntax, newlines, ``../``, unicode, long values)
through a real worker executor to a real program that prints the argv it received: they arrive
verbatim, none is interpreted by a shell, and only allowed programs run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tasksched.config import Settings
from tasksched.domain.actions import ShellAction
from tasksched.services.shell_allow import ShellNotAllowed, canonical, resolve_allowed
from tasksched.worker.executors.base import ExecutionContext, ExecutionResult, OutputBuffer
from tasksched.worker.executors.shell import ShellExecutor

PYTHON = canonical(sys.executable)
# Prints the arguments it was given as JSON (ASCII-escaped, so any text survives the output pipe).
ECHO_ARGV = "import json, sys; print(json.dumps(sys.argv[1:]))"


def make_ctx() -> ExecutionContext:
    # Room for the longest echo: 8 arguments of 4096 characters, each \uXXXX-escaped in JSON.
    return ExecutionContext(run_id=1, task_id=1, task_name="sh", attempt=1, output=OutputBuffer(1 << 20))


async def execute(allow: list[str], action: ShellAction) -> tuple[ExecutionResult, str]:
    executor = ShellExecutor(Settings(enable_shell=True, shell_allow=",".join(allow)))
    ctx = make_ctx()
    try:
        result = await executor.execute(action, ctx)
    finally:
        await executor.aclose()
    return result, ctx.output.text()


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A directory holding a script that leaves a mark when it runs, and links to it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "mark"
    script.write_text(f'#!/bin/sh\n{shutil.which("touch")} {tmp_path}/ran\necho marked "$@"\n')
    script.chmod(0o755)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "alias").symlink_to(script)
    (tmp_path / "linked-bin").symlink_to(folder)
    return folder


def test_a_bare_name_is_looked_up_in_the_path_the_command_gets(bin_dir: Path) -> None:
    allowed = [str(bin_dir / "mark")]
    assert resolve_allowed("mark", allowed, {"PATH": str(bin_dir)}) == str(bin_dir / "mark")
    with pytest.raises(ShellNotAllowed, match="'mark' is not found in PATH"):
        resolve_allowed("mark", allowed, {"PATH": "/nonexistent"})


def test_the_actions_path_cannot_swap_in_another_program(bin_dir: Path, tmp_path: Path) -> None:
    """``ls`` is allowed; an action setting PATH to a folder with its own ``ls`` gets refused."""
    ls = shutil.which("ls")
    assert ls is not None
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "ls").symlink_to(bin_dir / "mark")
    assert resolve_allowed("ls", [ls], {}) == canonical(ls)
    with pytest.raises(ShellNotAllowed, match="is not an executable TASKSCHED_SHELL_ALLOW allows"):
        resolve_allowed("ls", [ls], {"PATH": str(fake)})


def test_a_relative_path_is_refused(bin_dir: Path) -> None:
    for program in ("./mark", "bin/mark", "../bin/mark"):
        with pytest.raises(ShellNotAllowed, match="is a relative path"):
            resolve_allowed(program, [str(bin_dir / "mark")], {})


def test_directories_resolve_through_symlinks_but_a_linked_file_is_another_path(
    bin_dir: Path, tmp_path: Path
) -> None:
    allowed = [str(bin_dir / "mark")]
    assert resolve_allowed(str(tmp_path / "linked-bin" / "mark"), allowed, {}) == str(bin_dir / "mark")
    assert resolve_allowed(f"{bin_dir}/../bin/mark", allowed, {}) == str(bin_dir / "mark")
    with pytest.raises(ShellNotAllowed):  # a multi-call binary would run as "alias" here
        resolve_allowed(str(tmp_path / "elsewhere" / "alias"), allowed, {})


async def test_the_worker_refuses_an_executable_not_allowed_before_starting_it(
    bin_dir: Path, tmp_path: Path
) -> None:
    result, _ = await execute(["/bin/true"], ShellAction(command=[str(bin_dir / "mark")]))
    assert not result.ok
    assert result.error == (
        f"{bin_dir / 'mark'} is not an executable TASKSCHED_SHELL_ALLOW allows (allowed: /bin/true)"
    )
    assert not (tmp_path / "ran").exists()


async def test_the_worker_runs_an_allowed_executable(bin_dir: Path, tmp_path: Path) -> None:
    result, output = await execute(
        [str(bin_dir / "mark")], ShellAction(command=["mark", "a b"], env={"PATH": str(bin_dir)})
    )
    assert result.ok, result.error
    assert output == "marked a b\n"
    assert (tmp_path / "ran").exists()


def test_a_nul_byte_never_reaches_exec() -> None:
    """execve cannot carry one (it would cut the argument short): the action itself is refused."""
    for argv in (["/bin/echo", "a\x00b"], ["/bin/echo\x00x"]):
        with pytest.raises(ValidationError, match="must not contain NUL"):
            ShellAction(command=argv)


# -- generated: hostile arguments ------------------------------------------------------------

_HOSTILE_PIECES = [
    ";", "&&", "||", "|", "&", "$(touch {mark})", "`touch {mark}`", "; touch {mark}", "\n touch {mark}",
    "$HOME", "${IFS}", "*", "?", "~", "'", '"', "\\", ">", "<", "{a,b}", "../../../etc/passwd", "-c",
    "--", " ", "\t", "\r", "é", "日本語", "\u202e", "\U0001f600", "%s%n", "\x1b[31m",
]  # fmt: skip
_pieces = st.sampled_from(_HOSTILE_PIECES)
# Cs (lone surrogates) cannot be encoded into an argv; NUL cannot be in one (tested on its own below).
_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40)
_long = st.tuples(_text.filter(bool), st.integers(3000, 4096)).map(lambda p: (p[0] * 4096)[: p[1]])
_arguments = st.lists(
    st.one_of(st.lists(st.one_of(_pieces, _text), min_size=1, max_size=6).map("".join), _long).filter(
        lambda arg: 1 <= len(arg) <= 4096
    ),
    max_size=8,
)
# argv[0] candidates: the allowed program itself, spellings of it, and programs or syntax that are not.
_programs = st.sampled_from(
    [
        PYTHON,
        f"{os.path.dirname(PYTHON)}/../{os.path.basename(os.path.dirname(PYTHON))}/{os.path.basename(PYTHON)}",
        "/bin/sh",
        "sh",
        "sh -c id",
        "$(which python3)",
        "`id`",
        "../" + os.path.basename(PYTHON),
        "./python3",
        "/usr/bin/env",
        PYTHON + ";id",
    ]
)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(program=_programs, arguments=_arguments)
async def test_hostile_arguments_arrive_verbatim_and_only_allowed_programs_run(
    tmp_path: Path, program: str, arguments: list[str]
) -> None:
    mark = tmp_path / "pwned"
    arguments = [arg.replace("{mark}", str(mark)) for arg in arguments]
    argv = [program, "-c", ECHO_ARGV, *arguments]
    result, output = await execute([PYTHON], ShellAction(command=argv))
    allowed = canonical(program) == PYTHON if program.startswith("/") else False
    event(f"allowed={allowed}")
    if allowed:
        assert result.ok, result.error
        assert json.loads(output) == arguments  # python -c drops "-c" and the code from sys.argv
    else:
        assert not result.ok
        assert result.error is not None
        assert "TASKSCHED_SHELL_ALLOW" in result.error
        assert output == ""
    assert not mark.exists()  # no shell ever read ``touch``
