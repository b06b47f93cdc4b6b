"""How long a key check is trusted: revocations made by another process take effect within the
cache's time-to-live plus its refresh grace, and a stale answer is only ever served in that grace."""

from __future__ import annotations

import pytest

from tasksched.domain.principals import Role
from tasksched.errors import Unauthorized
from tasksched.services import keys as key_module
from tasksched.services.context import Context
from tasksched.services.keys import AUTH_CACHE_SECONDS, AUTH_REFRESH_GRACE_SECONDS, KeyService
from tasksched.store import keys as key_store


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _TimeWith:
    """The ``time`` module as the key service sees it, with a monotonic clock the test moves."""

    def __init__(self, monotonic: Monotonic) -> None:
        self.monotonic = monotonic


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(key_module, "time", _TimeWith(clock))
    return clock


async def revoke_elsewhere(ctx: Context, key_id: int) -> None:
    """As another API process would: straight in the database, this process's cache untouched."""
    async with ctx.db.write() as tx:
        assert await key_store.revoke(tx, key_id, ctx.clock.now())


async def test_a_revocation_elsewhere_applies_within_the_cache_time_and_grace(
    ctx: Context, monotonic: Monotonic
) -> None:
    service = KeyService(ctx)
    made, secret = await service.create("ci", Role.OPERATOR)
    assert (await service.authenticate(secret)).key_id == made.id
    await revoke_elsewhere(ctx, made.id)

    monotonic.now += AUTH_CACHE_SECONDS - 0.1  # still trusted
    assert (await service.authenticate(secret)).key_id == made.id
    monotonic.now += AUTH_REFRESH_GRACE_SECONDS / 2  # in the grace: answered, and a refresh starts
    assert (await service.authenticate(secret)).key_id == made.id
    monotonic.now += AUTH_REFRESH_GRACE_SECONDS  # past the grace: the answer comes from the database
    with pytest.raises(Unauthorized):
        await service.authenticate(secret)


async def test_a_key_past_the_grace_is_looked_up_again(ctx: Context, monotonic: Monotonic) -> None:
    service = KeyService(ctx)
    made, secret = await service.create("ci", Role.VIEWER)
    await service.authenticate(secret)
    await revoke_elsewhere(ctx, made.id)
    monotonic.now += AUTH_CACHE_SECONDS + AUTH_REFRESH_GRACE_SECONDS + 0.1
    with pytest.raises(Unauthorized):
        await service.authenticate(secret)
