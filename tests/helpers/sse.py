"""A Server-Sent Events client for tests against real servers, as a browser's EventSource behaves.

It reads the stream in a thread, keeps the last ``id:`` it saw, and ``reconnect()`` opens the
stream again sending it as ``Last-Event-ID``. Events are queued as (type, data) pairs.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from typing import Any

import httpx


class SseClient:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.last_id: str | None = None
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.opened = threading.Event()
        self.closed = threading.Event()
        self.error: str | None = None
        self._stop = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        self._thread: threading.Thread | None = None
        self._response: httpx.Response | None = None

    def connect(self) -> None:
        self.opened.clear()
        self.closed.clear()
        headers = dict(self.headers)
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        self._thread = threading.Thread(target=self._read, args=(headers,), daemon=True)
        self._thread.start()
        assert self.opened.wait(10), f"the stream did not open: {self.error}"

    def reconnect(self) -> None:
        assert self.closed.is_set(), "reconnect after the stream ended"
        self.connect()

    def _read(self, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", self.url, headers=headers) as response:
                self._response = response
                response.raise_for_status()
                self.opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "id" in fields:
                            self.last_id = fields["id"]
                        if "event" in fields:
                            self.events.put((fields["event"], json.loads(fields.get("data", "{}"))))
                        fields = {}
                    elif not line.startswith(":") and ": " in line:
                        key, value = line.split(": ", 1)
                        fields[key] = value
        except httpx.HTTPError as exc:  # the server went away mid-stream, or never answered
            self.error = repr(exc)
        finally:
            self.closed.set()

    def next_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The data of the next event of ``kind`` (skipping others), within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} event within {timeout} s (stream error: {self.error})")
            try:
                seen, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if seen == kind:
                return data

    def wait_for(self, kind: str, match: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """The next event of ``kind`` whose data includes ``match``."""
        deadline = time.monotonic() + timeout
        while True:
            data = self.next_event(kind, max(0.01, deadline - time.monotonic()))
            if all(data.get(k) == v for k, v in match.items()):
                return data

    def wait_for_all(self, kind: str, key: str, values: list[Any], timeout: float = 10.0) -> None:
        """Events of ``kind`` whose ``key`` takes each of ``values``, in any order: events from
        other instances come through the relay and may arrive after a later local one."""
        deadline = time.monotonic() + timeout
        missing = set(values)
        while missing:
            data = self.next_event(kind, max(0.01, deadline - time.monotonic()))
            missing.discard(data.get(key))

    def first_event(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()  # ends the thread's blocking read
        self._client.close()
        if self._thread is not None:
            self._thread.join(5)
