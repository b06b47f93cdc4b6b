"""Bad input: RFC 9457 problems naming the field, never a 500, and nothing written.

The cases the issue lists (unknown fields, a cron expression that cannot fire, an unknown time zone,
a negative timeout, a body over the size limit, a duplicate name) come first; then malformed bodies,
values the databases cannot store, the last-resort 500 handler, and a property-based test that throws
random JSON at every endpoint that takes a body.
"""

from __future__ import annotations

import json
import string
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from tasksched import registry
from tasksched.services.context import Context
from tests.api.conftest import (
    PROBLEM_JSON,
    assert_problem,
    client_on,
    create_task,
    snapshot,
    task_body,
)

CRON = {"type": "cron", "expression": "0 3 * * *"}


async def assert_refused(
    api: httpx.AsyncClient, body: Any, status: int, field: str | None, *, mentions: str | None = None
) -> dict[str, Any]:
    """POST ``body`` as a new task: refused as told, and the store is exactly as before."""
    before = await snapshot(api)
    response = await api.post("/api/tasks", json=body)
    problem = assert_problem(response, status, field=field, mentions=mentions)
    assert await snapshot(api) == before
    return problem


# --- the cases --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (task_body(nmae="typo"), "nmae"),
        (task_body(id=5), "id"),
        (task_body(version=3), "version"),
        (task_body(action={"type": "http", "url": "https://example.com/", "uri": "x"}), "action.uri"),
        (task_body(schedule={"type": "interval", "seconds": 60, "every": 5}), "schedule.every"),
        (task_body(schedule={**CRON, "tz": "Europe/Berlin"}), "schedule.tz"),
        (task_body(retry={"max_attempts": 2, "attempts": 3}), "retry.attempts"),
    ],
)
async def test_unknown_fields_are_refused_by_name(api: httpx.AsyncClient, body: Any, field: str) -> None:
    problem = await assert_refused(api, body, 422, field)
    assert {"field": field, "message": "unknown field"} in problem["errors"]


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 0 31 2 *", "0 0 30,31 2 *"])
async def test_a_cron_expression_that_cannot_fire_is_refused(api: httpx.AsyncClient, expression: str) -> None:
    body = task_body(schedule={"type": "cron", "expression": expression})
    await assert_refused(api, body, 422, "schedule.expression", mentions="can never fire")


@pytest.mark.parametrize(
    ("expression", "mentions"),
    [
        ("61 * * * *", "minute field"),
        ("* 24 * * *", "hour field"),
        ("* * *", "expected 5 fields"),
        ("0 0 0 0 * * *", "expected 5 fields"),
        ("*/0 * * * *", "step"),
        ("5-1 * * * *", "backwards"),
        ("@fortnightly", "unknown macro"),
        ("* * * FOO *", "month field"),
        ("", "at least 1 character"),
    ],
)
async def test_a_malformed_cron_expression_is_refused(
    api: httpx.AsyncClient, expression: str, mentions: str
) -> None:
    body = task_body(schedule={"type": "cron", "expression": expression})
    await assert_refused(api, body, 422, "schedule.expression", mentions=mentions)


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "Europe/Berlinn", "localtime", "../../etc/passwd", "", "UTC+2"]
)
async def test_an_unknown_time_zone_is_refused(api: httpx.AsyncClient, zone: str) -> None:
    await assert_refused(api, task_body(schedule={**CRON, "timezone": zone}), 422, "schedule.timezone")


@pytest.mark.parametrize("timeout", [-1, -0.001, 0, 7 * 86_400 + 1, "soon", [60]])
async def test_a_timeout_that_is_not_positive_or_too_long_is_refused(
    api: httpx.AsyncClient, timeout: Any
) -> None:
    await assert_refused(api, task_body(timeout_seconds=timeout), 422, "timeout_seconds")


async def test_a_body_over_the_size_limit_is_413(api: httpx.AsyncClient, ctx: Context) -> None:
    limit = ctx.settings.max_body_bytes
    body = task_body(description="x" * (limit + 1))
    before = await snapshot(api)

    response = await api.post("/api/tasks", json=body)

    assert_problem(response, 413, mentions="TASKSCHED_MAX_BODY_BYTES")
    assert await snapshot(api) == before


