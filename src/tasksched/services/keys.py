"""API keys: created random, shown once, stored as a SHA-256 hash, checked with a short cache."""

from __future__ import annotations

import structlog

from tasksched.aio import SingleFlight
from tasksched.domain.audit import Target
from tasksched.domain.keys import ApiKey, display_prefix, hash_key, key_problem, new_key
from tasksched.domain.principals import Actor, Principal, Role, system
from tasksched.errors import Conflict, DatabaseUnavailable, InvalidInput, NotFound, Unauthorized
from tasksched.services import audit
from tasksched.services.context import Context
from tasksched.store import keys as key_store
from tasksched.store.mapping import principal_from_row

log = structlog.get_logger("tasksched.keys")

# How long a checked key is trusted without asking the database again; a revocation takes at most
# this long (plus the grace below) to reach every API instance.
AUTH_CACHE_SECONDS = 5.0
# Past that, a request within this grace still gets the cached answer while one lookup refreshes it
# in the background: under load, the refresh would otherwise hold up every request in flight.
AUTH_REFRESH_GRACE_SECONDS = 1.0
BOOTSTRAP = system("bootstrap")
"""The actor of the first admin key, made by a server starting on a database with no key at all."""


class KeyService:
    """Writes take the ``actor`` who asked and record it in the audit log (never the key's value or
    hash). Not logged here: the command line prints a new key on stdout, where a log line would
    land in front of it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lookups: SingleFlight[str, Principal | None] = SingleFlight("looking up an API key")

    async def create(
        self, name: str, role: Role, *, actor: Actor, key: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key and its secret value, which is never stored and never shown again."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput("a key needs a name of 1 to 200 characters", field="name")
        if key is None:
            key = new_key()
        elif (problem := key_problem(key)) is not None:
            raise InvalidInput(problem, field="key")
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            if await key_store.find_active_by_hash(tx, hash_key(key)) is not None:
                raise Conflict("that key value is already in use", field="key")
            row = await key_store.insert(
                tx,
                {
                    "name": name,
                    "prefix": display_prefix(key),
                    "key_hash": hash_key(key),
                    "role": role.value,
                    "created_at": now,
                },
            )
            created = ApiKey.model_validate(row)
            await audit.record(
                tx, actor, "key.create", _target(created), None, audit.key_document(created), at=now
            )
        return created, key

    async def ensure_bootstrap(self, bootstrap_key: str | None) -> str | None:
        """On a first start with no key at all, make an admin key; return its value if made."""
        async with self.ctx.db.read() as tx:
            if await key_store.count(tx) > 0:
                return None
        try:
            _, value = await self.create("bootstrap admin", Role.ADMIN, actor=BOOTSTRAP, key=bootstrap_key)
        except Conflict:
            if bootstrap_key is None:
                raise
            return None  # instances started together: another one made the same key first
        return value

    async def list(self) -> list[ApiKey]:
        # Uses are recorded in the background: the list shows every use this process has seen.
        await self.ctx.settle()
        async with self.ctx.db.read() as tx:
            return [ApiKey.model_validate(r) for r in await key_store.list_(tx)]

    async def revoke(self, key_id: int, *, actor: Actor) -> None:
        """Revoke a key; revoking a revoked key changes nothing, and records nothing."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            row = await key_store.get(tx, key_id)
            if row is None:
                raise NotFound(f"API key {key_id} does not exist")
            if row["revoked_at"] is not None:
                return
            if row["role"] == Role.ADMIN.value and await key_store.count_active_admins(tx) <= 1:
                raise Conflict("this is the last admin key; create another admin key before revoking it")
            await key_store.revoke(tx, key_id, now)
            before = ApiKey.model_validate(row)
            after = before.model_copy(update={"revoked_at": now})
            await audit.record(
                tx,
                actor,
                "key.revoke",
                _target(before),
                audit.key_document(before),
                audit.key_document(after),
                at=now,
            )
        self._cache.clear()

    async def record_sign_in(self, principal: Principal, *, remember: bool) -> None:
        """Record that ``principal``'s key signed a browser in (``POST /api/session``)."""
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as tx:
            row = await key_store.get(tx, principal.key_id)
            if row is None or row["revoked_at"] is not None:
                raise Unauthorized("the API key is unknown or revoked")
            key = ApiKey.model_validate(row)
            await audit.record(
                tx, principal.actor, "key.sign_in", _target(key), None, {"remember": remember}, at=now
            )

    async def authenticate(self, key: str) -> Principal:
        digest = hash_key(key)
        cached = self._cache.get(digest)
        now = self.ctx.clock.monotonic()
        if cached is not None and now < cached[0]:
            principal = cached[1]
        elif cached is not None and now < cached[0] + AUTH_REFRESH_GRACE_SECONDS:
            principal = cached[1]
            self._lookups.start(digest, lambda: self._look_up(digest))  # refreshed in the background
        else:
            # One lookup serves every request waiting for the same key.
            principal = await self._lookups.join(digest, lambda: self._look_up(digest))
        if principal is None:
            raise Unauthorized("the API key is unknown or revoked")
        return principal

    async def _look_up(self, digest: str) -> Principal | None:
        async with self.ctx.db.read() as tx:
            row = await key_store.find_active_by_hash(tx, digest)
        principal = principal_from_row(row) if row else None
        if principal is not None:
            # Recording the use is a write: kept off the path of the requests waiting for this answer.
            self.ctx.spawn(self._touch(principal.key_id))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (self.ctx.clock.monotonic() + AUTH_CACHE_SECONDS, principal)
        return principal

    async def _touch(self, key_id: int) -> None:
        try:
            async with self.ctx.db.write() as tx:
                await key_store.touch(tx, key_id, self.ctx.clock.now())
        except DatabaseUnavailable:
            pass  # the store logs the outage once; the next use records the time
        except Exception as exc:  # a missed "last used" time is no reason to fail anything
            log.warning(
                "recording an API key's use failed", key_id=key_id, error=f"{type(exc).__name__}: {exc}"
            )


def _target(key: ApiKey) -> Target:
    return Target("key", key.id, key.name)
