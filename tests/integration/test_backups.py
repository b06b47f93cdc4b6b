"""Backups and restores on real databases: while runs are being written, across SQLite and
PostgreSQL both ways, refusals that leave the target as it was, and one backup per scheduled slot."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tasksched.clock import FrozenClock
from tasksched.config import Settings
from tasksched.domain.principals import CLI, Role
from tasksched.errors import Conflict, InvalidInput
from tasksched.scheduler.maintenance import Maintenance
from tasksched.services.backups import BackupService
from tasksched.services.context import Context
from tasksched.services.keys import KeyService
from tasksched.services.runs import RunService
from tasksched.services.tasks import TaskService
from tasksched.services.workers import WorkerService
from tasksched.store import export, migrate
from tasksched.store import runs as run_store
from tasksched.store import secrets as secret_store
from tests.conftest import ADMIN_KEY, add_keys, fresh_pg_database, make_settings
from tests.helpers.processes import PYTHONPATH, TASKSCHED, free_port, tasksched
from tests.integration.conftest import spec


@pytest.fixture
def pg_url_2() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


async def opened(url: str, **overrides: Any) -> Context:
    ctx = Context.open(make_settings(url, **overrides))
    await migrate.upgrade(ctx.db)
    return ctx


@pytest.fixture
async def source(database_url: str) -> AsyncIterator[Context]:
    ctx = await opened(database_url)
    try:
        yield ctx
    finally:
        await ctx.close()


async def fill(ctx: Context, runs: int = 300) -> None:
    """Something of every table: tasks with tags and JSON fields, runs, keys, a worker, a secret."""
    tasks = TaskService(ctx)
    first = await tasks.create(
        spec(name="reports", tags=["b", "a"], retention={"keep_last": 3}, description="Grüße ☃"), actor=CLI
    )
    await tasks.create(
        spec(name="paused", enabled=False, schedule={"type": "cron", "expression": "0 3 * * *"}), actor=CLI
    )
    await add_keys(ctx)
    await WorkerService(ctx).register("w1", ["default"], 4)
    now = ctx.clock.now()
    async with ctx.db.write() as tx:
        await secret_store.get_or_create(tx, "ticket-key", "s3cret", now)
        await run_store.insert(
            tx,
            [
                {
                    "task_id": first.id,
                    "task_name": "reports",
                    "trigger": "schedule",
                    "scheduled_for": now - timedelta(minutes=i),
                    "attempt": 1,
                    "status": "succeeded" if i % 3 else "failed",
                    "queue": "default",
                    "priority": 0,
                    "queued_at": now - timedelta(minutes=i),
                    "available_at": now - timedelta(minutes=i),
                    "finished_at": now - timedelta(minutes=i, seconds=-2),
                    "duration_ms": 2000,
                    "output": f"line {i}\n" * 50,
                    "error": None if i % 3 else "exit 1",
                }
                for i in range(1, runs + 1)
            ],
        )
    await RunService(ctx).run_now(first.id, actor=CLI)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


# How a backup's own record differs between the original and a copy: it is running in the copy.
_BACKUP_OUTCOME = {"status", "finished_at", "size_bytes", "error"}


async def contents(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with ctx.db.read() as tx:
        columns: list[str] = []
        table = ""
        async for batch in export.dump(tx):
            for doc in batch:
                if isinstance(doc, dict) and "table" in doc:
                    table, columns = doc["table"], doc["columns"]
                    found[table] = []
                elif isinstance(doc, list):
                    skip = _BACKUP_OUTCOME if table == "backups" else set()
                    found[table].append(
                        tuple(_plain(v) for c, v in zip(columns, doc, strict=True) if c not in skip)
                    )
    return found


async def run_ids(ctx: Context) -> set[int]:
    async with ctx.db.read() as tx:
        rows, _ = await run_store.list_(tx, limit=1_000_000)
    return {r["id"] for r in rows}


def cli_env(url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PYTHONPATH, "TASKSCHED_DATABASE_URL": url}


async def cli(*args: str, url: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(TASKSCHED),
        *args,
        env=cli_env(url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.mark.slow
async def test_backup_while_runs_are_written_restores_every_committed_run(
    source: Context, tmp_path: Path
) -> None:
    """`tasksched db backup` in its own process while this one keeps queueing runs; the backup,
    restored into a new SQLite file, holds every run committed before it began, passes SQLite's
    integrity check, and a `tasksched serve` started on it serves those runs."""
    await fill(source, runs=20_000)  # large enough that the copy takes a while
    task = await TaskService(source).get(1)
    runs = RunService(source)
    committed: list[tuple[int, float]] = []
    stop = asyncio.Event()

    async def writer() -> None:
        while not stop.is_set():
            run = await runs.run_now(task.id, actor=CLI)
            committed.append((run.id, time.monotonic()))
            await asyncio.sleep(0)

    writing = asyncio.create_task(writer())
    await asyncio.sleep(0.3)
    began = time.monotonic()
    before = {rid for rid, _ in committed}
    file = tmp_path / "backup.bin"
    out = await cli("db", "backup", str(file), url=source.db.url)
    ended = time.monotonic()
    await asyncio.sleep(0.1)
    stop.set()
    await writing
    assert "backup written to" in out
    during = [rid for rid, at in committed if began < at < ended]
    assert during, "no run was written while the backup ran"

    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    out = await cli("db", "restore", str(file), url=restored_url)
    assert "restored" in out
    restored_file = tmp_path / "restored.db"
    assert sqlite3.connect(restored_file).execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    if source.db.is_sqlite:
        assert export.is_sqlite_file(file)
        assert export.sqlite_integrity(file) == ["ok"]

    restored = await opened(restored_url)
    try:
        have = await run_ids(restored)
    finally:
        await restored.close()
    assert before <= have
    assert have <= {rid for rid, _ in committed} | (await run_ids(source) - {rid for rid, _ in committed})

    port = free_port()
    with tasksched(
        ["serve", "--port", str(port)], {"TASKSCHED_DATABASE_URL": restored_url}, tmp_path / "serve.log"
    ) as proc:
        base = f"http://127.0.0.1:{port}"
        proc.wait_ready(base)
        # The restored history is served (its count exact up to 1,000 past the page, as lists are).
        response = httpx.get(
            f"{base}/api/runs",
            params={"task_id": task.id, "limit": 1, "offset": 20_000 + len(before) - 1},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) == 1
        assert response.json()["total"] >= 20_000 + len(before)


@pytest.mark.postgres
async def test_contents_equal_across_databases_both_ways(pg_url: str, pg_url_2: str, tmp_path: Path) -> None:
    """PostgreSQL → export → a fresh PostgreSQL and a SQLite file; that SQLite file → its own
    backup → another fresh PostgreSQL: every table's rows equal the original's."""
    pg = await opened(pg_url)
    lite = await opened(f"sqlite:///{tmp_path / 'copy.db'}")
    pg2 = None
    try:
        await fill(pg)
        dump = tmp_path / "pg.jsonl.gz"
        await BackupService(pg).backup(dump, actor=CLI)
        assert not export.is_sqlite_file(dump)
        original = await contents(pg)

        await BackupService(lite).restore(dump, actor=CLI)
        assert await contents(lite) == original

        with fresh_pg_database() as pg3_url:
            pg3 = await opened(pg3_url)
            try:
                await BackupService(pg3).restore(dump, actor=CLI)
                assert await contents(pg3) == original
            finally:
                await pg3.close()

        copy = tmp_path / "lite.sqlite"
        await BackupService(lite).backup(copy, actor=CLI)
        assert export.is_sqlite_file(copy)
        from_lite = await contents(lite)
        pg2 = await opened(pg_url_2)
        await BackupService(pg2).restore(copy, actor=CLI)
        assert await contents(pg2) == from_lite
        # The id sequences continue after the restored rows.
        task = await TaskService(pg2).create(spec(name="after-restore"), actor=CLI)
        assert task.id == max(row[0] for row in from_lite["tasks"]) + 1
        key, _ = await KeyService(pg2).create("new", Role.VIEWER, actor=CLI)
        assert key.id == max(row[0] for row in from_lite["api_keys"]) + 1
    finally:
        await pg.close()
        await lite.close()
        if pg2 is not None:
            await pg2.close()


async def test_restore_refuses_and_leaves_the_target_as_it_was(source: Context, tmp_path: Path) -> None:
    await fill(source, runs=10)
    good = tmp_path / "good.jsonl.gz"
    await BackupService(source).backup(good, actor=CLI, fmt="export")
    target = await opened(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        service = BackupService(target)
        await service.restore(good, actor=CLI)
        before = await contents(target)

        with pytest.raises(Conflict, match=r"not empty.*--force"):
            await service.restore(good, actor=CLI)

        lines = gzip.decompress(good.read_bytes()).splitlines(keepends=True)
        truncated = tmp_path / "truncated.jsonl.gz"
        truncated.write_bytes(gzip.compress(b"".join(lines[: len(lines) // 2])))
        with pytest.raises(ValueError, match=r"truncated|rows read"):
            await service.restore(truncated, actor=CLI, force=True)

        header = json.loads(lines[0])
        old = tmp_path / "old.jsonl.gz"
        old.write_bytes(
            gzip.compress(json.dumps({**header, "schema": "0001"}).encode() + b"\n" + b"".join(lines[1:]))
        )
        with pytest.raises(Conflict, match="schema 0001"):
            await service.restore(old, actor=CLI, force=True)

        junk = tmp_path / "junk.bin"
        junk.write_bytes(b"hello, not a backup")
        with pytest.raises(InvalidInput, match="neither a SQLite file nor a tasksched export"):
            await service.restore(junk, actor=CLI, force=True)

        assert await contents(target) == before  # every refusal changed nothing

        # --force replaces the contents (here with the same backup: the same rows).
        await service.restore(good, actor=CLI, force=True)
        assert await contents(target) == before
    finally:
        await target.close()


@pytest.fixture
def backup_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, backup_schedule="0 * * * *", backup_dir=str(tmp_path / "auto"), backup_keep=2
    )


async def test_two_schedulers_make_one_backup_per_slot_and_keep_the_newest(
    backup_settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    a = Context.open(backup_settings, clock=clock)
    await migrate.upgrade(a.db)
    b = Context.open(backup_settings, clock=clock)
    try:
        await fill(a, runs=5)
        service_a, service_b = BackupService(a), BackupService(b)
        assert await service_a.last() is None
        assert await service_a.last_success_at() is None
        slot = service_a.next_slot(clock.now())
        assert slot == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
        made = []
        for _ in range(4):
            clock.set(slot)
            results = await asyncio.gather(
                service_a.run_scheduled(slot, actor=CLI), service_b.run_scheduled(slot, actor=CLI)
            )
            assert sum(r is not None for r in results) == 1, results
            made.append(next(r for r in results if r is not None))
            next_slot = service_b.next_slot(slot)
            assert next_slot is not None
            slot = next_slot
        listed = await service_a.list()
        assert [(r["trigger"], r["status"]) for r in listed] == [("scheduled", "succeeded")] * 2 + [
            ("scheduled", "removed")
        ] * 2
        assert sorted(p.name for p in (tmp_path / "auto").iterdir()) == sorted(
            Path(m["file"]).name for m in made[2:]
        )
        last = await service_b.last()
        assert last is not None
        assert last["slot"] == "2026-06-01T16:00:00Z"
        assert last["size_bytes"] == Path(last["file"]).stat().st_size
        assert await service_b.last_success_at() == clock.now()
    finally:
        await a.close()
        await b.close()


async def test_a_failed_backup_is_recorded_with_its_error(source: Context, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(Exception, match=r"backup to .* failed"):
        await BackupService(source).backup(blocker / "sub" / "backup.bin", actor=CLI)
    last = await BackupService(source).last()
    assert last is not None
    assert last["status"] == "failed"
    assert last["error"]
    assert await BackupService(source).last_success_at() is None
    assert not list(tmp_path.glob("**/*.partial"))


@pytest.mark.slow
async def test_maintenance_loops_back_up_each_slot_once(database_url: str, tmp_path: Path) -> None:
    """Two schedulers' upkeep on a schedule of every second, on the real clock, for a few seconds."""
    settings = make_settings(
        database_url, backup_schedule="* * * * * *", backup_dir=str(tmp_path / "auto"), backup_keep=3
    )
    ctxs = [Context.open(settings), Context.open(settings)]
    await migrate.upgrade(ctxs[0].db)
    loops = [Maintenance(c, first_prune_after=(3600, 3600)) for c in ctxs]
    try:
        running = [asyncio.create_task(m.run()) for m in loops]
        await asyncio.sleep(3.5)
        for m in loops:
            m.stop()
        await asyncio.gather(*running)
        rows = await BackupService(ctxs[0]).list(limit=100)
        slots = [r["slot"] for r in rows]
        assert len(rows) >= 2
        assert len(slots) == len(set(slots))
        assert {r["status"] for r in rows} <= {"succeeded", "removed"}
        assert len(list((tmp_path / "auto").iterdir())) == min(3, len(rows))
    finally:
        for c in ctxs:
            await c.close()


