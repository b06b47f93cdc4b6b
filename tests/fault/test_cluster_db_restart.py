"""PostgreSQL restarted under load beneath the whole cluster: a PostgreSQL the test owns, PgBouncer
in transaction mode in front of it, 2 `tasksched api` behind nginx, 2 schedulers and 2 workers
(LISTEN on a direct connection), clients creating tasks and running them now through nginx.

While the database is down the API answers 503 with Retry-After (never a 500, no connection dropped
without an answer) and `/readyz` says so; within 10 s of its return writes succeed again and
wake-ups work (a run queued on idle workers starts well inside their 2 s poll: the LISTEN
connections came back); every acknowledged task and run is there and every run ends.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.helpers import nginx
from tests.helpers.load import Load, assert_clean_exit, wake_ups_after_recovery
from tests.helpers.pgbouncer import own_pgbouncer
from tests.helpers.pgcluster import own_cluster
from tests.helpers.processes import Proc, free_port, tasksched, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

KEY = "ts_fault_cluster_restart_admin_0123"
DOWN_SECONDS = 4.0
BACK_WITHIN_SECONDS = 10.0
INSTANT = 0.8  # seconds from queued to started; the workers' idle poll is 2 s


def test_database_restart_beneath_the_whole_cluster(tmp_path: Path) -> None:
    with own_cluster() as pg, own_pgbouncer(pg.url) as bouncer, ExitStack() as stack:
        env = {
            "TASKSCHED_DATABASE_URL": bouncer.url,
            "TASKSCHED_DATABASE_POOLING": "transaction",
            "TASKSCHED_LISTEN_URL": pg.url,
            "TASKSCHED_IMPORTS": "tests.helpers.tasks",
            "TASKSCHED_BOOTSTRAP_KEY": KEY,
            "TASKSCHED_TRUSTED_PROXIES": "127.0.0.1",
        }
        procs: list[Proc] = []
        ports = [free_port(), free_port()]
        for i, port in enumerate(ports):
            procs.append(
                stack.enter_context(
                    tasksched(["api"], {**env, "TASKSCHED_PORT": str(port)}, tmp_path / f"api-{i}.log")
                )
            )
        for proc, port in zip(procs, ports, strict=True):
            proc.wait_ready(f"http://127.0.0.1:{port}")
        for role in ("scheduler", "worker"):
            for i in range(2):
                procs.append(stack.enter_context(tasksched([role], env, tmp_path / f"{role}-{i}.log")))
        wait_for(
            lambda: all("worker started" in p.log() for p in procs[-2:]), 30, message="the workers started"
        )
        proxy = stack.enter_context(
            nginx.running([f"127.0.0.1:{p}" for p in ports], free_port(), tmp_path / "nginx")
        )

        load = Load(proxy.url, KEY)
        load.start()
        time.sleep(1.5)
        before = len(load.tally.write_ok_at)
        pg.stop("fast")
        time.sleep(DOWN_SECONDS)
        during = load.tally.statuses[503]
        ready = httpx.get(f"{proxy.url}/readyz", timeout=10)
        pg.start()
        back_at = time.monotonic()
        wait_for(lambda: any(t > back_at for t in load.tally.write_ok_at), BACK_WITHIN_SECONDS,
                 interval=0.05, message="a write succeeded after the database's return")  # fmt: skip
        back_after = min(t for t in load.tally.write_ok_at if t > back_at) - back_at
        time.sleep(2.0)
        writes_after = sum(1 for t in load.tally.write_ok_at if t > back_at)
        load.stop()

        tally = load.tally
        summary = (
            f"statuses {dict(tally.statuses)}, {len(tally.dropped)} dropped, back after {back_after:.2f} s"
        )
        assert before > 0, summary
        assert during > 0, f"no request saw the outage; {summary}"
        assert ready.status_code == 503, ready.text
        assert "database" in ready.text.lower(), ready.text
        assert not tally.server_errors(), summary
        assert not tally.bad_503, tally.bad_503[:3]
        assert not tally.dropped, f"{summary}: {tally.dropped[:5]}"
        assert writes_after > 10, f"throughput did not come back: {writes_after} writes in 2 s; {summary}"
        load.assert_nothing_lost()

        delays = wake_ups_after_recovery(load)
        assert max(delays) < INSTANT, f"after the restart runs started {delays} s after being queued"
        assert_clean_exit(procs)
