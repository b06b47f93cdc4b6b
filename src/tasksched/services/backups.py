"""Backups: made on demand (``tasksched db backup``) or on a schedule, restored by ``db restore``.

Two kinds of file, told apart by their first bytes:

- a SQLite database file, made from a SQLite database with SQLite's online backup API (the
  service keeps writing meanwhile; the copy holds everything committed before it began);
- an export (gzip'd JSON lines, see ``store/export.py``), made from either database inside one
  snapshot. It is what PostgreSQL is backed up to, and what moves data between the two.

Either kind restores into either database: the rows are loaded into an empty schema at the same
revision, in one transaction (a failed restore leaves the target as it was), then counted.

Every backup is recorded in the ``backups`` table, with its outcome. A scheduled backup claims its
slot by inserting the slot's row: of several schedulers, the first makes it and the others skip it.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import gzip
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from tasksched.domain import cron
from tasksched.domain.base import utc_text
from tasksched.domain.principals import Actor
from tasksched.domain.runs import clip
from tasksched.errors import Conflict, InvalidInput, TaskschedError
from tasksched.services.context import Context
from tasksched.store import backups as backup_store
from tasksched.store import export, migrate
from tasksched.store.engine import connect

Format = Literal["auto", "sqlite", "export"]
_ERROR_BYTES = 4000


class BackupFailed(TaskschedError):
    title = "Backup failed"


class RestoreRefused(Conflict):
    title = "Restore refused"


@dataclass(frozen=True)
class Restored:
    rows: dict[str, int]
    source: str  # "sqlite" or "export"
    schema: str


class BackupService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- reads (status page, metrics) -----------------------------------------------------

    async def list(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent backups, newest first, as JSON-ready documents."""
        async with self.ctx.db.read() as tx:
            rows = await backup_store.list_(tx, limit=limit)
        return [_document(r) for r in rows]

    async def last(self) -> dict[str, Any] | None:
        """The newest backup, whatever its outcome (running, succeeded, failed…)."""
        found = await self.list(limit=1)
        return found[0] if found else None

    async def last_success_at(self) -> datetime | None:
        """When the newest successful backup finished: the value to alert on when it gets old."""
        async with self.ctx.db.read() as tx:
            rows = await backup_store.list_(tx, limit=1, status="succeeded")
        return rows[0]["finished_at"] if rows else None

    # -- making backups ---------------------------------------------------------------------

    def resolve_format(self, fmt: Format) -> Literal["sqlite", "export"]:
        if fmt == "sqlite" and not self.ctx.db.is_sqlite:
            raise InvalidInput(
                "a SQLite file backup needs a SQLite database; use --format export", field="format"
            )
        if fmt == "auto":
            return "sqlite" if self.ctx.db.is_sqlite else "export"
        return fmt

    async def backup(
        self,
        file: Path,
        *,
        actor: Actor,
        fmt: Format = "auto",
        trigger: str = "manual",
        slot: datetime | None = None,
    ) -> dict[str, Any] | None:
        """Write a backup to ``file`` and record it; returns its record. For a ``slot`` another
        process has already claimed, does nothing and returns None. Raises ``BackupFailed``
        (after recording the failure) when it fails."""
        kind = self.resolve_format(fmt)
        file = await asyncio.to_thread(lambda: file.expanduser().resolve())
        async with self.ctx.db.write() as tx:
            backup_id = await backup_store.start(
                tx, trigger=trigger, file=str(file), now=self.ctx.clock.now(), slot=slot
            )
        if backup_id is None:
            return None
        partial = file.with_name(file.name + ".partial")
        size: int | None = None
        error: str | None = None
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            if kind == "sqlite":
                source = export.sqlite_path(self.ctx.db.url)
                await asyncio.to_thread(export.sqlite_backup, source, partial)
            else:
                await self._export(partial)
            # Only a finished backup gets the name: a failure never leaves a file that looks whole.
            os.replace(partial, file)
            size = file.stat().st_size
        except Exception as exc:
            error = clip(f"{type(exc).__name__}: {exc}", _ERROR_BYTES, keep="head")
            with contextlib.suppress(OSError):  # a folder that could not be made holds no partial file
                await asyncio.to_thread(partial.unlink, missing_ok=True)
        except asyncio.CancelledError:
            # The process is stopping (a scheduler's upkeep is cancelled on shutdown): the record
            # must not stay "running" for ever, nor the partial file stay behind.
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            await asyncio.shield(
                self._finish(backup_id, size=None, error="interrupted: the process stopped during the backup")
            )
            raise
        # Shielded: a stop arriving now must not leave a finished backup recorded as running.
        rows = await asyncio.shield(self._finish(backup_id, size=size, error=error))
        if error:
            raise BackupFailed(f"backup to {file} failed: {error}")
        return _document(rows[0]) if rows and rows[0]["id"] == backup_id else {"id": backup_id}

    async def _finish(
        self, backup_id: int, *, size: int | None, error: str | None
    ) -> builtins.list[dict[str, Any]]:
        """Record the outcome; returns the newest record (the caller's, unless another began since)."""
        async with self.ctx.db.write() as tx:
            await backup_store.finish(
                tx,
                backup_id,
                status="failed" if error else "succeeded",
                now=self.ctx.clock.now(),
                size_bytes=size,
                error=error,
            )
            return await backup_store.list_(tx, limit=1)

    async def _export(self, target: Path) -> None:
        head = migrate.head_revision()
        async with self.ctx.db.read() as tx:
            await export.begin_snapshot(tx)
            schema = await migrate.revision_of(tx)
            header = {
                "format": export.FORMAT,
                "version": export.FORMAT_VERSION,
                "schema": schema or head,
                "source": self.ctx.db.dialect,
                "created_at": utc_text(self.ctx.clock.now()),
            }
            out = await asyncio.to_thread(gzip.GzipFile, target, "wb", 6)
            try:
                await asyncio.to_thread(out.write, export.encode(header))
                async for batch in export.dump(tx):
                    data = b"".join(export.encode(doc) for doc in batch)
                    await asyncio.to_thread(out.write, data)
            finally:
                await asyncio.to_thread(out.close)

    # -- scheduled backups -----------------------------------------------------------------

    def next_slot(self, after: datetime) -> datetime | None:
        expression = self.ctx.settings.backup_schedule
        if expression is None:
            return None
        return next(cron.fire_times(cron.compile_rule(expression), cron.load_zone("UTC"), after))

    def scheduled_file(self, slot: datetime) -> Path:
        suffix = "sqlite" if self.ctx.db.is_sqlite else "jsonl.gz"
        return Path(self.ctx.settings.backup_dir) / f"tasksched-{slot:%Y%m%d-%H%M%S}.{suffix}"

    async def run_scheduled(self, slot: datetime, *, actor: Actor) -> dict[str, Any] | None:
        """Make the backup of ``slot`` unless another process claimed it; then keep only the newest
        ``TASKSCHED_BACKUP_KEEP`` scheduled backups. Returns the record, None when not ours."""
        try:
            made = await self.backup(self.scheduled_file(slot), actor=actor, trigger="scheduled", slot=slot)
        finally:
            await self.remove_old(actor=actor)
        return made

    async def remove_old(self, *, actor: Actor) -> builtins.list[str]:
        """Delete the files of scheduled backups beyond the newest ``backup_keep``; returns them."""
        async with self.ctx.db.read() as tx:
            kept = await backup_store.scheduled_succeeded(tx)
        old = kept[self.ctx.settings.backup_keep :]
        for row in old:
            await asyncio.to_thread(Path(row["file"]).unlink, missing_ok=True)
        async with self.ctx.db.write() as tx:
            await backup_store.mark_removed(tx, [r["id"] for r in old])
        return [r["file"] for r in old]

    # -- restoring ----------------------------------------------------------------------------

    async def restore(self, file: Path, *, actor: Actor, force: bool = False) -> Restored:
        """Load the backup ``file`` into this context's database (migrated to the newest schema).

        Refuses a database that holds any row unless ``force`` (then its rows are replaced), and a
        backup of another schema revision. All in one transaction; the counts are checked after.
        """
        if not await asyncio.to_thread(file.is_file):
            raise InvalidInput(f"there is no backup file {file}", field="file")
        head = migrate.head_revision()
        async with self._documents(file) as (kind, schema, documents):
            if schema != head:
                raise RestoreRefused(
                    f"the backup {file} has schema {schema}; this version of tasksched has {head}: "
                    "restore it with the version that made it, or into a database at its schema"
                )
            async with self.ctx.db.write() as tx:
                existing = {t: n for t, n in (await export.counts(tx)).items() if n}
                if existing and not force:
                    raise RestoreRefused(
                        f"the target database is not empty ({_rows(existing)}); "
                        "restore into an empty database, or pass --force to replace its contents"
                    )
                await export.clear(tx)
                loader = export.Loader(tx)
                async for batch in documents:
                    await loader.feed(batch)
                loaded = await loader.finish()
                await backup_store.interrupt_running(
                    tx, note="restored from a backup taken while this backup was running"
                )
                found = await export.counts(tx)
                if found != loaded:
                    raise BackupFailed(f"after the restore the tables hold {found}, the backup {loaded}")
        if self.ctx.db.is_sqlite:
            problems = await asyncio.to_thread(export.sqlite_integrity, export.sqlite_path(self.ctx.db.url))
            if problems != ["ok"]:
                raise BackupFailed(f"the restored database fails its integrity check: {problems[:5]}")
        return Restored(rows=loaded, source=kind, schema=schema)

    def _documents(self, file: Path) -> Any:
        return _sqlite_documents(file) if export.is_sqlite_file(file) else _export_documents(file)


