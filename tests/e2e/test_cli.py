"""The `tasksched` command as an operator uses it: db, keys, tasks over the API, worker drain."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tasksched.store import migrate
from tests.helpers.processes import TASKSCHED, free_port, tasksched, wait_for

pytestmark = pytest.mark.slow


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(TASKSCHED), *args], capture_output=True, text=True, env=full_env, check=check, timeout=60
    )


def test_help_documents_every_option_and_its_variable() -> None:
    out = cli("serve", "--help").stdout
    for option, variable in [
        ("--database-url", "TASKSCHED_DATABASE_URL"),
        ("--host", "TASKSCHED_HOST"),
        ("--port", "TASKSCHED_PORT"),
        ("--worker-concurrency", "TASKSCHED_WORKER_CONCURRENCY"),
        ("--enable-shell", "TASKSCHED_ENABLE_SHELL"),
        ("--imports", "TASKSCHED_IMPORTS"),
        ("--bootstrap-key", "TASKSCHED_BOOTSTRAP_KEY"),
    ]:
        assert option in out
        assert variable in out
    assert "Usage: tasksched [OPTIONS] COMMAND" in cli("--help").stdout


def test_db_upgrade_and_keys(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    head = migrate.head_revision()
    assert f"schema at revision {head}" in cli("db", "upgrade", "--database-url", db).stdout
    assert f"current: {head}" in cli("db", "current", "--database-url", db).stdout
    key = cli("keys", "create", "--name", "ci bot", "--role", "operator", "--database-url", db).stdout.strip()
    assert key.startswith("ts_")
    listing = cli("keys", "list", "--database-url", db).stdout
    assert "operator" in listing
    assert "ci bot" in listing
    assert key not in listing  # never shown again
    key_id = listing.split()[0]
    assert f"revoked key {key_id}" in cli("keys", "revoke", key_id, "--database-url", db).stdout
    assert "revoked" in cli("keys", "list", "--database-url", db).stdout
    missing = cli("keys", "revoke", "999", "--database-url", db, check=False)
    assert missing.returncode != 0
    assert "does not exist" in missing.stderr


def test_first_start_prints_an_admin_key_and_tasks_commands_use_it(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "TASKSCHED_PORT": str(port)}
    with tasksched(["serve"], env, tmp_path / "serve.log") as proc:
        proc.wait_ready(base)
        printed = [line.strip() for line in proc.log().splitlines() if line.strip().startswith("ts_")]
        assert len(printed) == 1, proc.log()
        key = printed[0]
        assert (
            httpx.get(f"{base}/api/auth/me", headers={"Authorization": f"Bearer {key}"}).json()["role"]
            == "admin"
        )

        task_file = tmp_path / "task.yaml"
        task_file.write_text(
            "name: from yaml\naction:\n  type: http\n  url: https://example.com/\nschedule:\n  type: interval\n  seconds: 3600\n"
        )
        api = {"TASKSCHED_URL": base, "TASKSCHED_API_KEY": key}
        created = cli("tasks", "create", "-f", str(task_file), env=api).stdout
        assert created.startswith("created task 1 (from yaml)")
        listed = cli("tasks", "list", env=api).stdout
        assert "from yaml" in listed
        assert "(1 of 1)" in listed
        assert cli("tasks", "run", "1", env=api).stdout.startswith("queued run ")
        as_json = json.loads(cli("tasks", "list", "--json", env=api).stdout)
        assert as_json["total"] == 1

        bad = tmp_path / "bad.yaml"
        bad.write_text("name: bad\naction: {type: http, url: 'ftp://x'}\n")
        refused = cli("tasks", "create", "-f", str(bad), env=api, check=False)
        assert refused.returncode == 1
        assert "HTTP 422" in refused.stderr
        assert "action.url" in refused.stderr
        unauthorized = cli(
            "tasks", "list", env={"TASKSCHED_URL": base, "TASKSCHED_API_KEY": "nope"}, check=False
        )
        assert "HTTP 401" in unauthorized.stderr
    # A second start finds the key and prints none.
    with tasksched(["serve"], env, tmp_path / "serve2.log") as proc:
        proc.wait_ready(base)
        assert not [line for line in proc.log().splitlines() if line.strip().startswith("ts_")]


def test_sigterm_drains_a_worker_and_exits_cleanly(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'drain.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = "ts_drain_admin_key_0123456789"
    env = {
        "TASKSCHED_DATABASE_URL": db,
        "TASKSCHED_PORT": str(port),
        "TASKSCHED_BOOTSTRAP_KEY": key,
        "TASKSCHED_IMPORTS": "tests.helpers.tasks",
        "TASKSCHED_DRAIN_SECONDS": "1",
    }
    headers = {"Authorization": f"Bearer {key}"}
    with tasksched(["api"], env, tmp_path / "api.log") as api:
        api.wait_ready(base)
        fast = httpx.post(
            f"{base}/api/tasks",
            headers=headers,
            json={"name": "fast", "action": {"type": "python", "function": "tests.sleep", "args": [0.2]}},
        ).json()
        slow = httpx.post(
            f"{base}/api/tasks",
            headers=headers,
            json={"name": "slow", "action": {"type": "python", "function": "tests.sleep", "args": [60]}},
        ).json()
        fast_run = httpx.post(f"{base}/api/tasks/{fast['id']}/run", headers=headers).json()
        slow_run = httpx.post(f"{base}/api/tasks/{slow['id']}/run", headers=headers).json()
        with tasksched(["worker"], env, tmp_path / "worker.log") as worker:

            def both_running() -> bool:
                statuses = {
                    httpx.get(f"{base}/api/runs/{r['id']}", headers=headers).json()["status"]
                    for r in (fast_run, slow_run)
                }
                return statuses <= {"running", "succeeded"} and "running" in statuses

            wait_for(both_running, 20, message="runs started")
            started = time.monotonic()
            assert worker.terminate() == 0
            assert time.monotonic() - started < 10
        assert httpx.get(f"{base}/api/runs/{fast_run['id']}", headers=headers).json()["status"] == "succeeded"
        released = httpx.get(f"{base}/api/runs/{slow_run['id']}", headers=headers).json()
        assert released["status"] == "queued"  # handed back for another worker, same attempt
        assert released["attempt"] == 1
    assert "released unfinished runs back to the queue" in worker.log()