async def test_a_streamed_body_over_the_size_limit_is_413(api: httpx.AsyncClient, ctx: Context) -> None:
    """Without a Content-Length the limit is enforced while the body arrives."""
    limit = ctx.settings.max_body_bytes
    payload = json.dumps(task_body(description="x" * (limit + 1))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    before = await snapshot(api)
    response = await api.post("/api/tasks", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert await snapshot(api) == before


async def test_a_body_just_under_the_size_limit_is_read(api: httpx.AsyncClient) -> None:
    # Under the byte limit but over the description's own limit: refused by validation, not by size.
    response = await api.post("/api/tasks", json=task_body(description="x" * 500_000))
    assert_problem(response, 422, field="description")


async def test_a_duplicate_name_is_409(api: httpx.AsyncClient) -> None:
    await create_task(api, "backup")
    await assert_refused(api, task_body("backup"), 409, "name", mentions="'backup'")


async def test_put_to_a_duplicate_name_is_409_and_changes_nothing(api: httpx.AsyncClient) -> None:
    await create_task(api, "backup")
    other = await create_task(api, "restore")
    before = await snapshot(api)
    response = await api.put(f"/api/tasks/{other['id']}", json=task_body("backup"))
    assert_problem(response, 409, field="name")
    assert await snapshot(api) == before


# --- other invalid tasks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "mentions"),
    [
        ({"action": {"type": "http", "url": "https://example.com/"}}, "name", "field required"),
        ({"name": "x"}, "action", "field required"),
        (task_body(name=""), "name", None),
        (task_body(name="x" * 201), "name", None),
        (task_body(name="tab\there"), "name", "control characters"),
        (task_body(action={"url": "https://example.com/"}), "action", "'type' field is required"),
        (task_body(action={"type": "ftp"}), "action", "unknown type"),
        (task_body(action={"type": "http", "url": "file:///etc/passwd"}), "action.url", "http://"),
        (task_body(action={"type": "http", "url": "https://"}), "action.url", "host"),
        (task_body(action={"type": "http", "url": "http://[::1"}), "action.url", None),
        (task_body(action={"type": "http", "url": "http://example.com:99999/"}), "action.url", "port"),
        (task_body(action={"type": "http", "url": "https://e.com/", "method": "BREW"}), "action.method", None),
        (task_body(action={"type": "http", "url": "https://e.com/", "headers": {"X": "a\r\nB: c"}}), "action.headers", "line break"),
        (task_body(action={"type": "http", "url": "https://e.com/", "expect_status": [99]}), "action.expect_status.0", None),
        (task_body(action={"type": "python", "function": "os.system; rm"}), "action.function", "dotted name"),
        (task_body(schedule={"type": "weekly"}), "schedule", "unknown type"),
        (task_body(schedule={"type": "interval", "seconds": 0}), "schedule.seconds", None),
        (task_body(schedule={"type": "interval", "seconds": 1.5}), "schedule.seconds", None),
        (task_body(schedule={"type": "interval", "seconds": 60, "jitter_seconds": -1}), "schedule.jitter_seconds", None),
        (
            task_body(schedule={"type": "interval", "seconds": 60, "start_at": "2026-02-01T00:00:00Z",
                                "end_at": "2026-01-01T00:00:00Z"}),
            "schedule",
            "end_at must be after start_at",
        ),
        (task_body(schedule={"type": "once", "at": "2026-07-01T08:00:00"}), "schedule.at", "timezone"),
        (task_body(schedule={"type": "once", "at": "next tuesday"}), "schedule.at", None),
        (task_body(tags=["ok", "not ok"]), "tags", "'not ok'"),
        (task_body(tags=["x" * 65]), "tags.0", None),
        (task_body(retry={"max_attempts": 0}), "retry.max_attempts", None),
        (task_body(retry={"backoff_factor": 0.5}), "retry.backoff_factor", None),
        (task_body(concurrency_policy="sometimes"), "concurrency_policy", None),
        (task_body(misfire_policy="panic"), "misfire_policy", None),
        (task_body(priority=1001), "priority", None),
        (task_body(queue="has space"), "queue", None),
        (task_body(enabled="yes please"), "enabled", None),
    ],
)  # fmt: skip
async def test_invalid_tasks_are_refused_naming_the_field(
    api: httpx.AsyncClient, body: Any, field: str, mentions: str | None
) -> None:
    await assert_refused(api, body, 422, field, mentions=mentions)


@pytest.mark.parametrize(
    ("url", "mentions"),
    [
        ("http://0177.0.0.1/", "Invalid IPv4 address"),  # octal: passed validation, failed every run
        ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "Invalid IDNA hostname"),  # full-width digits
        ("http://exa\u200bmple.com/", "Invalid IDNA hostname"),  # a zero-width space
        ("http://2130706433/", "four decimal numbers"),  # getaddrinfo reads these three as 127.0.0.1
        ("http://0x7f.1/", "four decimal numbers"),
        ("http://127.1/", "four decimal numbers"),
        ("http://1.2.3.4.5/", "four decimal numbers"),
        ("http://127.0.0.1./", "four decimal numbers"),
        ("http://a b.example/", "not a valid host name"),
        ("http://ex%41mple.com/", "not a valid host name"),
        ("http://example..com/", "not a valid host name"),
        ("http://example.com\\@evil.example/", "backslash"),  # a browser's host is example.com, httpx's evil.example
        ("http://example.com:99999/", "invalid port 99999"),
        ("http://example.com:0/", "invalid port 0"),
        ("http://[zz::1]/", "Invalid IPv6 address"),
        ("http:///path", "must name a host"),
        ("ftp://example.com/", "http:// or https://"),
    ],
)  # fmt: skip
async def test_urls_the_http_client_would_not_request_as_written_are_refused(
    api: httpx.AsyncClient, url: str, mentions: str
) -> None:
    await assert_refused(
        api, task_body(action={"type": "http", "url": url}), 422, "action.url", mentions=mentions
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a b?q=\u00e9#top",  # the client percent-encodes path and query
        "http://b\u00fccher.example/",  # an international name: the client encodes it with IDNA
        "http://xn--bcher-kva.example/",
        "http://93.184.216.34:8080/",
        "http://[2001:db8::1]/",
        "http://user:secret@example.com/",
        "HTTPS://EXAMPLE.COM/",
        "http://my_host.internal./",
        "http://10.0.0.1/",  # private: the executor's guard refuses it at run time unless allowed
    ],
)
async def test_urls_the_http_client_requests_as_written_are_accepted(
    api: httpx.AsyncClient, url: str
) -> None:
    task = await create_task(api, action={"type": "http", "url": url})
    assert task["action"]["url"] == url


