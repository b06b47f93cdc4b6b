"""The served OpenAPI document, used from outside as other tools use it, against real servers.

- Schemathesis generates requests from the document (valid and invalid) on SQLite and on
  PostgreSQL and checks every answer against it: no 5xx, every status, content type, header and
  body as documented.
- openapi-python-client generates a client from the document; the test drives a task through it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.http_target import HttpTarget
from tests.helpers.processes import REPO, free_port, tasksched, wait_for

pytestmark = pytest.mark.slow

KEY = "ts_e2e_openapi_admin_key_0123456789"
BIN = Path(sys.executable).parent


@contextlib.contextmanager
def server(command: str, database_url: str, tmp_path: Path, **env: str) -> Iterator[str]:
    """A real ``tasksched <command>`` on 127.0.0.1 with an admin key; yields its base URL.

    On leaving: it stopped cleanly and logged no unhandled error."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    full_env = {
        "TASKSCHED_DATABASE_URL": database_url,
        "TASKSCHED_BOOTSTRAP_KEY": KEY,
        "TASKSCHED_PORT": str(port),
        # This checkout's code, whichever checkout the venv's ``tasksched`` was installed from.
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
        **env,
    }
    with tasksched([command], full_env, tmp_path / f"{command}.log") as proc:
        proc.wait_ready(base)
        yield base
        assert proc.terminate() == 0
    log = proc.log()
    assert "unhandled error" not in log, log[-5000:]
    assert "Traceback" not in log, log[-5000:]


# --- schemathesis -------------------------------------------------------------------------------


def _seed(base: str) -> None:
    """Objects with the first ids, so that operations taking an id reach real ones, not only 404s."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
        for name in ("seed-1", "seed-2", "seed-3"):
            body = {
                "name": name,
                "action": {"type": "http", "url": "https://example.com/hook"},
                "schedule": {"type": "interval", "seconds": 3600},
            }
            assert client.post("/api/tasks", json=body).status_code == 201
        for task_id in (1, 2):
            assert client.post(f"/api/tasks/{task_id}/run").status_code == 202
        assert client.post("/api/keys", json={"name": "seed", "role": "viewer"}).status_code == 201


def _schemathesis(base: str, tmp_path: Path, *selection: str) -> int:
    """Run Schemathesis on the served document; the number of cases it generated (all passed)."""
    args = [
        str(BIN / "schemathesis"),
        "run",
        f"{base}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--checks",
        "all",
        # The document cannot state every rule (a cron expression's grammar, a time zone's name,
        # a URL the HTTP client can parse), so a body it allows may rightly be refused with 422.
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        "25",
        "--generation-deterministic",  # the same cases every run, and no example database
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        *selection,
    ]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=400, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:]
    summary = output.split("SUMMARY")[-1]
    assert "failed" not in summary, output[-5000:]
    generated = re.search(r"(\d+) generated, \1 passed", summary)
    assert generated is not None, summary
    return int(generated.group(1))


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_schemathesis_finds_no_server_error_and_no_mismatch(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'fuzz.db'}" if database == "sqlite" else request.getfixturevalue("pg_url")
    with server("api", url, tmp_path) as base:
        _seed(base)
        # Revoking keys goes last and alone: the fuzzer revokes the very key it calls with, after
        # which everything answers 401, as documented, and tests nothing else.
        assert _schemathesis(base, tmp_path, "--exclude-operation-id", "keys_revoke") > 1000
        assert _schemathesis(base, tmp_path, "--include-operation-id", "keys_revoke") > 10


# --- a generated client -------------------------------------------------------------------------


def _generate_client(base: str, tmp_path: Path) -> Any:
    """openapi-python-client's client for the served document, imported from a temporary directory."""
    config = tmp_path / "client-config.yml"
    config.write_text("package_name_override: tasksched_client\npost_hooks: []\n")
    out = tmp_path / "generated" / "tasksched_client"
    result = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--url",
            f"{base}/api/openapi.json",
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # It warns about, and leaves out, whatever part of a document it cannot model.
    assert "Warning" not in output, output
    assert "Error" not in output, output
    sys.path.insert(0, str(out.parent))
    return importlib.import_module("tasksched_client")


@pytest.fixture
def unload_client() -> Iterator[None]:
    yield
    for name in [m for m in sys.modules if m == "tasksched_client" or m.startswith("tasksched_client.")]:
        del sys.modules[name]
    sys.path[:] = [p for p in sys.path if not p.endswith("generated")]


@pytest.mark.usefixtures("unload_client")
def test_a_generated_client_drives_a_task_end_to_end(tmp_path: Path) -> None:
    env = {"TASKSCHED_HTTP_ALLOW_PRIVATE": "true"}
    with HttpTarget() as target, server("serve", f"sqlite:///{tmp_path / 'c.db'}", tmp_path, **env) as base:
        package = _generate_client(base, tmp_path)
        models = importlib.import_module("tasksched_client.models")

        client = package.AuthenticatedClient(base_url=base, token=KEY, raise_on_unexpected_status=True)
        stranger = package.AuthenticatedClient(base_url=base, token="ts_not_a_key_at_all_000000")
        with client, stranger:
            drive(models, client, stranger, target)


def drive(models: Any, client: Any, stranger: Any, target: HttpTarget) -> None:
    """Create, list, run and read a task through the generated client; get problems back."""
    tasks_create = importlib.import_module("tasksched_client.api.tasks.tasks_create")
    tasks_list = importlib.import_module("tasksched_client.api.tasks.tasks_list")
    tasks_run = importlib.import_module("tasksched_client.api.tasks.tasks_run")
    runs_get = importlib.import_module("tasksched_client.api.runs.runs_get")
    spec = models.TaskSpec(
        name="generated",
        action=models.HttpAction(type_="http", url=target.url("/ok"), method=models.HttpActionMethod.POST),
        schedule=models.IntervalSchedule(type_="interval", seconds=3600),
    )
    created = tasks_create.sync(client=client, body=spec)
    assert isinstance(created, models.TaskView), created
    assert created.name == "generated"
    assert isinstance(created.action, models.HttpAction)
    assert isinstance(created.schedule, models.IntervalSchedule)

    page = tasks_list.sync(client=client, q="generated")
    assert isinstance(page, models.TaskPage)
    assert [task.id for task in page.items] == [created.id]

    run = tasks_run.sync(task_id=created.id, client=client)
    assert isinstance(run, models.Run)

    def finished() -> bool:
        current = runs_get.sync(run_id=run.id, client=client)
        return bool(current.status.value == "succeeded")

    wait_for(finished, timeout=20, message="the run succeeded")
    done = runs_get.sync(run_id=run.id, client=client)
    assert done.task_id == created.id
    assert done.http_status == 200
    assert target.hits["/ok"] == 1

    # Bad input comes back as the documented Problem, naming the field.
    invalid = models.TaskSpec(name="", action=models.HttpAction(type_="http", url=target.url("/ok")))
    detailed = tasks_create.sync_detailed(client=client, body=invalid)
    assert detailed.status_code == 422
    problem = detailed.parsed
    assert isinstance(problem, models.Problem), problem
    assert problem.status == 422
    assert [error.field for error in problem.errors] == ["name"]

    duplicate = tasks_create.sync(client=client, body=spec)
    assert isinstance(duplicate, models.Problem)
    assert duplicate.status == 409

    refused = tasks_list.sync(client=stranger)
    assert isinstance(refused, models.Problem)
    assert refused.status == 401
