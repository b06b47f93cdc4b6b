"""The limiter over its stores: Redis shared between processes and under its prefix, failing open to
memory while Redis is down (logged once each way), and the three limits."""

from __future__ import annotations

import time

import redis
from limits import parse
from structlog.testing import capture_logs

from tasksched.config import parse_rate_limits
from tasksched.services.ratelimit import FailoverStore, RateLimiter, memory_store, redis_store
from tests.conftest import make_settings
from tests.ratelimit.conftest import unreachable_redis_url
from tests.ratelimit.fake import FakeCounterStore


async def test_two_processes_on_one_redis_share_counters_under_the_prefix(
    redis_url: str, redis_prefix: str
) -> None:
    first, second = redis_store(redis_url, redis_prefix), redis_store(redis_url, redis_prefix)
    item = parse("3/minute")
    try:
        assert (await first.hit(item, "key:abc")).remaining == 2
        assert (await second.hit(item, "key:abc")).remaining == 1
        assert (await first.hit(item, "key:abc")).remaining == 0
        assert not (await second.hit(item, "key:abc")).allowed
    finally:
        await first.close()
        await second.close()
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [k.decode() for k in client.scan_iter(match=redis_prefix + "*")]
    finally:
        client.close()
    assert len(keys) == 1
    assert keys[0].startswith(redis_prefix + "ratelimit")
    assert "key:abc" in keys[0]


async def test_an_unreachable_redis_fails_open_to_memory_and_says_so_once() -> None:
    store = FailoverStore(redis_store(unreachable_redis_url(), "x:"), memory_store())
    item = parse("2/minute")
    started = time.monotonic()
    try:
        with capture_logs() as logs:
            decisions = [await store.hit(item, "addr:10.0.0.1") for _ in range(3)]
    finally:
        await store.close()
    assert time.monotonic() - started < 2  # refused at once, not a wait per request
    assert [d.allowed for d in decisions] == [True, True, False]  # still limited, in this process
    assert store.degraded
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert [w["event"] for w in warnings] == [
        "rate-limit storage unreachable; counting in this process until it answers"
    ]
    assert "ConnectionError" in warnings[0]["error"]


async def test_the_failover_returns_to_the_primary_when_it_answers() -> None:
    primary = FakeCounterStore()
    store = FailoverStore(primary, memory_store(), retry_seconds=0)
    item = parse("5/minute")
    with capture_logs() as logs:
        assert (await store.hit(item, "a")).remaining == 4  # primary
        primary.down = True
        assert (await store.hit(item, "a")).remaining == 4  # memory: its own count
        assert (await store.hit(item, "a")).remaining == 3
        primary.down = False
        assert (await store.hit(item, "a")).remaining == 3  # primary again, its count went on
        assert not store.degraded
    assert [e["event"] for e in logs] == [
        "rate-limit storage unreachable; counting in this process until it answers",
        "rate-limit storage reachable again; counters are shared again",
    ]


async def test_while_down_the_primary_is_asked_again_only_after_the_retry_interval() -> None:
    primary = FakeCounterStore()
    primary.down = True
    store = FailoverStore(primary, memory_store(), retry_seconds=60)
    item = parse("5/minute")
    for _ in range(10):
        await store.hit(item, "a")
    assert primary.calls == 1


def limiter(**limits: str) -> tuple[RateLimiter, FakeCounterStore]:
    fake = FakeCounterStore()
    settings = make_settings("sqlite:///unused.db", **limits)
    return RateLimiter.from_settings(settings, store=fake), fake


async def test_failed_authentications_block_an_address_until_their_window_ends() -> None:
    rate, fake = limiter(rate_limit_auth_failures="3/minute")
    for _ in range(3):
        assert await rate.auth_refused("10.0.0.1") is None
        await rate.auth_failed("10.0.0.1")
    blocked = await rate.auth_refused("10.0.0.1")
    assert blocked is not None
    assert (blocked.allowed, blocked.limit, blocked.remaining, blocked.window) == (False, 3, 0, 60)
    assert await rate.auth_refused("10.0.0.2") is None
    fake.advance(61)
    assert await rate.auth_refused("10.0.0.1") is None


async def test_of_several_limits_the_pressing_one_is_reported() -> None:
    rate, fake = limiter(rate_limit="2/second;5/minute")
    first = await rate.hit_key("k")
    assert first is not None
    assert (first.limit, first.remaining) == (2, 1)
    second = await rate.hit_key("k")
    assert second is not None
    assert (second.allowed, second.limit, second.remaining) == (True, 2, 0)
    third = await rate.hit_key("k")
    assert third is not None
    assert (third.allowed, third.limit) == (False, 2)
    fake.advance(1)
    for _ in range(2):
        assert (await rate.hit_key("k")).allowed  # type: ignore[union-attr]
    refused = await rate.hit_key("k")  # 6th in the minute
    assert refused is not None
    assert (refused.allowed, refused.limit, refused.window) == (False, 5, 60)


async def test_an_empty_limit_is_no_limit() -> None:
    rate, fake = limiter(rate_limit="", rate_limit_anonymous="", rate_limit_auth_failures="")
    assert await rate.hit_key("k") is None
    assert await rate.hit_address("10.0.0.1") is None
    await rate.auth_failed("10.0.0.1")
    assert await rate.auth_refused("10.0.0.1") is None
    assert fake.calls == 0
    assert parse_rate_limits("") == []