async def test_every_invalid_field_is_named_at_once(api: httpx.AsyncClient) -> None:
    body = task_body(name="", priority=5000, schedule={"type": "cron", "expression": "0 0 30 2 *"})
    problem = await assert_refused(api, body, 422, None)
    assert {e["field"] for e in problem["errors"]} == {"name", "priority", "schedule.expression"}
    assert problem["title"] == "Invalid input"
    assert "schedule.expression" in problem["detail"]


# --- malformed requests -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{", b'{"name": "x",}', b"nope", b"\xff\xfe", b'{"name": "x"} trailing'])
async def test_malformed_json_is_400(api: httpx.AsyncClient, raw: bytes) -> None:
    before = await snapshot(api)
    response = await api.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 400)
    assert await snapshot(api) == before


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"task"', b"42", b"true", b""])
async def test_a_body_that_is_not_an_object_is_422(api: httpx.AsyncClient, raw: bytes) -> None:
    response = await api.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field="body")


async def test_a_body_that_is_not_json_is_422(api: httpx.AsyncClient) -> None:
    payload = json.dumps(task_body()).encode()
    response = await api.post("/api/tasks", content=payload, headers={"Content-Type": "text/plain"})
    assert_problem(response, 422)
    assert (await snapshot(api))["tasks"]["total"] == 0


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        (b'{"name": "x",\n "action": {"type": "http",,}}', "Expecting property name enclosed in double quotes at line 2, column 28"),
        (b'{"name": ', "Expecting value at line 1, column 10"),
        (b'{"name": "x"} trailing', "Extra data at line 1, column 15"),
    ],
)  # fmt: skip
async def test_malformed_json_says_what_and_where(api: httpx.AsyncClient, raw: bytes, where: str) -> None:
    response = await api.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400)
    assert problem["title"] == "Malformed JSON"
    assert problem["detail"] == f"the request body is not valid JSON: {where}"


