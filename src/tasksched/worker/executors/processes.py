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
tree, and its exit is the worker's to collect. The worker collects only children that cannot be
asyncio's or ``subprocess``'s (taking an exit status they wait for would corrupt a result): see
``Adopted``. What this cannot catch is said in docs/guarantees.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
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
        with open(f"/proc/{pid}/stat", "rb") as stat:  # plain open: this runs for every process
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
    fields = text.rsplit(b")", 1)[1].split()
    return ProcInfo(
        pid=pid, ppid=int(fields[1]), session=int(fields[3]), state=fields[0].decode(), start=int(fields[19])
    )


def snapshot() -> dict[int, ProcInfo]:
    """Every process now: one pass over /proc, shared by all the runs looked at together."""
    found: dict[int, ProcInfo] = {}
    if not supported():
        return found
    with contextlib.suppress(OSError):
        for name in os.listdir(_PROC):
            if name.isdigit() and (info := read_proc(int(name))) is not None:
                found[info.pid] = info
    return found


def _environment_has(pid: int, entry: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            return entry in environ.read().split(b"\0")
    except OSError:  # gone, or another user's process (whose environment we may not read)
        return False


@functools.cache
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
    # Whether the root's session is still the run's: once the run has ended, the root's pid (and so
    # the session's number) may go to a new process when the last of the session is gone.
    session_open: bool = True
    seen: dict[int, int] = field(default_factory=dict)  # pid -> start time, of every member seen
    since: int = 0  # the first process's start time: no member can have started before it
    # Processes whose environment was read and holds no marker: an environment is set by exec and
    # inherited, so it is read once per process, not on every look.
    _unmarked: set[tuple[int, int]] = field(default_factory=set)

    @property
    def environment(self) -> dict[str, str]:
        return {MARK_VARIABLE: self.mark}

    def started(self, pid: int) -> None:
        self.root = pid
        if (info := read_proc(pid)) is not None:
            self.seen[pid] = info.start
            self.since = info.start

    def find(self, every: dict[int, ProcInfo] | None = None) -> dict[int, ProcInfo]:
        """The run's processes now (zombies included), remembering them for later finds and reaping.

        ``every`` is a ``snapshot()`` to look in (one taken now when not given).
        """
        if every is None:
            every = snapshot()
        me = os.getpid()
        members = {
            pid: info
            for pid, info in every.items()
            if pid != me
            and pid != 1
            and info.start >= self.since
            and (
                self.seen.get(pid) == info.start
                # A session's id is its leader's pid, and Linux gives no new process a number still
                # in use as a session id: a process in the root's session is the run's.
                or (self.session_open and self.root is not None and info.session == self.root)
                or self._marked(info)
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
        # Only what still exists is worth remembering (a zombie still exists): a run that lingers
        # for days must not grow these without bound.
        self.seen = {
            pid: start for pid, start in self.seen.items() if pid in every and every[pid].start == start
        }
        self.seen.update((pid, info.start) for pid, info in members.items())
        self._unmarked = {key for key in self._unmarked if key[0] in every and every[key[0]].start == key[1]}
        return members

    def _marked(self, info: ProcInfo) -> bool:
        key = (info.pid, info.start)
        if info.state == "Z" or key in self._unmarked:
            return False
        if _environment_has(info.pid, f"{MARK_VARIABLE}={self.mark}".encode()):
            return True
        self._unmarked.add(key)
        return False

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

    def alive(self, every: dict[int, ProcInfo] | None = None) -> list[int]:
        return [pid for pid, info in self.find(every).items() if info.state != "Z"]


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


def _my_children() -> list[int]:
    """This process's children, from the kernel's per-thread lists (cheap: no walk over /proc)."""
    me = os.getpid()
    children: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{me}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{me}/task/{tid}/children", "rb") as listing:
                children.extend(int(pid) for pid in listing.read().split())
    return children


class Adopted:
    """Processes of runs that this process, their subreaper, inherits: waited for when they exit.

    An exit status that asyncio or ``subprocess`` waits for must never be taken from them, so a child
    is waited for only when it cannot be one of theirs:
    - it was seen as a member of a run and is not a run's first process (asyncio's), checked by pid
      and start time; or
    - it is in a session that is neither this process's nor its own: a child this process forked is
      in one of those two (``setsid`` makes the caller a session's leader; no process can join
      another's session), so such a child was adopted.
    """

    def __init__(self) -> None:
        self._known: dict[int, int] = {}
        self._roots: dict[int, int] = {}  # pid -> start of runs' first processes: never ours to wait for
        self._marker = f"{MARK_VARIABLE}={os.getpid()}-".encode()  # every run marker of this process

    def remember(self, runs: Iterable[RunProcesses]) -> None:
        for run in runs:
            for pid, start in run.seen.items():
                if pid != run.root:
                    self._known[pid] = start
                else:
                    self._roots[pid] = start

    def look(self) -> None:
        """Remember the living children that carry one of this process's run markers (adopted ones:
        a run's first process, the only marked child forked here, is asyncio's and left out)."""
        for pid in _my_children():
            info = read_proc(pid)
            if info is None or info.state == "Z" or self._known.get(pid) == info.start:
                continue
            if self._roots.get(pid) == info.start:
                continue
            with contextlib.suppress(OSError), open(f"/proc/{pid}/environ", "rb") as environ:
                if any(item.startswith(self._marker) for item in environ.read().split(b"\0")):
                    self._known[pid] = info.start

    def reap(self) -> int:
        """Collect the exited children that are runs'; forget what is gone. Returns how many collected."""
        collected = 0
        session = os.getsid(0)
        for pid in _my_children():
            info = read_proc(pid)
            if info is None or info.state != "Z" or self._roots.get(pid) == info.start:
                continue
            if self._known.get(pid) == info.start or info.session not in (session, pid):
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                    collected += 1
        for table in (self._known, self._roots):
            for pid, start in list(table.items()):
                info = read_proc(pid)
                if info is None or info.start != start:
                    del table[pid]  # collected (by us or its parent), or its pid is another's now
        return collected

    def __len__(self) -> int:
        return len(self._known)
