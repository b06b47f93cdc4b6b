"""The few statements that differ between SQLite and PostgreSQL. Dialect branches live here only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression


def insert_ignoring_conflicts(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: a slot that is already recorded is silently kept as it is."""
    return insert_ignoring_conflicts_for(conn.dialect.name, table)


def insert_ignoring_conflicts_for(dialect: str, table: sa.Table) -> Any:
    """``insert_ignoring_conflicts`` by the dialect's name (for statements built once and kept)."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(conn: AsyncConnection, table: sa.Table, key: list[str], values: dict[str, Any]) -> Any:
    if conn.dialect.name == "postgresql":
        stmt_pg = postgresql.insert(table).values(values)
        return stmt_pg.on_conflict_do_update(index_elements=key, set_=values)
    stmt_sqlite = sqlite.insert(table).values(values)
    return stmt_sqlite.on_conflict_do_update(index_elements=key, set_=values)


async def update_by_key(
    conn: AsyncConnection, table: sa.Table, key: str, column: str, pairs: Sequence[tuple[Any, Any]]
) -> None:
    """``UPDATE table SET column = value WHERE key = k`` for many ``(k, value)`` pairs.

    On PostgreSQL one statement joins two unnested arrays (two parameters, whatever the number of
    rows, so its compiled form is cached): a row-by-row executemany spends as long binding
    parameters as the database spends updating. SQLite runs in-process, so an executemany costs
    no round trips there.
    """
    if not pairs:
        return
    key_column, set_column = table.c[key], table.c[column]
    if conn.dialect.name != "postgresql":
        stmt = sa.update(table).where(key_column == sa.bindparam("b_key"))
        await conn.execute(
            stmt.values({column: sa.bindparam("b_value")}),
            [{"b_key": k, "b_value": v} for k, v in pairs],
        )
        return
    key_type = postgresql.ARRAY(sa.BigInteger())
    value_type = postgresql.ARRAY(_postgres_type(set_column))
    given = sa.select(
        sa.func.unnest(sa.bindparam("b_keys", type_=key_type)).label("key"),
        sa.func.unnest(sa.bindparam("b_values", type_=value_type)).label("value"),
    ).subquery("given")
    stmt = sa.update(table).where(key_column == given.c.key).values({column: given.c.value})
    await conn.execute(stmt, {"b_keys": [k for k, _ in pairs], "b_values": [v for _, v in pairs]})


def _postgres_type(column: sa.Column[Any]) -> sa.types.TypeEngine[Any]:
    """The column's type as PostgreSQL stores it (a TypeDecorator's underlying type)."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, sa.TypeDecorator) else kind


def lock_rows(conn: AsyncConnection, select: sa.Select[Any], *, skip_locked: bool = True) -> sa.Select[Any]:
    """Row locks that competing transactions skip over (PostgreSQL), or wait for (``skip_locked=False``).

    SQLite needs none: a write transaction there starts with BEGIN IMMEDIATE and holds the only
    write lock, so no other writer can see the rows until it commits.
    """
    if conn.dialect.name == "postgresql":
        return select.with_for_update(skip_locked=skip_locked)
    return select


def lock_first(
    conn: AsyncConnection, update: sa.Update, key: sa.ColumnElement[Any], *conditions: sa.ColumnElement[bool]
) -> sa.Update:
    """Have an UPDATE lock the rows matching ``conditions`` first, in ``key`` order, and touch only them.

    PostgreSQL locks an UPDATE's rows in whatever order its plan visits them; two transactions
    updating overlapping sets in different orders can deadlock. Locking them first in a fixed order
    (a materialized ``SELECT … FOR UPDATE`` that waits for locked rows) makes the second one wait
    instead. SQLite has one writer at a time and needs nothing.
    """
    if conn.dialect.name != "postgresql":
        return update
    in_order = sa.select(key.label("key")).where(*conditions).order_by(key)
    locked = lock_rows(conn, in_order, skip_locked=False).cte("locked").prefix_with("MATERIALIZED")
    return update.add_cte(locked).where(key == locked.c.key)


def unindexed(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The column in a form SQLite's planner will not look up through an index (the unary ``+``).

    For a join against a batch (``rows_source``), SQLite would otherwise drive the join from an
    index on a condition such as ``status = 'running'`` and scan the batch once per matching row,
    instead of looking each batch row up by primary key. PostgreSQL plans this well by itself.
    """
    if conn.dialect.name != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def hour_bucket(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """The start of the hour a timestamp falls in, as ISO text, for per-hour charts."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(
            sa.func.date_trunc("hour", sa.func.timezone("UTC", column)), 'YYYY-MM-DD"T"HH24:00:00'
        )
    return sa.func.strftime("%Y-%m-%dT%H:00:00", column)


def minute_bucket(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """The start of the minute a timestamp falls in, as ISO text, for per-minute charts."""
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(
            sa.func.date_trunc("minute", sa.func.timezone("UTC", column)), 'YYYY-MM-DD"T"HH24:MI:00'
        )
    return sa.func.strftime("%Y-%m-%dT%H:%M:00", column)


def rows_source(
    conn: AsyncConnection, name: str, columns: Sequence[sa.ColumnClause[Any]], rows: Sequence[Sequence[Any]]
) -> sa.FromClause:
    """A batch of rows as a table to join against, in one statement whatever the batch size.

    The SQL text stays the same for every batch (so it is compiled and prepared once): PostgreSQL
    gets one array per column through ``unnest``; SQLite one JSON document read by ``json_each``,
    with each value first put in the form the column's type stores (timestamps as fixed text).
    """
    names = [c.name for c in columns]
    if conn.dialect.name == "postgresql":
        arrays = [
            sa.bindparam(f"{name}_{c.name}", [row[i] for row in rows], type_=postgresql.ARRAY(c.type))
            for i, c in enumerate(columns)
        ]
        return sa.func.unnest(*arrays).table_valued(*columns).render_derived(name=name)
    processors = [c.type.bind_processor(conn.dialect) for c in columns]
    document = orjson.dumps(
        [[p(v) if p else v for p, v in zip(processors, row, strict=True)] for row in rows]
    ).decode()
    each = sa.func.json_each(sa.bindparam(f"{name}_rows", document, type_=sa.Text)).table_valued("value")
    fields = [
        sa.type_coerce(sa.func.json_extract(each.c.value, f"$[{i}]"), c.type).label(names[i])
        for i, c in enumerate(columns)
    ]
    return sa.select(*fields).subquery(name)


async def snapshot(conn: AsyncConnection) -> None:
    """Have the transaction of ``conn`` (not begun yet) read one snapshot throughout.

    PostgreSQL's default (read committed) takes a new snapshot per statement; repeatable read keeps
    the first. A SQLite read transaction in WAL mode already reads one snapshot.
    """
    if conn.dialect.name == "postgresql":
        await conn.execution_options(isolation_level="REPEATABLE READ")


async def reset_sequences(conn: AsyncConnection, tables: Sequence[sa.Table]) -> None:
    """After rows were inserted with their ids, make PostgreSQL's id sequences continue after the
    highest id (SQLite's rowid already does)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True and isinstance(column.type, sa.Integer):
                sequence = sa.func.pg_get_serial_sequence(table.name, column.name)
                after = sa.func.coalesce(sa.func.max(column), 0) + 1
                await conn.execute(sa.select(sa.func.setval(sequence, after, False)).select_from(table))