async def test_a_body_that_is_not_utf8_says_so(api: httpx.AsyncClient) -> None:
    raw = b'{"name": "caf\xe9", "action": {"type": "http", "url": "https://e.com/"}}'  # Latin-1
    response = await api.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400, mentions="not UTF-8")
    assert "byte 0xe9 at offset 13" in problem["detail"]


async def test_an_empty_body_says_one_is_required(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/tasks", content=b"", headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field="body", mentions="a JSON request body is required")


def _nested_body(levels: int) -> bytes:
    """A task body that nests ``levels`` deep in all (the body object and the action are two)."""
    inner = levels - 2
    return (
        b'{"name": "deep", "action": {"type": "http", "url": "https://e.com/", "method": "POST", "body": '
        + b"[" * inner
        + b"]" * inner
        + b"}}"
    )


async def test_deeply_nested_json_is_refused_without_a_500(server_api: httpx.AsyncClient) -> None:
    """Deep enough to exhaust the parser's recursion: FastAPI alone says only "error parsing the body"."""
    response = await server_api.post(
        "/api/tasks", content=_nested_body(100_000), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, mentions="deeper than the limit of 200 levels")
    assert problem["title"] == "Body nested too deeply"


async def test_nesting_beyond_the_limit_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    """201 levels parse, but a task saved that deep made every page of tasks a 500 (orjson stops at 255)."""
    before = await snapshot(api)
    response = await api.post(
        "/api/tasks", content=_nested_body(201), headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, field="action.body", mentions="limit of 200 levels")
    assert problem["title"] == "Body nested too deeply"
    assert await snapshot(api) == before


async def test_nesting_up_to_the_limit_is_stored_listed_and_read_back(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/tasks", content=_nested_body(200), headers={"Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    listed = await api.get("/api/tasks")
    assert listed.status_code == 200
    body = listed.json()["items"][0]["action"]["body"]
    assert body == json.loads(_nested_body(200))["action"]["body"]
    assert (await api.get(f"/api/tasks/{created.json()['id']}")).json()["action"]["body"] == body


async def test_moderately_nested_json_is_stored_and_read_back(api: httpx.AsyncClient) -> None:
    nested: Any = "leaf"
    for _ in range(99):  # 198 levels, with the body and the action 200: the limit
        nested = {"k": [nested]}
    task = await create_task(
        api, action={"type": "http", "url": "https://e.com/", "method": "POST", "body": nested}
    )
    assert (await api.get(f"/api/tasks/{task['id']}")).json()["action"]["body"] == nested


INT64_MAX = 2**63 - 1
NUMBERS_FUNCTION = "api_tests.numbers"


@pytest.fixture
def numbers_function() -> Iterator[str]:
    registry.task(name=NUMBERS_FUNCTION)(_fuzz_function)
    try:
        yield NUMBERS_FUNCTION
    finally:
        registry.unregister(NUMBERS_FUNCTION)


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"type": "python", "function": NUMBERS_FUNCTION, "args": [10**30]}, "action.args.0"),
        ({"type": "python", "function": NUMBERS_FUNCTION, "kwargs": {"n": -(2**63) - 1}}, "action.kwargs.n"),
        ({"type": "http", "url": "https://e.com/", "method": "POST", "body": {"ids": [1, 2**64]}}, "action.body.ids.1"),
    ],
)  # fmt: skip
async def test_integers_beyond_64_bits_are_refused_naming_the_field(
    api: httpx.AsyncClient, numbers_function: str, action: dict[str, Any], field: str
) -> None:
    """They used to be saved and read back as floats: 10**30 became 1e+30."""
    before = await snapshot(api)
    response = await api.post("/api/tasks", json=task_body(action=action))
    assert_problem(response, 422, field=field, mentions="64 bits")
    assert await snapshot(api) == before


