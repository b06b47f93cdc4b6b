"""Whole-database copies: a portable row export that loads into either database, and SQLite's
online backup.

The export is a stream of JSON documents, one a line (the service gzips them): a header, then for
each table in foreign-key order ``{"table": name, "columns": [...]}``, its rows as JSON arrays in
primary-key order, ``{"end": name, "rows": n}``, and last ``{"complete": {table: rows, ...}}``.
Values are what SQLAlchemy's column types give and take on both databases (JSON as JSON, times as
ISO 8601 text with their offset), so an export read from SQLite loads into PostgreSQL and back.
Every table of ``tables.metadata`` is included, so a new table is exported without a change here.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tasksched.store import Tx
from tasksched.store.dialect import reset_sequences, snapshot
from tasksched.store.tables import UTCDateTime, metadata

FORMAT = "tasksched-export"
FORMAT_VERSION = 1
ROWS_PER_READ = 1000


def tables() -> list[sa.Table]:
    """Parents before children: loading in this order satisfies every foreign key."""
    return list(metadata.sorted_tables)


# Liveness rows (workers', schedulers' heartbeats): state of the processes of one database, which a
# copy to another does not take along.
PROCESS_TABLES = frozenset({"workers", "schedulers"})


def data_tables() -> list[str]:
    """The names of the tables a copy takes, in foreign-key order."""
    return [t.name for t in tables() if t.name not in PROCESS_TABLES]


def _chosen(only: Iterable[str] | None) -> list[sa.Table]:
    if only is None:
        return tables()
    names = set(only)
    return [t for t in tables() if t.name in names]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot export a {type(value).__name__}")


def encode(document: Any) -> bytes:
    """One line of the export. orjson, with the standard library for what orjson refuses (text
    with unpaired surrogates, integers beyond 64 bits)."""
    try:
        return orjson.dumps(document, default=_default) + b"\n"
    except TypeError:
        return json.dumps(document, default=_default, ensure_ascii=True).encode() + b"\n"


def decode(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


async def begin_snapshot(tx: Tx) -> None:
    """Make every read of ``tx`` see one moment: an export taken while others write is consistent."""
    await snapshot(tx)


async def dump(tx: Tx, only: Iterable[str] | None = None) -> AsyncIterator[list[Any]]:
    """The export's documents after the header, in batches (a list of documents each): of every
    table, or of the tables ``only`` names (in their foreign-key order)."""
    total: dict[str, int] = {}
    for table in _chosen(only):
        names = [c.name for c in table.columns]
        yield [{"table": table.name, "columns": names}]
        count = 0
        result = await tx.stream(sa.select(table).order_by(*table.primary_key.columns))
        async for part in result.partitions(ROWS_PER_READ):
            count += len(part)
            yield [list(row) for row in part]
        total[table.name] = count
        yield [{"end": table.name, "rows": count}]
    yield [{"complete": total}]


class Loader:
    """Loads an export's table sections (after its header) into an empty schema, batch by batch."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.known = {t.name: t for t in tables()}
        self.table: sa.Table | None = None
        self.columns: list[str] = []
        self.times: list[int] = []
        self.rows: list[dict[str, Any]] = []
        self.loaded: dict[str, int] = {}
        self.declared: dict[str, int] | None = None

    async def feed(self, documents: Iterable[Any]) -> None:
        for doc in documents:
            if isinstance(doc, list):
                if self.table is None:
                    raise ValueError("a row outside any table section")
                self.rows.append(
                    {
                        name: (datetime.fromisoformat(v) if i in self.times and isinstance(v, str) else v)
                        for i, (name, v) in enumerate(zip(self.columns, doc, strict=True))
                    }
                )
                if len(self.rows) >= ROWS_PER_READ:
                    await self._flush()
            elif "table" in doc:
                await self._start(doc["table"], doc["columns"])
            elif "end" in doc:
                await self._flush()
                if self.table is None or doc["end"] != self.table.name:
                    raise ValueError(f"section end for {doc['end']!r} outside its section")
                if self.loaded[self.table.name] != doc["rows"]:
                    raise ValueError(
                        f"table {self.table.name}: {self.loaded[self.table.name]} rows read, "
                        f"the export says {doc['rows']}"
                    )
                self.table = None
            elif "complete" in doc:
                self.declared = {str(k): int(v) for k, v in doc["complete"].items()}
            else:
                raise ValueError(f"unknown document in the export: {sorted(doc)}")

    async def _start(self, name: str, columns: list[str]) -> None:
        table = self.known.get(name)
        if table is None:
            raise ValueError(f"the export has a table {name!r} this version does not know")
        missing = set(columns) - set(table.columns.keys())
        if missing:
            raise ValueError(f"the export's table {name} has columns this version lacks: {sorted(missing)}")
        self.table, self.columns = table, columns
        self.times = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, UTCDateTime)]
        self.loaded[name] = 0

    async def _flush(self) -> None:
        if self.rows and self.table is not None:
            await self.tx.execute(self.table.insert(), self.rows)
            self.loaded[self.table.name] += len(self.rows)
            self.rows = []

    async def finish(self) -> dict[str, int]:
        """Check that the whole export was read; reset id sequences; return rows per table."""
        if self.declared is None or self.table is not None:
            raise ValueError("the export ends early (no completion record): the file is truncated")
        if self.declared != self.loaded:
            raise ValueError(f"the export lists {self.declared} rows but holds {self.loaded}")
        await reset_sequences(self.tx, tables())
        return dict(self.loaded)


