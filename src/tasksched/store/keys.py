"""API key rows. Only a hash of each key is stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tasksched.errors import Conflict
from tasksched.store import Tx
from tasksched.store.tables import api_keys

KeyRow = dict[str, Any]
_PUBLIC = [c for c in api_keys.c if c.name != "key_hash"]


async def insert(tx: Tx, values: dict[str, Any]) -> KeyRow:
    try:
        result = await tx.execute(api_keys.insert().values(values).returning(*_PUBLIC))
    except IntegrityError as exc:  # a concurrent insert of the same value won the race
        raise Conflict("that key value is already in use", field="key") from exc
    return dict(result.mappings().one())


async def find_active_by_hash(tx: Tx, key_hash: str) -> KeyRow | None:
    query = sa.select(*_PUBLIC).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    row = (await tx.execute(query)).mappings().first()
    return dict(row) if row else None


async def list_(tx: Tx) -> list[KeyRow]:
    query = sa.select(*_PUBLIC).order_by(api_keys.c.id)
    return [dict(r) for r in (await tx.execute(query)).mappings()]


async def get(tx: Tx, key_id: int) -> KeyRow | None:
    row = (await tx.execute(sa.select(*_PUBLIC).where(api_keys.c.id == key_id))).mappings().first()
    return dict(row) if row else None


async def revoke(tx: Tx, key_id: int, now: datetime) -> bool:
    stmt = (
        sa.update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool((await tx.execute(stmt)).rowcount)


async def count_active_admins(tx: Tx) -> int:
    query = (
        sa.select(sa.func.count())
        .select_from(api_keys)
        .where(api_keys.c.role == "admin", api_keys.c.revoked_at.is_(None))
    )
    return int((await tx.execute(query)).scalar_one())


async def count(tx: Tx) -> int:
    return int((await tx.execute(sa.select(sa.func.count()).select_from(api_keys))).scalar_one())


async def touch(tx: Tx, key_id: int, now: datetime) -> None:
    await tx.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
