"""Delivering the outbox: claim due notices, send each to its channel, record the attempt.

At least once: a notice leaves the outbox only when its channel accepted it and that is committed.
A notifier killed between the channel's answer and the commit leaves the notice claimed; when its
lease lapses another notifier (or the same, restarted) claims it and sends it again. That is the
one duplicate possible, and HTTP receivers can drop it by its ``Idempotency-Key``. A channel that
fails is tried again later, with exponential backoff, up to ``notify_max_attempts`` attempts.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from tasksched.domain.notifications import NoticeStatus, channel_secret_values
from tasksched.services.channels import channel_config, public_url
from tasksched.services.context import Context
from tasksched.services.senders import Message, SendFailed, send
from tasksched.store import channels as channel_store
from tasksched.store import notices as notice_store

CLAIM_BATCH = 20
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 3600.0
_ERROR_CHARS = 2000


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): 5 s doubling to 1 h, ±10 % jitter."""
    base = min(BACKOFF_FIRST_SECONDS * 2.0 ** (attempt - 1), BACKOFF_MAX_SECONDS)
    return base * rng.uniform(0.9, 1.1)


@dataclass(frozen=True)
class Delivered:
    notice_id: int
    ok: bool
    error: str | None


class DeliveryService:
    def __init__(self, ctx: Context, *, name: str, rng: random.Random | None = None) -> None:
        self.ctx = ctx
        self.name = name
        self._rng = rng or random.Random()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.ctx.settings.notify_lease_seconds)

    @property
    def timeout(self) -> float:
        # Within the lease, so a notice is never claimed again while its first attempt may still succeed.
        return min(self.ctx.settings.notify_timeout_seconds, self.ctx.settings.notify_lease_seconds / 2)

    async def deliver_due(self, client: httpx.AsyncClient, *, limit: int = CLAIM_BATCH) -> list[Delivered]:
        """One pass: claim what is due, send it all concurrently, record each outcome."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            claimed = await notice_store.claim(
                tx, worker=self.name, now=now, lease_until=now + self.lease, limit=limit
            )
            channel_rows = {r["id"]: r for r in await channel_store.list_(tx)} if claimed else {}
        return list(await asyncio.gather(*(self._deliver(client, n, channel_rows) for n in claimed)))

    async def _deliver(
        self, client: httpx.AsyncClient, notice: dict[str, Any], channel_rows: dict[int, dict[str, Any]]
    ) -> Delivered:
        started_at = self.ctx.clock.now()
        started = time.monotonic()
        error: str | None = None
        channel = channel_rows.get(notice["channel_id"])
        if channel is None:  # pragma: no cover - deleted between the claim and now (its notices go too)
            error = "the channel was deleted"
        else:
            try:
                await send(
                    channel_config(channel),
                    _message(self.ctx, notice),
                    client=client,
                    timeout=self.timeout,
                    secrets=channel_secret_values(channel["config"]),
                )
            except SendFailed as exc:
                error = str(exc)[:_ERROR_CHARS] or "failed"
        finished_at = self.ctx.clock.now()
        await self._record(notice, started_at, finished_at, int((time.monotonic() - started) * 1000), error)
        return Delivered(notice["id"], error is None, error)

    async def _record(
        self,
        notice: dict[str, Any],
        started_at: datetime,
        finished_at: datetime,
        duration_ms: int,
        error: str | None,
    ) -> None:
        attempt = notice["attempts"]
        values: dict[str, Any] = {"lease_until": None, "last_error": error}
        if error is None:
            values.update(status=NoticeStatus.DELIVERED.value, delivered_at=finished_at, next_attempt_at=None)
        elif attempt >= self.ctx.settings.notify_max_attempts:
            values.update(status=NoticeStatus.FAILED.value, next_attempt_at=None)
        else:
            retry_at = finished_at + timedelta(seconds=backoff(attempt, self._rng))
            values.update(status=NoticeStatus.PENDING.value, next_attempt_at=retry_at)
        async with self.ctx.db.write() as tx:
            await notice_store.record_attempt(
                tx,
                {
                    "notice_id": notice["id"],
                    "attempt": attempt,
                    "started_at": started_at,
                    "finished_at": finished_at,
                    "ok": error is None,
                    "error": error,
                    "duration_ms": duration_ms,
                    "worker": self.name,
                },
            )
            # A notifier whose lease lapsed (and whose notice was claimed again) leaves the newer
            # attempt's outcome alone; its own attempt stays in the history.
            await notice_store.settle(tx, notice["id"], worker=self.name, attempt=attempt, values=values)

    async def next_due_at(self) -> datetime | None:
        async with self.ctx.db.read() as tx:
            return await notice_store.next_attempt_at(tx)


def _message(ctx: Context, notice: dict[str, Any]) -> Message:
    document = dict(notice["payload"])
    path = document.pop("path", None)
    document["url"] = public_url(ctx, path) if isinstance(path, str) else None
    document["notice_id"] = notice["id"]
    return Message(key=f"tasksched-notice-{notice['id']}", text=notice["text"], document=document)
