"""Several API instances started together with one TASKSCHED_BOOTSTRAP_KEY (replicas of a
Deployment, two `api` services in Compose): one makes the key, the others start as if it had been there."""

from __future__ import annotations

import asyncio

from tasksched.services.context import Context
from tasksched.services.keys import KeyService
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
