"""The database's size as the docs' growth figures measure it (bench/run_size.py)."""

from __future__ import annotations

import random
import string

from tasksched.domain.principals import CLI
from tasksched.services.context import Context
from tasksched.services.tasks import TaskService
from tasksched.store.health import database_bytes
from tests.integration.conftest import spec


async def test_the_size_grows_with_what_is_stored(ctx: Context) -> None:
    empty = await database_bytes(ctx.db)
    assert empty > 0
    tasks = TaskService(ctx)
    rng = random.Random(1)
    for i in range(40):
        # Random letters: PostgreSQL would compress a repeated character to almost nothing.
        text = "".join(rng.choices(string.ascii_letters, k=9000))
        await tasks.create(spec(name=f"t{i}", description=text), actor=CLI)
    assert await database_bytes(ctx.db) >= empty + 40 * 9000 * 0.5
