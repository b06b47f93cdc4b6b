"""/api/channels, /api/notifications and /api/notification-rules: validation, masking, roles, and
notices written in the outcome's transaction (no notifier runs here)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tasksched.domain.runs import RunStatus
from tasksched.domain.secrets import MASK
from tasksched.services.context import Context
from tasksched.store import channels as channel_store
from tests.api.conftest import (
    MISSING_ID,
    OPERATOR,
    VIEWER,
    assert_problem,
    create_task,
    finish_runs,
    run_task,
)
from tests.helpers.receivers import HttpReceiver

WEBHOOK: dict[str, Any] = {
    "type": "webhook",
    "url": "https://hooks.example.com/T1",
    "hmac_secret": "s3cret-hmac",
}
EMAIL: dict[str, Any] = {
    "type": "email",
    "host": "smtp.example.com",
    "port": 587,
    "username": "alerts",
    "password": "smtp-pa55",
    "from_address": "tasksched@example.com",
    "to": ["ops@example.com"],
}
ONCE = {"max_attempts": 1}  # every failure is final
JSON: dict[str, Any] = {
    "type": "json",
    "url": "https://example.com/in",
    "headers": {"Authorization": "Bearer t0ken"},
}


async def create_channel(api: httpx.AsyncClient, name: str = "ops", **fields: Any) -> dict[str, Any]:
    body = {"name": name, "config": dict(WEBHOOK), **fields}
    response = await api.post("/api/channels", json=body)
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    return channel


async def stored_config(ctx: Context, channel_id: int) -> dict[str, Any]:
    async with ctx.db.read() as tx:
        row = await channel_store.get(tx, channel_id)
    assert row is not None
    config: dict[str, Any] = row["config"]
    return config


async def test_secrets_are_write_only_and_kept_when_sent_back_masked(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    for config in (WEBHOOK, EMAIL, JSON):
        channel = await create_channel(api, f"c-{config['type']}", config=config)
        shown = channel["config"]
        assert "s3cret-hmac" not in str(shown)
        assert "smtp-pa55" not in str(shown)
        assert "t0ken" not in str(shown)
        listed = (await api.get("/api/channels")).json()["items"]
        assert "s3cret" not in str(listed)
        assert "pa55" not in str(listed)
        assert "t0ken" not in str(listed)
        # Sent back as read: the stored secrets stay.
        again = await api.put(
            f"/api/channels/{channel['id']}", json={"name": channel["name"], "config": shown}
        )
        assert again.status_code == 200, again.text
        assert await stored_config(ctx, channel["id"]) == {
            **(await stored_config(ctx, channel["id"])),
            **config,
        }
    webhook = (await api.get("/api/channels")).json()["items"][-1]
    assert webhook["config"]["hmac_secret"] == MASK


async def test_a_mask_with_nothing_behind_it_is_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/channels", json={"name": "x", "config": {**EMAIL, "password": MASK}})
    assert_problem(response, 422, field="config.password")
    response = await api.post(
        "/api/channels", json={"name": "x", "config": {**JSON, "headers": {"X-K": MASK}}}
    )
    assert_problem(response, 422, field="config.headers.X-K")
    assert (await api.get("/api/channels")).json()["items"] == []


async def test_invalid_channels_are_refused_naming_the_field(api: httpx.AsyncClient) -> None:
    cases = [
        ({"name": "x", "config": {**WEBHOOK, "url": "ftp://example.com/"}}, "config.webhook.url"),
        ({"name": "x", "config": {**EMAIL, "to": ["not-an-address"]}}, "config.email.to"),
        ({"name": "x", "config": {**EMAIL, "port": 70000}}, "config.email.port"),
        ({"name": "x", "config": {**EMAIL, "security": "ssl3"}}, "config.email.security"),
        ({"name": "x", "config": {"type": "pager"}}, "config"),
        ({"name": "", "config": WEBHOOK}, "name"),
        ({"name": "x", "config": WEBHOOK, "kinds": ["test"]}, "kinds"),
        ({"name": "x", "config": {**JSON, "headers": {"Bad Name": "v"}}}, "config.json.headers"),
    ]
    for body, field in cases:
        response = await api.post("/api/channels", json=body)
        problem = assert_problem(response, 422)
        assert any(e["field"].startswith(field) for e in problem["errors"]), (field, problem)
    response = await api.post(
        "/api/channels", json={"name": "x", "config": WEBHOOK, "scope": {"task_ids": [MISSING_ID]}}
    )
    assert_problem(response, 422, field="scope.task_ids")
    assert (await api.get("/api/channels")).json()["items"] == []


async def test_names_are_unique_and_missing_channels_are_404(api: httpx.AsyncClient) -> None:
    await create_channel(api, "ops")
    assert_problem(
        await api.post("/api/channels", json={"name": "ops", "config": WEBHOOK}), 409, field="name"
    )
    assert_problem(await api.get(f"/api/channels/{MISSING_ID}"), 404)
    assert_problem(await api.put(f"/api/channels/{MISSING_ID}", json={"name": "y", "config": WEBHOOK}), 404)
    assert_problem(await api.delete(f"/api/channels/{MISSING_ID}"), 404)
    assert_problem(await api.post(f"/api/channels/{MISSING_ID}/test"), 404)


async def test_only_admins_change_channels(api: httpx.AsyncClient) -> None:
    channel = await create_channel(api)
    body = {"name": "x", "config": WEBHOOK}
    for headers in (OPERATOR, VIEWER):
        assert_problem(await api.post("/api/channels", json=body, headers=headers), 403)
        assert_problem(await api.put(f"/api/channels/{channel['id']}", json=body, headers=headers), 403)
        assert_problem(await api.delete(f"/api/channels/{channel['id']}", headers=headers), 403)
        assert_problem(await api.post(f"/api/channels/{channel['id']}/test", headers=headers), 403)
        assert_problem(await api.put("/api/notification-rules", json={"rules": {}}, headers=headers), 403)
    assert (await api.get("/api/channels", headers=VIEWER)).status_code == 200
    assert (await api.get("/api/notifications", headers=VIEWER)).status_code == 200


async def test_global_rules_round_trip_and_are_validated(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/notification-rules")).json()["rules"]["on_failure"] is True
    rules = {"on_failure": False, "consecutive_failures": 3, "late_start_seconds": 120}
    response = await api.put("/api/notification-rules", json={"rules": rules})
    assert response.status_code == 200, response.text
    got = (await api.get("/api/notification-rules")).json()["rules"]
    assert got["consecutive_failures"] == 3
    assert got["on_failure"] is False
    assert got["late_start_seconds"] == 120
    assert_problem(
        await api.put("/api/notification-rules", json={"rules": {"consecutive_failures": 1}}),
        422,
        field="rules.consecutive_failures",
    )
    assert_problem(
        await api.put("/api/notification-rules", json={"rules": {"late_start_seconds": "60"}}),
        422,
        field="rules.late_start_seconds",
    )


async def test_a_final_failure_writes_one_notice_per_matching_channel(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    tagged = await create_task(api, "tagged", tags=["billing"], retry=ONCE)
    other = await create_task(api, "other", retry=ONCE)
    everything = await create_channel(api, "all")
    billing = await create_channel(api, "billing", scope={"tags": ["billing"]})
    await create_channel(api, "recoveries-only", kinds=["recovered"])
    await create_channel(api, "off", enabled=False)
    await run_task(api, tagged["id"])
    await run_task(api, other["id"])
    await finish_runs(ctx, RunStatus.FAILED)

    notices = (await api.get("/api/notifications")).json()
    by_task: dict[str, set[str]] = {}
    for n in notices["items"]:
        by_task.setdefault(n["task_name"], set()).add(n["channel_name"])
        assert n["kind"] == "failed"
        assert n["status"] == "pending"
        assert n["attempts"] == 0
    assert by_task == {"tagged": {"all", "billing"}, "other": {"all"}}
    assert notices["total"] == 3
    one = (await api.get("/api/notifications", params={"task_id": other["id"]})).json()["items"]
    assert len(one) == 1
    assert one[0]["channel_id"] == everything["id"]
    assert one[0]["payload"]["task"]["name"] == "other"
    assert one[0]["payload"]["rule"]["kind"] == "failed"
    run_id = one[0]["run_id"]
    assert (await api.get("/api/notifications", params={"run_id": run_id})).json()["total"] == 1
    assert (await api.get("/api/notifications", params={"status": "delivered"})).json()["total"] == 0
    assert (await api.get(f"/api/notifications/{one[0]['id']}")).json()["id"] == one[0]["id"]
    assert billing["scope"]["tags"] == ["billing"]

    # A success after a failure notice: one recovery notice, to the channels that take it.
    await run_task(api, other["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)
    recovered = (await api.get("/api/notifications", params={"task_id": other["id"]})).json()["items"]
    assert sorted((n["kind"], n["channel_name"]) for n in recovered) == [
        ("failed", "all"),
        ("recovered", "all"),
        ("recovered", "recoveries-only"),
    ]
    # A second success is no recovery.
    await run_task(api, other["id"])
    await finish_runs(ctx, RunStatus.SUCCEEDED)
    assert (await api.get("/api/notifications", params={"task_id": other["id"]})).json()["total"] == 3


async def test_n_consecutive_failures_fire_once_and_retried_attempts_do_not_count(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    rules = {"on_failure": False, "consecutive_failures": 2, "on_recovery": False}
    task = await create_task(api, "flaky", notify=rules, retry=ONCE)
    await create_channel(api, "all")
    for _ in range(4):
        await run_task(api, task["id"])
        await finish_runs(ctx, RunStatus.FAILED)
    kinds = [n["kind"] for n in (await api.get("/api/notifications")).json()["items"]]
    assert kinds == ["consecutive_failures"]  # at the 2nd, not again at the 3rd and 4th

    retried = await create_task(api, "retried", notify=rules, retry={"max_attempts": 3, "backoff_seconds": 0})
    await run_task(api, retried["id"])
    await finish_runs(ctx, RunStatus.FAILED)  # attempt 1, retried: not final
    listing = (await api.get("/api/notifications", params={"task_id": retried["id"]})).json()
    assert listing["total"] == 0
    assert task["notify"]["consecutive_failures"] == 2


async def test_no_channel_means_no_notice_and_deleting_a_channel_drops_its_notices(
    api: httpx.AsyncClient, ctx: Context
) -> None:
    task = await create_task(api, "t", retry=ONCE)
    await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.FAILED)
    assert (await api.get("/api/notifications")).json()["total"] == 0
    channel = await create_channel(api)
    await run_task(api, task["id"])
    await finish_runs(ctx, RunStatus.FAILED)
    assert (await api.get("/api/notifications")).json()["total"] == 1
    assert (await api.delete(f"/api/channels/{channel['id']}")).status_code == 204
    assert (await api.get("/api/notifications")).json()["total"] == 0


async def test_the_test_endpoint_sends_now_and_reports_the_outcome(api: httpx.AsyncClient) -> None:
    with HttpReceiver() as receiver:
        channel = await create_channel(api, "hook", config={"type": "json", "url": receiver.url})
        ok = await api.post(f"/api/channels/{channel['id']}/test")
        assert ok.status_code == 200, ok.text
        assert ok.json()["ok"] is True
        [got] = receiver.accepted
        assert json.loads(got.body)["kind"] == "test"
        receiver.status = 503
        refused = (await api.post(f"/api/channels/{channel['id']}/test")).json()
        assert refused["ok"] is False
        assert "HTTP 503" in refused["error"]
    # Not through the outbox: nothing is listed.
    assert (await api.get("/api/notifications")).json()["total"] == 0
