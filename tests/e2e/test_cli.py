"""The `tasksched` command as an operator uses it: db, keys, tasks over the API, worker drain,
one-line errors, and what a worker loads to start."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tasksched.store import migrate
from tests.helpers.processes import PYTHONPATH, TASKSCHED, free_port, tasksched, wait_for

pytestmark = pytest.mark.slow


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": PYTHONPATH, **(env or {})}
    return subprocess.run(
        [str(TASKSCHED), *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=check,
        timeout=60,
        cwd=cwd,
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
    # Both changes are in the audit log as the command line's, with no client address; the refused
    # revoke left nothing; the key's value is nowhere in it.
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        rows = conn.execute(
            "SELECT action, actor_kind, actor_name, target_id, target_name, client_address, before, after "
            "FROM audit ORDER BY id"
        ).fetchall()
    assert [row[:6] for row in rows] == [
        ("key.create", "cli", "cli", int(key_id), "ci bot", None),
        ("key.revoke", "cli", "cli", int(key_id), "ci bot", None),
    ]
    assert key not in repr(rows)


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
        # The tasks commands speak HTTP: their changes are the key's, from this machine's address.
        audit = httpx.get(f"{base}/api/audit", headers={"Authorization": f"Bearer {key}"}).json()["items"]
        assert [
            (e["action"], e["actor"]["kind"], e["actor"]["name"], e["client_address"]) for e in audit
        ] == [
            ("task.run", "key", "bootstrap admin", "127.0.0.1"),
            ("task.create", "key", "bootstrap admin", "127.0.0.1"),
            ("key.create", "system", "bootstrap", None),
        ]
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


def assert_one_line_error(result: subprocess.CompletedProcess[str], *mentions: str) -> None:
    """A user error: exit status not 0, exactly one line on stderr, `Error: …`, no traceback."""
    assert result.returncode != 0, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for text in mentions:
        assert text in lines[0], lines[0]


@pytest.fixture
def migrated(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    cli("db", "upgrade", "--database-url", url)
    return url


@pytest.mark.parametrize(
    ("args", "env", "mentions"),
    [
        # tasksched's own errors (errors.py)
        (["keys", "create", "--name", "   "], {}, ["a key needs a name"]),
        (["keys", "revoke", "999"], {}, ["does not exist"]),
        (["worker", "--burst", "--imports", "no_such_module_anywhere"], {}, ["no_such_module_anywhere"]),
        # settings refused by their validation, given as an option or as a variable
        (["serve", "--port", "70000"], {}, ["--port", "TASKSCHED_PORT", "65535"]),
        (["worker", "--burst"], {"TASKSCHED_LEASE_SECONDS": "0"}, ["TASKSCHED_LEASE_SECONDS"]),
        (["keys", "list", "--database-url", "mysql://db/x"], {}, ["unsupported database URL"]),
        # option values the command line cannot parse, and misspelt commands
        (["serve", "--port", "abc"], {}, ["--port", "not a valid integer"]),
        (["worker", "--log-level", "loud"], {}, ["--log-level", "loud"]),
        (["scheduler"], {"TASKSCHED_LOG_FORMAT": "xml"}, ["TASKSCHED_LOG_FORMAT"]),
        (["keys", "create"], {}, ["--name"]),
        (["servee"], {}, ["servee"]),
    ],
    ids=[
        "blank key name",
        "unknown key",
        "bad import",
        "port out of range",
        "lease from env",
        "unsupported URL",
        "port not a number",
        "unknown log level",
        "log format from env",
        "missing option",
        "unknown command",
    ],
)
def test_a_user_error_is_one_line_and_a_failure(
    migrated: str, args: list[str], env: dict[str, str], mentions: list[str]
) -> None:
    result = cli(*args, env={"TASKSCHED_DATABASE_URL": migrated, **env}, check=False)
    assert_one_line_error(result, *mentions)


def test_an_unreachable_database_is_one_line_naming_it_without_its_password() -> None:
    url = f"postgresql://tasksched:s3cret@127.0.0.1:{free_port()}/tasksched"  # nothing listens there
    for args in (["keys", "list"], ["db", "current"], ["worker", "--burst"], ["scheduler"]):
        result = cli(*args, "--database-url", url, check=False)
        assert_one_line_error(result, "cannot reach the database", "127.0.0.1")
        assert "s3cret" not in result.stderr + result.stdout
        if args[0] in ("keys", "db"):  # one-shot commands print their answer or the error, no log
            assert result.stdout == "", result.stdout


def test_a_database_without_the_schema_is_one_line_saying_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    url = f"sqlite:///{path}"
    for args in (["keys", "list"], ["keys", "create", "--name", "bot"], ["db", "current"]):
        result = cli(*args, "--database-url", url, check=False)
        assert_one_line_error(result, f"there is no database file {path}", "tasksched db upgrade")
    assert not path.exists()  # a mistyped path is not quietly created
    path.touch()
    for args in (["keys", "list"], ["keys", "create", "--name", "bot"], ["keys", "revoke", "1"]):
        result = cli(*args, "--database-url", url, check=False)
        assert_one_line_error(result, "has no tasksched schema", "tasksched db upgrade")
    assert "current: None" in cli("db", "current", "--database-url", url).stdout  # a report, not an error


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_one_line(pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/tasksched_no_such_database"
    result = cli("keys", "list", "--database-url", missing, check=False)
    assert_one_line_error(result, "tasksched_no_such_database", "does not exist")


def test_a_taken_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = cli(
            "serve", "--port", str(port), "--database-url", f"sqlite:///{tmp_path / 'p.db'}", check=False
        )
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")
    assert not (tmp_path / "p.db").exists()  # it failed before touching the database


def test_tasks_commands_report_an_unreachable_server_in_one_line() -> None:
    result = cli("tasks", "list", "--url", f"http://127.0.0.1:{free_port()}", check=False)
    assert_one_line_error(result, "cannot reach the server")


# What a worker of plain functions must not load to start and run one (issue 10, point 5): the other
# processes' parts, the other commands, the migrations, and httpx (its TLS context) before an http
# action needs it.
NOT_IN_A_WORKER = (
    "tasksched.api",
    "tasksched.scheduler",
    "tasksched.cli.db",
    "tasksched.cli.keys",
    "tasksched.cli.tasks",
    "tasksched.worker.executors.http",
    "tasksched.worker.executors.shell",
    "tasksched.services.senders",
    "fastapi",
    "starlette",
    "uvicorn",
    "yaml",
    "alembic",
    "httpx",
    "httpcore",
    "certifi",
    "limits",
    # Loaded on first use only (3 December): counters nothing can read (no API, no --metrics-port),
    # the secrets' cipher (no TASKSCHED_SECRET_KEY), the task models and the dashboard's queries.
    "prometheus_client",
    "cryptography",
    "tasksched.domain.tasks",
    "tasksched.domain.schedules",
    "tasksched.services.stats",
    "tasksched.store.mapping",
)


# The worker's own entry path (``tasksched worker``), with the modules it ended with written out at exit
# (sys.modules, not ``-X importtime``: that misses what importlib.import_module loads).
_MODULES_AT_EXIT = """
import atexit, json, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "tasksched"
from tasksched.cli import main
main()
"""


def worker_modules(tmp_path: Path, url: str, *args: str) -> tuple[dict[str, object], set[str]]:
    """Run ``tasksched worker --burst ARGS`` on ``url``: its figures, and every module it imported."""
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "TASKSCHED_DATABASE_URL": url}
    for name in ("TASKSCHED_SECRET_KEY", "TASKSCHED_SECRET_KEY_OLD", "TASKSCHED_METRICS_PORT"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", _MODULES_AT_EXIT, str(out), "worker", "--burst", *args],
        capture_output=True, text=True, env=env, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout.splitlines()[-1]), set(json.loads(out.read_text()))


def test_a_worker_starts_without_loading_the_scheduler_or_the_api(migrated: str, tmp_path: Path) -> None:
    figures, loaded = worker_modules(tmp_path, migrated)
    assert figures["claimed"] == 0
    assert "tasksched.worker.loop" in loaded  # the measurement saw the worker itself
    for module in NOT_IN_A_WORKER:
        assert module not in loaded, f"a worker's start imports {module}"


async def test_a_worker_runs_a_plain_function_loading_only_what_it_runs(
    migrated: str, tmp_path: Path
) -> None:
    from tasksched.config import Settings
    from tasksched.domain.principals import CLI
    from tasksched.domain.tasks import TaskSpec
    from tasksched.services.context import Context
    from tasksched.services.runs import RunService
    from tasksched.services.tasks import TaskService
    from tests.helpers import tasks  # registers tests.noop here too: the API side checks the name

    assert tasks.noop is not None
    ctx = Context.open(Settings(database_url=migrated))
    try:
        spec = TaskSpec.model_validate(
            {"name": "plain", "action": {"type": "python", "function": "tests.noop"}}
        )
        created = await TaskService(ctx).create(spec, actor=CLI)
        await RunService(ctx).run_now(created.id, actor=CLI)
    finally:
        await ctx.close()
    figures, loaded = worker_modules(tmp_path, migrated, "--imports", "tests.helpers.tasks")
    assert figures["by_status"] == {"succeeded": 1}
    assert {"tasksched.worker.loop", "tasksched.worker.executors.threads", "tests.helpers.tasks"} <= loaded
    for module in NOT_IN_A_WORKER:
        assert module not in loaded, f"a worker running a plain function imports {module}"


def test_a_worker_refuses_a_schema_newer_than_it_knows(migrated: str, tmp_path: Path) -> None:
    """The revision is checked with one query, without Alembic: a database migrated by a newer
    tasksched (a revision this one does not know) is refused, not run on."""
    with sqlite3.connect(tmp_path / "migrated.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    result = cli("worker", "--burst", "--database-url", migrated, check=False)
    assert_one_line_error(result, "has schema 9999", "newer tasksched")
