"""`tasksched serve` as a user runs it: a real process, a real HTTP target, real time."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.helpers.http_target import HttpTarget
from tests.helpers.processes import free_port, tasksched, wait_for

pytestmark = pytest.mark.slow

KEY = "ts_e2e_admin_key_0123456789"


def test_interval_task_calls_a_real_listener(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.db'}",
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_HTTP_ALLOW_PRIVATE": "true",
        "TASKSCHED_PORT": str(port),
    }
    with HttpTarget() as target, tasksched(["serve"], env, tmp_path / "serve.log") as proc:
        proc.wait_ready(base)
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
        created = client.post(
            "/api/tasks",
            json={
                "name": "ping",
                "action": {
                    "type": "http",
                    "method": "POST",
                    "url": target.url("/ok"),
                    "body": {"hello": "world"},
                },
                "schedule": {"type": "interval", "seconds": 1},
            },
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]

        def three_succeeded() -> bool:
            page = client.get("/api/runs", params={"task_id": task_id, "status": "succeeded"}).json()
            return bool(page["total"] >= 3)

        wait_for(three_succeeded, timeout=20, message="three succeeded runs")
        runs = client.get("/api/runs", params={"task_id": task_id}).json()["items"]
        succeeded = [r for r in runs if r["status"] == "succeeded"]
        assert len(succeeded) >= 3
        assert all(r["http_status"] == 200 for r in succeeded)
        detail = client.get(f"/api/runs/{succeeded[0]['id']}").json()
        assert detail["output"] == "ok"
        assert target.hits["/ok"] >= 3
        assert all(r.body == b'{"hello":"world"}' for r in target.requests)
        slots = sorted(r["scheduled_for"] for r in runs)
        assert len(slots) == len(set(slots))  # one run per slot
        client.close()
        assert proc.terminate() == 0
    log = proc.log()
    assert '"event": "run succeeded"' in log
    assert f'"task_id": {task_id}' in log
