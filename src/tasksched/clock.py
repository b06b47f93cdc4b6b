"""Where "now" comes from.

Every loop (scheduler, worker, reaper) and every cache asks a Clock, never ``datetime.now()`` or
``time.monotonic()`` directly, so tests can freeze or step time and a process never mixes two clocks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back: for ages and time-to-live within one
        process (a wall clock set back must not make a cache entry young again)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that only moves when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs a timezone-aware datetime")
        self._now = start.astimezone(UTC)
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def set(self, when: datetime) -> None:
        """Jump the wall clock; the monotonic reading moves on by as much, but never back."""
        when = when.astimezone(UTC)
        self._monotonic += max(0.0, (when - self._now).total_seconds())
        self._now = when

    def advance(self, seconds: float) -> datetime:
        """Move both readings on by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock advances by zero seconds or more; use set() to go back")
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds
        return self._now


def utc(dt: datetime) -> datetime:
    """Normalise to aware UTC; naive values are taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)
