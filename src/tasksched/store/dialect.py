"""The few statements that differ between SQLite and PostgreSQL. Dialect branches live here only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_ignoring_conflicts(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: a slot that is already recorded is silently kept as it is."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(conn: AsyncConnection, table: sa.Table, key: list[str], values: dict[str, Any]) -> Any:
    if conn.dialect.name == "postgresql":
        stmt_pg = postgresql.insert(table).values(values)
        return stmt_pg.on_conflict_do_update(index_elements=key, set_=values)
    stmt_sqlite = sqlite.insert(table).values(values)
    return stmt_sqlite.on_conflict_do_update(index_elements=key, set_=values)


def lock_rows(conn: AsyncConnection, select: sa.Select[Any], *, skip_locked: bool = True) -> sa.Select[Any]:
    """Row locks that competing transactions skip over (PostgreSQL), or wait for (``skip_locked=False``).

    SQLite needs none: a write transaction there starts with BEGIN IMMEDIATE and holds the only
    write lock, so no other writer can see the rows until it commits.
    """
    if conn.dialect.name == "postgresql":
        return select.with_for_update(skip_locked=skip_locked)
    return select


def hour_bucket(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """The start of the hour a timestamp falls in, as ISO text, for per-hour charts."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(
            sa.func.date_trunc("hour", sa.func.timezone("UTC", column)), 'YYYY-MM-DD"T"HH24:00:00'
        )
    return sa.func.strftime("%Y-%m-%dT%H:00:00", column)
