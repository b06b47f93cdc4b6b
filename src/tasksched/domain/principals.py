"""Who is asking and who made a write: roles, the authenticated caller, and the actor of a write.

Every service write takes an ``Actor`` (the audit log records it): an API key, the command line, or
tasksched itself (the scheduler firing a slot, a worker recording an outcome). A ``Principal`` is an
authenticated API caller; ``principal.actor`` is the actor its writes carry. Both carry the client
address the request came from (``api/clients.py``), which the audit log records with each change.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    def allows(self, needed: Role) -> bool:
        order = [Role.VIEWER, Role.OPERATOR, Role.ADMIN]
        return order.index(self) >= order.index(needed)


ActorKind = Literal["key", "cli", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    name: str
    key_id: int | None = None
    address: str | None = None  # the client's address, for writes that came over HTTP

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


CLI = Actor("cli", "cli")
"""The ``tasksched`` command run on a machine that can reach the database (it needs no key)."""


def system(component: str) -> Actor:
    """tasksched itself: ``system("scheduler")``, ``system("worker host:123")``."""
    return Actor("system", component)


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role
    prefix: str
    address: str | None = None  # set per request: the cached principal of a key has none

    @property
    def actor(self) -> Actor:
        return Actor("key", self.name, self.key_id, self.address)
