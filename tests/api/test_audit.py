"""The audit log: every write route records exactly one row, with who, what, to what, before and
after (secrets masked), from where; nothing for a change that rolled back; GET /api/audit pages it.

The write routes are read from the OpenAPI document, so a new write route without a case here (and
so without a checked audit row) fails ``test_every_write_route_records_one_audit_row``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tasksched.api.app import create_app
from tasksched.domain.secrets import MASK
from tasksched.services.context import Context
from tasksched.store import audit as audit_store
from tasksched.store import migrate
from tasksched.store.tables import audit as audit_table
from tests.api.conftest import ADMIN, OPERATOR, VIEWER, assert_problem, client_on, create_task, run_task
from tests.conftest import ADMIN_KEY, add_keys, make_settings

WRITE_METHODS = ("post", "put", "patch", "delete")

NOT_CHANGES = {
    "schedules_preview": "computes fire times from the body; stores nothing",
    "events_ticket": "signs a short-lived ticket for the event stream; stores nothing",
    "channels_test": "sends a test notice to the channel now, not through the outbox; stores nothing",
    "session_delete": "clears the browser's session cookie; stores nothing (and needs no key)",
}
"""Write-method routes that change nothing, and why: they need no audit row (and make none)."""


def _write_routes() -> list[tuple[str, str, str]]:
    document = create_app(make_settings("sqlite:///:memory:")).openapi()
    return sorted(
        (method.upper(), path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in WRITE_METHODS
    )


WRITE_ROUTES = _write_routes()


@dataclass(frozen=True)
class Expected:
    """The one row a write must leave."""

    action: str
    target_type: str
    target_id: int | None
    target_name: str
    actor: str  # the name of the key that asked
    before: Callable[[dict[str, Any] | None], bool]
    after: Callable[[dict[str, Any] | None], bool]


Case = Callable[[httpx.AsyncClient], Awaitable[Expected]]
"""Prepares what the route needs (other writes, recorded too), calls the route once as its last
request, and says what row that call must leave."""


async def _entries(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await api.get("/api/audit", params={"limit": 500, **params}, headers=ADMIN)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _none(doc: dict[str, Any] | None) -> bool:
    return doc is None


async def _tasks_create(api: httpx.AsyncClient) -> Expected:
    response = await api.post("/api/tasks", json={"name": "made", "action": _secret_http()})
    assert response.status_code == 201, response.text
    task = response.json()
    return Expected(
        "task.create",
        "task",
        task["id"],
        "made",
        "admin",
        _none,
        lambda a: a is not None and a["name"] == "made" and a["action"]["headers"] == {"X-Token": MASK},
    )


async def _tasks_replace(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "old-name")
    response = await api.put(f"/api/tasks/{task['id']}", json={"name": "new-name", "action": _secret_http()})
    assert response.status_code == 200, response.text
    return Expected(
        "task.update",
        "task",
        task["id"],
        "new-name",
        "admin",
        lambda b: b is not None and b["name"] == "old-name" and b["version"] == 1,
        lambda a: a is not None and a["name"] == "new-name" and a["version"] == 2,
    )


async def _tasks_update(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "patched")
    response = await api.patch(f"/api/tasks/{task['id']}", json={"description": "now described"})
    assert response.status_code == 200, response.text
    return Expected(
        "task.update",
        "task",
        task["id"],
        "patched",
        "admin",
        lambda b: b is not None and b["description"] == "",
        lambda a: a is not None and a["description"] == "now described",
    )


async def _tasks_delete(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "doomed")
    response = await api.delete(f"/api/tasks/{task['id']}")
    assert response.status_code == 204, response.text
    return Expected(
        "task.delete",
        "task",
        task["id"],
        "doomed",
        "admin",
        lambda b: b is not None and b["name"] == "doomed" and b["id"] == task["id"],
        _none,
    )


async def _tasks_run(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "run-me")
    response = await api.post(f"/api/tasks/{task['id']}/run", headers=OPERATOR)
    assert response.status_code == 202, response.text
    run = response.json()
    return Expected(
        "task.run",
        "task",
        task["id"],
        "run-me",
        "operator",
        _none,
        lambda a: a is not None and (a["id"], a["status"], a["trigger"]) == (run["id"], "queued", "manual"),
    )


async def _tasks_pause(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "pause-me", schedule={"type": "interval", "seconds": 60})
    response = await api.post(f"/api/tasks/{task['id']}/pause", headers=OPERATOR)
    assert response.status_code == 200, response.text
    return Expected(
        "task.pause",
        "task",
        task["id"],
        "pause-me",
        "operator",
        lambda b: b is not None and b["enabled"] is True,
        lambda a: a is not None and a["enabled"] is False,
    )


async def _tasks_resume(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "resume-me", enabled=False)
    response = await api.post(f"/api/tasks/{task['id']}/resume", headers=OPERATOR)
    assert response.status_code == 200, response.text
    return Expected(
        "task.resume",
        "task",
        task["id"],
        "resume-me",
        "operator",
        lambda b: b is not None and b["enabled"] is False,
        lambda a: a is not None and a["enabled"] is True,
    )


async def _tasks_bulk(api: httpx.AsyncClient) -> Expected:
    one = await create_task(api, "bulk-one", tags=["fleet"])
    two = await create_task(api, "bulk-two", tags=["fleet"])
    body = {"action": "pause", "filter": {"tag": ["fleet"]}}
    response = await api.post("/api/tasks:bulk", json=body, headers=OPERATOR)
    assert response.status_code == 200, response.text
    return Expected(
        "tasks.pause",
        "tasks",
        None,
        "2 tasks paused",
        "operator",
        _none,
        lambda a: (
            a is not None and a["filter"]["tags"] == ["fleet"] and a["done"] == sorted([one["id"], two["id"]])
        ),
    )


async def _runs_cancel(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "cancel-me")
    run = await run_task(api, task["id"])
    response = await api.post(f"/api/runs/{run['id']}/cancel", headers=OPERATOR)
    assert response.status_code == 202, response.text
    return Expected(
        "run.cancel",
        "run",
        run["id"],
        "cancel-me",
        "operator",
        lambda b: b is not None and b["status"] == "queued",
        lambda a: a is not None and a["status"] == "cancelled" and "operator" in a["reason"],
    )


async def _keys_create(api: httpx.AsyncClient) -> Expected:
    response = await api.post("/api/keys", json={"name": "deploy bot", "role": "operator"})
    assert response.status_code == 201, response.text
    key = response.json()
    return Expected(
        "key.create",
        "key",
        key["id"],
        "deploy bot",
        "admin",
        _none,
        lambda a: a is not None and a["role"] == "operator" and "key" not in a and "key_hash" not in a,
    )


async def _keys_revoke(api: httpx.AsyncClient) -> Expected:
    created = await api.post("/api/keys", json={"name": "old bot"})
    assert created.status_code == 201
    key_id = created.json()["id"]
    response = await api.delete(f"/api/keys/{key_id}")
    assert response.status_code == 204, response.text
    return Expected(
        "key.revoke",
        "key",
        key_id,
        "old bot",
        "admin",
        lambda b: b is not None and b["revoked_at"] is None,
        lambda a: a is not None and a["revoked_at"] is not None,
    )


CHANNEL_SECRET = "chan-hmac-7e1d-secret"


async def _make_channel(api: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = {
        "name": name,
        # Loopback, where nothing listens: a test send fails at once, no network is reached.
        "config": {"type": "webhook", "url": "http://127.0.0.1:1/hook", "hmac_secret": CHANNEL_SECRET},
    }
    response = await api.post("/api/channels", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _channels_create(api: httpx.AsyncClient) -> Expected:
    channel = await _make_channel(api, "ops hook")
    return Expected(
        "channel.create",
        "channel",
        channel["id"],
        "ops hook",
        "admin",
        _none,
        lambda a: a is not None and a["config"]["hmac_secret"] == "********",
    )


async def _channels_replace(api: httpx.AsyncClient) -> Expected:
    channel = await _make_channel(api, "to rename")
    body = {"name": "renamed", "config": {**channel["config"], "hmac_secret": "********"}}
    response = await api.put(f"/api/channels/{channel['id']}", json=body)
    assert response.status_code == 200, response.text
    return Expected(
        "channel.update",
        "channel",
        channel["id"],
        "renamed",
        "admin",
        lambda b: b is not None and b["name"] == "to rename",
        lambda a: a is not None and a["name"] == "renamed" and a["config"]["hmac_secret"] == "********",
    )


async def _channels_delete(api: httpx.AsyncClient) -> Expected:
    channel = await _make_channel(api, "to delete")
    response = await api.delete(f"/api/channels/{channel['id']}")
    assert response.status_code == 204, response.text
    return Expected(
        "channel.delete",
        "channel",
        channel["id"],
        "to delete",
        "admin",
        lambda b: b is not None and b["name"] == "to delete",
        _none,
    )


async def _notification_rules_replace(api: httpx.AsyncClient) -> Expected:
    response = await api.put("/api/notification-rules", json={"rules": {"consecutive_failures": 3}})
    assert response.status_code == 200, response.text
    return Expected(
        "notification_rules.update",
        "notification_rules",
        None,
        "global rules",
        "admin",
        lambda b: b is not None and b["rules"]["consecutive_failures"] is None,
        lambda a: a is not None and a["rules"]["consecutive_failures"] == 3,
    )


async def _session_create(api: httpx.AsyncClient) -> Expected:
    key_id = await _key_id(api, "operator")
    response = await api.post("/api/session", json={"remember": True}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    return Expected(
        "key.sign_in",
        "key",
        key_id,
        "operator",
        "operator",
        _none,
        lambda a: a == {"remember": True},
    )


async def _key_id(api: httpx.AsyncClient, name: str) -> int:
    keys = (await api.get("/api/keys", headers=ADMIN)).json()["items"]
    return int(next(k["id"] for k in keys if k["name"] == name))


async def _not_a_change(api: httpx.AsyncClient, operation_id: str) -> Callable[[], Awaitable[None]]:
    """Sets up what the route needs (which may write) and returns its one request, which must not."""
    if operation_id == "channels_test":
        channel = await _make_channel(api, "test me")

        async def send_test() -> None:
            # Nothing listens at the address: the answer reports the failure; nothing is stored.
            response = await api.post(f"/api/channels/{channel['id']}/test")
            assert response.status_code == 200, response.text
            assert response.json()["ok"] is False

        return send_test

    async def request() -> None:
        if operation_id == "schedules_preview":
            body = {"schedule": {"type": "interval", "seconds": 60}}
            assert (await api.post("/api/schedules/preview", json=body)).status_code == 200
        elif operation_id == "session_delete":
            assert (await api.delete("/api/session")).status_code == 204
        else:
            assert (await api.post("/api/events/tickets")).status_code == 200

    return request


async def _runs_retry(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "retry-me")
    run = await run_task(api, task["id"])
    await api.post(f"/api/runs/{run['id']}/cancel", headers=OPERATOR)
    response = await api.post("/api/runs:retry", json={"run_ids": [run["id"]]}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    [queued] = response.json()["queued"]
    return Expected(
        "runs.retry",
        "runs",
        None,
        "1 run retried",
        "operator",
        _none,
        lambda a: (
            a is not None and a["run_ids"] == [run["id"]] and a["retried"] == {str(run["id"]): queued["id"]}
        ),
    )


async def _runs_batch(api: httpx.AsyncClient) -> Expected:
    task = await create_task(api, "batch-me")
    items = [{"task_id": task["id"]}, {"task_id": task["id"], "idempotency_key": "k-1"}]
    response = await api.post("/api/runs:batch", json={"runs": items}, headers=OPERATOR)
    assert response.status_code == 200, response.text
    made = [entry["run_id"] for entry in response.json()["runs"]]
    return Expected(
        "runs.batch",
        "runs",
        None,
        "2 runs queued",
        "operator",
        _none,
        lambda a: (
            a is not None and a["created"] == made and a["repeated"] == [] and a["tasks"] == [task["id"]]
        ),
    )


CASES: dict[str, Case] = {
    "tasks_create": _tasks_create,
    "tasks_replace": _tasks_replace,
    "tasks_update": _tasks_update,
    "tasks_delete": _tasks_delete,
    "tasks_run": _tasks_run,
    "tasks_pause": _tasks_pause,
    "tasks_resume": _tasks_resume,
    "tasks_bulk": _tasks_bulk,
    "runs_cancel": _runs_cancel,
    "runs_retry": _runs_retry,
    "runs_batch": _runs_batch,
    "keys_create": _keys_create,
    "keys_revoke": _keys_revoke,
    "session_create": _session_create,
    "channels_create": _channels_create,
    "channels_replace": _channels_replace,
    "channels_delete": _channels_delete,
    "notification_rules_replace": _notification_rules_replace,
}


def _secret_http() -> dict[str, Any]:
    return {"type": "http", "url": "https://example.com/hook", "headers": {"X-Token": "hook-secret-123456"}}


def test_the_write_routes_are_found() -> None:
    """The walk below sees the routes (a broken walk would pass every route by seeing none)."""
    ids = {operation_id for _, _, operation_id in WRITE_ROUTES}
    assert {"tasks_create", "tasks_delete", "runs_cancel", "keys_revoke"} <= ids


@pytest.mark.parametrize(("method", "path", "operation_id"), WRITE_ROUTES, ids=[r[2] for r in WRITE_ROUTES])
async def test_every_write_route_records_one_audit_row(
    api: httpx.AsyncClient, method: str, path: str, operation_id: str
) -> None:
    if operation_id in NOT_CHANGES:
        request = await _not_a_change(api, operation_id)
        before = await _entries(api)
        await request()
        assert await _entries(api) == before, f"{method} {path} ({operation_id}) is listed as no change"
        return
    case = CASES.get(operation_id)
    if case is None:
        pytest.fail(
            f"{method} {path} ({operation_id}) is a write route with no audit case: record its change "
            "with tasksched.services.audit.record(tx, actor, action, target, before, after) in the "
            "change's transaction, and add a case for it to CASES in tests/api/test_audit.py (or, if it "
            "changes nothing, to NOT_CHANGES with the reason)"
        )
    # The case's setup writes too: what counts is the rows its last request added.
    expected, added = await _rows_added_by_last_request(api, case)
    assert len(added) == 1, f"{method} {path} ({operation_id}) recorded {len(added)} audit rows: {added}"
    (row,) = added
    assert row["action"] == expected.action, (operation_id, row)
    assert row["target"] == {
        "type": expected.target_type,
        "id": expected.target_id,
        "name": expected.target_name,
    }, (operation_id, row)
    assert row["actor"]["kind"] == "key"
    assert row["actor"]["name"] == expected.actor
    assert isinstance(row["actor"]["key_id"], int)
    assert row["client_address"] == "127.0.0.1"  # httpx's in-process transport's peer
    assert expected.before(row["before"]), (operation_id, row["before"])
    assert expected.after(row["after"]), (operation_id, row["after"])


async def _rows_added_by_last_request(
    api: httpx.AsyncClient, case: Case
) -> tuple[Expected, list[dict[str, Any]]]:
    """Runs ``case`` with the client's sending wrapped: the rows before its last request are kept."""
    snapshots: list[set[int]] = []
    original = api.send

    async def send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        if request.url.path != "/api/audit":
            snapshots.append({e["id"] for e in await _entries(api)})
        return await original(request, **kwargs)

    api.send = send  # type: ignore[method-assign]
    try:
        expected = await case(api)
    finally:
        api.send = original  # type: ignore[method-assign]
    return expected, [e for e in await _entries(api) if e["id"] not in snapshots[-1]]


