"""When a task fires: once, every N seconds, or on a cron expression in a time zone.

The models below are the one definition of a schedule's shape; the API and the store reuse them.
The functions compute fire times ("slots"). A slot is the key of a run in the database, so slots
are exact: interval slots are whole-timedelta multiples of their base, cron slots whole seconds.
Cron in a time zone follows Debian cron's DST rule; docs/schedules.md states it.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, ValidationInfo, field_validator, model_validator

from tasksched.domain import cron
from tasksched.domain.base import RequiredTag, StrictModel, from_storage

MAX_JITTER_SECONDS = 86_400
MAX_PREVIEW_COUNT = 100
COUNT_CAP = 1_000
"""Where ``count_slots_between`` stops counting cron slots."""
MAX_DST_NOTES = 12
DST_SCAN = timedelta(days=366)
"""How far ahead previews look for clock changes: a year, whatever the number of times listed."""


EARLIEST_YEAR = 1970
LATEST_YEAR = 9000


def _within_calendar(value: datetime) -> datetime:
    """Keep schedule times where every computation stays inside Python's calendar (years 1-9999).

    Slots are computed up to a year or so past a given time, in UTC and in the schedule's zone;
    near the calendar's edges that overflows. No real schedule needs those years.
    """
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


ScheduleTime = Annotated[AwareDatetime, AfterValidator(_within_calendar)]
"""A timezone-aware time in the years schedules support."""


class OnceSchedule(StrictModel):
    type: Literal["once"] = "once"
    at: ScheduleTime


class _Window(StrictModel):
    start_at: ScheduleTime | None = None
    end_at: ScheduleTime | None = None
    jitter_seconds: float = Field(default=0, ge=0, le=MAX_JITTER_SECONDS)

    @model_validator(mode="after")
    def _window_order(self) -> _Window:
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class IntervalSchedule(_Window):
    type: Literal["interval"] = "interval"
    seconds: int = Field(ge=1, le=366 * 86_400)


class CronSchedule(_Window):
    type: Literal["cron"] = "cron"
    expression: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, value: str, info: ValidationInfo) -> str:
        return cron.normalize_expression(value, stored=from_storage(info))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        cron.load_zone(value)
        return value


Schedule = Annotated[
    OnceSchedule | IntervalSchedule | CronSchedule, Field(discriminator="type"), RequiredTag("type")
]


class FireTime(StrictModel):
    utc: AwareDatetime
    local: AwareDatetime
    """The same instant in the schedule's zone (UTC for once and interval schedules)."""


class SchedulePreview(StrictModel):
    description: str
    timezone: str
    fire_times: list[FireTime]
    dst_notes: list[str]


def check_ahead(schedule: Schedule | None, now: datetime) -> tuple[str, str] | None:
    """Why ``schedule`` has nothing ahead of ``now`` and would be saved to never run, as (the field
    at fault, a message); None when it can still fire (or is no schedule).

    A once schedule's ``at`` and any ``end_at`` must lie after ``now``. It is a check against the
    clock, so it applies to a schedule being set: one saved while still ahead stays valid after its
    time has passed (the task ran, or its run is recorded).
    """
    if schedule is None:
        return None
    field, moment = ("at", schedule.at) if isinstance(schedule, OnceSchedule) else ("end_at", schedule.end_at)
    if moment is None or moment > now:
        return None
    what = "a once schedule" if field == "at" else "a schedule that has ended"
    return field, (
        f"{_when(moment)} is not in the future (the server's time is {_when(now)}); {what} would never "
        "run: choose a later time, or save the task without a schedule and run it on demand"
    )


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


# --- slots --------------------------------------------------------------------------------------


def _interval_base(schedule: IntervalSchedule, anchor: datetime) -> tuple[datetime, int]:
    """Slot k is ``base + k * seconds`` for k >= the returned minimum."""
    if schedule.start_at is not None:
        return schedule.start_at, 0
    return anchor, 1


