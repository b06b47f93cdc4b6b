"""How long a key check is trusted: revocations made by another process take effect within the
cache's time-to-live plus its refresh grace, and a stale answer is only ever served in that grace.
Time is the context's frozen clock, which the tests move."""

from __future__ import annotations

import pytest

from tasksched.clock import FrozenClock
from tasksched.domain.principals import CLI, Role
from tasksched.errors import Unauthorized
from tasksched.services.context import Context
from tasksched.services.keys import AUTH_CACHE_SECONDS, AUTH_REFRESH_GRACE_SECONDS, KeyService
from tasksched.store import keys as key_store


async def revoke_elsewhere(ctx: Context, key_id: int) -> None:
    """As another API process would: straight in the database, this process's cache untouched."""
    async with ctx.db.write() as tx:
        assert await key_store.revoke(tx, key_id, ctx.clock.now())


async def test_a_revocation_elsewhere_applies_within_the_cache_time_and_grace(
    frozen_ctx: Context, clock: FrozenClock
) -> None:
    ctx = frozen_ctx
    service = KeyService(ctx)
    made, secret = await service.create("ci", Role.OPERATOR, actor=CLI)
    assert (await service.authenticate(secret)).key_id == made.id
    await revoke_elsewhere(ctx, made.id)

    clock.advance(AUTH_CACHE_SECONDS - 0.1)  # still trusted
    assert (await service.authenticate(secret)).key_id == made.id
    clock.advance(AUTH_REFRESH_GRACE_SECONDS / 2)  # in the grace: answered, and a refresh starts
    assert (await service.authenticate(secret)).key_id == made.id
    clock.advance(AUTH_REFRESH_GRACE_SECONDS)  # past the grace: the answer comes from the database
    with pytest.raises(Unauthorized):
        await service.authenticate(secret)


async def test_a_key_past_the_grace_is_looked_up_again(frozen_ctx: Context, clock: FrozenClock) -> None:
    ctx = frozen_ctx
    service = KeyService(ctx)
    made, secret = await service.create("ci", Role.VIEWER, actor=CLI)
    await service.authenticate(secret)
    await revoke_elsewhere(ctx, made.id)
    clock.advance(AUTH_CACHE_SECONDS + AUTH_REFRESH_GRACE_SECONDS + 0.1)
    with pytest.raises(Unauthorized):
        await service.authenticate(secret)
