"""The contract between the worker and the executors.

The worker owns timing: it runs ``execute`` in an asyncio task and cancels that task on timeout or on
a cancel request. Executors therefore must be cancellation-safe: on ``asyncio.CancelledError`` they
stop the work they started (abort the HTTP request, stop every process of the shell run, raise the Python
function's cancellation flag) and re-raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_OUTPUT_LIMIT = 64 * 1024


class OutputBuffer:
    """Keeps the last ``limit`` characters written, and whether anything was dropped.

    Thread-safe, because Python task functions running in a thread write to it too.
    """

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT) -> None:
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()
        self.version = 0  # bumped on every write, so the heartbeat flushes only what changed

    def write(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            self.version += 1
            if self._size > 2 * self._limit:
                self._compact()

    def _compact(self) -> None:
        joined = "".join(self._parts)
        keep = joined[-self._limit :]
        self._dropped += len(joined) - len(keep)
        self._parts = [keep]
        self._size = len(keep)

    def text(self) -> str:
        with self._lock:
            self._compact()
            if self._dropped:
                return f"[… {self._dropped} earlier characters dropped …]\n" + self._parts[0]
            return self._parts[0] if self._parts else ""


@dataclass
class ExecutionContext:
    run_id: int
    task_id: int
    task_name: str
    attempt: int
    output: OutputBuffer = field(default_factory=OutputBuffer)
    # Set when the run is cancelled or times out; Python functions running in a thread poll it.
    cancelled: threading.Event = field(default_factory=threading.Event)
    # The worker's hook for the timeout's clock: an executor that must first wait for a resource of
    # its own (a thread) calls ``waiting()`` (the clock stops) and ``begin()`` once it has it (the
    # timeout counts from then).
    on_timing: Callable[[bool], None] | None = None

    def waiting(self) -> None:
        if self.on_timing is not None:
            self.on_timing(False)

    def begin(self) -> None:
        if self.on_timing is not None:
            self.on_timing(True)


@dataclass
class ExecutionResult:
    ok: bool
    error: str | None = None
    exit_code: int | None = None
    http_status: int | None = None
    # Set when a Python function raised ``Retry(delay=...)``: the next attempt should wait this many
    # seconds instead of the task's backoff. ``Retry()`` without a delay leaves it None and is an
    # ordinary failure retried under the task's policy. Either way ``max_attempts`` still applies.
    retry_after: float | None = None
