"""Header and env secrets are encrypted in the database (store/crypto.py, services/sealing.py):
the SQLite file and its write-ahead log hold no clear secret, PostgreSQL rows hold ciphertext, the
API still masks them, readers above the store get them in clear, and keys rotate."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import structlog

from tasksched.services.context import Context
from tasksched.services.sealing import check_keys, rotate
from tasksched.store import crypto, migrate
from tasksched.store import secrets as secret_store
from tasksched.store import tasks as task_store
from tasksched.store.crypto import PREFIX, SecretKeyError, key_id, new_key
from tasksched.store.tables import tasks
from tests.api.conftest import client_on, create_task
from tests.conftest import ADMIN_KEY, add_keys, make_settings
from tests.helpers.processes import PYTHONPATH, TASKSCHED

HEADER = "Bearer hdr-7f3a9c-secret"
ENV = "env-5d1e2b-secret"
LATER = "Bearer later-c0ffee-secret"
KEY_A, KEY_B = new_key(), new_key()


def open_ctx(url: str, *keys: str) -> Context:
    return Context.open(
        make_settings(
            url, enable_shell=True, secret_key=keys[0] if keys else None, secret_key_old=",".join(keys[1:])
        )
    )


async def started(url: str, *keys: str) -> Context:
    """A context as an API or worker process starts one: migrated, keys checked."""
    ctx = open_ctx(url, *keys)
    try:
        await migrate.upgrade(ctx.db)
        await check_keys(ctx)
    except BaseException:
        await ctx.close()
        raise
    return ctx


@pytest.fixture
async def api_on() -> AsyncIterator[Any]:
    opened: list[Any] = []

    async def open_api(ctx: Context) -> httpx.AsyncClient:
        await add_keys(ctx)
        manager = client_on(ctx)
        opened.append(manager)
        return await manager.__aenter__()

    yield open_api
    for manager in reversed(opened):
        await manager.__aexit__(None, None, None)


async def write_secrets(api: httpx.AsyncClient) -> list[int]:
    """Two tasks with secrets, one of them changed afterwards (a second write of a new secret)."""
    http = await create_task(
        api,
        "call",
        action={"type": "http", "url": "https://example.com/", "headers": {"Authorization": HEADER}},
    )
    shell = await create_task(
        api, "cmd", action={"type": "shell", "command": ["true"], "env": {"TOKEN": ENV}}
    )
    response = await api.patch(
        f"/api/tasks/{http['id']}",
        json={"action": {"type": "http", "url": "https://example.com/", "headers": {"Authorization": LATER}}},
        headers={"If-Match": f'"{http["version"]}"'},
    )
    assert response.status_code == 200, response.text
    return [http["id"], shell["id"]]


def sqlite_bytes(url: str) -> bytes:
    """The database file and its write-ahead log, as they are on disk."""
    path = Path(url.removeprefix("sqlite:///"))
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def clear_secrets_in(data: bytes) -> list[str]:
    return [s for s in (HEADER, ENV, LATER, "hdr-7f3a9c", "env-5d1e2b") if s.encode() in data]


async def stored_actions(ctx: Context) -> list[Any]:
    async with ctx.db.read() as tx:
        return list((await tx.execute(sa.select(tasks.c.action).order_by(tasks.c.id))).scalars())


async def test_sqlite_file_and_log_hold_no_clear_secret(sqlite_url: str, api_on: Any) -> None:
    ctx = await started(sqlite_url, KEY_A)
    try:
        api = await api_on(ctx)
        await write_secrets(api)
        await ctx.settle()
        data = sqlite_bytes(sqlite_url)
        assert Path(sqlite_url.removeprefix("sqlite:///") + "-wal").stat().st_size > 0  # the log is in use
        assert clear_secrets_in(data) == []
        assert data.count(f"{PREFIX}{key_id(KEY_A)}:".encode()) >= 3
    finally:
        await ctx.close()


async def test_without_a_key_the_same_writes_are_in_clear(sqlite_url: str, api_on: Any) -> None:
    """The check above can fail: this is what it would find."""
    ctx = await started(sqlite_url)
    try:
        await write_secrets(await api_on(ctx))
        await ctx.settle()
        assert set(clear_secrets_in(sqlite_bytes(sqlite_url))) >= {HEADER, ENV, LATER}
    finally:
        await ctx.close()


async def test_secrets_stored_in_clear_are_sealed_and_scrubbed_when_a_key_is_set(
    sqlite_url: str, api_on: Any
) -> None:
    ctx = await started(sqlite_url)
    try:
        ids = await write_secrets(await api_on(ctx))
    finally:
        await ctx.close()
    assert clear_secrets_in(sqlite_bytes(sqlite_url))

    ctx = await started(sqlite_url, KEY_A)  # the first start with a key seals what is in clear
    try:
        assert clear_secrets_in(sqlite_bytes(sqlite_url)) == []
        async with ctx.db.read() as tx:
            rows = await task_store.get_many(tx, ids, columns=task_store.EXECUTION_COLUMNS)
        assert rows[ids[0]]["action"]["headers"] == {"Authorization": LATER}  # what a worker gets
        assert rows[ids[1]]["action"]["env"] == {"TOKEN": ENV}
    finally:
        await ctx.close()


async def test_rows_hold_ciphertext_and_the_api_masks(database_url: str, api_on: Any) -> None:
    ctx = await started(database_url, KEY_A)
    try:
        api = await api_on(ctx)
        ids = await write_secrets(api)
        http, shell = await stored_actions(ctx)
        assert http["headers"]["Authorization"].startswith(f"{PREFIX}{key_id(KEY_A)}:")
        assert shell["env"]["TOKEN"].startswith(f"{PREFIX}{key_id(KEY_A)}:")
        assert clear_secrets_in(repr([http, shell]).encode()) == []
        shown = (await api.get(f"/api/tasks/{ids[0]}")).json()
        assert shown["action"]["headers"] == {"Authorization": "********"}
        listed = (await api.get("/api/tasks", params={"sort": "id"})).json()["items"]
        assert [t["action"].get("headers") or t["action"].get("env") for t in listed] == [
            {"Authorization": "********"},
            {"TOKEN": "********"},
        ]
        # A change that keeps the masked value keeps the secret (unsealed, then sealed again).
        response = await api.patch(
            f"/api/tasks/{ids[1]}",
            json={"description": "d", "action": {**(await api.get(f"/api/tasks/{ids[1]}")).json()["action"]}},
            headers={"If-Match": f'"{(await api.get(f"/api/tasks/{ids[1]}")).json()["version"]}"'},
        )
        assert response.status_code == 200, response.text
        async with ctx.db.read() as tx:
            row = await task_store.get(tx, ids[1])
        assert row is not None
        assert row["action"]["env"] == {"TOKEN": ENV}
    finally:
        await ctx.close()


async def test_keys_rotate(database_url: str, api_on: Any) -> None:
    ctx = await started(database_url, KEY_A)
    try:
        ids = await write_secrets(await api_on(ctx))
    finally:
        await ctx.close()

    # Every process restarted with the new key and the old one; then the rotation.
    ctx = await started(database_url, KEY_B, KEY_A)
    try:
        async with ctx.db.read() as tx:
            row = await task_store.get(tx, ids[0])
        assert row is not None
        assert row["action"]["headers"] == {"Authorization": LATER}  # the old key still reads
        result = await rotate(ctx)
        assert result.key_id == key_id(KEY_B)
        assert result.changed == 2
        assert {crypto.sealed_key(a[f]["TOKEN" if f == "env" else "Authorization"])
                for a, f in zip(await stored_actions(ctx), ["headers", "env"], strict=True)} == {key_id(KEY_B)}  # fmt: skip
        async with ctx.db.read() as tx:
            assert await secret_store.sealing_keys(tx) == {key_id(KEY_B)}
        assert (await rotate(ctx)).changed == 0  # nothing left to move
    finally:
        await ctx.close()

    ctx = await started(database_url, KEY_B)  # the old key dropped
    try:
        async with ctx.db.read() as tx:
            row = await task_store.get(tx, ids[1])
        assert row is not None
        assert row["action"]["env"] == {"TOKEN": ENV}
    finally:
        await ctx.close()

    with pytest.raises(SecretKeyError) as wrong:
        await started(database_url, KEY_A)
    assert wrong.value.detail == (
        f"the database holds secrets encrypted with key {key_id(KEY_B)}, but TASKSCHED_SECRET_KEY is key "
        f"{key_id(KEY_A)}: the key is wrong, or the key it replaced is missing from TASKSCHED_SECRET_KEY_OLD"
    )


async def test_a_missing_key_stops_the_start_and_no_key_at_all_warns(sqlite_url: str) -> None:
    with structlog.testing.capture_logs() as logs:
        ctx = await started(sqlite_url)
        await ctx.close()
    assert [entry["event"] for entry in logs] == ["secrets_in_clear"]
    ctx = await started(sqlite_url, KEY_A)
    await ctx.close()
    with pytest.raises(
        SecretKeyError, match=f"encrypted with key {key_id(KEY_A)}, but TASKSCHED_SECRET_KEY is not set"
    ):
        await started(sqlite_url)


@pytest.mark.slow
def test_the_commands_start_refuse_and_rotate(tmp_path: Path) -> None:
    """The real command line: a worker refuses to start without the key; rotate-secrets moves keys."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        **os.environ,
        "PYTHONPATH": PYTHONPATH,
        "TASKSCHED_DATABASE_URL": url,
        "TASKSCHED_BOOTSTRAP_KEY": ADMIN_KEY,
    }
    env.pop("TASKSCHED_SECRET_KEY", None)

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TASKSCHED), *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=60,
            check=False,
        )

    fresh = run("db", "new-secret-key").stdout.strip()
    assert len(fresh) == 44
    assert run("db", "upgrade").returncode == 0
    assert run("worker", "--burst", TASKSCHED_SECRET_KEY=KEY_A).returncode == 0  # registers key A
    refused = run("worker", "--burst")
    assert refused.returncode == 1
    assert f"Error: the database holds secrets encrypted with key {key_id(KEY_A)}" in refused.stderr
    rotated = run("db", "rotate-secrets", TASKSCHED_SECRET_KEY=KEY_B, TASKSCHED_SECRET_KEY_OLD=KEY_A)
    assert rotated.returncode == 0, rotated.stderr
    assert (
        rotated.stdout.strip()
        == f"re-encrypted 0 task(s); every secret is now sealed with key {key_id(KEY_B)}"
    )
    assert run("worker", "--burst", TASKSCHED_SECRET_KEY=KEY_B).returncode == 0
    bad = run("worker", "--burst", TASKSCHED_SECRET_KEY="not-a-key")
    assert bad.returncode != 0
    assert "invalid secret_key" in bad.stderr
    assert "not-a-key" not in bad.stderr  # a key is never echoed