async def test_the_upkeep_loop_prunes_the_audit_log_too(database_url: str) -> None:
    """The run pruner's pass also drops audit entries older than TASKSCHED_AUDIT_RETENTION_DAYS."""
    from tasksched.domain.audit import Target
    from tasksched.services.audit import record
    from tasksched.store import audit as audit_store

    ctx = Context.open(make_settings(database_url, audit_retention_days=30))
    await migrate.upgrade(ctx.db)
    now = datetime.now(UTC)
    try:
        async with ctx.db.write() as tx:
            for days, name in ((31, "old"), (29, "recent")):
                await record(
                    tx, CLI, "task.update", Target("task", 1, name), {}, {}, at=now - timedelta(days=days)
                )
        upkeep = Maintenance(ctx, first_prune_after=(0, 0))
        running = asyncio.create_task(upkeep.run())
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                async with ctx.db.read() as tx:
                    left = [e["target_name"] for e in await audit_store.list_(tx, limit=10)]
                if left == ["recent"]:
                    break
                await asyncio.sleep(0.1)
        finally:
            upkeep.stop()
            await running
        assert left == ["recent"]
    finally:
        await ctx.close()


async def test_a_backup_stopped_midway_is_recorded_as_interrupted(
    source: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler stopping cancels its upkeep: the backup it was making must not stay "running"
    for ever, nor leave its partial file behind."""
    service = BackupService(source)
    writing = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_copy(source: str, target: Path) -> None:  # the SQLite copy (a thread), held meanwhile
        target.write_bytes(b"partial")
        loop.call_soon_threadsafe(writing.set)
        time.sleep(0.5)

    async def slow_export(target: Path) -> None:  # the PostgreSQL export, likewise
        target.write_bytes(b"partial")
        writing.set()
        await asyncio.sleep(3600)

    monkeypatch.setattr(export, "sqlite_backup", slow_copy)
    monkeypatch.setattr(service, "_export", slow_export)
    file = tmp_path / "backup.bin"
    making = asyncio.create_task(service.backup(file, actor=CLI))
    await asyncio.wait_for(writing.wait(), 10)
    making.cancel()
    with pytest.raises(asyncio.CancelledError):
        await making
    last = await service.last()
    assert last is not None
    assert last["status"] == "failed"
    assert "interrupted" in last["error"]
    assert not file.exists()
    assert not list(tmp_path.glob("*.partial"))
