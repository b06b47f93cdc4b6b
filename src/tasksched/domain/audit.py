"""The audit log's shapes: what a change was done to, and one recorded change as callers see it.

Every change a person (an API key, the command line) or tasksched itself on their behalf makes is
recorded with who made it, from where, what it was done to, and the target before and after, with
secrets masked as the API shows them. Run history (slots fired, outcomes recorded) is not: the runs
themselves are that record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

ACTIONS = (
    "task.create",
    "task.update",
    "task.delete",
    "task.pause",
    "task.resume",
    "task.run",
    "run.cancel",
    "key.create",
    "key.revoke",
    "key.sign_in",
)
"""The actions recorded today; a new kind of change adds its own (``<target type>.<verb>``)."""


@dataclass(frozen=True)
class Target:
    """What a change was done to: ``Target("task", 7, "nightly-report")``."""

    type: str
    id: int | None
    name: str | None = None


class AuditActor(BaseModel):
    kind: str = Field(description="`key` (an API key), `cli` (the command line) or `system` (tasksched).")
    name: str
    key_id: int | None = None


class AuditTarget(BaseModel):
    type: str
    id: int | None = None
    name: str | None = None


class AuditEntry(BaseModel):
    """One recorded change."""

    id: int
    at: datetime
    actor: AuditActor
    action: str = Field(description="What was done, as `<target type>.<verb>`: `task.update`.")
    target: AuditTarget
    before: dict[str, Any] | None = Field(description="The target before the change (secrets masked).")
    after: dict[str, Any] | None = Field(description="The target after the change (secrets masked).")
    client_address: str | None = Field(description="Where the request came from (none for the command line).")


def entry_from_row(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=AuditActor(kind=row["actor_kind"], name=row["actor_name"], key_id=row["actor_key_id"]),
        action=row["action"],
        target=AuditTarget(type=row["target_type"], id=row["target_id"], name=row["target_name"]),
        before=row["before"],
        after=row["after"],
        client_address=row["client_address"],
    )
