"""``tasksched db copy`` between a real SQLite file and the real PostgreSQL, both ways, through the
CLI as a user runs it: every row arrives, a re-run changes nothing, a target holding other data or
in use is refused and left as it was."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasksched.domain.principals import CLI
from tasksched.services.copying import NOT_COPIED
from tasksched.services.tasks import TaskService
from tasksched.services.workers import WorkerService
from tasksched.store import partitions
from tasksched.store.tables import runs as runs_table
from tests.conftest import fresh_pg_database
from tests.helpers.processes import PYTHONPATH, TASKSCHED
from tests.integration.conftest import spec
from tests.integration.test_backups import contents, fill, opened

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


async def copy_cli(*args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSCHED_")}
    proc = await asyncio.create_subprocess_exec(
        str(TASKSCHED),
        "db",
        "copy",
        *args,
        env={**env, "PYTHONPATH": PYTHONPATH},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode(), err.decode()


def data(found: dict[str, list[tuple[object, ...]]]) -> dict[str, list[tuple[object, ...]]]:
    return {table: rows for table, rows in found.items() if table not in NOT_COPIED}


async def test_sqlite_to_postgresql_and_back_keeps_every_row_and_is_safe_to_rerun(
    pg_url: str, tmp_path: Path
) -> None:
    lite_url = f"sqlite:///{tmp_path / 'tasksched.db'}"
    lite = await opened(lite_url)
    try:
        await fill(lite, runs=2500)
        original = data(await contents(lite))
    finally:
        await lite.close()

    code, out, err = await copy_cli("--from", lite_url, "--to", pg_url)
    assert code == 0, err
    assert "counts and content checked" in out
    assert "runs 2501" in out
    pg = await opened(pg_url)
    try:
        assert data(await contents(pg)) == original
        # The id sequences go on after the copied rows.
        made = await TaskService(pg).create(spec(name="after-copy"), actor=CLI)
        assert made.id == max(int(str(row[0])) for row in original["tasks"]) + 1
    finally:
        await pg.close()

    # Again: the target now holds other data (the task made after the copy), refused as it is.
    code, out, err = await copy_cli("--from", lite_url, "--to", pg_url)
    assert code == 1
    assert "already holds other data" in err
    assert "--replace" in err
    code, out, err = await copy_cli("--from", lite_url, "--to", pg_url, "--replace")
    assert code == 0, err
    # And once more: exactly the source's rows are there, so nothing is written.
    code, out, err = await copy_cli("--from", lite_url, "--to", pg_url)
    assert code == 0, err
    assert "nothing to copy" in out

    back_url = f"sqlite:///{tmp_path / 'back.db'}"
    code, out, err = await copy_cli("--from", pg_url, "--to", back_url)
    assert code == 0, err
    back = await opened(back_url)
    try:
        assert data(await contents(back)) == original
    finally:
        await back.close()


async def test_a_target_in_use_is_refused_and_left_as_it_was(pg_url: str, tmp_path: Path) -> None:
    lite_url = f"sqlite:///{tmp_path / 'source.db'}"
    lite = await opened(lite_url)
    try:
        await fill(lite, runs=10)
    finally:
        await lite.close()

    # A worker heartbeating in the target: loading rows under it would run them twice.
    target = f"sqlite:///{tmp_path / 'target.db'}"
    busy = await opened(target)
    try:
        await WorkerService(busy).register("w-live", ["default"], 4)
        before = await contents(busy)
        code, _, err = await copy_cli("--from", lite_url, "--to", target)
        assert code == 1
        assert "is in use" in err
        assert "worker w-live" in err
        assert await contents(busy) == before
    finally:
        await busy.close()

    # Another session on the PostgreSQL target (here: this test's own open connection).
    pg = await opened(pg_url)
    try:
        async with pg.db.read() as tx:
            code, _, err = await copy_cli("--from", lite_url, "--to", pg_url)
            assert tx is not None
        assert code == 1
        assert "is in use" in err
        assert "connected:" in err
        async with pg.db.read():
            pass
        assert all(not rows for table, rows in (await contents(pg)).items())
    finally:
        await pg.close()


async def test_bad_arguments_name_the_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'one.db'}"
    one = await opened(url)
    await one.close()
    code, _, err = await copy_cli("--from", url, "--to", url)
    assert code != 0
    assert "same database" in err
    code, _, err = await copy_cli("--from", f"sqlite:///{tmp_path / 'missing.db'}", "--to", url)
    assert code != 0
    assert "missing.db" in err
    with fresh_pg_database() as pg_url:
        code, _, err = await copy_cli("--from", url, "--to", pg_url.replace("postgresql", "mysql"))
        assert code != 0
        assert "Traceback" not in err


async def test_copied_runs_land_in_their_months_on_a_partitioned_target(pg_url: str, tmp_path: Path) -> None:
    lite_url = f"sqlite:///{tmp_path / 'old.db'}"
    lite = await opened(lite_url)
    try:
        await fill(lite, runs=10)
        async with lite.db.write() as tx:
            # A run from two years ago: its month is older than any the migration makes.
            await tx.execute(
                runs_table.update()
                .where(runs_table.c.id == 1)
                .values(scheduled_for=datetime.now(UTC) - timedelta(days=730))
            )
    finally:
        await lite.close()
    code, _, err = await copy_cli("--from", lite_url, "--to", pg_url)
    assert code == 0, err
    pg = await opened(pg_url)
    try:
        async with pg.db.read() as tx:
            assert await partitions.default_rows(tx) == 0
            assert len(await partitions.monthly(tx)) >= 25
    finally:
        await pg.close()
