"""Every process a shell run started: found, stopped, and waited for (Linux, through /proc).

Killing the command's process group is not enough: a process that calls ``setsid`` (or ``setpgid``)
leaves the group, and one whose parent exits is re-parented. So the processes of a run are found
by four threads that each survive some of those moves:

- the run's session (the command is started as a session leader; ``setsid`` leaves it);
- a marker in the environment, ``_TASKSCHED_RUN_MARK=<unique per run>``, which every descendant
  inherits unless it clears or replaces its environment (``setsid`` keeps it, re-parenting keeps it);
- the processes seen before as members of the run (by pid and start time, so a recycled pid is
  never mistaken for one), which covers those that cleared their environment after being seen;
- the descendants (by parent pid) of all of the above.

Stopping a run freezes its processes first (SIGSTOP, again until no new member appears: a stopped
process cannot fork), so all of them are known before any dies and orphans others; then they get
SIGTERM (and SIGCONT), and after the grace the same again with SIGKILL. While a run goes on, its
processes are looked for every few seconds too, so that one which clears its environment and is
orphaned later is still known.

The worker makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``): an orphaned
process of a run is re-parented to the worker instead of init, stays inside the worker's process
tree, and its exit is the worker's to collect. The worker waits only for processes it knows are
runs' (members seen before, matched by pid and start time), never for a child it did not adopt that
way: asyncio and ``subprocess`` wait for their own children by pid, and taking such an exit status
from them would corrupt a result. What this cannot catch is said in docs/guarantees.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Not a ``TASKSCHED_`` name: those are tasksched's settings, kept from commands (and a command that
# itself runs tasksched must not read this one as a setting).
MARK_VARIABLE = "_TASKSCHED_RUN_MARK"
_PR_SET_CHILD_SUBREAPER = 36
_FREEZE_ROUNDS = 50
_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    session: int
    state: str  # "Z" for a zombie: exited, waiting for its parent to collect it
    start: int  # start time in clock ticks since boot: tells a process from a later one with its pid


def read_proc(pid: int) -> ProcInfo | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = text.rsplit(")", 1)[1].split()
    return ProcInfo(
        pid=pid, ppid=int(fields[1]), session=int(fields[3]), state=fields[0], start=int(fields[19])
    )


def _all_processes() -> dict[int, ProcInfo]:
    found: dict[int, ProcInfo] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(_PROC):
            if entry.name.isdigit() and (info := read_proc(int(entry.name))) is not None:
                found[info.pid] = info
    return found


def _environment_has(pid: int, entry: bytes) -> bool:
    try:
        return entry in (_PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:  # gone, or another user's process (whose environment we may not read)
        return False


def supported() -> bool:
    return sys.platform.startswith("linux") and _PROC.is_dir()


_subreaper: bool | None = None


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (once); False where impossible."""
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if supported():
            with contextlib.suppress(OSError, AttributeError):
                libc = ctypes.CDLL(None, use_errno=True)
                _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


@dataclass(eq=False)  # one per run, told apart by identity (kept in sets)
class RunProcesses:
    """The processes of one shell run, from its first process (a session leader) down."""

    mark: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex}")
    root: int | None = None
    seen: dict[int, int] = field(default_factory=dict)  # pid -> start time, of every member seen

    @property
    def environment(self) -> dict[str, str]:
        return {MARK_VARIABLE: self.mark}

    def started(self, pid: int) -> None:
        self.root = pid
        if (info := read_proc(pid)) is not None:
            self.seen[pid] = info.start

    def find(self) -> dict[int, ProcInfo]:
        """The run's processes now (zombies included), remembering them for later finds and reaping."""
        if not supported():
            return {}
        every = _all_processes()
        entry = f"{MARK_VARIABLE}={self.mark}".encode()
        me = os.getpid()
        members = {
            pid: info
            for pid, info in every.items()
            if pid != me
            and pid != 1
            and (
                self.seen.get(pid) == info.start
                # A session's id is its leader's pid, and Linux gives no new process a number still
                # in use as a session id: a process in the root's session is the run's.
                or (self.root is not None and info.session == self.root)
                or (info.state != "Z" and _environment_has(pid, entry))
            )
        }
        children: dict[int, list[ProcInfo]] = {}
        for info in every.values():
            children.setdefault(info.ppid, []).append(info)
        todo = list(members)
        while todo:
            for child in children.get(todo.pop(), []):
                if child.pid not in members and child.pid != me:
                    members[child.pid] = child
                    todo.append(child.pid)
        for pid, info in members.items():
            self.seen[pid] = info.start
        return members

    def freeze(self) -> dict[int, ProcInfo]:
        """SIGSTOP every member, again until no new one appears (a stopped process cannot fork)."""
        stopped: dict[int, ProcInfo] = {}
        for _ in range(_FREEZE_ROUNDS):
            fresh = [i for pid, i in self.find().items() if pid not in stopped and i.state != "Z"]
            if not fresh:
                break
            for info in fresh:
                if _send(info, signal.SIGSTOP):
                    stopped[info.pid] = info
        return stopped

    def terminate(self) -> None:
        """SIGTERM every member, all found (frozen) before any of them can die and orphan others."""
        stopped = self.freeze()
        for info in stopped.values():
            _send(info, signal.SIGTERM)
        for info in stopped.values():
            _send(info, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL every member, freezing them first so that none can fork past the kill."""
        for info in self.freeze().values():
            _send(info, signal.SIGKILL)
        for info in self.find().values():  # anything that slipped in between: no freezing now
            if info.state != "Z":
                _send(info, signal.SIGKILL)

    def alive(self) -> list[int]:
        return [pid for pid, info in self.find().items() if info.state != "Z"]


def _send(info: ProcInfo, sig: signal.Signals) -> bool:
    """Signal a process, unless its pid now belongs to another one (checked by start time)."""
    now = read_proc(info.pid)
    if now is None or now.start != info.start:
        return False
    try:
        os.kill(info.pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class Adopted:
    """Members of runs that this process (their subreaper) may inherit, to be waited for when they exit.

    Only pids seen as members of a run, other than the run's first process (asyncio waits for that
    one), are ever waited for, and only once the pid is this process's zombie child with the same
    start time as when it was seen: an exit status that asyncio or ``subprocess`` waits for is never
    taken from them.
    """

    def __init__(self) -> None:
        self._known: dict[int, int] = {}

    def remember(self, runs: Iterable[RunProcesses]) -> None:
        for run in runs:
            for pid, start in run.seen.items():
                if pid != run.root:
                    self._known[pid] = start

    def reap(self) -> int:
        """Collect the exited ones that are ours; forget those that are gone. Returns how many collected."""
        me = os.getpid()
        collected = 0
        for pid, start in list(self._known.items()):
            info = read_proc(pid)
            if info is None or info.start != start:
                del self._known[pid]  # collected by its own parent, or its pid is another's now
                continue
            if info.ppid != me or info.state != "Z":
                continue  # still running, or not (yet) re-parented to us
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
                collected += 1
            del self._known[pid]
        return collected

    def __len__(self) -> int:
        return len(self._known)
