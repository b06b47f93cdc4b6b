"""``TASKSCHED_SHELL_ALLOW``: which executables a ``shell`` action may run.

One rule, used by the API (to refuse a task early) and by the worker (the real gate, just before exec):

- ``argv[0]`` is either an absolute path or a bare name. A bare name is looked up in the ``PATH`` the
  command would get (the action's ``env`` ``PATH`` if it sets one, else the process's). A relative
  path with a slash (``./x``, ``bin/x``, ``../x``) is refused: what it names depends on a directory.
- The path's *directory* is resolved through symlinks and ``..``; its file name is kept. The result
  must equal an allowed path resolved the same way. So ``/bin/ls`` and ``/usr/bin/ls`` are one path
  where ``/bin`` links to ``/usr/bin``, but a link elsewhere to an allowed program is another path and
  refused: a multi-call binary (busybox) reached as ``/tmp/sh`` would otherwise run as ``sh``.
- The worker executes the resolved path, with ``argv`` as given: a ``PATH`` or directory changed
  after the check cannot make it run something else. A symlink that *is* an allowed path is followed
  when the command starts (the allowed path is the operator's to keep).
"""

from __future__ import annotations

import os
import shutil


class ShellNotAllowed(Exception):
    """``argv[0]`` is not an executable the allow-list names (the message says why)."""


def canonical(path: str) -> str:
    """``path`` with its directory resolved through symlinks and ``..``, its file name kept."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(directory), name)


def resolve_allowed(program: str, allowed: list[str], env: dict[str, str]) -> str:
    """The path to execute for ``argv[0] == program``; ShellNotAllowed unless the allow-list names it."""
    if "/" in program:
        if not os.path.isabs(program):
            raise ShellNotAllowed(
                f"{program!r} is a relative path; with TASKSCHED_SHELL_ALLOW set, write an absolute path "
                "or a name looked up in PATH"
            )
        candidate = program
    else:
        search = env["PATH"] if "PATH" in env else os.environ.get("PATH", os.defpath)
        found = shutil.which(program, path=search)
        if found is None or not os.path.isabs(found):
            raise ShellNotAllowed(
                f"{program!r} is not found in PATH, so it is not an executable TASKSCHED_SHELL_ALLOW allows"
            )
        candidate = found
    resolved = canonical(candidate)
    if resolved not in {canonical(path) for path in allowed}:
        shown = program if resolved == program else f"{program} ({resolved})"
        raise ShellNotAllowed(
            f"{shown} is not an executable TASKSCHED_SHELL_ALLOW allows (allowed: {', '.join(allowed)})"
        )
    return resolved
