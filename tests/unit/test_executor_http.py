"""The HTTP executor against a real server on 127.0.0.1, including its SSRF guard."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from tasksched.config import Settings
from tasksched.domain.actions import HttpAction
from tasksched.worker.executors.base import ExecutionContext, OutputBuffer
from tasksched.worker.executors.http import HttpExecutor, blocked_reason
from tests.helpers.http_target import HttpTarget


def make_ctx(limit: int = 64 * 1024) -> ExecutionContext:
    return ExecutionContext(run_id=1, task_id=2, task_name="ping", attempt=1, output=OutputBuffer(limit))


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    with HttpTarget() as server:
        yield server


@pytest.fixture
async def executor() -> AsyncIterator[HttpExecutor]:
    """Private addresses allowed: the test server lives on loopback."""
    ex = HttpExecutor(Settings(http_allow_private=True))
    yield ex
    await ex.aclose()


@pytest.fixture
async def guarded() -> AsyncIterator[HttpExecutor]:
    """The default policy: public addresses only."""
    ex = HttpExecutor(Settings(http_allow_private=False))
    yield ex
    await ex.aclose()


async def test_success_records_status_and_body(executor: HttpExecutor, target: HttpTarget) -> None:
    ctx = make_ctx()
    result = await executor.execute(HttpAction(url=target.url("/ok")), ctx)
    assert result.ok, result.error
    assert result.http_status == 200
    assert ctx.output.text() == "ok"
    assert target.hits["/ok"] == 1


async def test_status_outside_2xx_fails(executor: HttpExecutor, target: HttpTarget) -> None:
    ctx = make_ctx()
    result = await executor.execute(HttpAction(url=target.url("/status/503")), ctx)
    assert not result.ok
    assert result.http_status == 503
    assert result.error == "HTTP 503 not in accepted statuses 2xx"
    assert ctx.output.text() == "status 503"  # the body of a failure is kept: it says why


async def test_expect_status_decides(executor: HttpExecutor, target: HttpTarget) -> None:
    accepted = await executor.execute(
        HttpAction(url=target.url("/status/404"), expect_status=[404]), make_ctx()
    )
    assert accepted.ok
    refused = await executor.execute(HttpAction(url=target.url("/ok"), expect_status=[201, 202]), make_ctx())
    assert not refused.ok
    assert refused.error == "HTTP 200 not in accepted statuses [201, 202]"


async def test_json_body_and_headers_reach_the_server(executor: HttpExecutor, target: HttpTarget) -> None:
    action = HttpAction(
        method="post", url=target.url("/ok"), headers={"X-Token": "s3cret"}, body={"a": [1, "é"]}
    )
    result = await executor.execute(action, make_ctx())
    assert result.ok, result.error
    request = target.requests[-1]
    assert request.method == "POST"
    assert json.loads(request.body) == {"a": [1, "é"]}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Token"] == "s3cret"
    assert request.headers["Accept-Encoding"] == "identity"


async def test_text_body_is_sent_as_is(executor: HttpExecutor, target: HttpTarget) -> None:
    action = HttpAction(
        method="PUT", url=target.url("/ok"), headers={"Content-Type": "text/csv"}, body="a,b\n1,2\n"
    )
    assert (await executor.execute(action, make_ctx())).ok
    request = target.requests[-1]
    assert request.body == b"a,b\n1,2\n"
    assert request.headers["Content-Type"] == "text/csv"


async def test_large_body_is_truncated_to_the_output_limit(target: HttpTarget) -> None:
    limit = 2048
    ex = HttpExecutor(Settings(http_allow_private=True, output_limit_bytes=limit))
    try:
        ctx = make_ctx(limit)
        result = await ex.execute(HttpAction(url=target.url("/large?size=1000000")), ctx)
    finally:
        await ex.aclose()
    assert result.ok
    text = ctx.output.text()
    assert len(text) <= limit
    assert text.startswith("xxxx")
    assert "[response body truncated after" in text
    assert "dropped" not in text  # the note fits: the head of the body is intact


async def test_cancelling_aborts_the_request(executor: HttpExecutor, target: HttpTarget) -> None:
    ctx = make_ctx()
    run = asyncio.create_task(executor.execute(HttpAction(url=target.url("/slow")), ctx))
    assert await asyncio.to_thread(target.slow_started.wait, 5)
    while "tick" not in ctx.output.text():  # the body is streamed into the output as it arrives
        await asyncio.sleep(0.01)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert await asyncio.to_thread(target.dropped.wait, 5), "the server never saw the connection drop"


async def test_concurrent_runs_do_not_queue_behind_a_connection_cap(
    executor: HttpExecutor, target: HttpTarget
) -> None:
    # httpcore's default pool allows 10 connections; the worker runs many more requests at once.
    runs = [
        asyncio.create_task(executor.execute(HttpAction(url=target.url("/slow")), make_ctx()))
        for _ in range(15)
    ]
    try:
        for _ in range(500):
            if target.hits["/slow"] == 15:
                break
            await asyncio.sleep(0.01)
        assert target.hits["/slow"] == 15
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


async def test_connection_refused_is_a_failed_result(executor: HttpExecutor) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = await executor.execute(HttpAction(url=f"http://127.0.0.1:{port}/"), make_ctx())
    assert not result.ok
    assert result.http_status is None
    assert result.error is not None
    assert result.error.startswith("HTTP request to 127.0.0.1 failed: ConnectError")


async def test_too_many_redirects(executor: HttpExecutor, target: HttpTarget) -> None:
    url = target.url("/ok")
    for _ in range(11):
        url = target.url(f"/redirect?to={url}")
    result = await executor.execute(HttpAction(url=url), make_ctx())
    assert not result.ok
    assert result.error == "more than 10 redirects from 127.0.0.1"


async def test_redirect_not_followed_when_disabled(executor: HttpExecutor, target: HttpTarget) -> None:
    action = HttpAction(url=target.url(f"/redirect?to={target.url('/ok')}"), follow_redirects=False)
    result = await executor.execute(action, make_ctx())
    assert result.http_status == 302
    assert not result.ok
    assert target.hits["/ok"] == 0


# --- the SSRF guard -------------------------------------------------------------------------------


async def test_loopback_is_refused_by_default(guarded: HttpExecutor, target: HttpTarget) -> None:
    result = await guarded.execute(HttpAction(url=target.url("/ok")), make_ctx())
    assert not result.ok
    assert result.error is not None
    assert "refused to connect to 127.0.0.1" in result.error
    assert "loopback" in result.error
    assert "TASKSCHED_HTTP_ALLOW_PRIVATE" in result.error
    assert not target.requests


async def test_a_name_is_checked_on_the_address_it_resolves_to(
    guarded: HttpExecutor, target: HttpTarget
) -> None:
    result = await guarded.execute(HttpAction(url=f"http://localhost:{target.port}/ok"), make_ctx())
    assert not result.ok
    assert result.error is not None
    assert "resolved from 'localhost'" in result.error
    assert not target.requests


async def test_redirect_to_a_refused_address_is_refused() -> None:
    with HttpTarget() as allowed, HttpTarget() as internal:
        # Stand-in for "public host redirects to an internal one": both are on loopback, so the policy
        # tells them apart by port.
        ex = HttpExecutor(Settings(), address_allowed=lambda host, ip, port: port == allowed.port)
        try:
            action = HttpAction(url=allowed.url(f"/redirect?to={internal.url('/ok')}"))
            result = await ex.execute(action, make_ctx())
        finally:
            await ex.aclose()
        assert not result.ok
        assert result.error is not None
        assert f"refused to connect to 127.0.0.1 port {internal.port}" in result.error
        assert allowed.hits["/redirect"] == 1
        assert not internal.requests


async def test_redirect_is_followed_when_private_addresses_are_allowed(
    executor: HttpExecutor, target: HttpTarget
) -> None:
    with HttpTarget() as second:
        result = await executor.execute(
            HttpAction(url=target.url(f"/redirect?to={second.url('/ok')}")), make_ctx()
        )
        assert result.ok
        assert result.http_status == 200
        assert second.hits["/ok"] == 1


async def test_a_redirect_to_another_origin_drops_the_actions_headers(executor: HttpExecutor) -> None:
    """Headers the task sets (credentials, often) go only to the origin it names."""
    secret = {"Authorization": "Bearer task-secret", "X-Api-Key": "k-123", "X-Trace": "t"}
    with HttpTarget() as first, HttpTarget() as elsewhere:
        away = first.url("/redirect?to=" + elsewhere.url("/ok"))
        hop = first.url("/redirect?to=" + away)
        result = await executor.execute(HttpAction(url=hop, headers=secret), make_ctx())
        assert result.ok, result.error
        same_origin = [r.headers for r in first.requests]
        other_origin = [r.headers for r in elsewhere.requests]
    assert len(same_origin) == 2
    for headers in same_origin:  # the first hop stays on the task's origin: everything is sent
        assert {k: headers.get(k) for k in secret} == secret
    (arrived,) = other_origin
    assert not {k.lower() for k in arrived} & {k.lower() for k in secret}
    assert arrived.get("User-Agent") == "tasksched"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.10", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "private"),  # reserved, which Python also counts as private
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),  # NAT64 of 169.254.169.254
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason
