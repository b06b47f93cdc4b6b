"""Readiness: is the database reachable, and is its schema the one this code needs."""

from __future__ import annotations

from dataclasses import dataclass

from tasksched.errors import DatabaseUnavailable
from tasksched.services.context import Context
from tasksched.store import migrate


@dataclass(frozen=True)
class Readiness:
    ready: bool
    database: str
    """``ok``, or what is wrong, in words that say what to do."""
    schema: str | None = None


class HealthService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def readiness(self) -> Readiness:
        try:
            current = await migrate.current_revision(self.ctx.db)
        except DatabaseUnavailable as exc:  # the store's words: what to do about it
            return Readiness(False, f"unreachable: {exc.detail}")
        except Exception as exc:  # whatever else the driver raises, the answer is "not ready"
            return Readiness(False, f"unreachable: {type(exc).__name__}")
        head = migrate.head_revision()
        if current != head:
            return Readiness(False, f"schema at {current}, needs {head}: run `tasksched db upgrade`")
        return Readiness(True, "ok", current)

    async def upgrade_schema(self) -> None:
        """Apply the migrations this code brings (safe when several processes start at once)."""
        await migrate.upgrade(self.ctx.db)
