"""Helpers for the browser tests of the web UI: Chromium, a real server, an HTTP listener, screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.processes import REPO, Proc, free_port, tasksched

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts" / "ui"
REQUIRE_SERVICES = os.environ.get("TASKSCHED_REQUIRE_SERVICES") == "1"
ADMIN_KEY = "ts_ui_admin_key_0123456789abcdef"


def missing(what: str) -> None:
    """Skip (or, under TASKSCHED_REQUIRE_SERVICES=1, fail) when something the browser tests need is absent."""
    if REQUIRE_SERVICES:
        pytest.fail(f"TASKSCHED_REQUIRE_SERVICES=1 but {what}")
    pytest.skip(what)


def ensure_ui_built() -> None:
    """Build the UI into the package if needed (fast when it is up to date)."""
    script = REPO / "scripts" / "build-ui"
    index = REPO / "src" / "tasksched" / "web" / "index.html"
    if shutil.which("npm") is None:
        if index.exists():
            return
        missing("npm is not installed and the web UI is not built (run scripts/build-ui)")
    result = subprocess.run([str(script)], cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        pytest.fail(f"scripts/build-ui failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class Server:
    base: str
    proc: Proc
    admin: httpx.Client

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {key}"}, timeout=15)

    def create_key(self, name: str, role: str) -> str:
        response = self.admin.post("/api/keys", json={"name": name, "role": role})
        assert response.status_code == 201, response.text
        return str(response.json()["key"])

    def create_task(self, **spec: Any) -> dict[str, Any]:
        response = self.admin.post("/api/tasks", json=spec)
        assert response.status_code == 201, response.text
        return dict(response.json())


@contextmanager
def running_server(folder: Path) -> Iterator[Server]:
    """`tasksched serve` on a free port with a fresh SQLite file in `folder`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "TASKSCHED_DATABASE_URL": f"sqlite:///{folder / 'ui.db'}",
        "TASKSCHED_BOOTSTRAP_KEY": ADMIN_KEY,
        "TASKSCHED_HTTP_ALLOW_PRIVATE": "true",
        "TASKSCHED_ENABLE_SHELL": "true",  # the live-output test runs a shell loop
        "TASKSCHED_PORT": str(port),
        # This checkout's package (and so the UI that ensure_ui_built just built into it), not
        # whichever checkout the shared venv's editable install points at.
        "PYTHONPATH": str(REPO / "src"),
    }
    with tasksched(["serve", "--port", str(port)], env, folder / "serve.log") as proc:
        proc.wait_ready(base)
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=15)
        try:
            yield Server(base, proc, admin)
        finally:
            admin.close()


class Listener:
    """A plain HTTP server on 127.0.0.1 that HTTP tasks call; answers 200 with a recognisable body."""

    BODY = "hello from the e2e listener"

    def __init__(self) -> None:
        self.hits = 0
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with listener._lock:
                    listener.hits += 1
                    count = listener.hits
                body = f"{Listener.BODY} (call {count})".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def url(self, path: str = "/hello") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> Listener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


@contextmanager
def browser_page(browser: Any, **options: Any) -> Iterator[Any]:
    """A page in a context of its own (1280 by 900, en-US unless told) whose uncaught errors fail the test."""
    context = browser.new_context(
        **{"viewport": {"width": 1280, "height": 900}, "locale": "en-US", **options}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("whoami").wait_for()


def wait_until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")
