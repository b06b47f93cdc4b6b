"""The Alembic migrations build exactly the schema ``tables.py`` declares, once, however often run."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tasksched.store import migrate
from tasksched.store.engine import Database
from tasksched.store.tables import metadata
from tests.store.conftest import connect_store


async def schema_differences(db: Database) -> list[Any]:
    def _compare(conn: sa.Connection) -> list[Any]:
        # Server defaults too, on PostgreSQL; Alembic's SQLite comparison misreads the reflected
        # empty-string default ('' against "''") and would report a difference that is not there.
        opts = {"compare_type": True, "compare_server_default": conn.dialect.name == "postgresql"}
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
