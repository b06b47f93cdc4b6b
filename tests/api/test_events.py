"""/api/events: Server-Sent Events after changes.

The stream never ends, and httpx's ASGI transport waits for a whole response, so these tests call the
app as a server would: one ASGI request whose body chunks are read as they come (with a timeout), then
a client disconnect, after which the stream must end and drop its subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from tasksched.api.app import create_app
from tasksched.clock import FrozenClock
from tasksched.domain.runs import RunStatus
from tasksched.services.context import Context
from tasksched.services.tickets import TICKET_SECONDS
from tests.api.conftest import client_on, create_task, finish_runs, run_task
from tests.conftest import ADMIN_KEY, VIEWER_KEY

TIMEOUT = 5.0


@dataclass
class EventStream:
    status: int
    headers: dict[str, str]
    _messages: asyncio.Queue[Message]
    _buffer: str = ""
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def next_event(self, kind: str) -> dict[str, Any]:
        """The data of the next event of ``kind``, waiting at most TIMEOUT seconds."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                for i, (seen, data) in enumerate(self.events):
                    if seen == kind:
                        del self.events[: i + 1]
                        return data
                message = await self._messages.get()
                assert message["type"] == "http.response.body"
                self._buffer += message.get("body", b"").decode()
                *blocks, self._buffer = self._buffer.split("\n\n")
                for block in blocks:
                    lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
                    if "event" in lines:
                        self.events.append((lines["event"], json.loads(lines["data"])))

    async def first_chunk(self) -> str:
        async with asyncio.timeout(TIMEOUT):
            message = await self._messages.get()
        text: str = message["body"].decode()
        return text


@pytest.fixture
async def app(api: httpx.AsyncClient, ctx: Context) -> FastAPI:
    """The app the streams are read from; ``api`` (same context, same event bus) makes the changes."""
    return create_app(ctx.settings, ctx=ctx)