async def counts(tx: Tx, only: Iterable[str] | None = None) -> dict[str, int]:
    found = {}
    for table in _chosen(only):
        found[table.name] = int(
            (await tx.execute(sa.select(sa.func.count()).select_from(table))).scalar_one()
        )
    return found


async def fingerprints(tx: Tx, only: Iterable[str] | None = None) -> dict[str, tuple[int, str]]:
    """Per table, its rows and a SHA-256 of their content in primary-key order, the same for the
    same rows on either database (JSON objects hashed with their keys sorted, as PostgreSQL's JSONB
    keeps them in its own order; times as ISO 8601 in UTC)."""
    found: dict[str, tuple[int, str]] = {}
    for table in _chosen(only):
        digest = hashlib.sha256()
        count = 0
        result = await tx.stream(sa.select(table).order_by(*table.primary_key.columns))
        async for part in result.partitions(ROWS_PER_READ):
            for row in part:
                digest.update(_canonical(list(row)))
            count += len(part)
        found[table.name] = (count, digest.hexdigest())
    return found


def _canonical(row: list[Any]) -> bytes:
    try:
        return orjson.dumps(row, default=_default, option=orjson.OPT_SORT_KEYS) + b"\n"
    except TypeError:
        return json.dumps(row, default=_default, ensure_ascii=True, sort_keys=True).encode() + b"\n"


async def other_sessions(tx: Tx) -> list[str]:
    """Who else is connected to this PostgreSQL database (application, address, state); SQLite
    cannot tell, so none there."""
    if tx.dialect.name != "postgresql":
        return []
    rows = await tx.execute(
        sa.text(
            "SELECT coalesce(nullif(application_name, ''), 'a client') AS app, "
            "coalesce(host(client_addr), 'local socket') AS addr, coalesce(state, '?') AS state "
            "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend' ORDER BY backend_start"
        )
    )
    return [f"{r.app} from {r.addr} ({r.state})" for r in rows]


async def clear(tx: Tx) -> None:
    """Delete every row of every table, children first."""
    for table in reversed(tables()):
        await tx.execute(sa.delete(table))


# -- SQLite files ----------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ValueError("the SQLite URL names no file")
    return Path(database)


def sqlite_backup(source: Path, target: Path) -> None:
    """Copy a live SQLite database with its online backup API (blocking: run it in a thread).

    One step copies every page inside one read transaction: in WAL mode writers go on meanwhile,
    and the copy is the database as of the step's start (all that was committed before it).
    """
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # The copy keeps WAL mode; fold its journal into the file so it stands alone.
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            dst.close()
    finally:
        src.close()


def sqlite_integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check``'s findings: ``["ok"]`` for a sound file (blocking)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def is_sqlite_file(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(16) == b"SQLite format 3\x00"
