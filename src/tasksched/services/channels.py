"""Channels (admin-defined destinations of notices), the global rules, and the notices' history.

Channel writes happen in ``ChannelService.create``/``replace``/``delete`` and the global rules' in
``NotificationService.put_defaults``: each in one transaction, where an audit record belongs too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tasksched.domain.audit import Target
from tasksched.domain.base import STORED, utc_text
from tasksched.domain.notifications import (
    Channel,
    ChannelConfig,
    ChannelSpec,
    ChannelTestResult,
    DeliveryAttempt,
    Notice,
    NoticeKind,
    NoticeStatus,
    NotifyDefaults,
    channel_secret_values,
    mask_channel_config,
    restore_channel_secrets,
)
from tasksched.domain.principals import Actor
from tasksched.errors import InvalidInput, NotFound
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.store import Tx
from tasksched.store import channels as channel_store
from tasksched.store import notices as notice_store

DEFAULTS = "defaults"
_config_adapter: TypeAdapter[Any] = TypeAdapter(ChannelConfig)


def channel_config(row: dict[str, Any]) -> Any:
    """A channel row's config as its model (secrets in clear): what a sender needs."""
    return _config_adapter.validate_python(row["config"], context=STORED)


def channel_spec(row: dict[str, Any]) -> ChannelSpec:
    return ChannelSpec.model_validate(
        {k: row[k] for k in ("name", "enabled", "config", "scope", "kinds")}, context=STORED
    )


def channel_view(row: dict[str, Any]) -> Channel:
    """A channel as callers see it: secrets masked."""
    doc = {k: row[k] for k in ("id", "name", "enabled", "scope", "kinds", "created_at", "updated_at")}
    doc["config"] = mask_channel_config(row["config"])
    return Channel.model_validate(doc, context=STORED)


async def load_defaults(tx: Tx) -> NotifyDefaults:
    raw = await channel_store.get_setting(tx, DEFAULTS)
    return NotifyDefaults() if raw is None else NotifyDefaults.model_validate(raw, context=STORED)


def public_url(ctx: Context, path: str) -> str | None:
    base = ctx.settings.public_url.rstrip("/")
    return f"{base}{path}" if base else None


@dataclass(frozen=True)
class NoticeQuery:
    task_id: int | None = None
    run_id: int | None = None
    status: NoticeStatus | None = None
    channel_id: int | None = None
    limit: int = 50
    offset: int = 0


class ChannelService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def list(self) -> list[Channel]:
        async with self.ctx.db.read() as tx:
            rows = await channel_store.list_(tx)
        return [channel_view(r) for r in rows]

    async def get(self, channel_id: int) -> Channel:
        async with self.ctx.db.read() as tx:
            row = await channel_store.get(tx, channel_id)
        if row is None:
            raise NotFound(f"channel {channel_id} does not exist")
        return channel_view(row)

    async def create(self, spec: ChannelSpec, *, actor: Actor) -> Channel:
        values = _values(spec, None)
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            await _check_task_ids(tx, spec)
            row = await channel_store.insert(tx, {**values, "created_at": now, "updated_at": now})
            channel = channel_view(row)
            await audit.record(
                tx, actor, "channel.create", _target(channel), None, _document(channel), at=now
            )
        return channel

    async def replace(self, channel_id: int, spec: ChannelSpec, *, actor: Actor) -> Channel:
        async with self.ctx.db.write() as tx:
            old = await channel_store.get(tx, channel_id)
            if old is None:
                raise NotFound(f"channel {channel_id} does not exist")
            await _check_task_ids(tx, spec)
            values = _values(spec, old["config"])
            now = self.ctx.clock.now()
            row = await channel_store.update(tx, channel_id, {**values, "updated_at": now})
            assert row is not None  # read in this transaction
            before, channel = channel_view(old), channel_view(row)
            await audit.record(
                tx, actor, "channel.update", _target(channel), _document(before), _document(channel), at=now
            )
        return channel

    async def delete(self, channel_id: int, *, actor: Actor) -> None:
        """The channel and its notices (delivered or not) go."""
        async with self.ctx.db.write() as tx:
            old = await channel_store.get(tx, channel_id)
            if old is None or not await channel_store.delete(tx, channel_id):
                raise NotFound(f"channel {channel_id} does not exist")
            before = channel_view(old)
            await audit.record(
                tx, actor, "channel.delete", _target(before), _document(before), None, at=self.ctx.clock.now()
            )

    async def test(self, channel_id: int, *, actor: Actor) -> ChannelTestResult:
        """Send a ``test`` notice to the channel now (not through the outbox) and say how it went."""
        # Here, not at the top: a worker builds notices through this module but never sends one.
        import httpx

        from tasksched.services.senders import Message, SendFailed, send

        async with self.ctx.db.read() as tx:
            row = await channel_store.get(tx, channel_id)
        if row is None:
            raise NotFound(f"channel {channel_id} does not exist")
        now = self.ctx.clock.now()
        text = f"Test notice from tasksched for channel {row['name']!r} (sent by {actor.name})."
        document: dict[str, Any] = {
            "kind": NoticeKind.TEST.value,
            "text": text,
            "task": None,
            "run": None,
            "rule": None,
            "status": None,
            "url": public_url(self.ctx, "/"),
            "created_at": utc_text(now),
        }
        message = Message(
            key=f"tasksched-test-{channel_id}-{int(now.timestamp() * 1000)}", text=text, document=document
        )
        started = time.monotonic()
        timeout = self.ctx.settings.notify_timeout_seconds
        try:
            async with httpx.AsyncClient() as client:
                await send(
                    channel_config(row),
                    message,
                    client=client,
                    timeout=timeout,
                    secrets=channel_secret_values(row["config"]),
                )
        except SendFailed as exc:
            return ChannelTestResult(ok=False, error=str(exc), duration_ms=_ms_since(started))
        return ChannelTestResult(ok=True, duration_ms=_ms_since(started))


