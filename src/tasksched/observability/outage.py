"""Logging a dependency's outage as two lines: one when it starts, one when it ends.

While the database is down every request and every loop pass fails the same way; a line (let alone
a traceback) for each of them buried the one fact that matters under tens of thousands of lines.
The first failure logs the start, the first success after it logs the end and how long it lasted;
everything in between is counted, not logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from tasksched.errors import ServiceUnavailable

log = structlog.get_logger("tasksched.outage")


class OutageLog:
    def __init__(self, what: str, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        # The outage's length is a duration, not a point in time: a monotonic clock (a test's own).
        self._monotonic = monotonic
        self._since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, reason: str) -> None:
        """A call failed because ``what`` is unreachable; ``reason`` must hold no secret (no
        statement parameters, no password): the driver's own message, not SQLAlchemy's."""
        self._failures += 1
        if self._since is None:
            self._since = self._monotonic()
            # Not "answering 503": a scheduler or a worker has the same outage and answers no one.
            log.error(f"{self.what} unreachable; what needs it fails until it is back", error=reason)

    def succeeded(self) -> None:
        if self._since is None:  # the common case: one comparison per transaction
            return
        lasted = self._monotonic() - self._since
        log.warning(
            f"{self.what} reachable again",
            outage_seconds=round(lasted, 1),
            failed_calls=self._failures,
        )
        self._since = None
        self._failures = 0


def log_failure(logger: Any, message: str, exc: BaseException, **fields: Any) -> None:
    """Log a failed pass of a loop with its traceback, unless it failed because a dependency is
    unreachable (``ServiceUnavailable``): its ``OutageLog`` has said so once already."""
    if isinstance(exc, ServiceUnavailable):
        return
    logger.error(message, exc_info=exc, **fields)
