"""PgBouncer killed under load and started again, in front of a split deployment (API, scheduler
and worker processes, all through it in transaction mode; LISTEN on a direct connection).

While it is down the API answers 503 (never a 500) and ``/readyz`` says so; after its return writes
succeed again within 10 s; no acknowledged write is lost, every run ends, and a run queued on an
idle worker starts at once again (wake-ups work, not only the worker's poll). Under load,
PostgreSQL sees no more connections than PgBouncer's pool (4) plus one direct LISTEN per process,
though each process's own pool allows 20.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, fresh_pg_database
from tests.helpers.load import Load, assert_clean_exit, wake_ups_after_recovery
from tests.helpers.pgbouncer import POOL_SIZE, own_pgbouncer
from tests.helpers.processes import Proc, free_port, tasksched, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "ts_fault_pgbouncer_admin_0123456789"
DOWN_SECONDS = 3.0
BACK_WITHIN_SECONDS = 10.0
INSTANT = 0.8  # seconds from queued to started; the worker's idle poll is 2 s


async def _server_connections(url: str) -> tuple[int, int]:
    """(connections from PgBouncer, the processes' direct LISTEN connections) on the database."""
    import asyncpg

    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        rows = await conn.fetch("SELECT application_name FROM pg_stat_activity WHERE datname = $1", name)
    finally:
        await conn.close()
    listen = sum(1 for r in rows if str(r[0]).startswith("tasksched-relay-"))
    return len(rows) - listen, listen


def test_pgbouncer_restart_under_load(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_pg_database() as direct, own_pgbouncer(direct) as bouncer:
        env = {
            "TASKSCHED_DATABASE_URL": bouncer.url,
            "TASKSCHED_DATABASE_POOLING": "transaction",
            "TASKSCHED_LISTEN_URL": direct,
            "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        }
        api_env = {**env, "TASKSCHED_PORT": str(port), "TASKSCHED_BOOTSTRAP_KEY": KEY}
        procs: list[Proc] = []
        with tasksched(["api"], api_env, tmp_path / "api.log") as api:
            procs.append(api)
            api.wait_ready(base)
            with (
                tasksched(["scheduler"], env, tmp_path / "scheduler.log") as scheduler,
                tasksched(["worker"], env, tmp_path / "worker.log") as worker,
            ):
                procs += [scheduler, worker]
                wait_for(lambda: "worker started" in worker.log(), 30, message="the worker started")
                # Each process opens its LISTEN connection as it starts; the worker may be up
                # before the scheduler is (it imports less), so wait for all three, not only it.
                wait_for(lambda: asyncio.run(_server_connections(direct))[1] == 3, 30,
                         message="a direct LISTEN connection from each process")  # fmt: skip
                load = Load(base, KEY)
                load.start()
                samples = []
                for _ in range(8):  # PostgreSQL's side under load: PgBouncer's pool, plus direct LISTENs
                    samples.append(asyncio.run(_server_connections(direct)))
                    time.sleep(0.25)
                before = len(load.tally.write_ok_at)
                bouncer.kill()
                time.sleep(DOWN_SECONDS)
                during = load.tally.statuses[503]
                ready = httpx.get(f"{base}/readyz", timeout=10)
                bouncer.start()
                back_at = time.monotonic()
                wait_for(lambda: any(t > back_at for t in load.tally.write_ok_at), BACK_WITHIN_SECONDS,
                         message="a write succeeded after PgBouncer's return")  # fmt: skip
                time.sleep(1.0)
                load.stop()

                pooled = max(n for n, _ in samples)
                assert pooled <= POOL_SIZE, f"server connections through PgBouncer: {samples}"
                assert all(listen == 3 for _, listen in samples), f"direct LISTEN connections: {samples}"
                tally = load.tally
                summary = f"statuses {dict(tally.statuses)}, {len(tally.dropped)} dropped"
                assert before > 0, summary
                assert during > 0, f"no request saw the outage; {summary}"
                assert ready.status_code == 503, ready.text
                assert not tally.server_errors(), summary
                assert not tally.bad_503, tally.bad_503[:3]
                assert not tally.dropped, f"{summary}: {tally.dropped[:5]}"
                load.assert_nothing_lost()

                delays = wake_ups_after_recovery(load)
                assert max(delays) < INSTANT, f"after the restart runs started {delays} s after being queued"
                assert_clean_exit(procs)