@contextlib.asynccontextmanager
async def open_stream(
    app: FastAPI, *, key: str | None = ADMIN_KEY, query: str = "", last_event_id: str | None = None
) -> AsyncIterator[EventStream]:
    """A GET /api/events with ``key`` as bearer token; on exit the client disconnects."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    messages: asyncio.Queue[Message] = asyncio.Queue()
    disconnect = asyncio.Event()
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        await messages.put(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/events",
        "raw_path": b"/api/events",
        "root_path": "",
        "query_string": query.encode(),
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    served = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(TIMEOUT):
            start = await messages.get()
        assert start["type"] == "http.response.start"
        yield EventStream(
            status=start["status"],
            headers={k.decode(): v.decode() for k, v in start["headers"]},
            _messages=messages,
        )
    finally:
        disconnect.set()
        async with asyncio.timeout(TIMEOUT):
            await served  # the stream must end once the client has gone


async def test_the_stream_is_an_event_stream(app: FastAPI) -> None:
    async with open_stream(app) as stream:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["cache-control"] == "no-cache"
        assert (await stream.first_chunk()).startswith("retry: ")


async def test_a_reconnecting_client_is_told_to_resync(app: FastAPI, api: httpx.AsyncClient) -> None:
    async with open_stream(app) as stream:
        opening = await stream.first_chunk()
    ids = [line.removeprefix("id: ") for line in opening.splitlines() if line.startswith("id: ")]
    assert len(ids) == 1, opening  # the id EventSource sends back as Last-Event-ID when it reconnects

    async with open_stream(app, last_event_id=ids[0]) as stream:
        assert await stream.next_event("resync") == {}
        task = await create_task(api)  # and the stream goes on as before
        assert (await stream.next_event("task.created"))["task_id"] == task["id"]

    async with open_stream(app) as stream:  # a first connection has nothing to catch up on
        await stream.first_chunk()
        await create_task(api, name="second")
        assert (await stream.first_chunk()).startswith("event: task.created\n")


async def test_task_changes_arrive_as_events(app: FastAPI, api: httpx.AsyncClient) -> None:
    async with open_stream(app) as stream:
        await stream.first_chunk()

        task = await create_task(api)
        created = await stream.next_event("task.created")
        assert created == {"task_id": task["id"], "enabled": True, "version": 1}

        await api.post(f"/api/tasks/{task['id']}/pause")
        assert await stream.next_event("task.updated") == {
            "task_id": task["id"],
            "enabled": False,
            "version": 2,
        }

        await api.delete(f"/api/tasks/{task['id']}")
        assert await stream.next_event("task.deleted") == {"task_id": task["id"]}


async def test_run_changes_arrive_as_events(app: FastAPI, api: httpx.AsyncClient, ctx: Context) -> None:
    task = await create_task(api, retry={"max_attempts": 1})
    async with open_stream(app, key=VIEWER_KEY) as stream:
        await stream.first_chunk()

        run = await run_task(api, task["id"])
        assert await stream.next_event("run.created") == {
            "run_id": run["id"],
            "task_id": task["id"],
            "status": "queued",
        }

        await finish_runs(ctx, RunStatus.SUCCEEDED)
        assert (await stream.next_event("run.updated"))["status"] == "running"
        assert (await stream.next_event("run.updated"))["status"] == "succeeded"

        second = await run_task(api, task["id"])
        await api.post(f"/api/runs/{second['id']}/cancel")
        cancelled = await stream.next_event("run.updated")
        assert cancelled == {"run_id": second["id"], "task_id": task["id"], "status": "cancelled"}


async def test_every_open_stream_gets_the_event(app: FastAPI, api: httpx.AsyncClient) -> None:
    async with open_stream(app) as first, open_stream(app, key=VIEWER_KEY) as second:
        await first.first_chunk()
        await second.first_chunk()
        task = await create_task(api)
        assert (await first.next_event("task.created"))["task_id"] == task["id"]
        assert (await second.next_event("task.created"))["task_id"] == task["id"]


async def test_a_closed_stream_drops_its_subscription(app: FastAPI, ctx: Context) -> None:
    subscribers = len(ctx.bus._subscriptions)
    async with open_stream(app) as stream:
        await stream.first_chunk()
        assert len(ctx.bus._subscriptions) == subscribers + 1
    assert len(ctx.bus._subscriptions) == subscribers


async def new_ticket(api: httpx.AsyncClient, key: str) -> str:
    response = await api.post("/api/events/tickets", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def test_a_ticket_opens_the_stream(app: FastAPI, api: httpx.AsyncClient) -> None:
    """As the web UI does: POST for a ticket with the key, then EventSource on ?ticket=."""
    ticket = await new_ticket(api, VIEWER_KEY)
    async with open_stream(app, key=None, query=f"ticket={ticket}") as stream:
        assert stream.status == 200
        await stream.first_chunk()
        task = await create_task(api)
        assert (await stream.next_event("task.created"))["task_id"] == task["id"]


async def test_a_ticket_from_another_instance_opens_the_stream(
    app: FastAPI, api: httpx.AsyncClient, ctx: Context
) -> None:
    """Behind a load balancer the POST and the GET may reach different API processes: a ticket
    needs nothing kept in the process that issued it, only the database both share."""
    other = Context.open(ctx.settings)
    try:
        other_app = create_app(other.settings, ctx=other)
        async with client_on(other) as other_api:
            ticket = await new_ticket(other_api, VIEWER_KEY)
        async with open_stream(app, key=None, query=f"ticket={ticket}") as stream:
            assert stream.status == 200
        async with open_stream(other_app, key=None, query=f"ticket={ticket}") as stream:
            assert stream.status == 200
    finally:
        await other.close()


@pytest.fixture
async def frozen_app(frozen_api: httpx.AsyncClient, frozen_ctx: Context) -> FastAPI:
    return create_app(frozen_ctx.settings, ctx=frozen_ctx)


async def test_an_expired_ticket_is_refused(
    frozen_app: FastAPI, frozen_api: httpx.AsyncClient, clock: FrozenClock
) -> None:
    ticket = await new_ticket(frozen_api, VIEWER_KEY)
    clock.advance(TICKET_SECONDS - 1)
    async with open_stream(frozen_app, key=None, query=f"ticket={ticket}") as stream:
        assert stream.status == 200  # still good one second before it expires
    clock.advance(1)
    async with open_stream(frozen_app, key=None, query=f"ticket={ticket}") as stream:
        assert stream.status == 401
        assert "expired" in await stream.first_chunk()


async def test_a_revoked_keys_ticket_is_refused(app: FastAPI, api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/keys", json={"name": "dashboard", "role": "viewer"})).json()
    ticket = await new_ticket(api, created["key"])
    assert (await api.delete(f"/api/keys/{created['id']}")).status_code == 204
    async with open_stream(app, key=None, query=f"ticket={ticket}") as stream:
        assert stream.status == 401
        assert "revoked" in await stream.first_chunk()


def altered(ticket: str) -> list[str]:
    key_id, expires, signature = ticket.split(".")
    return [
        f"{int(key_id) + 1}.{expires}.{signature}",  # another key's rights
        f"{key_id}.{int(expires) + 3600}.{signature}",  # a longer life
        f"{key_id}.{expires}.{signature[:-2]}",  # a cut signature
        f"{key_id}.{expires}",
        "garbage",
    ]


async def test_an_altered_ticket_is_refused(app: FastAPI, api: httpx.AsyncClient) -> None:
    for ticket in altered(await new_ticket(api, ADMIN_KEY)):
        async with open_stream(app, key=None, query=f"ticket={ticket}") as stream:
            assert stream.status == 401, ticket


@pytest.mark.parametrize(
    ("key", "query"),
    [
        (None, ""),
        ("ts_not_a_key_at_all_0000", ""),
        (None, "access_token=ts_wrong_wrong_wrong"),
        (None, f"access_token={VIEWER_KEY}"),  # a real key in the URL is refused too
        (None, "ticket="),
    ],
)
async def test_the_stream_needs_a_valid_key(app: FastAPI, key: str | None, query: str) -> None:
    async with open_stream(app, key=key, query=query) as stream:
        assert stream.status == 401
        assert stream.headers["content-type"].startswith("application/problem+json")
