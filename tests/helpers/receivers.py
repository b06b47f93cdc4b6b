"""Real receivers of notices on 127.0.0.1, run in background threads: an HTTP server (webhook and
json channels) and an SMTP server (aiosmtpd, for e-mail channels).

Both record what they accepted, can be told to refuse (``status`` / ``refuse``) and to hold their
answer (``hold``: the request is read and recorded as ``in_flight``, the answer waits until
``release``) so a test can kill a notifier while a delivery is in flight.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.helpers.processes import free_port

HOLD_LIMIT_SECONDS = 60.0


@dataclass(frozen=True)
class Received:
    key: str  # the notice's key (X-Tasksched-Notice)
    headers: dict[str, str]
    body: bytes


class _Receiver:
    def __init__(self) -> None:
        self.accepted: list[Received] = []  # taken with success (recorded before the answer)
        self.seen: list[Received] = []  # every request read, answered or not
        self.status = 200  # HTTP status to answer / SMTP: refuse when not 2xx
        self.delay = 0.0
        self._held = threading.Event()  # set: answers wait
        self._lock = threading.Lock()

    def hold(self) -> None:
        self._held.set()

    def release(self) -> None:
        self._held.clear()

    def accepted_keys(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.accepted]

    def in_flight(self) -> list[str]:
        """Keys read but not (yet) answered with success."""
        with self._lock:
            done = {id(r) for r in self.accepted}
            return [r.key for r in self.seen if id(r) not in done]

    def _read(self, entry: Received) -> None:
        with self._lock:
            self.seen.append(entry)

    def _wait(self) -> None:
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while self._held.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if self.delay:
            time.sleep(self.delay)

    def _accept(self, entry: Received) -> None:
        with self._lock:
            self.accepted.append(entry)


class HttpReceiver(_Receiver):
    def __init__(self) -> None:
        super().__init__()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()


def _http_handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = dict(self.headers.items())
            entry = Received(headers.get("X-Tasksched-Notice", ""), headers, body)
            receiver._read(entry)
            receiver._wait()
            status = receiver.status
            answer = b"ok" if 200 <= status < 300 else f"refused with {status}".encode()
            if 200 <= status < 300:
                # Recorded before answering: the client may act on the answer (and the test look)
                # before this thread runs again. A server acts on what it received, whoever listens.
                receiver._accept(entry)
            try:
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.wfile.flush()
            except OSError:
                pass  # the client went away (killed)

    return Handler


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        headers = {k: str(v) for k, v in message.items()}
        headers["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
        entry = Received(headers.get("X-Tasksched-Notice", ""), headers, raw)
        self.receiver._read(entry)
        await asyncio.get_running_loop().run_in_executor(None, self.receiver._wait)
        if not 200 <= self.receiver.status < 300:
            return "550 5.7.1 refused by the test"
        self.receiver._accept(entry)
        return "250 OK"


class SmtpReceiver(_Receiver):
    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()  # aiosmtpd's start-up check connects to the port it was given
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
        self._controller.stop()
