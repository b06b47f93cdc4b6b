"""Schema migrations with Alembic, run on start (``serve``) and by ``tasksched db upgrade``."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from tasksched.store.engine import Database

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every tasksched process.
_PG_MIGRATION_LOCK = 7_254_001


def _config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _current(conn: sa.Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.read() as conn:
        return await conn.run_sync(_current)


async def revision_of(conn: AsyncConnection) -> str | None:
    """The schema revision, read inside a transaction already open."""
    return await conn.run_sync(_current)


async def is_current(db: Database) -> bool:
    return await current_revision(db) == head_revision()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe when several processes start at once."""

    def _upgrade(conn: sa.Connection) -> None:
        if conn.dialect.name == "postgresql":
            # Two instances starting together must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        command.upgrade(_config(conn), revision)

    async with db.write() as conn:
        await conn.run_sync(_upgrade)
