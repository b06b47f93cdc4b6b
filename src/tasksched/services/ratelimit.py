"""Rate limits: how many requests an API key, or a client address, may make per period.

Counting is the ``limits`` library's fixed-window strategy over a ``CounterStore``, the one seam:
``LimitsStore`` over limits' memory storage (one process) or its Redis storage (several API
processes share the counters), and ``FailoverStore``, which counts in memory while Redis is
unreachable so that the API keeps serving (failing open, per process) and returns to Redis when
it answers again. The HTTP side (which requests count, the 429, the headers) is ``api/ratelimit.py``.

Three limits, each a list of ``RateLimitItem`` (``"20/second;600/minute"``): per API key (by the
key's hash, so no key reaches Redis), per client address for requests without a key, and failed
authentications per address. The last is checked before anything else, so an address past it is
refused without the key being looked up in the database.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

import structlog
from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

from tasksched.config import Settings, parse_rate_limits

log = structlog.get_logger("tasksched.ratelimit")

# How long the failover store counts in memory before asking Redis again.
RETRY_PRIMARY_SECONDS = 5.0
# A Redis that does not answer within this long counts as down (a request waits at most this).
REDIS_TIMEOUT_SECONDS = 0.5


@dataclass(frozen=True)
class Decision:
    """The state of one limit for one identity, after a hit (or a look without one)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: int
    """Whole seconds until the window ends and the count starts again (at least 1)."""
    window: int
    """The limit's period in seconds (``RateLimit-Policy: 600;w=60``)."""


class CounterStore(Protocol):
    """Counts hits of a limit by an identity. Implementations raise ``StorageError`` when their
    backend is unreachable (the failover store turns that into counting elsewhere)."""

    async def hit(self, item: RateLimitItem, identity: str) -> Decision: ...

    async def peek(self, item: RateLimitItem, identity: str) -> Decision: ...

    async def close(self) -> None: ...


def _window(item: RateLimitItem) -> int:
    return int(item.get_expiry())