# --- nothing recorded for what did not happen -----------------------------------------------------


async def test_a_change_that_rolls_back_leaves_no_audit_row(
    api: httpx.AsyncClient, server_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row is written, then the transaction fails: neither the change nor its row remains."""
    task = await create_task(api, "steady")
    before = await _entries(api)
    real_insert = audit_store.insert

    async def insert_then_fail(tx: Any, values: dict[str, Any]) -> int:
        await real_insert(tx, values)
        raise RuntimeError("the disk is gone")

    monkeypatch.setattr(audit_store, "insert", insert_then_fail)
    response = await server_api.patch(f"/api/tasks/{task['id']}", json={"description": "lost"})
    assert response.status_code == 500
    monkeypatch.undo()
    assert await _entries(api) == before
    unchanged = (await api.get(f"/api/tasks/{task['id']}")).json()
    assert (unchanged["description"], unchanged["version"]) == ("", 1)


async def test_refused_writes_record_nothing(api: httpx.AsyncClient) -> None:
    task = await create_task(api, "taken")
    before = await _entries(api)
    assert (await api.post("/api/tasks", json={"name": "taken", "action": _secret_http()})).status_code == 409
    stale = await api.patch(
        f"/api/tasks/{task['id']}", json={"description": "x"}, headers={"If-Match": '"9"'}
    )
    assert stale.status_code == 412
    assert (await api.post(f"/api/tasks/{task['id']}/pause", headers=VIEWER)).status_code == 403
    assert (await api.delete("/api/keys/987654")).status_code == 404
    assert await _entries(api) == before


# --- secrets ---------------------------------------------------------------------------------------


async def test_secrets_never_reach_the_audit_table(shell_api: httpx.AsyncClient, ctx: Context) -> None:
    secrets = ["hook-secret-123456", "hook-secret-rotated-789", "env-secret-abcdef"]
    http = await shell_api.post("/api/tasks", json={"name": "hook", "action": _secret_http()})
    task_id = http.json()["id"]
    rotated = {**_secret_http(), "headers": {"X-Token": secrets[1]}}
    assert (await shell_api.patch(f"/api/tasks/{task_id}", json={"action": rotated})).status_code == 200
    shell = {"type": "shell", "command": ["/bin/true"], "env": {"DB_PASSWORD": secrets[2]}}
    created = await shell_api.post("/api/tasks", json={"name": "sh", "action": shell})
    assert created.status_code == 201, created.text
    assert (await shell_api.delete(f"/api/tasks/{created.json()['id']}")).status_code == 204
    assert (await shell_api.delete(f"/api/tasks/{task_id}")).status_code == 204
    key = await shell_api.post("/api/keys", json={"name": "secret keeper"})
    secrets.append(key.json()["key"])
    channel = await _make_channel(shell_api, "secret hook")
    renamed = {"name": "secret hook 2", "config": {**channel["config"], "hmac_secret": "********"}}
    assert (await shell_api.put(f"/api/channels/{channel['id']}", json=renamed)).status_code == 200
    secrets.append(CHANNEL_SECRET)

    raw = await _raw_audit_text(shell_api)
    assert raw.count(MASK) >= 7  # the secrets were there, masked: the grep below looks at real rows
    for secret in secrets:
        assert secret not in raw
    listed = await shell_api.get("/api/audit", params={"limit": 500})
    for secret in secrets:
        assert secret not in listed.text


async def _raw_audit_text(api: httpx.AsyncClient) -> str:
    """Every column of every audit row as text, read from the database itself."""
    ctx: Context = api._transport.app.state.services.ctx  # type: ignore[attr-defined]
    async with ctx.db.read() as tx:
        rows = (await tx.execute(sa.select(audit_table))).all()
    return "\n".join(repr(tuple(row)) for row in rows)


# --- where the request came from -----------------------------------------------------------------


@pytest.fixture
async def proxied_ctx(database_url: str) -> AsyncIterator[Context]:
    """A server behind a proxy at 127.0.0.1 (the in-process transport's peer address)."""
    context = Context.open(make_settings(database_url, trusted_proxies="127.0.0.0/8"))
    await migrate.upgrade(context.db)
    await add_keys(context)
    try:
        yield context
    finally:
        await context.close()


async def test_a_trusted_proxy_s_forwarded_address_is_recorded(proxied_ctx: Context) -> None:
    async with client_on(proxied_ctx) as api:
        forwarded = {"X-Forwarded-For": "203.0.113.7, 127.0.0.2"}  # the client, then a second proxy
        await api.post("/api/tasks", json={"name": "via-proxy", "action": _secret_http()}, headers=forwarded)
        (entry,) = await _entries(api, action="task.create")
        assert entry["client_address"] == "203.0.113.7"


async def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(api: httpx.AsyncClient) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    await api.post("/api/tasks", json={"name": "direct", "action": _secret_http()}, headers=forwarded)
    (entry,) = await _entries(api, action="task.create")
    assert entry["client_address"] == "127.0.0.1"


# --- reading the log -------------------------------------------------------------------------------


async def test_the_log_pages_newest_first_by_keyset(api: httpx.AsyncClient) -> None:
    for i in range(5):
        await create_task(api, f"t{i}")
    every = await _entries(api, action="task.create")
    assert [e["target"]["name"] for e in every] == ["t4", "t3", "t2", "t1", "t0"]
    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, Any] = {"action": "task.create", "limit": 2}
        if before is not None:
            params["before"] = before
        page = (await api.get("/api/audit", params=params)).json()
        seen.extend(e["id"] for e in page["items"])
        before = page["next_before"]
        if before is None:
            break
    assert seen == [e["id"] for e in every]


async def test_the_log_filters(api: httpx.AsyncClient) -> None:
    first = await create_task(api, "first")
    await create_task(api, "second")
    await api.post(f"/api/tasks/{first['id']}/pause", headers=OPERATOR)
    assert [e["action"] for e in await _entries(api, target_type="task", target_id=first["id"])] == [
        "task.pause",
        "task.create",
    ]
    assert [e["target"]["name"] for e in await _entries(api, actor="operator")] == ["first"]
    assert {e["actor"]["name"] for e in await _entries(api, actor_kind="cli")} == {"cli"}  # add_keys
    both = await _entries(api, action=["task.pause", "key.create"])
    assert {e["action"] for e in both} == {"task.pause", "key.create"}
    newest = (await _entries(api))[0]
    assert [e["id"] for e in await _entries(api, since=newest["at"])] == [newest["id"]]
    assert newest["id"] not in [e["id"] for e in await _entries(api, until=newest["at"])]


async def test_bad_filters_are_refused(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/audit", params={"since": "2026-01-01T00:00:00"}), 422, field="since")
    assert_problem(
        await api.get(
            "/api/audit", params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
        ),
        422,
        field="since",
    )
    assert_problem(
        await api.get("/api/audit", params={"until": "9999-12-31T23:59:59-23:00"}), 422, field="until"
    )
    assert_problem(await api.get("/api/audit", params={"action": "a\x00b"}), 422)
    assert_problem(await api.get("/api/audit", params={"before": 0}), 422, field="before")


async def test_only_admins_read_the_log(api: httpx.AsyncClient) -> None:
    assert_problem(await api.get("/api/audit", headers=OPERATOR), 403)
    assert_problem(await api.get("/api/audit", headers=VIEWER), 403)


async def test_the_first_admin_key_is_recorded_as_made_by_tasksched(ctx: Context) -> None:
    from tasksched.services.keys import KeyService

    assert await KeyService(ctx).ensure_bootstrap(ADMIN_KEY) == ADMIN_KEY
    async with client_on(ctx) as api:
        (entry,) = await _entries(api)
    assert entry["actor"] == {"kind": "system", "name": "bootstrap", "key_id": None}
    assert (entry["action"], entry["target"]["name"], entry["client_address"]) == (
        "key.create",
        "bootstrap admin",
        None,
    )


async def test_prune_keeps_the_retention_window(frozen_ctx: Context) -> None:
    """Entries older than TASKSCHED_AUDIT_RETENTION_DAYS (365 by default) go, in batches; newer stay."""
    from datetime import timedelta

    from tasksched.domain.audit import Target
    from tasksched.domain.principals import CLI
    from tasksched.services import audit
    from tasksched.services.audit import AuditQuery, AuditService

    now = frozen_ctx.clock.now()
    ages = [500, 400, 366, 364, 10]
    async with frozen_ctx.db.write() as tx:
        for days in ages:
            target = Target("task", days, f"aged {days}")
            await audit.record(tx, CLI, "task.create", target, None, {}, at=now - timedelta(days=days))
    service = AuditService(frozen_ctx)
    assert await service.prune(batch=2) == 3
    left = (await service.list(AuditQuery())).items
    assert [e.target.id for e in left] == [10, 364]
    assert await service.prune(batch=2) == 0
