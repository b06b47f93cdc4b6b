"""Misfire and overlap rules as pure functions, over fixed times (no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasksched.domain.policies import (
    RUN_ALL_LIMIT,
    ActiveRun,
    DueTask,
    PlannedRun,
    apply_overlap,
    plan_misfire,
    plan_slots,
)
from tasksched.domain.runs import RunStatus
from tasksched.domain.schedules import IntervalSchedule
from tasksched.domain.tasks import ConcurrencyPolicy, MisfirePolicy

ANCHOR = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
QUEUED, SKIPPED, RUNNING = RunStatus.QUEUED, RunStatus.SKIPPED, RunStatus.RUNNING


def due(
    *,
    misfire: MisfirePolicy = MisfirePolicy.RUN_ONCE,
    grace: float = 30,
    overlap: ConcurrencyPolicy = ConcurrencyPolicy.ALLOW,
    seconds: int = 60,
) -> DueTask:
    return DueTask(
        id=7,
        schedule=IntervalSchedule(seconds=seconds),
        next_run_at=ANCHOR + timedelta(seconds=seconds),
        anchor=ANCHOR,
        misfire_policy=misfire,
        misfire_grace=timedelta(seconds=grace),
        concurrency_policy=overlap,
    )


def at(minutes: float) -> datetime:
    return ANCHOR + minutes * MINUTE


def test_a_slot_within_the_grace_is_fired_plainly() -> None:
    plan = plan_misfire(due(misfire=MisfirePolicy.SKIP), at(1) + timedelta(seconds=20))
    assert plan.fire == (PlannedRun(slot=at(1)),)
    assert plan.skipped == ()


def test_run_once_coalesces_missed_slots_into_the_newest() -> None:
    plan = plan_misfire(due(), at(5) + timedelta(seconds=45))  # slots 1..5, all past the grace
    (run,) = plan.fire
    assert run.slot == at(5)
    assert run.reason == (
        "misfire: 5 missed slot(s) (2026-06-01T12:01:00Z to 2026-06-01T12:05:00Z) coalesced into this run"
    )
    assert plan.skipped == ()


def test_run_once_with_an_on_time_slot_records_the_missed_ones_skipped() -> None:
    plan = plan_misfire(due(), at(5) + timedelta(seconds=10))  # slot 5 is on time, 1..4 missed
    assert plan.fire == (PlannedRun(slot=at(5)),)
    (skipped,) = plan.skipped
    assert (skipped.slot, skipped.status) == (at(4), SKIPPED)
    assert skipped.reason is not None
    assert skipped.reason.endswith("not run (covered by an on-time run)")


def test_skip_records_one_skipped_run_for_all_missed_slots() -> None:
    plan = plan_misfire(due(misfire=MisfirePolicy.SKIP), at(3) + timedelta(seconds=45))
    assert plan.fire == ()
    (skipped,) = plan.skipped
    assert skipped.slot == at(3)
    assert skipped.reason is not None
    assert skipped.reason.startswith("misfire: 3 missed slot(s)")
    assert skipped.reason.endswith("(misfire_policy=skip)")


def test_run_all_fires_every_missed_slot_up_to_the_limit() -> None:
    task = due(misfire=MisfirePolicy.RUN_ALL, grace=0, seconds=1)
    now = task.next_run_at + timedelta(seconds=RUN_ALL_LIMIT + 49)  # RUN_ALL_LIMIT + 50 slots in all
    plan = plan_misfire(task, now)
    assert len(plan.fire) == RUN_ALL_LIMIT + 1
    assert all(r.reason == "misfire: late slot run (misfire_policy=run_all)" for r in plan.fire[:-1])
    (beyond,) = plan.skipped
    assert beyond.slot == plan.fire[-1].slot + timedelta(microseconds=1)
    assert beyond.reason == "misfire: 49 more missed slot(s) beyond the run_all limit of 100 not run"


def test_allow_fires_alongside_active_runs() -> None:
    slots = [PlannedRun(slot=at(1)), PlannedRun(slot=at(2))]
    plan = apply_overlap(ConcurrencyPolicy.ALLOW, slots, [ActiveRun(id=3, status=RUNNING)])
    assert plan.runs == tuple(slots)
    assert (plan.cancel_queued, plan.cancel_running) == ((), ())


def test_forbid_skips_while_a_run_is_active_naming_it() -> None:
    plan = apply_overlap(ConcurrencyPolicy.FORBID, [PlannedRun(slot=at(1))], [ActiveRun(3, RUNNING)])
    (run,) = plan.runs
    assert (run.status, run.reason) == (SKIPPED, "overlap: run 3 still active (concurrency_policy=forbid)")


def test_forbid_counts_a_slot_fired_in_the_same_pass() -> None:
    plan = apply_overlap(ConcurrencyPolicy.FORBID, [PlannedRun(slot=at(1)), PlannedRun(slot=at(2))], [])
    assert [r.status for r in plan.runs] == [QUEUED, SKIPPED]
    assert plan.runs[1].reason == "overlap: an earlier slot's run still active (concurrency_policy=forbid)"


def test_replace_keeps_the_newest_slot_and_cancels_the_active_runs() -> None:
    active = [ActiveRun(3, QUEUED), ActiveRun(4, RUNNING)]
    plan = apply_overlap(ConcurrencyPolicy.REPLACE, [PlannedRun(slot=at(1)), PlannedRun(slot=at(2))], active)
    assert [(r.slot, r.status) for r in plan.runs] == [(at(1), SKIPPED), (at(2), QUEUED)]
    assert (plan.cancel_queued, plan.cancel_running) == ((3,), (4,))


@pytest.mark.parametrize("overlap", list(ConcurrencyPolicy))
def test_plan_slots_records_misfire_skips_first_then_the_overlap_decisions(
    overlap: ConcurrencyPolicy,
) -> None:
    task = due(overlap=overlap)
    plan = plan_slots(task, [ActiveRun(3, RUNNING)], at(5) + timedelta(seconds=10))
    assert plan.runs[0].status is SKIPPED  # slots 1..4, missed and covered by the on-time slot 5
    assert plan.runs[0].slot == at(4)
    expected = SKIPPED if overlap is ConcurrencyPolicy.FORBID else QUEUED
    assert [(r.slot, r.status) for r in plan.runs[1:]] == [(at(5), expected)]
    assert plan.cancel_running == ((3,) if overlap is ConcurrencyPolicy.REPLACE else ())