async def test_channel_secrets_are_sealed_read_back_in_clear_and_rotate(
    database_url: str, api_on: Any
) -> None:
    """Channel secrets go through the same seam: ciphertext in the row, clear text to the sender,
    the mask in the API, and rotate-secrets moves them to the new key."""
    from tasksched.store import channels as channel_store
    from tasksched.store.tables import channels

    hmac_secret, password, header = "hmac-91b2-secret", "smtp-44aa-secret", "Bearer hdr-chan-secret"
    ctx = await started(database_url, KEY_A)
    try:
        api = await api_on(ctx)
        for body in (
            {
                "name": "hook",
                "config": {"type": "webhook", "url": "https://example.com/h", "hmac_secret": hmac_secret},
            },
            {
                "name": "mail",
                "config": {
                    "type": "email",
                    "host": "smtp.example.com",
                    "username": "u",
                    "password": password,
                    "from_address": "a@example.com",
                    "to": ["b@example.com"],
                },
            },
            {
                "name": "json",
                "config": {
                    "type": "json",
                    "url": "https://example.com/j",
                    "headers": {"Authorization": header},
                },
            },
        ):
            response = await api.post("/api/channels", json=body)
            assert response.status_code == 201, response.text
            for secret in (hmac_secret, password, header):
                assert secret not in response.text
        async with ctx.db.read() as tx:
            stored = [r.config for r in (await tx.execute(sa.select(channels.c.config))).all()]
        text = repr(stored)
        for secret in (hmac_secret, password, header):
            assert secret not in text
        assert text.count(PREFIX + key_id(KEY_A)) == 3
        async with ctx.db.read() as tx:
            configs = {r["config"]["type"]: r["config"] for r in await channel_store.list_(tx)}
        assert configs["webhook"]["hmac_secret"] == hmac_secret
        assert configs["email"]["password"] == password
        assert configs["json"]["headers"] == {"Authorization": header}
    finally:
        await ctx.close()

    rotated = await started(database_url, KEY_B, KEY_A)
    try:
        await rotate(rotated)
        async with rotated.db.read() as tx:
            stored = [r.config for r in (await tx.execute(sa.select(channels.c.config))).all()]
        assert repr(stored).count(PREFIX + key_id(KEY_B)) == 3
        assert PREFIX + key_id(KEY_A) not in repr(stored)
    finally:
        await rotated.close()
