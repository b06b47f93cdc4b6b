"""How far ahead of a crowded instant the scheduler starts queueing its slots.

Queueing a slot's run takes the scheduler time (a few hundred microseconds a slot on PostgreSQL),
so 100,000 tasks due at :00 cannot all be queued in the second before it. Rather than firing them
late, the scheduler measures its own firing rate and, before it sleeps, counts the crowd at the next
due instant: the lead is the time that crowd takes to fire, with a margin, within the operator's
limit (``TASKSCHED_SCHEDULER_FIRE_AHEAD_SECONDS``). A run fired ahead still becomes claimable at its
slot, never before, and pausing the task or changing its schedule withdraws it.
"""

from __future__ import annotations

from datetime import timedelta

from tasksched.services.firing import LOOKAHEAD

# Before any pass has been measured: a slow machine's rate, so the first crowd is not fired late.
INITIAL_RATE = 500.0
# Passes smaller than this say more about the round trip than about the rate.
MEASURED_FROM = 100
# New measurements weigh this much against the running estimate.
WEIGHT = 0.3
# Firing a crowd may go slower than measured (a second scheduler, a busy database): aim early.
MARGIN = 2.0


class FireAhead:
    def __init__(self, limit: timedelta) -> None:
        self.limit = max(limit, LOOKAHEAD)
        self.rate = INITIAL_RATE  # slots fired per second
        self.lead = LOOKAHEAD  # how far ahead the next passes fire

    def measured(self, slots: int, seconds: float) -> None:
        """One firing pass fired ``slots`` slots in ``seconds``."""
        if slots < MEASURED_FROM or seconds <= 0:
            return
        self.rate += WEIGHT * (slots / seconds - self.rate)

    @property
    def crowd_cap(self) -> int:
        """Counting a crowd beyond this many slots cannot lengthen the lead."""
        return max(1, int(self.rate * self.limit.total_seconds() / MARGIN) + 1)

    def lead_for(self, crowd: int) -> timedelta:
        """The lead that fires ``crowd`` slots in time; it is also the one the next passes use."""
        needed = LOOKAHEAD + timedelta(seconds=MARGIN * crowd / self.rate)
        self.lead = min(max(needed, LOOKAHEAD), self.limit)
        return self.lead
