"""The Alembic migrations build exactly the schema ``tables.py`` declares, once, however often run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tasksched.store import migrate, partitions
from tasksched.store import runs as run_store
from tasksched.store.engine import Database
from tasksched.store.tables import metadata, runs
from tests.conftest import fresh_pg_database
from tests.store.conftest import connect_store
from tests.store.rows import add_runs, add_task, make_run_values


async def schema_differences(db: Database) -> list[Any]:
    def _compare(conn: sa.Connection) -> list[Any]:
        # Server defaults too, on PostgreSQL; Alembic's SQLite comparison misreads the reflected
        # empty-string default ('' against "''") and would report a difference that is not there.
        # The run history's partitions are made at run time, not declared: left out.
        opts = {
            "compare_type": True,
            "compare_server_default": conn.dialect.name == "postgresql",
            "include_name": lambda name, kind, _parent: (
                not (kind == "table" and partitions.is_partition(name))
            ),
        }
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, metadata))

    async with db.read() as conn:
        return await conn.run_sync(_compare)


async def versions(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars())


async def test_migrations_build_the_declared_schema_once(fresh_url: str) -> None:
    """One fresh database per backend (they are slow to make), so all of it in one test:

    several instances start together (separate engines) and all upgrade at once: PostgreSQL
    serialises them with an advisory lock, SQLite with its write lock. The schema then equals
    ``tables.metadata`` (types compared), the revision is the head, and upgrading again is a no-op.
    """
    dbs = [connect_store(fresh_url) for _ in range(3)]
    try:
        assert await migrate.current_revision(dbs[0]) is None
        assert not await migrate.is_current(dbs[0])

        await asyncio.gather(*(migrate.upgrade(db) for db in dbs))
        assert migrate.head_revision() is not None
        for db in dbs:
            assert await migrate.current_revision(db) == migrate.head_revision()
            assert await migrate.is_current(db)
        assert await schema_differences(dbs[0]) == []
        assert await versions(dbs[0]) == [migrate.head_revision()]

        await migrate.upgrade(dbs[1])  # the next start changes nothing
        assert await versions(dbs[0]) == [migrate.head_revision()]
        assert await schema_differences(dbs[0]) == []
    finally:
        for db in dbs:
            await db.dispose()


def test_the_head_read_as_text_is_alembics() -> None:
    """Processes find the head without loading Alembic (store/migrate.py reads the scripts as text):
    it must be the revision Alembic itself would migrate to, and the chain the same."""
    scripts = ScriptDirectory.from_config(migrate._config())
    assert migrate.head_revision() == scripts.get_current_head()
    assert migrate.revisions() == {s.revision: s.down_revision for s in scripts.walk_revisions()}


async def test_the_shared_test_database_is_current(db: Database) -> None:
    """The database every other test here uses was built by the migrations, not by create_all."""
    assert await migrate.is_current(db)
    assert await schema_differences(db) == []


async def test_every_declared_index_exists(db: Database) -> None:
    """compare_metadata covers indexes too; this names them, so a missing one reads plainly."""

    def _indexes(conn: sa.Connection) -> set[tuple[str, str]]:
        inspector = sa.inspect(conn)
        return {
            (table.name, ix["name"] or "")
            for table in metadata.sorted_tables
            for ix in inspector.get_indexes(table.name)
        }

    async with db.read() as conn:
        found = await conn.run_sync(_indexes)
    declared = {(t.name, str(ix.name)) for t in metadata.sorted_tables for ix in t.indexes}
    assert declared - found == set()


@pytest.mark.postgres
async def test_0008_moves_a_postgresql_history_onto_monthly_partitions() -> None:
    """A 0007 database with runs in it (months apart, one far ahead) upgrades: every row survives
    unchanged, each in its month's partition, new ids continue after the old, and the slot key
    still refuses a slot taken before the upgrade."""
    with fresh_pg_database() as url:
        db = connect_store(url)
        try:
            await migrate.upgrade(db, "0007")
            async with db.write() as tx:
                task = await add_task(tx)
                slots = [datetime(2025, m, 3, 4, 5, 6, 789, tzinfo=UTC) for m in (1, 2, 11)]
                slots.append(datetime(2099, 1, 1, tzinfo=UTC))
                await add_runs(tx, task, *({"scheduled_for": s, "output": f"out {s}"} for s in slots))
                before = await _all_runs(tx)

            await migrate.upgrade(db)

            async with db.write() as tx:
                assert await _all_runs(tx) == before
                assert await partitions.is_partitioned(tx)
                homes = (
                    await tx.execute(sa.text("SELECT tableoid::regclass::text FROM runs ORDER BY id"))
                ).scalars()
                assert list(homes) == ["runs_p202501", "runs_p202502", "runs_p202511", "runs_p209901"]
                again = await run_store.insert(tx, [make_run_values(task, scheduled_for=slots[0])])
                assert again == []
                [fresh] = await add_runs(tx, task, {"scheduled_for": datetime.now(UTC)})
                assert fresh["id"] > max(r["id"] for r in before)
            assert await schema_differences(db) == []

            async with db.write() as conn:  # and back, rows kept
                await conn.run_sync(lambda c: command.downgrade(migrate._config(c), "0007"))
            async with db.read() as tx:
                assert len(await _all_runs(tx)) == len(before) + 1
                assert not await partitions.is_partitioned(tx)
        finally:
            await db.dispose()


# The columns runs had at 0007-0010 (later revisions add to them).
_OLD_COLUMNS = [c for c in runs.c if c.name != "input"]


async def _all_runs(tx: Any) -> list[dict[str, Any]]:
    query = sa.select(*_OLD_COLUMNS).order_by(runs.c.id)
    return [dict(r) for r in (await tx.execute(query)).mappings()]
