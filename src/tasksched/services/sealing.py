"""Secrets at rest over a database's life: the start-up check and the rotation to a new key.

At start-up (API and worker processes, which read and write secrets):

- no key, nothing sealed: secrets stay in clear, and the process warns;
- no key, but sealed values: the process refuses to start, naming the key they need;
- a key, and sealed values needing a key this process lacks: refuses to start, naming both;
- a key, and nothing sealed yet (the first start with a key): every secret stored in clear is sealed
  now, and on SQLite the clear bytes are scrubbed from the file and its write-ahead log (the file is
  rebuilt with ``VACUUM``: a moment on a small database, longer on a large one).

The database records which keys have sealed values (``store/secrets.py``), so the check reads a few
rows, not every secret. ``rotate`` (``tasksched db rotate-secrets``) re-seals every secret with the
current key and then forgets the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from tasksched.services.context import Context
from tasksched.store import Tx, crypto
from tasksched.store import channels as channel_store
from tasksched.store import secrets as secret_store
from tasksched.store import tasks as task_store

log = structlog.get_logger("tasksched.secrets")

BATCH = 500
# Every table holding sealed values, as a batch function: (tx, after_id, limit) -> (next id or None,
# values changed). Channel secrets join here.
RESEALERS: list[tuple[str, Callable[[Tx, int, int], Awaitable[tuple[int | None, int]]]]] = [
    ("tasks", task_store.reseal),
    ("channels", channel_store.reseal),
]


@dataclass(frozen=True)
class Resealed:
    changed: int
    key_id: str
    scrubbed: bool  # SQLite's log emptied (always True on PostgreSQL, where it does not apply)


async def check_keys(ctx: Context) -> None:
    """The start-up check (see the module docstring); raises SecretKeyError when the process must not start."""
    keyring = crypto.keyring()
    async with ctx.db.write() as tx:
        registered = await secret_store.sealing_keys(tx)
        missing = registered - set(keyring.ids)
        if missing:
            raise crypto.SecretKeyError(keyring.describe_missing(missing))
        if keyring.current is None:
            log.warning(
                "secrets_in_clear",
                detail="header, env and channel secrets are stored unencrypted; set TASKSCHED_SECRET_KEY "
                "(`tasksched db new-secret-key` makes one) to encrypt them",
            )
            return
        # Recorded before anything is sealed with it: a crash midway still leaves the record.
        await secret_store.add_sealing_key(tx, keyring.current, ctx.clock.now())
    if not registered:
        result = await reseal_all(ctx)
        log.info("secrets_sealed", changed=result.changed, key_id=result.key_id)
    elif registered - {keyring.current}:
        log.warning(
            "secrets_under_old_key",
            detail="some secrets are still sealed with an earlier key; run `tasksched db rotate-secrets`",
            old_keys=sorted(registered - {keyring.current}),
        )


async def reseal_all(ctx: Context) -> Resealed:
    """Seal every stored secret with the current key (in batches: no long lock)."""
    current = crypto.keyring().current
    if current is None:
        raise crypto.SecretKeyError("TASKSCHED_SECRET_KEY is not set: there is no key to encrypt with")
    changed = 0
    for _name, reseal in RESEALERS:
        after: int | None = 0
        while after is not None:
            async with ctx.db.write() as tx:
                after, count = await reseal(tx, after, BATCH)
            changed += count
    scrubbed = await ctx.db.scrub()
    return Resealed(changed=changed, key_id=current, scrubbed=scrubbed)


async def rotate(ctx: Context) -> Resealed:
    """Re-seal everything with the current key, then forget the keys no value needs any more."""
    result = await reseal_all(ctx)
    async with ctx.db.write() as tx:
        await secret_store.add_sealing_key(tx, result.key_id, ctx.clock.now())
        await secret_store.forget_sealing_keys(tx, keep=result.key_id)
    return result
