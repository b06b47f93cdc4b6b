"""Rate limits on the API: the 429 problem and its headers, per key and per address, trusted
proxies, failed authentications refused before any key is looked up, what is never limited, and
a Redis that is down (the API keeps serving, counting in memory)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from sqlalchemy import event

from tasksched.api.app import create_app
from tasksched.config import Settings
from tasksched.services.context import Context
from tests.api.conftest import ADMIN, HTTP_ACTION, OPERATOR, VIEWER, assert_problem
from tests.api.test_events import open_stream
from tests.conftest import add_keys
from tests.ratelimit.conftest import unreachable_redis_url

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")


def limited_settings(ctx: Context, **overrides: Any) -> Settings:
    return ctx.settings.model_copy(update=overrides)


@contextlib.asynccontextmanager
async def client(
    ctx: Context, *, peer: str = "127.0.0.1", keys: bool = True, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with its own limiter (``overrides`` of the settings), calling from ``peer``."""
    if keys:
        await add_keys(ctx)
    app = create_app(limited_settings(ctx, **overrides), ctx=ctx)
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


@contextlib.contextmanager
def counted_queries(ctx: Context) -> Iterator[list[str]]:
    """Every SQL statement the context's engines run while the block runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engines = {ctx.db.read_engine.sync_engine, ctx.db.write_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def bad_key() -> dict[str, str]:
    return {"Authorization": f"Bearer ts_wrong_{uuid.uuid4().hex}"}


async def test_past_the_key_limit_a_429_problem_says_when_to_come_back(ctx: Context) -> None:
    async with client(ctx, rate_limit="3/minute") as http:
        answers = [await http.get("/api/tasks", headers=ADMIN) for _ in range(3)]
        refused = await http.get("/api/tasks", headers=ADMIN)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0"]
    for answer in answers:
        assert answer.headers["ratelimit-limit"] == "3"
        assert answer.headers["ratelimit-policy"] == "3;w=60"
        assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
    body = assert_problem(refused, 429, mentions="TASKSCHED_RATE_LIMIT")
    assert body["title"] == "Too many requests"
    assert body["type"] == "about:blank"
    assert "3 per 60 s" in body["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-limit"] == "3"


async def test_each_key_has_its_own_budget_whatever_the_address(ctx: Context) -> None:
    async with client(ctx, rate_limit="2/minute") as http:
        for _ in range(2):
            assert (await http.get("/api/tasks", headers=ADMIN)).status_code == 200
        assert (await http.get("/api/tasks", headers=ADMIN)).status_code == 429
        # Another key from the same address is not held back by the first one's traffic.
        assert (await http.get("/api/tasks", headers=VIEWER)).status_code == 200
        assert (await http.get("/api/tasks", headers=OPERATOR)).headers["ratelimit-remaining"] == "1"


async def test_requests_without_a_key_count_per_address(ctx: Context) -> None:
    async with client(ctx, rate_limit_anonymous="2/minute", rate_limit_auth_failures="") as http:
        first = await http.get("/api/tasks")
        assert first.status_code == 401
        assert first.headers["ratelimit-limit"] == "2"
        assert (await http.get("/api/tasks")).status_code == 401
        refused = await http.get("/api/tasks")
        assert_problem(refused, 429, mentions="TASKSCHED_RATE_LIMIT_ANONYMOUS")
        assert "127.0.0.1" in refused.json()["detail"]
        # A key has a budget of its own: the address's requests without one do not spend it.
        assert (await http.get("/api/tasks", headers=ADMIN)).status_code == 200
    async with client(ctx, keys=False, peer="10.1.2.3", rate_limit_anonymous="2/minute") as other:
        assert (await other.get("/api/tasks")).status_code == 401


async def test_forwarded_addresses_count_only_from_a_trusted_proxy(ctx: Context) -> None:
    limits: dict[str, Any] = {"rate_limit_anonymous": "1/minute", "rate_limit_auth_failures": ""}
    forwarded = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in (1, 2)]
    # Not trusted: X-Forwarded-For is anyone's to write, so both count as the peer.
    async with client(ctx, peer="10.0.0.9", **limits) as http:
        assert (await http.get("/api/tasks", headers=forwarded[0])).status_code == 401
        assert (await http.get("/api/tasks", headers=forwarded[1])).status_code == 429
    # Trusted: each forwarded client has its own budget, and the detail names it.
    async with client(ctx, keys=False, peer="10.0.0.9", trusted_proxies="10.0.0.0/8", **limits) as http:
        assert (await http.get("/api/tasks", headers=forwarded[0])).status_code == 401
        assert (await http.get("/api/tasks", headers=forwarded[1])).status_code == 401
        refused = await http.get("/api/tasks", headers=forwarded[0])
        assert_problem(refused, 429, mentions="203.0.113.1")
        # A client cannot escape by writing an address in front of the proxy's entry.
        spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.2"}
        assert (await http.get("/api/tasks", headers=spoofed)).status_code == 429


async def test_past_its_failed_authentications_an_address_is_refused_without_a_key_lookup(
    ctx: Context,
) -> None:
    async with client(ctx, rate_limit_auth_failures="5/minute") as http:
        with counted_queries(ctx) as before:
            for _ in range(5):
                assert (await http.get("/api/tasks", headers=bad_key())).status_code == 401
        assert len(before) >= 5  # each distinct bad key was looked up
        with counted_queries(ctx) as after:
            refused = [await http.get("/api/tasks", headers=bad_key()) for _ in range(50)]
            valid = await http.get("/api/tasks", headers=ADMIN)
        assert after == []  # not one statement: no key was looked up
        for answer in refused:
            assert_problem(answer, 429, mentions="failed authentications from 127.0.0.1")
            assert answer.headers["ratelimit-limit"] == "5"
            assert int(answer.headers["retry-after"]) >= 1
        # The address is held back whatever it sends, a good key too, until the window ends.
        assert_problem(valid, 429, mentions="TASKSCHED_RATE_LIMIT_AUTH_FAILURES")
        assert (await http.get("/healthz")).status_code == 200
    async with client(ctx, keys=False, peer="10.9.9.9", rate_limit_auth_failures="5/minute") as other:
        assert (await other.get("/api/tasks", headers=ADMIN)).status_code == 200


async def test_health_docs_and_the_ui_are_never_limited(ctx: Context) -> None:
    settings: dict[str, Any] = {"rate_limit_anonymous": "1/minute", "rate_limit_auth_failures": "1/minute"}
    async with client(ctx, **settings) as http:
        assert (await http.get("/api/tasks")).status_code == 401  # uses up both budgets
        for path in ("/healthz", "/readyz", "/api/openapi.json", "/api/docs", "/", "/tasks/1", "/metrics"):
            for _ in range(3):
                answer = await http.get(path)
                assert answer.status_code != 429, path
                assert not any(h in answer.headers for h in RATE_HEADERS), path
        assert (await http.get("/api/tasks", headers=ADMIN)).status_code == 429


async def test_an_empty_limit_turns_it_off(ctx: Context) -> None:
    async with client(ctx, rate_limit="") as http:
        answer = await http.get("/api/tasks", headers=ADMIN)
    assert answer.status_code == 200
    assert not any(h in answer.headers for h in RATE_HEADERS)


async def test_with_redis_down_the_api_serves_and_limits_per_process(ctx: Context) -> None:
    async with client(ctx, redis_url=unreachable_redis_url(), rate_limit="3/minute") as http:
        answers = [await http.get("/api/tasks", headers=ADMIN) for _ in range(4)]
        assert (await http.get("/readyz")).status_code == 200
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-remaining"] == "2"


async def test_api_processes_on_one_redis_share_a_key_budget(
    ctx: Context, redis_url: str, redis_prefix: str
) -> None:
    shared: dict[str, Any] = {"redis_url": redis_url, "redis_prefix": redis_prefix, "rate_limit": "3/minute"}
    async with client(ctx, **shared) as first, client(ctx, keys=False, **shared) as second:
        assert (await first.get("/api/tasks", headers=ADMIN)).headers["ratelimit-remaining"] == "2"
        assert (await second.get("/api/tasks", headers=ADMIN)).headers["ratelimit-remaining"] == "1"
        assert (await first.get("/api/tasks", headers=ADMIN)).status_code == 200
        assert_problem(await second.get("/api/tasks", headers=ADMIN), 429)


async def test_an_event_stream_counts_once_however_long_it_stays_open(ctx: Context) -> None:
    await add_keys(ctx)
    app = create_app(limited_settings(ctx, rate_limit="3/minute"), ctx=ctx)
    async with open_stream(app) as stream:
        assert stream.status == 200
        assert stream.headers["ratelimit-remaining"] == "2"
        await stream.first_chunk()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=ADMIN
        ) as http:
            for name in ("one", "two"):  # changes the open stream carries
                created = await http.post("/api/tasks", json={"name": name, "action": HTTP_ACTION})
                assert created.status_code == 201
            await stream.next_event("task.created")
            assert_problem(await http.get("/api/tasks"), 429)
