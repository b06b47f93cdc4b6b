"""Process trees from /proc: CPU seconds and resident (RSS) and proportional (PSS) memory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return raw[raw.rindex(")") + 2 :].split()


def children_of(roots: list[int]) -> list[int]:
    """The roots and every live descendant."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    seen: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo.extend(parents.get(pid, []))
    return seen


def cpu_seconds(pid: int, *, with_reaped: bool) -> float:
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name and state.
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def memory_kb(pid: int) -> tuple[int, int]:
    """(Rss, Pss) in kB from smaps_rollup; (0, 0) for a process that is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0, 0
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1])
    return values.get("Rss:", 0), values.get("Pss:", 0)


@dataclass
class TreeMonitor:
    """Peak memory and CPU of the process trees under some roots (the worker processes)."""

    roots: list[int]
    peak_rss_kb: int = 0
    peak_pss_kb: int = 0
    pids: set[int] = field(default_factory=set)

    def sample(self) -> None:
        tree = children_of(self.roots)
        rss = pss = 0
        for pid in tree:
            self.pids.add(pid)
            r, p = memory_kb(pid)
            rss += r
            pss += p
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)

    def cpu_total(self) -> float:
        """CPU seconds so far: each root with the children it reaped, plus each live descendant."""
        return sum(cpu_seconds(pid, with_reaped=pid in self.roots) for pid in children_of(self.roots))
