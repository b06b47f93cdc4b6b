"""Channel rows, and the global notification settings.

A channel's config holds its secrets (HMAC secret, SMTP password, header values). They go in and
out of the database through ONE pair of functions, ``_config_to_row`` and ``_config_from_row``:
encryption at rest belongs there and nowhere else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tasksched.errors import Conflict
from tasksched.store import Tx
from tasksched.store.dialect import upsert
from tasksched.store.tables import channels, notify_settings

ChannelRow = dict[str, Any]


def _config_to_row(config: dict[str, Any]) -> dict[str, Any]:
    """A channel's config (secrets in clear) as it is stored. The one way secrets are written."""
    return config


def _config_from_row(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored config back as the channel's config (secrets in clear). The one way they are read."""
    return dict(stored)


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