async def test_64_bit_integers_are_kept_exactly(api: httpx.AsyncClient, numbers_function: str) -> None:
    edges = [INT64_MAX, -(2**63), 2**53 + 1]
    action = {"type": "python", "function": numbers_function, "args": edges, "kwargs": {"n": INT64_MAX}}
    task = await create_task(api, action=action)
    for got in (
        task,
        (await api.get(f"/api/tasks/{task['id']}")).json(),
        (await api.get("/api/tasks")).json()["items"][0],
    ):
        assert got["action"]["args"] == edges
        assert got["action"]["kwargs"] == {"n": INT64_MAX}


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"name": "a", "description": "nul \\u0000 here", "action": {"type": "http", "url": "https://e.com/"}}', "description"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": {"x": [1, "\\u0000"]}}}', "action.body.x.1"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "headers": {"X-A": "\\u0000"}}}', "action.headers.X-A"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": NaN}}', "action.body"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": [Infinity]}}', "action.body.0"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": -1e999}}', "action.body"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/"}, "timeout_seconds": NaN}', "timeout_seconds"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": "\\ud800"}}', "action.body"),
        ('{"name": "a", "description": "\\udfff\\ud800", "action": {"type": "http", "url": "https://e.com/"}}', "description"),
        ('{"name": "a", "action": {"type": "http", "url": "https://e.com/", "body": {"k\\u0000": 1}}}', "action.body"),
    ],
)  # fmt: skip
async def test_values_a_database_cannot_store_are_refused(
    api: httpx.AsyncClient, raw: str, field: str
) -> None:
    """NUL characters, NaN/Infinity and unpaired surrogates: PostgreSQL cannot store them."""
    before = await snapshot(api)
    response = await api.post("/api/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_problem(response, 422, field=field)
    assert await snapshot(api) == before


async def test_unicode_that_can_be_stored_is_kept(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "Grüße 👋", description="ünïcödé \u2028 \U0001f600")
    got = (await api.get(f"/api/tasks/{task['id']}")).json()
    assert got["name"] == "Grüße 👋"
    assert got["description"] == "ünïcödé \u2028 \U0001f600"


async def test_unknown_api_paths_are_404_problems(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/nothing-here"), 404)
    assert_problem(await api.get("/api/tasks/1/nothing"), 404)


async def test_posting_to_an_unknown_api_path_is_404(api: httpx.AsyncClient) -> None:
    assert_problem(await api.post("/api/nothing-here"), 404)


async def test_a_wrong_method_is_a_405_problem_saying_what_is_allowed(api: httpx.AsyncClient) -> None:
    response = await api.delete("/api/tasks")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]
    assert_problem(await api.put("/api/runs"), 405)
    assert (await snapshot(api))["tasks"]["total"] == 0


async def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing(
    ctx: Context, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client_on(ctx, raise_app_exceptions=False) as client:
        services = client._transport.app.state.services  # type: ignore[attr-defined]

        async def broken(_task_id: int) -> None:
            raise RuntimeError("secret connection string postgres://u:p@h/db")

        monkeypatch.setattr(services.tasks, "get", broken)
        response = await client.get("/api/tasks/1")

    problem = assert_problem(response, 500)
    assert "secret" not in response.text
    assert problem["title"] == "Internal error"


async def test_an_unexpected_error_is_answered_inside_the_app(
    ctx: Context, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It does not escape to the server, which would log it again and close the connection (the
    client's next request on it dropped); the client's next request is answered."""
    async with client_on(ctx, raise_app_exceptions=True) as client:
        services = client._transport.app.state.services  # type: ignore[attr-defined]

        async def broken(_task_id: int) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(services.tasks, "get", broken)
        with capture_logs() as logs:
            assert_problem(await client.get("/api/tasks/1"), 500)
        assert (await client.get("/api/tasks")).status_code == 200
    assert [e["event"] for e in logs] == ["unhandled error"]


# --- dates out of the supported years (1970-9000): refused by name, never a 500 -----------------


async def test_a_cron_schedule_starting_in_year_9999_is_refused(server_api: httpx.AsyncClient) -> None:
    body = task_body(schedule={**CRON, "expression": "0 0 1 1 *", "start_at": "9999-06-01T00:00:00Z"})
    assert_problem(
        await server_api.post("/api/tasks", json=body), 422, field="schedule.start_at", mentions="9000"
    )


async def test_a_once_schedule_before_year_1_in_utc_is_refused(server_api: httpx.AsyncClient) -> None:
    body = task_body(schedule={"type": "once", "at": "0001-01-01T00:00:00+01:00"})
    assert_problem(await server_api.post("/api/tasks", json=body), 422, field="schedule.at", mentions="1970")


# --- property: random JSON never gets a 500 -----------------------------------------------------
# Bodies are either any JSON at all, or a valid task with a few fields replaced, dropped or added, so
# that the examples reach the services and the database and not only the first validation error.

FUZZ_FUNCTION = "api_tests.fuzz"
FIELDS = [
    "name", "description", "tags", "enabled", "action", "schedule", "timeout_seconds", "retry",
    "concurrency_policy", "misfire_policy", "misfire_grace_seconds", "priority", "queue",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    # What JSON parsers accept but databases refuse: NaN, infinities, NUL, unpaired surrogates.
    | st.sampled_from([float("nan"), float("-inf"), "\x00", "nul\x00here", "\ud800"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Dates stay within ordinary years: the extremes are tested above.
instants = st.datetimes(
    min_value=datetime(1971, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Lord_Howe")]),
).map(lambda d: d.isoformat())
cron_terms = st.sampled_from(
    ["*", "0", "7", "59", "60", "*/5", "1-5", "5-1", "L", "5L", "MON#2", "JAN", "?", "*/0"]
)
cron_text = st.sampled_from(
    ["@daily", "@hourly", "0 3 * * *", "*/5 * * * *", "30 2 * * *", "0 0 29 2 *", "0 9 * * MON-FRI",
     "*/10 * * * * *", "0 30 2 * * *", "0 0 L * *", "0 0 * * 5L", "0 0 30 2 *", "@never"]
) | st.lists(cron_terms, min_size=1, max_size=7).map(" ".join)  # fmt: skip
zones = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Mars/Olympus", ""]
)
windows = {
    "start_at": instants,
    "end_at": instants,
    "jitter_seconds": st.floats(min_value=0, max_value=86_400),
}
schedules = st.one_of(
    st.none(),
    st.fixed_dictionaries({"type": st.just("once"), "at": instants}),
    st.fixed_dictionaries(
        {"type": st.just("interval"), "seconds": st.integers(min_value=1, max_value=366 * 86_400)},
        optional=windows,
    ),
    st.fixed_dictionaries(
        {"type": st.just("cron"), "expression": cron_text}, optional={"timezone": zones, **windows}
    ),
)
http_actions = st.fixed_dictionaries(
    {"type": st.just("http"), "url": st.sampled_from(["https://example.com/x", "http://10.0.0.1:8080/"])},
    optional={
        "method": st.sampled_from(["GET", "post", "DELETE"]),
        "headers": st.dictionaries(
            st.sampled_from(["X-A", "Authorization"]), st.text(max_size=8), max_size=2
        ),
        "body": json_values,
        "expect_status": st.lists(st.integers(min_value=100, max_value=599), max_size=3),
    },
)
actions = st.one_of(
    http_actions,
    http_actions,
    st.fixed_dictionaries(
        {
            "type": st.just("shell"),
            "command": st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("python"),
            "function": st.sampled_from([FUZZ_FUNCTION, FUZZ_FUNCTION, "os.system", "a..b"]),
        },
        optional={
            "args": st.lists(json_values, max_size=3),
            "kwargs": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
        },
    ),
)
valid_tasks = st.fixed_dictionaries(
    {"name": st.text(alphabet=string.ascii_letters + string.digits + " -_é", min_size=1, max_size=20).map(lambda n: f"t{n}x"),
     "action": actions},
    optional={
        "description": st.text(max_size=30),
        "tags": st.lists(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=6), max_size=3),
        "enabled": st.booleans(),
        "schedule": schedules,
        "timeout_seconds": st.none() | st.floats(min_value=0.001, max_value=7 * 86_400),
        "retry": st.fixed_dictionaries({}, optional={"max_attempts": st.integers(min_value=1, max_value=100),
                                                     "backoff_factor": st.floats(min_value=1, max_value=100)}),
        "concurrency_policy": st.sampled_from(["allow", "forbid", "replace"]),
        "misfire_policy": st.sampled_from(["run_once", "skip", "run_all"]),
        "misfire_grace_seconds": st.floats(min_value=0, max_value=86_400),
        "priority": st.integers(min_value=-1000, max_value=1000),
        "queue": st.sampled_from(["default", "slow", "io:2"]),
    },
)  # fmt: skip


def _mutate(base: dict[str, Any], replace: dict[str, Any], drop: set[str]) -> dict[str, Any]:
    return {k: v for k, v in {**base, **replace}.items() if k not in drop}


replacements = st.dictionaries(
    st.sampled_from([*FIELDS, "surprise"]),
    json_values | schedules | actions | st.sampled_from(["", "a" * 300, -1, 10**30]),
    max_size=2,
)
task_bodies = json_values | st.builds(
    _mutate, valid_tasks, replacements, st.sets(st.sampled_from(FIELDS), max_size=1)
)
preview_bodies = json_values | st.builds(
    _mutate,
    st.fixed_dictionaries(
        {"schedule": schedules.filter(lambda s: s is not None)},
        optional={"count": st.integers(min_value=1, max_value=100), "after": instants},
    ),
    st.dictionaries(st.sampled_from(["schedule", "count", "after", "surprise"]), json_values, max_size=1),
    st.sets(st.sampled_from(["schedule"]), max_size=1),
)
fuzz = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def send_json(client: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    """Send ``body`` as JSON, NaN and Infinity included (Python's encoder writes them; httpx's refuses)."""
    return await client.request(
        method, url, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )


def assert_no_500(response: httpx.Response) -> None:
    assert response.status_code < 500, f"{response.request.method} {response.request.url}: {response.text}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM_JSON), response.text
        problem = response.json()
        assert problem["status"] == response.status_code


def _fuzz_function(*args: object, **kwargs: object) -> None:
    return None


@pytest.fixture
async def fuzz_target(server_api: httpx.AsyncClient) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """The lenient client and an existing task for PUT and PATCH to aim at; a registered function."""
    registry.task(name=FUZZ_FUNCTION)(_fuzz_function)
    try:
        task = await create_task(server_api, "fuzz-target", schedule={"type": "interval", "seconds": 60})
        yield server_api, task["id"]
    finally:
        registry.unregister(FUZZ_FUNCTION)


@fuzz
@given(body=task_bodies)
async def test_random_task_bodies_never_get_a_500(
    fuzz_target: tuple[httpx.AsyncClient, int], body: Any
) -> None:
    client, task_id = fuzz_target
    # PUT and PATCH the target under another name than POST used, or most of them would only be 409s.
    renamed = body
    if isinstance(body, dict) and isinstance(body.get("name"), str):
        renamed = {**body, "name": body["name"] + "!"}
    for method, url, sent in [
        ("POST", "/api/tasks", body),
        ("PUT", f"/api/tasks/{task_id}", renamed),
        ("PATCH", f"/api/tasks/{task_id}", renamed),
    ]:
        response = await send_json(client, method, url, sent)
        event(f"{method} {response.status_code}")
        assert_no_500(response)


@fuzz
@given(body=preview_bodies)
async def test_random_preview_bodies_never_get_a_500(server_api: httpx.AsyncClient, body: Any) -> None:
    response = await send_json(server_api, "POST", "/api/schedules/preview", body)
    event(f"preview {response.status_code}")
    assert_no_500(response)
