"""The audit log: ``record`` writes one change in the caller's transaction; ``AuditService`` reads.

Every write a person asks for (an API key over HTTP, the command line on the database) calls
``record`` inside the transaction that makes the change, so the change and its row commit or roll
back together: there is no change without its row, and no row for a change that did not happen.

What is not recorded: the scheduler firing slots and workers claiming, finishing, releasing or
reaping runs. Those are run history (many rows a minute on a busy server), and the runs table is
already their record; the audit log is for what people did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tasksched.domain.audit import AuditEntry, Target, entry_from_row
from tasksched.domain.keys import ApiKey
from tasksched.domain.principals import Actor
from tasksched.domain.runs import Run
from tasksched.domain.secrets import mask_action
from tasksched.errors import InvalidInput
from tasksched.services.context import Context
from tasksched.store import Tx
from tasksched.store import audit as audit_store

PRUNE_BATCH = 1000


async def record(
    tx: Tx,
    actor: Actor,
    action: str,
    target: Target,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    at: datetime,
) -> None:
    """Append one change to the log, in ``tx`` (the transaction of the change itself).

    ``before`` and ``after`` are the target as callers see it (``task_document``, ``key_document``,
    ``run_document``). A task's action is masked here again, so a raw row passed by mistake still
    records no secret.
    """
    await audit_store.insert(
        tx,
        {
            "at": at,
            "actor_kind": actor.kind,
            "actor_name": actor.name,
            "actor_key_id": actor.key_id,
            "action": action,
            "target_type": target.type,
            "target_id": target.id,
            "target_name": target.name,
            "before": _masked(before),
            "after": _masked(after),
            "client_address": actor.address,
        },
    )


def _masked(document: dict[str, Any] | None) -> dict[str, Any] | None:
    if document is None or not isinstance(document.get("action"), dict):
        return document
    return {**document, "action": mask_action(document["action"])}


def key_document(key: ApiKey) -> dict[str, Any]:
    """A key as the log keeps it: never its value or hash (``ApiKey`` holds neither), nor its last
    use (a use is not a change)."""
    return key.model_dump(mode="json", exclude={"last_used_at"})


def run_document(run: Run) -> dict[str, Any]:
    """A run as the log keeps it: its state, not its output."""
    return run.model_dump(
        mode="json",
        include={"id", "task_id", "task_name", "trigger", "scheduled_for", "attempt", "status", "reason"}
        | {"cancel_requested"},
    )


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    actor_kind: str | None = None
    actions: Sequence[str] = ()
    target_type: str | None = None
    target_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None  # the id of the last entry of the previous page
    limit: int = 50


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEntry]
    next_before: int | None  # pass as ``before`` for the next (older) page; None on the last


class AuditService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def list(self, query: AuditQuery) -> AuditPage:
        if query.since is not None and query.until is not None and query.since >= query.until:
            raise InvalidInput("since must be earlier than until", field="since")
        async with self.ctx.db.read() as tx:
            # One row more than asked for says whether another page follows.
            rows = await audit_store.list_(
                tx,
                actor=query.actor,
                actor_kind=query.actor_kind,
                actions=query.actions,
                target_type=query.target_type,
                target_id=query.target_id,
                since=query.since,
                until=query.until,
                before_id=query.before,
                limit=query.limit + 1,
            )
        items = [entry_from_row(r) for r in rows[: query.limit]]
        return AuditPage(items, items[-1].id if len(rows) > query.limit else None)

    async def prune(self, *, batch: int = PRUNE_BATCH, max_batches: int = 100) -> int:
        """Delete entries older than ``TASKSCHED_AUDIT_RETENTION_DAYS``, one short transaction per
        batch (the log is never locked for long); returns how many went. Called by whatever prunes
        history periodically; a backlog larger than ``batch * max_batches`` goes on the next call."""
        older_than = self.ctx.clock.now() - timedelta(days=self.ctx.settings.audit_retention_days)
        pruned = 0
        for _ in range(max_batches):
            async with self.ctx.db.write() as tx:
                deleted = await audit_store.prune(tx, older_than, batch)
            pruned += deleted
            if deleted < batch:
                break
        return pruned
