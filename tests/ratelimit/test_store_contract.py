"""One contract for every ``CounterStore``: memory, the real Redis, Redis unreachable (the failover
store counting in memory) and the fake the limiter's own tests use."""

from __future__ import annotations

import uuid

from limits import parse

from tests.ratelimit.conftest import Backend


def ident() -> str:
    return f"id-{uuid.uuid4().hex[:8]}"


async def test_hits_are_allowed_up_to_the_limit_then_refused(backend: Backend) -> None:
    item = parse("3/minute")
    who = ident()
    decisions = [await backend.store.hit(item, who) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.limit for d in decisions} == {3}
    assert {d.window for d in decisions} == {60}
    assert all(1 <= d.reset_after <= 60 for d in decisions)


async def test_a_peek_counts_nothing(backend: Backend) -> None:
    item = parse("2/minute")
    who = ident()
    fresh = await backend.store.peek(item, who)
    assert (fresh.allowed, fresh.remaining, fresh.limit) == (True, 2, 2)
    await backend.store.hit(item, who)
    for _ in range(3):
        assert (await backend.store.peek(item, who)).remaining == 1
    await backend.store.hit(item, who)
    used_up = await backend.store.peek(item, who)
    assert (used_up.allowed, used_up.remaining) == (False, 0)


async def test_identities_and_limits_count_apart(backend: Backend) -> None:
    minute, hour = parse("1/minute"), parse("1/hour")
    first, second = ident(), ident()
    assert (await backend.store.hit(minute, first)).allowed
    assert not (await backend.store.hit(minute, first)).allowed
    assert (await backend.store.hit(minute, second)).allowed
    hourly = await backend.store.hit(hour, first)
    assert hourly.allowed
    assert hourly.window == 3600


async def test_the_count_starts_again_when_the_window_ends(backend: Backend) -> None:
    item = parse("2/second")
    who = ident()
    await backend.store.hit(item, who)
    await backend.store.hit(item, who)
    assert not (await backend.store.hit(item, who)).allowed
    await backend.wait(1.2)
    again = await backend.store.hit(item, who)
    assert (again.allowed, again.remaining) == (True, 1)
