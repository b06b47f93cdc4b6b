"""Channel rows, and the global notification settings.

A channel's config holds its secrets (HMAC secret, SMTP password, header values). They go in and
out of the database through ONE pair of functions, ``_config_to_row`` and ``_config_from_row``,
which seal and unseal them with the process's keys (store/crypto.py), as task secrets are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tasksched.domain.notifications import map_channel_secrets
from tasksched.errors import Conflict
from tasksched.store import Tx, crypto
from tasksched.store.dialect import upsert
from tasksched.store.tables import channels, notify_settings

ChannelRow = dict[str, Any]


def _config_to_row(config: dict[str, Any]) -> dict[str, Any]:
    """A channel's config (secrets in clear) as it is stored, its secrets sealed (store/crypto.py).
    The one way secrets are written."""
    return map_channel_secrets(config, crypto.seal)


def _config_from_row(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored config back as the channel's config (secrets in clear). The one way they are read."""
    return map_channel_secrets(stored, crypto.unseal)


def _sealed_with(stored: dict[str, Any]) -> set[str | None]:
    """The keys a stored config's secrets are sealed with (None for a value in clear)."""
    found: set[str | None] = set()

    def note(value: str) -> str:
        found.add(crypto.sealed_key(value))
        return value

    map_channel_secrets(stored, note)
    return found


async def reseal(tx: Tx, after_id: int, limit: int) -> tuple[int | None, int]:
    """Seal with the current key the secrets of up to ``limit`` channels after ``after_id`` (in clear,
    or sealed with another key): ``tasksched db rotate-secrets`` and the first start with a key.
    Returns the last id looked at (None: no more) and how many were changed."""
    query = (
        sa.select(channels.c.id, channels.c.config).where(channels.c.id > after_id).order_by(channels.c.id)
    )
    rows = (await tx.execute(query.limit(limit))).all()
    current = crypto.keyring().current
    changed = 0
    for row in rows:
        if _sealed_with(row.config) - {current}:
            config = _config_to_row(_config_from_row(row.config))
            await tx.execute(sa.update(channels).where(channels.c.id == row.id).values(config=config))
            changed += 1
    return (rows[-1].id if len(rows) == limit else None), changed


def _loaded(row: Any) -> ChannelRow:
    loaded = dict(row)
    loaded["config"] = _config_from_row(loaded["config"])
    return loaded


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    return {**values, "config": _config_to_row(values["config"])} if "config" in values else values


async def insert(tx: Tx, values: dict[str, Any]) -> ChannelRow:
    await _check_name(tx, values["name"])
    try:
        result = await tx.execute(channels.insert().values(_stored(values)).returning(*channels.c))
    except IntegrityError as exc:  # a concurrent insert took the name
        raise Conflict(f"a channel named {values['name']!r} already exists", field="name") from exc
    return _loaded(result.mappings().one())


async def _check_name(tx: Tx, name: str, *, except_id: int | None = None) -> None:
    query = sa.select(channels.c.id).where(channels.c.name == name)
    if except_id is not None:
        query = query.where(channels.c.id != except_id)
    if (await tx.execute(query.limit(1))).first() is not None:
        raise Conflict(f"a channel named {name!r} already exists", field="name")


async def get(tx: Tx, channel_id: int) -> ChannelRow | None:
    row = (await tx.execute(sa.select(channels).where(channels.c.id == channel_id))).mappings().first()
    return _loaded(row) if row else None


async def list_(tx: Tx, *, enabled_only: bool = False) -> list[ChannelRow]:
    query = sa.select(channels).order_by(channels.c.name)
    if enabled_only:
        query = query.where(channels.c.enabled.is_(True))
    return [_loaded(r) for r in (await tx.execute(query)).mappings()]


async def any_enabled(tx: Tx) -> bool:
    query = sa.select(channels.c.id).where(channels.c.enabled.is_(True)).limit(1)
    return (await tx.execute(query)).first() is not None


async def update(tx: Tx, channel_id: int, values: dict[str, Any]) -> ChannelRow | None:
    if "name" in values:
        await _check_name(tx, values["name"], except_id=channel_id)
    try:
        result = await tx.execute(
            channels.update()
            .where(channels.c.id == channel_id)
            .values(_stored(values))
            .returning(*channels.c)
        )
    except IntegrityError as exc:
        raise Conflict(f"a channel named {values.get('name')!r} already exists", field="name") from exc
    row = result.mappings().first()
    return _loaded(row) if row else None


async def delete(tx: Tx, channel_id: int) -> bool:
    result = await tx.execute(channels.delete().where(channels.c.id == channel_id))
    return bool(result.rowcount)


# -- global settings ---------------------------------------------------------------------------


async def get_setting(tx: Tx, name: str) -> Any | None:
    query = sa.select(notify_settings.c.value).where(notify_settings.c.name == name)
    return (await tx.execute(query)).scalar_one_or_none()


async def put_setting(tx: Tx, name: str, value: Any, now: datetime) -> None:
    await tx.execute(upsert(tx, notify_settings, ["name"], {"name": name, "value": value, "updated_at": now}))
