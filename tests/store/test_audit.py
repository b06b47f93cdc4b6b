"""Audit rows: appended in the caller's transaction, listed newest first by keyset, pruned by age."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tasksched.store import audit as audit_store
from tasksched.store.engine import Database
from tests.store.rows import T0


def entry(minutes: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "at": T0 + timedelta(minutes=minutes),
        "actor_kind": "key",
        "actor_name": "admin",
        "actor_key_id": 1,
        "action": "task.update",
        "target_type": "task",
        "target_id": 7,
        "target_name": "nightly",
        "before": {"description": ""},
        "after": {"description": "x", "tags": ["a"], "nested": {"n": [1, None]}},
        "client_address": "2001:db8::1",
    }
    values.update(overrides)
    return values


async def test_an_entry_reads_back_as_written(db: Database) -> None:
    async with db.write() as tx:
        entry_id = await audit_store.insert(tx, entry(0))
    async with db.read() as tx:
        (row,) = await audit_store.list_(tx)
    assert row == {"id": entry_id, **entry(0)}


async def test_an_entry_rolls_back_with_its_transaction(db: Database) -> None:
    async def change_that_fails() -> None:
        async with db.write() as tx:
            await audit_store.insert(tx, entry(0))
            raise RuntimeError("the change failed after its row was written")

    with pytest.raises(RuntimeError):
        await change_that_fails()
    async with db.read() as tx:
        assert await audit_store.list_(tx) == []


async def test_listing_filters_and_pages_newest_first(db: Database) -> None:
    async with db.write() as tx:
        ids = [
            await audit_store.insert(
                tx, entry(i, action="task.create" if i % 2 else "task.update", target_id=i)
            )
            for i in range(6)
        ]
    async with db.read() as tx:
        assert [r["id"] for r in await audit_store.list_(tx)] == ids[::-1]
        assert [r["id"] for r in await audit_store.list_(tx, before_id=ids[3], limit=2)] == [ids[2], ids[1]]
        created = await audit_store.list_(tx, actions=["task.create"])
        assert [r["target_id"] for r in created] == [5, 3, 1]
        window = await audit_store.list_(tx, since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
        assert [r["target_id"] for r in window] == [3, 2]
        assert [r["id"] for r in await audit_store.list_(tx, target_type="task", target_id=4)] == [ids[4]]
        assert await audit_store.list_(tx, actor="someone else") == []
        assert len(await audit_store.list_(tx, actor="admin", actor_kind="key")) == 6


async def test_prune_deletes_old_rows_oldest_first_in_batches(db: Database) -> None:
    async with db.write() as tx:
        ids = [await audit_store.insert(tx, entry(i)) for i in range(5)]
    cutoff = T0 + timedelta(minutes=3)  # rows at minutes 0, 1 and 2 are older
    async with db.write() as tx:
        assert await audit_store.prune(tx, cutoff, limit=2) == 2
    async with db.read() as tx:
        assert [r["id"] for r in await audit_store.list_(tx)] == ids[:1:-1]
    async with db.write() as tx:
        assert await audit_store.prune(tx, cutoff, limit=2) == 1
        assert await audit_store.prune(tx, cutoff, limit=2) == 0
    async with db.read() as tx:
        assert [r["id"] for r in await audit_store.list_(tx)] == [ids[4], ids[3]]
