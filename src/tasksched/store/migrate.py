"""Schema migrations with Alembic, run on start (``serve``) and by ``tasksched db upgrade``.

Alembic (and the migration scripts) load only when a schema has to change: a process starting on a
current schema reads its revision with one query and compares it with the head, which is read from
the scripts' ``revision``/``down_revision`` lines as text (``tests/store/test_migrations.py`` keeps it
equal to Alembic's own answer).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tasksched.store.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every tasksched process.
_PG_MIGRATION_LOCK = 7_254_001
_VERSION_TABLE = "alembic_version"
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(?:["']([^"']*)["']|None)""", re.M)


def _config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def revisions() -> dict[str, str | None]:
    """Every revision this version knows → the one before it, read from the scripts as text."""
    known: dict[str, str | None] = {}
    for script in sorted((_MIGRATIONS / "versions").glob("*.py")):
        lines = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(script.read_text())}
        if revision := lines.get("revision"):
            known[revision] = lines.get("down_revision")
    return known


def head_revision() -> str | None:
    """The revision this version's schema has: the one no other revision follows."""
    known = revisions()
    heads = sorted(set(known) - {down for down in known.values() if down is not None})
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {heads}")
    return heads[0] if heads else None


def _current(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(found) > 1:
        raise RuntimeError(f"the database has several schema revisions: {sorted(found)}")
    return found[0] if found else None


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
        from alembic import command

        if conn.dialect.name == "postgresql":
            # Two instances starting together must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        command.upgrade(_config(conn), revision)

    async with db.write() as conn:
        await conn.run_sync(_upgrade)
