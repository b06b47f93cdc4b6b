"""No secret reaches a log, at any level, from tasksched or any library it uses.

A real `tasksched serve` (API, scheduler and worker in one process) runs at debug level on each
database; it stores and runs an HTTP task with a secret header and a shell task with a secret
environment value, makes an API key and is called with it. Then every line it wrote (stdout and
stderr) is searched for each secret, the key and the key's SHA-256 hash (what the database holds).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from tests.helpers.http_target import HttpTarget
from tests.helpers.processes import free_port, tasksched, wait_for

pytestmark = pytest.mark.slow

BOOTSTRAP_KEY = "ts_logsecret_bootstrap_0123456789"
HEADER_SECRET = "hdr-secret-6f1c2a9e"
ENV_SECRET = "env-secret-93b7d04c"


def _finished(client: httpx.Client, run_id: int) -> bool:
    return client.get(f"/api/runs/{run_id}").json()["status"] not in ("queued", "running")


def _use_the_key_every_way(client: httpx.Client, key: str, target: HttpTarget) -> None:
    """Sign in, open the event stream with a ticket, send the key where it is refused (in a URL), and
    run a task of each kind with a secret value: every path the key and the secrets can take."""
    assert client.get("/api/auth/me").status_code == 200
    assert client.get("/api/tasks", params={"access_token": key}).status_code == 401
    ticket = client.post("/api/events/tickets").json()["ticket"]
    with client.stream(
        "GET", "/api/events", params={"ticket": ticket}, headers={"Authorization": ""}
    ) as stream:
        assert stream.status_code == 200
        next(stream.iter_lines())

    actions = [
        {
            "type": "http",
            "method": "GET",
            "url": target.url("/ok"),
            "headers": {"Authorization": f"Bearer {HEADER_SECRET}"},
        },
        {
            "type": "shell",
            "command": ["sh", "-c", 'test "$TOKEN" = "$1"', "check", ENV_SECRET],
            "env": {"TOKEN": ENV_SECRET},
        },
    ]
    for i, action in enumerate(actions):
        created = client.post("/api/tasks", json={"name": f"secret-{i}", "action": action})
        assert created.status_code == 201, created.text
        run = client.post(f"/api/tasks/{created.json()['id']}/run")
        assert run.status_code == 202, run.text
        run_id = run.json()["id"]
        wait_for(lambda run_id=run_id: _finished(client, run_id), 20, message="the run finished")
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "succeeded"
    assert target.requests[-1].headers["Authorization"] == f"Bearer {HEADER_SECRET}"


def test_debug_logs_hold_no_secret(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "TASKSCHED_DATABASE_URL": database_url,
        "TASKSCHED_BOOTSTRAP_KEY": BOOTSTRAP_KEY,
        "TASKSCHED_HTTP_ALLOW_PRIVATE": "true",
        "TASKSCHED_ENABLE_SHELL": "true",
        "TASKSCHED_LOG_LEVEL": "debug",
        "TASKSCHED_PORT": str(port),
    }
    with HttpTarget() as target, tasksched(["serve"], env, tmp_path / "serve.log") as proc:
        proc.wait_ready(base)
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"}, timeout=10
        ) as admin:
            made = admin.post("/api/keys", json={"name": "second admin", "role": "admin"})
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
            _use_the_key_every_way(client, key, target)

        assert proc.terminate() == 0
    log = proc.log()
    assert log.count('"event": "run succeeded"') == 2  # the log is the process's, with its runs
    secrets = {
        "the header value": HEADER_SECRET,
        "the env value": ENV_SECRET,
        "the API key": key,
        "the API key's hash": hashlib.sha256(key.encode()).hexdigest(),
        "the bootstrap key": BOOTSTRAP_KEY,
        "the bootstrap key's hash": hashlib.sha256(BOOTSTRAP_KEY.encode()).hexdigest(),
    }
    leaked = {
        what: [line for line in log.splitlines() if value in line][:3]
        for what, value in secrets.items()
        if value in log
    }
    assert not leaked, f"secrets in the log: {leaked}"
