"""Reading process state from /proc in tests (Linux)."""

from __future__ import annotations

from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    # The command name is in parentheses and may hold spaces: the fields that follow are split.
    return stat.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie waiting for its (possibly absent) reaper counts as gone."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields is not None else None


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_of(int(entry.name)) == pid and alive(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)
