"""A small in-process ``CounterStore`` for tests: fixed windows on a clock the test moves, and a
switch that makes it fail as an unreachable Redis does (``StorageError``)."""

from __future__ import annotations

import math

from limits import RateLimitItem
from limits.errors import StorageError

from tasksched.services.ratelimit import Decision


class FakeCounterStore:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.down = False
        self.calls = 0
        self._windows: dict[str, tuple[float, int]] = {}  # key → (window end, count)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def _window(self, item: RateLimitItem, identity: str) -> tuple[str, float, int]:
        self.calls += 1
        if self.down:
            raise StorageError(ConnectionError("the fake store is down"))
        key = item.key_for(identity)
        end, count = self._windows.get(key, (0.0, 0))
        if end <= self.now:
            end, count = self.now + item.get_expiry(), 0
        return key, end, count

    def _decision(self, item: RateLimitItem, end: float, count: int, allowed: bool) -> Decision:
        window = int(item.get_expiry())
        return Decision(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, item.amount - count),
            reset_after=min(window, max(1, math.ceil(end - self.now))),
            window=window,
        )

    async def hit(self, item: RateLimitItem, identity: str) -> Decision:
        key, end, count = self._window(item, identity)
        count += 1
        self._windows[key] = (end, count)
        return self._decision(item, end, count, count <= item.amount)

    async def peek(self, item: RateLimitItem, identity: str) -> Decision:
        _, end, count = self._window(item, identity)
        return self._decision(item, end, count, count < item.amount)

    async def close(self) -> None:
        return None
