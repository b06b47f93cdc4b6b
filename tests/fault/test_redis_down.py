"""Redis stopped under load and started again, under a split deployment behind PgBouncer whose
only event relay is Redis (no LISTEN: transaction pooling).

The Redis is the test's own (``redis-server`` on a free port), never the shared one. While it is
down the API keeps answering (no 5xx at all: Redis is not on a request's path), every run is still
done (the worker's poll), and wake-ups are slower (the poll) but happen; when it is back each
process's relay reconnects and wake-ups are instant again. No acknowledged write is lost.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_database
from tests.helpers.load import Load, wake_up_delays
from tests.helpers.pgbouncer import own_pgbouncer
from tests.helpers.processes import Proc, free_port, tasksched, wait_for
from tests.helpers.redis_server import own_redis

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

KEY = "ts_fault_redis_admin_0123456789"
INSTANT = 0.8  # seconds from queued to started; the worker's idle poll is 2 s
POLL_BOUND = 2.0 + 1.0  # the idle poll, and a margin for a loaded machine
ROUNDS = 6


def test_redis_down_under_load(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_pg_database() as direct, own_pgbouncer(direct) as bouncer, own_redis() as redis:
        env = {
            "TASKSCHED_DATABASE_URL": bouncer.url,
            "TASKSCHED_DATABASE_POOLING": "transaction",
            "TASKSCHED_REDIS_URL": redis.url,
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
                load = Load(base, KEY)
                with load.client() as client:
                    probe = client.post(
                        "/api/tasks",
                        json={"name": "probe", "action": {"type": "python", "function": "tests.noop"}},
                    )
                    assert probe.status_code == 201, probe.text
                    probe_id = int(probe.json()["id"])
                    before = wake_up_delays(client, probe_id, rounds=3, pause=1.0)
                    assert max(before) < INSTANT, f"with Redis, runs started {before} s after being queued"

                    load.start()
                    time.sleep(1.5)
                    redis.stop()
                    time.sleep(3.0)
                    during_load = load.tally.statuses.total()
                    load.stop()
                    down = wake_up_delays(client, probe_id, rounds=ROUNDS, pause=0.3)
                    assert max(down) < POLL_BOUND, f"without Redis, runs started {down} s after being queued"
                    # Slower, as documented: six runs all started at once would mean events still flow.
                    assert max(down) > INSTANT, f"without Redis, runs started {down} s after being queued"

                    redis.start()
                    for proc in procs:
                        wait_for(lambda proc=proc: "event relay reconnected" in proc.log(), 15,
                                 message=f"the {proc.args[0]} relay reconnected")  # fmt: skip
                    after = wake_up_delays(client, probe_id, rounds=3, pause=1.0)
                    assert max(after) < INSTANT, (
                        f"after Redis's return runs started {after} s after being queued"
                    )

                tally = load.tally
                summary = f"statuses {dict(tally.statuses)}, {len(tally.dropped)} dropped"
                assert during_load > 0, summary
                assert set(tally.statuses) <= {200, 201, 202}, summary
                assert not tally.dropped, f"{summary}: {tally.dropped[:5]}"
                load.assert_nothing_lost()
                for proc in procs:
                    assert proc.terminate() == 0, proc.log()[-3000:]
        for proc in procs:
            log = proc.log()
            assert "Traceback" not in log, log[-5000:]
            assert log.count("event relay lost its Redis connection") == 1, log[-3000:]