class LimitsStore:
    """A ``limits`` storage (memory or Redis) counted with the fixed-window strategy: one counter
    per identity and period, created by the first hit and expiring with its window."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage)

    async def hit(self, item: RateLimitItem, identity: str) -> Decision:
        allowed = await self.strategy.hit(item, identity)
        return await self._decision(item, identity, allowed)

    async def peek(self, item: RateLimitItem, identity: str) -> Decision:
        return await self._decision(item, identity, None)

    async def _decision(self, item: RateLimitItem, identity: str, allowed: bool | None) -> Decision:
        stats = await self.strategy.get_window_stats(item, identity)
        remaining = max(0, stats.remaining)
        reset_after = max(1, math.ceil(stats.reset_time - time.time()))
        return Decision(
            allowed=remaining > 0 if allowed is None else allowed,
            limit=item.amount,
            remaining=remaining,
            reset_after=min(reset_after, _window(item)),
            window=_window(item),
        )

    async def close(self) -> None:
        # limits has no close; its redis-py client (set by the bridge, untyped) holds the connections.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()


def memory_store() -> LimitsStore:
    return LimitsStore(MemoryStorage())


def redis_store(url: str, prefix: str) -> LimitsStore:
    """Counters in Redis under ``prefix`` (``redis://`` or ``rediss://`` URL), through redis-py."""
    storage = RedisStorage(
        "async+" + url,
        wrap_exceptions=True,
        implementation="redispy",
        key_prefix=prefix + "ratelimit",
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    return LimitsStore(storage)


class FailoverStore:
    """``primary`` (Redis) while it answers; ``fallback`` (memory) while it does not.

    Failing open: a limit is a protection, not a gate the API must stay shut behind, so a Redis
    outage costs the sharing of counters between processes (each counts its own), not service.
    The outage is logged once when it begins and once when it ends.
    """

    def __init__(
        self, primary: CounterStore, fallback: CounterStore, *, retry_seconds: float = RETRY_PRIMARY_SECONDS
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self._down_until: float | None = None

    @property
    def degraded(self) -> bool:
        return self._down_until is not None

    def _use_primary(self) -> bool:
        return self._down_until is None or time.monotonic() >= self._down_until

    def _failed(self, exc: StorageError) -> None:
        if self._down_until is None:
            log.warning(
                "rate-limit storage unreachable; counting in this process until it answers",
                error=f"{type(exc.storage_error).__name__}: {exc.storage_error}",
            )
        self._down_until = time.monotonic() + self.retry_seconds

    def _answered(self) -> None:
        if self._down_until is not None:
            log.info("rate-limit storage reachable again; counters are shared again")
            self._down_until = None

    async def hit(self, item: RateLimitItem, identity: str) -> Decision:
        if self._use_primary():
            try:
                decision = await self.primary.hit(item, identity)
            except StorageError as exc:
                self._failed(exc)
            else:
                self._answered()
                return decision
        return await self.fallback.hit(item, identity)

    async def peek(self, item: RateLimitItem, identity: str) -> Decision:
        if self._use_primary():
            try:
                decision = await self.primary.peek(item, identity)
            except StorageError as exc:
                self._failed(exc)
            else:
                self._answered()
                return decision
        return await self.fallback.peek(item, identity)

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()


def _most_pressing(decisions: list[Decision]) -> Decision | None:
    """Of several limits on one identity, the one to report: a refusing one, else the nearest."""
    if not decisions:
        return None
    refused = [d for d in decisions if not d.allowed]
    if refused:
        return max(refused, key=lambda d: d.reset_after)
    return min(decisions, key=lambda d: (d.remaining, -d.window))


class RateLimiter:
    """The three limits over one store. An empty list of limits means no limit of that kind."""

    def __init__(
        self,
        store: CounterStore,
        *,
        per_key: list[RateLimitItem],
        anonymous: list[RateLimitItem],
        auth_failures: list[RateLimitItem],
    ) -> None:
        self.store = store
        self.per_key = per_key
        self.anonymous = anonymous
        self.auth_failures = auth_failures

    @classmethod
    def from_settings(cls, settings: Settings, *, store: CounterStore | None = None) -> RateLimiter:
        if store is None:
            store = (
                FailoverStore(redis_store(settings.redis_url, settings.redis_prefix), memory_store())
                if settings.redis_url
                else memory_store()
            )
        return cls(
            store,
            per_key=parse_rate_limits(settings.rate_limit),
            anonymous=parse_rate_limits(settings.rate_limit_anonymous),
            auth_failures=parse_rate_limits(settings.rate_limit_auth_failures),
        )

    async def _hit_all(self, items: list[RateLimitItem], identity: str) -> Decision | None:
        return _most_pressing([await self.store.hit(item, identity) for item in items])

    async def hit_key(self, key_hash: str) -> Decision | None:
        """Count a request made with an API key (by its hash); None when keys are unlimited."""
        return await self._hit_all(self.per_key, "key:" + key_hash)

    async def hit_address(self, address: str) -> Decision | None:
        """Count a request without an API key from ``address``."""
        return await self._hit_all(self.anonymous, "addr:" + address)

    async def auth_refused(self, address: str) -> Decision | None:
        """The failed-authentication limit of ``address`` when it is used up (its requests are then
        refused unread), else None. Counts nothing."""
        decisions = [await self.store.peek(item, "authfail:" + address) for item in self.auth_failures]
        refused = [d for d in decisions if d.remaining == 0]
        if not refused:
            return None
        worst = max(refused, key=lambda d: d.reset_after)
        return Decision(False, worst.limit, 0, worst.reset_after, worst.window)

    async def auth_failed(self, address: str) -> None:
        """Count one failed authentication from ``address``."""
        for item in self.auth_failures:
            await self.store.hit(item, "authfail:" + address)

    async def close(self) -> None:
        await self.store.close()
