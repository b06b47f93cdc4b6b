"""What a task's due slots turn into: the misfire and overlap rules, as pure functions.

The scheduler's transaction (``services/firing.py``) reads the due tasks and their active runs, asks
``plan_slots`` what to do, and writes the answer. Nothing here touches the database or a clock: the
rules are unit-tested with fixed times (``tests/unit/test_policies.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tasksched.domain import schedules
from tasksched.domain.base import utc_text
from tasksched.domain.runs import RunStatus
from tasksched.domain.schedules import Schedule
from tasksched.domain.tasks import ConcurrencyPolicy, MisfirePolicy

# run_all fires at most this many missed slots per task after downtime; the rest are recorded skipped.
RUN_ALL_LIMIT = 100


@dataclass(frozen=True)
class DueTask:
    """The fields of a due task that the rules read."""

    id: int
    schedule: Schedule
    next_run_at: datetime  # the first slot not yet fired
    anchor: datetime  # when the schedule was set (interval schedules count from it)
    misfire_policy: MisfirePolicy
    misfire_grace: timedelta
    concurrency_policy: ConcurrencyPolicy


@dataclass(frozen=True)
class ActiveRun:
    """A run of the task that is still queued or running."""

    id: int
    status: RunStatus


@dataclass(frozen=True)
class PlannedRun:
    """A run to record for a slot: queued (to be run) or skipped, with why when it is not plain."""

    slot: datetime
    status: RunStatus = RunStatus.QUEUED
    reason: str | None = None


@dataclass(frozen=True)
class SlotPlan:
    """What one task's due slots turn into, in the order they are to be recorded."""

    runs: tuple[PlannedRun, ...] = ()
    cancel_queued: tuple[int, ...] = ()  # active runs the replace policy cancels before they start
    cancel_running: tuple[int, ...] = ()  # and those it asks to stop


@dataclass(frozen=True)
class MisfirePlan:
    fire: tuple[PlannedRun, ...] = ()  # queued, subject to the overlap rule
    skipped: tuple[PlannedRun, ...] = ()  # recorded as they are


def _skip(slot: datetime, reason: str) -> PlannedRun:
    return PlannedRun(slot=slot, status=RunStatus.SKIPPED, reason=reason)


def plan_misfire(task: DueTask, now: datetime) -> MisfirePlan:
    """The slots from ``task.next_run_at`` to ``now``: which are fired, which are recorded skipped.

    A slot later than the grace is missed: ``run_all`` fires the missed ones too (at most
    ``RUN_ALL_LIMIT``, the rest are counted in one skipped run), ``run_once`` fires the newest one
    in place of all of them unless an on-time slot is fired anyway, ``skip`` records them skipped.
    """
    first, anchor = task.next_run_at, task.anchor
    if first >= now:  # fired on time or ahead: nothing can have been missed (the common case)
        return MisfirePlan(fire=(PlannedRun(slot=first),))
    slots = [first, *schedules.slots_between(task.schedule, first, now, anchor=anchor, limit=RUN_ALL_LIMIT)]
    on_time = [s for s in slots if now - s <= task.misfire_grace]
    missed = [s for s in slots if now - s > task.misfire_grace]
    fire = [PlannedRun(slot=s) for s in on_time]
    if not missed:
        return MisfirePlan(fire=tuple(fire))
    total_missed = len(missed)
    if len(slots) > RUN_ALL_LIMIT:
        total_missed += schedules.count_slots_between(task.schedule, slots[-1], now, anchor=anchor)
    span = f"{utc_text(missed[0])} to {utc_text(missed[-1])}" if len(missed) > 1 else utc_text(missed[0])
    skipped: list[PlannedRun] = []
    if task.misfire_policy is MisfirePolicy.RUN_ALL:
        late = "misfire: late slot run (misfire_policy=run_all)"
        fire = [PlannedRun(slot=s, reason=late) for s in missed] + fire
        if total_missed > len(missed):
            skipped.append(
                _skip(
                    missed[-1] + timedelta(microseconds=1),
                    f"misfire: {total_missed - len(missed)} more missed slot(s) beyond the run_all "
                    f"limit of {RUN_ALL_LIMIT} not run",
                )
            )
    elif task.misfire_policy is MisfirePolicy.RUN_ONCE and not on_time:
        reason = f"misfire: {total_missed} missed slot(s) ({span}) coalesced into this run"
        fire = [PlannedRun(slot=missed[-1], reason=reason)]
    else:
        why = "covered by an on-time run" if on_time else "misfire_policy=skip"
        skipped.append(_skip(missed[-1], f"misfire: {total_missed} missed slot(s) ({span}) not run ({why})"))
    return MisfirePlan(fire=tuple(fire), skipped=tuple(skipped))


def apply_overlap(
    policy: ConcurrencyPolicy, to_fire: Sequence[PlannedRun], active: Sequence[ActiveRun]
) -> SlotPlan:
    """The concurrency policy over the slots to fire, given the task's runs still active.

    ``forbid`` skips a slot while a run is active (an earlier slot fired now counts too); ``replace``
    keeps only the newest slot and cancels the active runs; ``allow`` fires every slot.
    """
    runs: list[PlannedRun] = []
    cancel_queued: list[int] = []
    cancel_running: list[int] = []
    busy = bool(active)
    for index, planned in enumerate(to_fire):
        last = index == len(to_fire) - 1
        if policy is ConcurrencyPolicy.FORBID and busy:
            holder = f"run {active[0].id}" if active else "an earlier slot's run"
            runs.append(_skip(planned.slot, f"overlap: {holder} still active (concurrency_policy=forbid)"))
            continue
        if policy is ConcurrencyPolicy.REPLACE:
            if not last:  # only the newest slot survives a replace
                runs.append(_skip(planned.slot, "overlap: replaced by a newer slot"))
                continue
            cancel_queued.extend(r.id for r in active if r.status is RunStatus.QUEUED)
            cancel_running.extend(r.id for r in active if r.status is RunStatus.RUNNING)
        runs.append(planned)
        busy = True
    return SlotPlan(
        runs=tuple(runs), cancel_queued=tuple(cancel_queued), cancel_running=tuple(cancel_running)
    )


def plan_slots(task: DueTask, active: Sequence[ActiveRun], now: datetime) -> SlotPlan:
    """The misfire rule, then the overlap rule over what it fires."""
    misfire = plan_misfire(task, now)
    overlap = apply_overlap(task.concurrency_policy, misfire.fire, active)
    return SlotPlan(
        runs=misfire.skipped + overlap.runs,
        cancel_queued=overlap.cancel_queued,
        cancel_running=overlap.cancel_running,
    )
