"""The fire-ahead lead: how early a crowded instant starts firing."""

from __future__ import annotations

from datetime import timedelta

from tasksched.scheduler.fire_ahead import INITIAL_RATE, MARGIN, FireAhead
from tasksched.services.firing import LOOKAHEAD


def test_a_lone_slot_is_fired_the_usual_second_ahead() -> None:
    ahead = FireAhead(timedelta(seconds=30))
    assert ahead.lead_for(0) == LOOKAHEAD
    assert ahead.lead_for(1) < LOOKAHEAD + timedelta(seconds=0.01)


def test_a_crowd_is_fired_as_early_as_its_firing_takes_with_a_margin() -> None:
    ahead = FireAhead(timedelta(seconds=30))
    ahead.rate = 1000.0
    assert ahead.lead_for(5000) == LOOKAHEAD + timedelta(seconds=MARGIN * 5)
    assert ahead.lead == LOOKAHEAD + timedelta(seconds=MARGIN * 5)  # the next passes use it


def test_the_lead_stops_at_the_limit_and_the_count_with_it() -> None:
    ahead = FireAhead(timedelta(seconds=10))
    ahead.rate = 100.0
    assert ahead.lead_for(1_000_000) == timedelta(seconds=10)
    # Counting past what fills the limit cannot change the answer.
    assert ahead.lead_for(ahead.crowd_cap) == timedelta(seconds=10)
    assert ahead.crowd_cap <= 100 * 10 / MARGIN + 1


def test_a_limit_below_the_usual_second_is_the_usual_second() -> None:
    assert FireAhead(timedelta(seconds=0)).lead_for(10_000) == LOOKAHEAD


def test_the_rate_follows_large_passes_and_ignores_small_ones() -> None:
    ahead = FireAhead(timedelta(seconds=30))
    ahead.measured(5, 1.0)  # a round trip, not a rate
    assert ahead.rate == INITIAL_RATE
    for _ in range(30):
        ahead.measured(1000, 0.25)
    assert abs(ahead.rate - 4000) < 1
    ahead.measured(1000, 0.0)  # a frozen clock measures nothing
    assert abs(ahead.rate - 4000) < 1
