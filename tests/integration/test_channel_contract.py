"""One contract for every channel: the real receivers (an HTTP server for webhook and json, an SMTP
server for e-mail) and a small fake (an in-memory HTTP peer behind the json channel).

Every backend must: deliver an accepted message once, identifiable by its key; raise ``SendFailed``
in words for a refusal, an unreachable peer and a peer slower than the timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import httpx
import pytest

from tasksched.domain.notifications import EmailChannel, JsonChannel, WebhookChannel
from tasksched.services.senders import Message, SendFailed, send
from tests.helpers.processes import free_port
from tests.helpers.receivers import HttpReceiver, SmtpReceiver

Config = WebhookChannel | JsonChannel | EmailChannel
SECRET = "hmac-s3cret-value"


def message(key: str = "tasksched-notice-1") -> Message:
    document = {
        "kind": "failed",
        "text": "Task 'nightly' failed (run #7).",
        "url": "http://ui.example/runs/7",
    }
    return Message(key=key, text="Task 'nightly' failed (run #7).", document=document)


class Backend(Protocol):
    def config(self) -> Config: ...
    def unreachable(self) -> Config: ...
    def refuse(self) -> None: ...
    def slow(self, seconds: float) -> None: ...
    def received(self) -> list[tuple[str, str]]:
        """(key, text) of each accepted message."""
        ...


class _Real:
    def __init__(self, receiver: HttpReceiver | SmtpReceiver) -> None:
        self.receiver = receiver

    def refuse(self) -> None:
        self.receiver.status = 500

    def slow(self, seconds: float) -> None:
        self.receiver.delay = seconds


class WebhookBackend(_Real):
    receiver: HttpReceiver

    def config(self) -> Config:
        return WebhookChannel(url=self.receiver.url, blocks=True, hmac_secret=SECRET)

    def unreachable(self) -> Config:
        return WebhookChannel(url=f"http://127.0.0.1:{free_port()}/hook")

    def received(self) -> list[tuple[str, str]]:
        return [(r.key, json.loads(r.body)["text"]) for r in self.receiver.accepted]


class JsonBackend(WebhookBackend):
    def config(self) -> Config:
        return JsonChannel(url=self.receiver.url, headers={"X-Token": "t0ken"}, hmac_secret=SECRET)

    def unreachable(self) -> Config:
        return JsonChannel(url=f"http://127.0.0.1:{free_port()}/hook")


class EmailBackend(_Real):
    receiver: SmtpReceiver

    def config(self) -> Config:
        return EmailChannel(
            host="127.0.0.1",
            port=self.receiver.port,
            security="none",
            from_address="ts@example.com",
            to=["ops@example.com"],
        )

    def unreachable(self) -> Config:
        return EmailChannel(
            host="127.0.0.1", port=free_port(), security="none", from_address="a@b.c", to=["d@e.f"]
        )

    def received(self) -> list[tuple[str, str]]:
        found = []
        for r in self.receiver.accepted:
            body = r.body.decode()
            found.append((r.key, body.split("\r\n\r\n", 1)[1].splitlines()[0]))
        return found


class FakeBackend:
    """An in-memory HTTP peer (httpx's MockTransport) behind a json channel: the small fake."""

    def __init__(self) -> None:
        self.status = 200
        self.delay = 0.0
        self.accepted: list[tuple[str, str]] = []

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "unreachable.invalid":
            raise httpx.ConnectError("connection refused", request=request)
        await asyncio.sleep(self.delay)
        if self.status != 200:
            return httpx.Response(self.status, text="no")
        self.accepted.append((request.headers["idempotency-key"], json.loads(request.content)["text"]))
        return httpx.Response(200, text="ok")

    def config(self) -> Config:
        return JsonChannel(url="http://fake.invalid/hook")

    def unreachable(self) -> Config:
        return JsonChannel(url="http://unreachable.invalid/hook")

    def refuse(self) -> None:
        self.status = 503

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def received(self) -> list[tuple[str, str]]:
        return list(self.accepted)


@pytest.fixture(params=["webhook", "json", "email", "fake"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "fake":
        yield FakeBackend()
    elif request.param == "email":
        with SmtpReceiver() as smtp:
            yield EmailBackend(smtp)
    else:
        with HttpReceiver() as http:
            yield WebhookBackend(http) if request.param == "webhook" else JsonBackend(http)


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(backend.handle) if isinstance(backend, FakeBackend) else None
    async with httpx.AsyncClient(transport=transport) as c:
        yield c


async def deliver(
    backend: Backend,
    client: httpx.AsyncClient,
    msg: Message,
    *,
    config: Config | None = None,
    timeout: float = 5,
) -> None:
    await send(config or backend.config(), msg, client=client, timeout=timeout, secrets=[SECRET])


async def test_an_accepted_message_arrives_once_with_its_key(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    await deliver(backend, client, message("tasksched-notice-1"))
    await deliver(backend, client, message("tasksched-notice-2"))
    assert backend.received() == [
        ("tasksched-notice-1", "Task 'nightly' failed (run #7)."),
        ("tasksched-notice-2", "Task 'nightly' failed (run #7)."),
    ]


async def test_a_refusal_is_a_failure_in_words(backend: Backend, client: httpx.AsyncClient) -> None:
    backend.refuse()
    with pytest.raises(SendFailed) as failed:
        await deliver(backend, client, message())
    assert any(code in str(failed.value) for code in ("500", "503", "550")), str(failed.value)
    assert backend.received() == []


async def test_an_unreachable_peer_is_a_failure(backend: Backend, client: httpx.AsyncClient) -> None:
    with pytest.raises(SendFailed) as failed:
        await deliver(backend, client, message(), config=backend.unreachable())
    assert str(failed.value)


async def test_a_peer_slower_than_the_timeout_is_a_failure(
    backend: Backend, client: httpx.AsyncClient
) -> None:
    backend.slow(1.5)
    with pytest.raises(SendFailed, match=r"no answer within 0\.3 s"):
        await deliver(backend, client, message(), timeout=0.3)


def test_http_bodies_are_signed_as_documented() -> None:
    """The verification recipe of docs/operations.md, applied to what the receiver got."""

    async def run() -> None:
        with HttpReceiver() as receiver:
            async with httpx.AsyncClient() as client:
                for config in (
                    WebhookChannel(url=receiver.url, hmac_secret=SECRET),
                    JsonChannel(url=receiver.url, hmac_secret=SECRET, headers={"X-Token": "t0ken"}),
                ):
                    await send(config, message(), client=client, timeout=5, secrets=[SECRET])
            webhook, generic = receiver.accepted
        for got in (webhook, generic):
            stamp = got.headers["X-Tasksched-Timestamp"]
            expected = (
                "v1="
                + hmac.new(SECRET.encode(), stamp.encode() + b"." + got.body, hashlib.sha256).hexdigest()
            )
            assert hmac.compare_digest(got.headers["X-Tasksched-Signature"], expected)
            assert got.headers["Idempotency-Key"] == "tasksched-notice-1"
        assert json.loads(webhook.body) == {"text": "Task 'nightly' failed (run #7)."}
        assert json.loads(generic.body)["url"] == "http://ui.example/runs/7"
        assert generic.headers["X-Token"] == "t0ken"

    asyncio.run(run())


async def test_errors_never_carry_a_secret() -> None:
    """A peer that echoes what it was sent: the recorded error shows the mask, not the secret."""

    async def echo(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text=f"bad token {request.headers['x-token']}")

    async with httpx.AsyncClient(transport=httpx.MockTransport(echo)) as client:
        config = JsonChannel(url="http://fake.invalid/", headers={"X-Token": "t0ken-secret"})
        with pytest.raises(SendFailed) as failed:
            await send(config, message(), client=client, timeout=1, secrets=["t0ken-secret"])
    assert "t0ken-secret" not in str(failed.value)
    assert "HTTP 400" in str(failed.value)


def test_webhook_blocks_are_slack_block_kit() -> None:
    from tasksched.services.senders import webhook_body

    body: dict[str, Any] = webhook_body(WebhookChannel(url="https://h.example/", blocks=True), message())
    assert body["text"] == "Task 'nightly' failed (run #7)."
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}
    assert "http://ui.example/runs/7" in body["blocks"][1]["elements"][0]["text"]
