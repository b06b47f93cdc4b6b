"""Event-stream tickets: what a browser puts in the URL of ``GET /api/events`` instead of its key.

EventSource cannot send headers, so the stream must be authorised by something in its URL, where
proxies, logs and browser history may keep it. A ticket is good for that one stream, for a minute,
and only while the key that asked for it is active: ``<key id>.<expiry>.<signature>``, where the
signature is an HMAC-SHA256 over the purpose, key id and expiry (Unix seconds).

Tickets verify themselves, so any API instance behind a load balancer accepts one that another
issued, with nothing kept per process. The signing secret is random and lives in the database, the
one thing all instances share (made by the first instance that needs it). Why not sign with the
key's stored hash instead, which needs no table: anyone holding the key can compute its hash, and so
could mint tickets with any expiry outside the server; and the hash appears in every key lookup's
parameters, where a statement log might show it. The server alone must decide how long a ticket
lives. Deleting the secret's row retires every ticket once processes restart (they live a minute).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from tasksched.domain.principals import Principal
from tasksched.errors import Unauthorized
from tasksched.services.context import Context
from tasksched.store import keys as key_store
from tasksched.store import secrets as secret_store
from tasksched.store.mapping import principal_from_row

TICKET_SECONDS = 60
_SIGNING_ROW = "event_ticket_signing_key"
# Signed along with the rest, so a signature made for another purpose later can never pass as this.
_PURPOSE = "events"
NEW_TICKET_HINT = "POST /api/events/tickets (with 'Authorization: Bearer <API key>') for a new one"


@dataclass(frozen=True)
class EventTicket:
    value: str
    expires_at: datetime


class TicketService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._secret: bytes | None = None

    async def issue(self, principal: Principal) -> EventTicket:
        """A ticket for the event stream, with the rights of ``principal``'s key there and nowhere else."""
        expires = int(self.ctx.clock.now().timestamp()) + TICKET_SECONDS
        payload = f"{principal.key_id}.{expires}"
        signature = await self._sign(payload)
        return EventTicket(f"{payload}.{signature}", datetime.fromtimestamp(expires, UTC))

    async def redeem(self, ticket: str) -> Principal:
        """The caller a ticket stands for; refused when forged, expired or its key is revoked."""
        key_part, _, rest = ticket.partition(".")
        expires_part, _, signature = rest.partition(".")
        if not (key_part.isdigit() and expires_part.isdigit() and signature) or len(ticket) > 200:
            raise Unauthorized(f"the ticket is malformed; {NEW_TICKET_HINT}")
        payload = f"{key_part}.{expires_part}"
        if not hmac.compare_digest(await self._sign(payload), signature):
            raise Unauthorized(f"the ticket is not valid; {NEW_TICKET_HINT}")
        expires_at = datetime.fromtimestamp(int(expires_part), UTC)
        if self.ctx.clock.now() >= expires_at:
            raise Unauthorized(f"the ticket expired at {expires_at:%Y-%m-%dT%H:%M:%SZ}; {NEW_TICKET_HINT}")
        # Looked up every time, not cached: a stream is opened rarely, and a revocation must end
        # its key's tickets at once on every instance.
        async with self.ctx.db.read() as tx:
            row = await key_store.get(tx, int(key_part))
        if row is None or row["revoked_at"] is not None:
            raise Unauthorized("the API key that asked for this ticket is unknown or revoked")
        return principal_from_row(row)

    async def _sign(self, payload: str) -> str:
        mac = hmac.new(await self._signing_key(), f"{_PURPOSE}.{payload}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    async def _signing_key(self) -> bytes:
        if self._secret is None:
            async with self.ctx.db.read() as tx:
                stored = await secret_store.get(tx, _SIGNING_ROW)
            if stored is None:
                async with self.ctx.db.write() as tx:
                    stored = await secret_store.get_or_create(
                        tx, _SIGNING_ROW, secrets.token_hex(32), self.ctx.clock.now()
                    )
            self._secret = stored.encode()  # 64 hex digits: 32 random bytes' worth
        return self._secret