def _interval_index_after(schedule: IntervalSchedule, after: datetime, anchor: datetime) -> int:
    """The smallest k whose slot is strictly after ``after`` (integer arithmetic, no iteration)."""
    base, first = _interval_base(schedule, anchor)
    elapsed_us = (after - base) // timedelta(microseconds=1)
    return max(first, elapsed_us // (schedule.seconds * 1_000_000) + 1)


def _interval_slot(schedule: IntervalSchedule, anchor: datetime, k: int) -> datetime:
    base, _ = _interval_base(schedule, anchor)
    return (base + k * timedelta(seconds=schedule.seconds)).astimezone(UTC)


def _iter_slots(schedule: Schedule, after: datetime, anchor: datetime) -> Iterator[datetime]:
    """Every slot strictly after ``after``, oldest first, in UTC (ends when the schedule does)."""
    _require_aware("after", after)
    _require_aware("anchor", anchor)
    if isinstance(schedule, OnceSchedule):
        if schedule.at > after:
            yield schedule.at.astimezone(UTC)
        return
    end_at = schedule.end_at
    if end_at is not None and end_at <= after:
        return
    if isinstance(schedule, IntervalSchedule):
        first = _interval_index_after(schedule, after, anchor)
        slots: Iterator[datetime] = (_interval_slot(schedule, anchor, k) for k in itertools.count(first))
    else:
        lower = after
        if schedule.start_at is not None:
            # Slots are whole seconds: "strictly after start_at - 1µs" is "at or after start_at".
            lower = max(after, schedule.start_at - timedelta(microseconds=1))
        rule = cron.compile_rule(schedule.expression)
        slots = cron.fire_times(rule, cron.load_zone(schedule.timezone), lower)
    for slot in slots:
        if end_at is not None and slot > end_at:
            return
        yield slot


def next_fire_after(schedule: Schedule, after: datetime, *, anchor: datetime) -> datetime | None:
    """The first slot strictly after ``after`` in UTC, or None when the schedule has no more.

    ``anchor`` is when the schedule was set; interval schedules without ``start_at`` count from it.
    """
    if not isinstance(schedule, CronSchedule):
        return next(_iter_slots(schedule, after, anchor), None)
    # A cron slot depends on nothing else (the anchor counts interval slots only), and when 100,000
    # tasks share `* * * * *`, firing them asks this 100,000 times alike: remembered.
    key = (schedule.expression, schedule.timezone, schedule.start_at, schedule.end_at, after)
    if (known := _NEXT_CRON.get(key, _UNKNOWN)) is not _UNKNOWN:
        return known  # type: ignore[return-value]
    found = next(_iter_slots(schedule, after, anchor), None)
    if len(_NEXT_CRON) >= _NEXT_CRON_SIZE:
        _NEXT_CRON.clear()
    _NEXT_CRON[key] = found
    return found


_NEXT_CRON: dict[tuple[object, ...], datetime | None] = {}
_NEXT_CRON_SIZE = 1024
_UNKNOWN = object()


def slots_between(
    schedule: Schedule, after: datetime, until: datetime, *, anchor: datetime, limit: int
) -> list[datetime]:
    """Slots in ``(after, until]``, oldest first, at most ``limit`` of them."""
    _require_aware("until", until)
    if limit < 0:
        raise ValueError("limit must be >= 0")
    slots = itertools.takewhile(lambda slot: slot <= until, _iter_slots(schedule, after, anchor))
    return list(itertools.islice(slots, limit))


def count_slots_between(
    schedule: Schedule, after: datetime, until: datetime, *, anchor: datetime, cap: int = COUNT_CAP
) -> int:
    """How many slots fall in ``(after, until]``.

    Exact and O(1) for once and interval schedules. For cron the slots are walked one by one, so
    counting stops at ``cap``: a result equal to ``cap`` means "``cap`` or more".
    """
    _require_aware("until", until)
    if isinstance(schedule, IntervalSchedule):
        _require_aware("after", after)
        _require_aware("anchor", anchor)
        if schedule.end_at is not None:
            until = min(until, schedule.end_at)
        if until <= after:
            return 0
        first = _interval_index_after(schedule, after, anchor)
        # Slots at or before `until` are those before the first slot strictly after it.
        return max(0, _interval_index_after(schedule, until, anchor) - first)
    return len(slots_between(schedule, after, until, anchor=anchor, limit=cap))


def jitter_offset(schedule: Schedule, key: str) -> float:
    """A stable offset in ``[0, jitter_seconds)`` for ``key`` (e.g. task id and slot).

    SHA-256 rather than ``hash()``: every process must pick the same offset for the same key.
    """
    if isinstance(schedule, OnceSchedule) or schedule.jitter_seconds <= 0:
        return 0.0
    digest = hashlib.sha256(key.encode()).digest()
    fraction = (int.from_bytes(digest[:8], "big") >> 11) / float(1 << 53)
    # A product can round up to the bound itself; the range is half-open.
    return min(fraction * schedule.jitter_seconds, math.nextafter(schedule.jitter_seconds, 0.0))


# --- words --------------------------------------------------------------------------------------

_UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def _duration(seconds: int) -> str:
    parts: list[str] = []
    for unit, size in _UNITS:
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def _when(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC" if utc.second or utc.microsecond else "%Y-%m-%d %H:%M UTC")


def _window_words(schedule: IntervalSchedule | CronSchedule) -> str:
    words = ""
    if schedule.start_at is not None:
        words += f", from {_when(schedule.start_at)}"
    if schedule.end_at is not None:
        words += f", until {_when(schedule.end_at)}"
    jitter = schedule.jitter_seconds
    if jitter > 0:
        amount = _duration(int(jitter)) if jitter == int(jitter) else f"{jitter:g} seconds"
        words += f", with up to {amount} of jitter"
    return words


def describe(schedule: Schedule) -> str:
    """Human words for a schedule, e.g. "every 2 hours" or "At 09:00 on weekdays (Europe/Berlin)"."""
    if isinstance(schedule, OnceSchedule):
        return f"once at {_when(schedule.at)}"
    if isinstance(schedule, IntervalSchedule):
        seconds = schedule.seconds
        unit = next((unit for unit, size in _UNITS if seconds == size), None)
        every = f"every {unit}" if unit else f"every {_duration(seconds)}"
        return every + _window_words(schedule)
    try:
        text = cron.explain(schedule.expression)
    except Exception:
        text = schedule.expression
    return f"{text} ({schedule.timezone}){_window_words(schedule)}"


# --- preview ------------------------------------------------------------------------------------


def preview(
    schedule: Schedule, *, count: int, after: datetime, anchor: datetime | None = None
) -> SchedulePreview:
    """The next ``count`` (1-100) fire times, a description and notes on the DST changes ahead.

    The notes cover the 12 months after ``after`` (``DST_SCAN``) whatever ``count`` is: ten daily
    times stop long before the next change, and the change is what the reader needs to hear about.
    Only cron schedules get notes; once and interval schedules are not moved by clock changes.
    ``anchor`` defaults to ``after``: an interval schedule set now counts from now.
    """
    if not 1 <= count <= MAX_PREVIEW_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_PREVIEW_COUNT}")
    _require_aware("after", after)
    slots = list(itertools.islice(_iter_slots(schedule, after, anchor or after), count))
    if not isinstance(schedule, CronSchedule):
        return SchedulePreview(
            description=describe(schedule),
            timezone="UTC",
            fire_times=[FireTime(utc=slot, local=slot) for slot in slots],
            dst_notes=[],
        )
    zone = cron.load_zone(schedule.timezone)
    return SchedulePreview(
        description=describe(schedule),
        timezone=schedule.timezone,
        fire_times=[FireTime(utc=slot, local=slot.astimezone(zone)) for slot in slots],
        dst_notes=dst_notes(schedule, after),
    )


def dst_notes(schedule: CronSchedule, after: datetime) -> list[str]:
    """One sentence per clock change of the schedule's zone in the 12 months after ``after`` (at
    most ``MAX_DST_NOTES``), saying what the change does to this schedule."""
    _require_aware("after", after)
    zone = cron.load_zone(schedule.timezone)
    changes = cron.transitions(zone, after, after + DST_SCAN, limit=MAX_DST_NOTES)
    rule = cron.compile_rule(schedule.expression)
    return [cron.dst_note(rule, schedule.timezone, change) for change in changes]


# --- upcoming -----------------------------------------------------------------------------------

MAX_UPCOMING_WINDOW = timedelta(days=8)
MAX_UPCOMING_ITEMS = 5_000


@dataclass(frozen=True, slots=True)
class Planned:
    """A schedule whose upcoming slots are asked for; ``key`` names it to the caller."""

    key: int
    read: Callable[[], Schedule]
    """Gives the schedule; called only when its slots are needed (parsing 10,000 costs too)."""
    anchor: datetime
    """When the schedule was set (interval schedules without ``start_at`` count from it)."""
    next_slot: datetime | None = None
    """The first slot not yet fired, when known (a task's ``next_run_at``): the slots before it have
    fired, and it is taken as a slot without being computed again."""


def upcoming(
    planned: Iterable[Planned], start: datetime, end: datetime, *, limit: int
) -> tuple[list[tuple[datetime, int]], bool]:
    """The slots of every schedule in ``[start, end)``, soonest first (ties by key), at most ``limit``,
    and whether any were left out.

    Lazy on both counts: a schedule joins the merge only once the merge has reached its next slot
    (schedules come sorted by it), and its slots are computed one at a time as they are taken. So
    the cost follows the ``limit`` slots answered, not the number of schedules or their cadence.
    """
    _require_aware("start", start)
    _require_aware("end", end)
    if limit < 0:
        raise ValueError("limit must be >= 0")

    def lower_bound(item: Planned) -> datetime:
        return start if item.next_slot is None else max(start, item.next_slot)

    waiting = sorted(planned, key=lambda item: (lower_bound(item), item.key))
    # (slot, key, position in `waiting`); a schedule's slot iterator starts when its first slot is taken.
    heap: list[tuple[datetime, int, int]] = []
    streams: dict[int, Iterator[datetime]] = {}

    def join(position: int) -> None:
        item = waiting[position]
        if item.next_slot is not None and item.next_slot >= start:
            first: datetime | None = item.next_slot
        else:
            stream = _iter_slots(item.read(), start - timedelta(microseconds=1), item.anchor)
            streams[position] = stream
            first = next(stream, None)
        if first is not None and first < end:
            heapq.heappush(heap, (first, item.key, position))

    found: list[tuple[datetime, int]] = []
    joined = 0
    while len(found) <= limit:
        # Every schedule that could still give a slot at or before the soonest one taken so far joins.
        while joined < len(waiting) and (not heap or lower_bound(waiting[joined]) <= heap[0][0]):
            join(joined)
            joined += 1
        if not heap:
            break
        slot, key, position = heapq.heappop(heap)
        found.append((slot, key))
        stream = streams.get(position)
        if stream is None:
            item = waiting[position]
            stream = streams[position] = _iter_slots(item.read(), slot, item.anchor)
        following = next(stream, None)
        if following is not None and following < end:
            heapq.heappush(heap, (following, key, position))
    return found[:limit], len(found) > limit
