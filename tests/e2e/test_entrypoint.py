"""deploy/docker-entrypoint.sh run as the image runs it (no Docker here): /bin/sh, a PATH with the
venv's `tasksched`, a HOME of its own, settings from the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tasksched.store import migrate
from tests.helpers.dockerfile import healthcheck_command
from tests.helpers.processes import PYTHONPATH, REPO, TASKSCHED, free_port

ENTRYPOINT = REPO / "deploy" / "docker-entrypoint.sh"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.pathsep.join([str(TASKSCHED.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(home),
        "PYTHONPATH": PYTHONPATH,  # this checkout's code, as the image has its own wheel's
        "TASKSCHED_DATABASE_URL": f"sqlite:///{tmp_path / 'entry.db'}",
    }


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_a_tasksched_command_runs_as_tasksched(env: dict[str, str], tmp_path: Path) -> None:
    done = _run(["--version"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("tasksched, version "), done.stdout
    done = _run(["db", "current"], env, tmp_path)  # no migration asked for: nothing there yet
    assert done.returncode != 0
    assert "tasksched db upgrade" in done.stderr


def test_migrate_first_when_asked(env: dict[str, str], tmp_path: Path) -> None:
    done = _run(["db", "current"], {**env, "TASKSCHED_MIGRATE": "1"}, tmp_path)
    assert done.returncode == 0, done.stderr
    head = migrate.head_revision()
    # The upgrade's line, then the command's own.
    assert done.stdout.splitlines()[0] == f"schema at revision {head}", done.stdout
    assert f"current: {head}" in done.stdout


def test_a_failed_migration_stops_before_the_command(env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    bad = {
        **env,
        "TASKSCHED_MIGRATE": "1",
        "TASKSCHED_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/x",
    }
    done = _run(["touch", str(marker)], bad, tmp_path)
    assert done.returncode != 0
    assert "cannot reach the database" in done.stderr
    assert not marker.exists()


def test_a_program_on_path_runs_as_it_is(env: dict[str, str], tmp_path: Path) -> None:
    done = _run(["echo", "hello", "world"], env, tmp_path)
    assert (done.returncode, done.stdout) == (0, "hello world\n")


@pytest.mark.slow
def test_no_arguments_exec_serve_and_the_health_check_passes(env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    run_env = {**env, "TASKSCHED_PORT": str(port), "TASKSCHED_BOOTSTRAP_KEY": "ts_entry_admin_key_0123456789"}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(["/bin/sh", str(ENTRYPOINT)], env=run_env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        # exec: the shell's PID is now tasksched serve (PID 1 in a container gets the SIGTERM).
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert any(part.endswith(b"tasksched") for part in cmdline), cmdline
        assert b"serve" in cmdline
        # The image's HEALTHCHECK command passes against it, and fails on a port with no server.
        check = subprocess.run(healthcheck_command(), env=run_env, capture_output=True, timeout=10)
        assert check.returncode == 0, check.stderr
        dead = {**run_env, "TASKSCHED_PORT": str(free_port())}
        assert (
            subprocess.run(healthcheck_command(), env=dead, capture_output=True, timeout=10).returncode != 0
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
