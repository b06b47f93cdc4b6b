"""API key rows (stored as hashes) and worker registrations."""

from __future__ import annotations

from typing import Any

import pytest

from tasksched.errors import Conflict
from tasksched.store import keys as key_store
from tasksched.store import workers as worker_store
from tasksched.store.engine import Database
from tests.store.rows import T0, at


def key_values(name: str, role: str = "operator", **overrides: Any) -> dict[str, Any]:
    values = {
        "name": name,
        "prefix": f"ts_{name[:8]}",
        "key_hash": f"{name:0>64}"[-64:],
        "role": role,
        "created_at": T0,
    }
    values.update(overrides)
    return values


def worker_values(name: str, **overrides: Any) -> dict[str, Any]:
    values = {
        "name": name,
        "hostname": "host-1",
        "pid": 4242,
        "queues": ["default", "slow"],
        "concurrency": 4,
        "running": 0,
        "started_at": T0,
        "heartbeat_at": T0,
        "stopped_at": None,
    }
    values.update(overrides)
    return values


# -- keys -----------------------------------------------------------------------------------------


async def test_insert_and_read_keys_without_their_hash(db: Database) -> None:
    async with db.write() as tx:
        admin = await key_store.insert(tx, key_values("admin", "admin"))
        viewer = await key_store.insert(tx, key_values("viewer", "viewer"))
    assert "key_hash" not in admin
    assert (
        admin["name"],
        admin["role"],
        admin["created_at"],
        admin["last_used_at"],
        admin["revoked_at"],
    ) == (
        "admin",
        "admin",
        T0,
        None,
        None,
    )
    async with db.read() as tx:
        assert await key_store.get(tx, admin["id"]) == admin
        assert await key_store.get(tx, 999) is None
        assert await key_store.list_(tx) == [admin, viewer]
        assert await key_store.count(tx) == 2


async def test_find_active_by_hash(db: Database) -> None:
    async with db.write() as tx:
        key = await key_store.insert(tx, key_values("ci"))
    async with db.read() as tx:
        assert await key_store.find_active_by_hash(tx, key_values("ci")["key_hash"]) == key
        assert await key_store.find_active_by_hash(tx, key_values("other")["key_hash"]) is None
    async with db.write() as tx:
        assert await key_store.revoke(tx, key["id"], at(5)) is True
        assert await key_store.revoke(tx, key["id"], at(9)) is False  # revoked once, when first revoked
        assert await key_store.revoke(tx, 999, at(9)) is False
    async with db.read() as tx:
        assert await key_store.find_active_by_hash(tx, key_values("ci")["key_hash"]) is None
        revoked = await key_store.get(tx, key["id"])
        assert await key_store.count(tx) == 1  # revoked keys stay on record
    assert revoked is not None
    assert revoked["revoked_at"] == at(5)


async def test_a_hash_is_unique(db: Database) -> None:
    async with db.write() as tx:
        await key_store.insert(tx, key_values("one"))
    # A Conflict, not the driver's error: instances racing to make one bootstrap key all start.
    with pytest.raises(Conflict, match="already in use"):
        async with db.write() as tx:
            await key_store.insert(tx, {**key_values("one"), "name": "two"})


async def test_count_active_admins(db: Database) -> None:
    async with db.write() as tx:
        assert await key_store.count_active_admins(tx) == 0
        first = await key_store.insert(tx, key_values("root1", "admin"))
        await key_store.insert(tx, key_values("root2", "admin"))
        await key_store.insert(tx, key_values("ops", "operator"))
        assert await key_store.count_active_admins(tx) == 2
        await key_store.revoke(tx, first["id"], at(1))
        assert await key_store.count_active_admins(tx) == 1


async def test_touch_records_last_use(db: Database) -> None:
    async with db.write() as tx:
        key = await key_store.insert(tx, key_values("used"))
        other = await key_store.insert(tx, key_values("idle"))
    async with db.write() as tx:
        await key_store.touch(tx, key["id"], at(1))
        await key_store.touch(tx, key["id"], at(2))
    async with db.read() as tx:
        used, idle = await key_store.get(tx, key["id"]), await key_store.get(tx, other["id"])
    assert used is not None
    assert idle is not None
    assert (used["last_used_at"], idle["last_used_at"]) == (at(2), None)


# -- workers --------------------------------------------------------------------------------------


async def workers_seen(db: Database, since: Any = None) -> list[dict[str, Any]]:
    async with db.read() as tx:
        return await worker_store.list_(tx, seen_since=since or at(-86400))


async def test_register_twice_is_an_upsert(db: Database) -> None:
    async with db.write() as tx:
        await worker_store.register(tx, worker_values("w1"))
        await worker_store.register(tx, worker_values("w2", queues=["*"]))
    async with db.write() as tx:  # a restart under the same name
        await worker_store.stopped(tx, "w1", at(5))
        await worker_store.register(
            tx,
            worker_values(
                "w1", pid=7, queues=["fast"], concurrency=9, started_at=at(10), heartbeat_at=at(10)
            ),
        )
    rows = {w["name"]: w for w in await workers_seen(db)}
    assert set(rows) == {"w1", "w2"}
    assert rows["w1"] == worker_values(
        "w1", pid=7, queues=["fast"], concurrency=9, started_at=at(10), heartbeat_at=at(10)
    )
    assert rows["w2"]["queues"] == ["*"]


async def test_heartbeat_stopped_and_list_since(db: Database) -> None:
    async with db.write() as tx:
        for name in ("old", "busy", "gone"):
            await worker_store.register(tx, worker_values(name))
    async with db.write() as tx:
        await worker_store.heartbeat(tx, "busy", running=3, now=at(20))
        await worker_store.heartbeat(tx, "nobody", running=1, now=at(20))  # unknown: nothing happens
        await worker_store.stopped(tx, "gone", at(10))
    seen = await workers_seen(db)
    assert [w["name"] for w in seen] == ["busy", "gone", "old"]  # most recently seen first
    busy, gone, old = seen
    assert (busy["running"], busy["heartbeat_at"], busy["stopped_at"]) == (3, at(20), None)
    assert (gone["running"], gone["heartbeat_at"], gone["stopped_at"]) == (0, at(10), at(10))
    assert old["heartbeat_at"] == T0
    assert [w["name"] for w in await workers_seen(db, at(10))] == ["busy", "gone"]  # inclusive
    assert await workers_seen(db, at(21)) == []


async def test_purge_forgets_old_workers(db: Database) -> None:
    async with db.write() as tx:
        await worker_store.register(tx, worker_values("old", heartbeat_at=at(-100)))
        await worker_store.register(tx, worker_values("new", heartbeat_at=at(0)))
        await worker_store.purge(tx, older_than=at(-1))
    assert [w["name"] for w in await workers_seen(db, at(-1000))] == ["new"]