def _rows(counts: dict[str, int]) -> str:
    return ", ".join(f"{table}: {n} rows" for table, n in counts.items())


def _document(row: dict[str, Any]) -> dict[str, Any]:
    doc = dict(row)
    for key in ("slot", "started_at", "finished_at"):
        doc[key] = None if row[key] is None else utc_text(row[key])
    return doc


class _sqlite_documents:
    """A SQLite backup file read as an export (the rows of every table)."""

    def __init__(self, file: Path) -> None:
        self.db = connect(f"sqlite:///{file}", pool_size=1)
        self._read: Any = None

    async def __aenter__(self) -> tuple[str, str | None, AsyncIterator[list[Any]]]:
        self._read = self.db.read()
        tx = await self._read.__aenter__()
        schema = await migrate.revision_of(tx)
        return "sqlite", schema, export.dump(tx)

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._read.__aexit__(*exc)
        finally:
            await self.db.dispose()


class _export_documents:
    """An export file's header and documents, read in batches off the event loop."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self._in: gzip.GzipFile | None = None

    async def __aenter__(self) -> tuple[str, str | None, AsyncIterator[list[Any]]]:
        self._in = reader = await asyncio.to_thread(gzip.GzipFile, self.file, "rb")
        try:
            first = await asyncio.to_thread(reader.readline)
            header = export.decode(first) if first else None
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"{self.file} is neither a SQLite file nor a tasksched export: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != export.FORMAT:
            raise InvalidInput(f"{self.file} is not a tasksched export", field="file")
        if header.get("version") != export.FORMAT_VERSION:
            raise InvalidInput(f"{self.file} is export version {header.get('version')}; this version reads 1")
        return "export", str(header["schema"]), self._batches()

    async def _batches(self) -> AsyncIterator[list[Any]]:
        assert self._in is not None
        while True:
            lines = await asyncio.to_thread(self._in.readlines, 1 << 20)
            if not lines:
                return
            yield [export.decode(line) for line in lines]

    async def __aexit__(self, *exc: object) -> None:
        if self._in is not None:
            await asyncio.to_thread(self._in.close)
