"""Several API instances started together with one TASKSCHED_BOOTSTRAP_KEY (replicas of a
Deployment, two `api` services in Compose): one makes the key, the others start as if it had been there."""

from __future__ import annotations

import asyncio

import pytest

from tasksched.domain.keys import display_prefix, hash_key
from tasksched.domain.principals import Role
from tasksched.errors import Conflict
from tasksched.services.context import Context
from tasksched.services.keys import KeyService
from tasksched.store import keys as key_store
from tests.conftest import ADMIN_KEY


async def test_instances_racing_on_one_bootstrap_key_all_start(ctx: Context) -> None:
    others = [Context.open(ctx.settings) for _ in range(3)]
    try:
        made = await asyncio.gather(*(KeyService(c).ensure_bootstrap(ADMIN_KEY) for c in [ctx, *others]))
    finally:
        for other in others:
            await other.close()
    assert sorted(made, key=lambda v: v is None) == [ADMIN_KEY, None, None, None]
    keys = await KeyService(ctx).list()
    assert len(keys) == 1
    assert (await KeyService(ctx).authenticate(ADMIN_KEY)).key_id == keys[0].id


async def test_a_duplicate_key_row_is_a_conflict_not_a_crash(ctx: Context) -> None:
    """What the losing instance of the race meets when both passed the "is it there yet" check."""
    row = {
        "name": "bootstrap admin",
        "prefix": display_prefix(ADMIN_KEY),
        "key_hash": hash_key(ADMIN_KEY),
        "role": Role.ADMIN.value,
        "created_at": ctx.clock.now(),
    }
    async with ctx.db.write() as tx:
        await key_store.insert(tx, row)
    with pytest.raises(Conflict, match="already in use"):
        async with ctx.db.write() as tx:
            await key_store.insert(tx, row)
    assert len(await KeyService(ctx).list()) == 1
