"""A real HTTP server on loopback (127.0.0.1 unless told) for tests of HTTP actions, run in a background thread.

Endpoints:
    /ok                 200 "ok"
    /status/<code>      that status
    /slow               200, then "tick" lines every 50 ms until the client goes away (sets ``dropped``)
    /redirect?to=<url>  302 to <url>
    /large?size=<n>     n bytes of "x"
Every request is recorded (method, path, headers, body) and counted per path.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpTarget:
    """``host``: any loopback address (127.0.0.2 tells a second server apart from the first by address)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.dropped = threading.Event()  # a /slow client closed its connection mid-response
        self.slow_started = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler_for(self))
        # Handler threads are joined on close, so no socket outlives the test.
        self._server.daemon_threads = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def start(self) -> HttpTarget:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def __enter__(self) -> HttpTarget:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)
            self.hits[entry.path] += 1


def _handler_for(target: HttpTarget) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, bodies end when the connection closes.
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            target.record(Recorded(self.command, parts.path, dict(self.headers.items()), body))
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/ok":
                self._send(200, b"ok")
            elif parts.path.startswith("/status/"):
                code = int(parts.path.rsplit("/", 1)[1])
                self._send(code, f"status {code}".encode())
            elif parts.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", query["to"])
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif parts.path == "/large":
                self._send(200, b"x" * int(query["size"]))
            elif parts.path == "/slow":
                self._slow()
            else:
                self._send(404, b"no such endpoint")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _slow(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            deadline = time.monotonic() + 10
            try:
                while not target._stop.is_set() and time.monotonic() < deadline:
                    self.wfile.write(b"tick\n")
                    self.wfile.flush()
                    target.slow_started.set()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                target.dropped.set()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    return Handler
