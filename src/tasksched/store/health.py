"""Whether a database can be reached at all, said in words a user can act on."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tasksched.errors import DatabaseUnavailable
from tasksched.store.engine import Database


def safe_url(url: str) -> str:
    """The URL as it may be printed: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is refused elsewhere, with its own message
        return "<unparsable URL>"


def same_database(a: str, b: str) -> bool:
    """Whether two URLs name one database (the driver and password aside)."""
    try:
        first, second = make_url(a), make_url(b)
    except Exception:
        return False
    return first.set(drivername=first.get_backend_name(), password=None) == second.set(
        drivername=second.get_backend_name(), password=None
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, sa.exc.DBAPIError):
        return str(exc.orig)  # the driver's words: 'database "x" does not exist', 'file is not a database'
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):  # refused, unknown host, a path that cannot be created
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


async def ping(db: Database) -> None:
    """One round trip to the database; ``DatabaseUnavailable`` naming it and the cause if it fails."""
    try:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except (sa.exc.DBAPIError, OSError, DatabaseUnavailable) as exc:
        # A DatabaseUnavailable raised below keeps the driver's error as its cause: name that.
        cause = exc.__cause__ if isinstance(exc, DatabaseUnavailable) and exc.__cause__ else exc
        raise DatabaseUnavailable(f"cannot reach the database {safe_url(db.url)}: {_reason(cause)}") from exc


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names; None for any other URL and for an in-memory database."""
    try:
        parsed = make_url(url)
    except Exception:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return parsed.database


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite URL whose file does not exist (opening it would create it), else None."""
    path = sqlite_file(url)
    return None if path is None or Path(path).exists() else path


async def database_bytes(db: Database) -> int:
    """How much space the database takes: PostgreSQL's size of the database (tables, indexes,
    TOAST), or the SQLite file's pages in use (its WAL checkpointed first, so it is all counted)."""
    async with db.read() as conn:
        if db.is_sqlite:
            await conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            pages = (await conn.execute(sa.text("PRAGMA page_count"))).scalar_one()
            free = (await conn.execute(sa.text("PRAGMA freelist_count"))).scalar_one()
            size = (await conn.execute(sa.text("PRAGMA page_size"))).scalar_one()
            return int((pages - free) * size)
        return int((await conn.execute(sa.text("SELECT pg_database_size(current_database())"))).scalar_one())