class NotificationService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def list(self, query: NoticeQuery) -> tuple[list[Notice], int]:
        """Newest first. A deleted task's notices are still listed (by its old id)."""
        async with self.ctx.db.read() as tx:
            rows, total = await notice_store.list_(
                tx,
                task_id=query.task_id,
                run_id=query.run_id,
                status=query.status.value if query.status else None,
                channel_id=query.channel_id,
                limit=query.limit,
                offset=query.offset,
            )
            history = await notice_store.attempts_of(tx, [r["id"] for r in rows])
            names = {c["id"]: c["name"] for c in await channel_store.list_(tx)}
        return [_notice(r, names, history[r["id"]]) for r in rows], total

    async def get(self, notice_id: int) -> Notice:
        async with self.ctx.db.read() as tx:
            row = await notice_store.get(tx, notice_id)
            if row is None:
                raise NotFound(f"notification {notice_id} does not exist")
            history = await notice_store.attempts_of(tx, [notice_id])
            names = {c["id"]: c["name"] for c in await channel_store.list_(tx)}
        return _notice(row, names, history[notice_id])

    async def get_defaults(self) -> NotifyDefaults:
        async with self.ctx.db.read() as tx:
            return await load_defaults(tx)

    async def put_defaults(self, defaults: NotifyDefaults, *, actor: Actor) -> NotifyDefaults:
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            before = await load_defaults(tx)
            await channel_store.put_setting(tx, DEFAULTS, defaults.model_dump(mode="json"), now)
            await audit.record(
                tx,
                actor,
                "notification_rules.update",
                Target("notification_rules", None, "global rules"),
                before.model_dump(mode="json"),
                defaults.model_dump(mode="json"),
                at=now,
            )
        return defaults


def _target(channel: Channel) -> Target:
    return Target("channel", channel.id, channel.name)


def _document(channel: Channel) -> dict[str, Any]:
    """A channel as the audit log keeps it: as the API shows it, secrets masked."""
    return channel.model_dump(mode="json", exclude={"created_at", "updated_at"})


def _values(spec: ChannelSpec, old_config: dict[str, Any] | None) -> dict[str, Any]:
    """A spec's columns, each ``MASK`` replaced by the stored secret it stands for."""
    doc = spec.model_dump(mode="json")
    try:
        doc["config"] = restore_channel_secrets(doc["config"], old_config)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise InvalidInput(message, field=field) from None
    try:
        _config_adapter.validate_python(doc["config"])
    except ValidationError as exc:  # pragma: no cover - a stored secret that no longer validates
        raise InvalidInput(str(exc), field="config") from None
    return doc


async def _check_task_ids(tx: Tx, spec: ChannelSpec) -> None:
    if not spec.scope.task_ids:
        return
    found = await notice_store.existing_task_ids(tx, spec.scope.task_ids)
    missing = [i for i in spec.scope.task_ids if i not in found]
    if missing:
        raise InvalidInput(
            f"no task has the id {missing[0]}"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else ""),
            field="scope.task_ids",
        )


def _notice(row: dict[str, Any], channel_names: dict[int, str], history: list[dict[str, Any]]) -> Notice:
    return Notice.model_validate(
        {
            **{k: row[k] for k in Notice.model_fields if k in row},
            "channel_name": channel_names.get(row["channel_id"], ""),
            "next_attempt_at": row["next_attempt_at"]
            if row["status"] == NoticeStatus.PENDING.value
            else None,
            "history": [DeliveryAttempt.model_validate(a) for a in history],
        }
    )


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
