"""Server secrets: instances that first need one at the same moment all end up with the same value."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tasksched.store import secrets as secret_store
from tasksched.store.engine import Database
from tests.store.conftest import connect_store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


async def test_the_first_value_stored_is_the_one_everyone_gets(db: Database) -> None:
    async with db.read() as tx:
        assert await secret_store.get(tx, "signing") is None
    async with db.write() as tx:
        assert await secret_store.get_or_create(tx, "signing", "first", NOW) == "first"
    async with db.write() as tx:
        assert await secret_store.get_or_create(tx, "signing", "second", NOW) == "first"
    async with db.read() as tx:
        assert await secret_store.get(tx, "signing") == "first"
        assert await secret_store.get(tx, "other") is None


async def test_instances_racing_to_create_it_agree(db: Database, store_url: str) -> None:
    others = [connect_store(store_url) for _ in range(4)]

    async def create(instance: Database, value: str) -> str:
        async with instance.write() as tx:
            return await secret_store.get_or_create(tx, "raced", value, NOW)

    try:
        got = await asyncio.gather(*(create(d, f"value-{i}") for i, d in enumerate(others)))
    finally:
        for instance in others:
            await instance.dispose()
    assert len(set(got)) == 1
    assert got[0].startswith("value-")
