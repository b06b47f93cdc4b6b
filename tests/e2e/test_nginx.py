"""deploy/nginx.conf on the real nginx, in front of a small echo server: the headers it passes on.

The client connects from 127.0.0.2 and nginx from 127.0.0.1, so "the proxy" and "the client" are
different addresses, as in a deployment.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from tasksched.api.clients import client_address
from tests.helpers.nginx import running
from tests.helpers.processes import free_port


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/api/events":
            self._stream()
            return
        body = json.dumps(
            {"peer": self.client_address[0], "version": self.request_version, "headers": self.headers.items()}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _stream(self) -> None:
        """An event, then silence until the client goes: nginx must pass the event on at once, with
        no X-Accel-Buffering header from the server (tasksched sends one) to help it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        event = b"event: hello\ndata: {}\n\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.flush()
        with contextlib.suppress(OSError):
            self.rfile.read(1)  # blocks until nginx closes the connection

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _seen(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> dict[str, object]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    seen: dict[str, object] = response.json()
    return seen


def test_nginx_passes_the_client_address_that_tasksched_believes(echo: str, tmp_path: Path) -> None:
    with (
        running([echo], free_port(), tmp_path / "nginx") as nginx,
        httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=5) as client,
    ):
        seen = _seen(client, nginx.url + "/api/tasks", {"X-Forwarded-For": "203.0.113.66"})  # forged
    headers = {k.lower(): v for k, v in seen["headers"]}  # type: ignore[attr-defined]
    assert seen["version"] == "HTTP/1.1"  # upstream keepalive needs HTTP/1.1 ...
    assert "connection" not in headers or headers["connection"] == ""  # ... and no "Connection: close"
    assert headers["x-forwarded-for"] == "203.0.113.66, 127.0.0.2"
    assert headers["x-forwarded-proto"] == "http"

    request = Request(
        {
            "type": "http",
            "client": (seen["peer"], 40000),
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        }
    )
    assert seen["peer"] == "127.0.0.1"
    # Trusting the proxy: the client nginx saw, not the address it forged.
    assert client_address(request, ["127.0.0.1/32"]) == "127.0.0.2"
    # Trusting nobody: the proxy itself.
    assert client_address(request) == "127.0.0.1"


def test_nginx_passes_events_on_unbuffered(echo: str, tmp_path: Path) -> None:
    with running([echo], free_port(), tmp_path / "nginx") as nginx, httpx.Client(timeout=5) as client:
        started = time.monotonic()
        with client.stream("GET", nginx.url + "/api/events") as response:
            assert response.status_code == 200
            first = next(response.iter_lines())
        assert first == "event: hello"
        assert time.monotonic() - started < 3  # not held back until a buffer filled or the stream ended
