"""Running real ``tasksched`` processes in tests: start, wait until ready, stop or kill, read logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
TASKSCHED = Path(sys.executable).parent / "tasksched"
# This checkout's code first: the script's own install may be an editable one of another checkout
# (a shared venv), which would otherwise be what the process runs. The root is for tests.helpers.
PYTHONPATH = os.pathsep.join([str(REPO / "src"), str(REPO)])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Tests drive servers far faster than people do, and from one address: the limits are off unless a
# test sets them (they are tested in tests/api/test_rate_limits.py and tests/ratelimit/).
NO_RATE_LIMITS = {
    "TASKSCHED_RATE_LIMIT": "",
    "TASKSCHED_RATE_LIMIT_ANONYMOUS": "",
    "TASKSCHED_RATE_LIMIT_AUTH_FAILURES": "",
}


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self._log = log_path.open("wb")
        full_env = {
            **os.environ,
            "PYTHONPATH": PYTHONPATH,
            "TASKSCHED_LOG_FORMAT": "json",
            **NO_RATE_LIMITS,
            **env,
        }
        self.popen = subprocess.Popen(
            [str(TASKSCHED), *args],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, base_url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"tasksched {self.args[0]} exited early:\n{self.log()}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"tasksched {self.args[0]} was not ready in {timeout} s:\n{self.log()}")

    def terminate(self, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self._log.close()


@contextmanager
def tasksched(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[Proc]:
    proc = Proc(args, env, log_path)
    try:
        yield proc
    finally:
        if proc.popen.poll() is None:
            proc.terminate()


def wait_for(predicate: object, timeout: float, interval: float = 0.1, message: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"{message} not met within {timeout} s")
