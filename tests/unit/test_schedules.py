"""Schedule rules: validation, slots, jitter, words, previews and the DST rule (docs/schedules.md)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import cronsim
import pytest
from pydantic import TypeAdapter, ValidationError

from tasksched.domain.base import STORED
from tasksched.domain.cron import ordinal
from tasksched.domain.schedules import (
    COUNT_CAP,
    CronSchedule,
    IntervalSchedule,
    OnceSchedule,
    Planned,
    Schedule,
    check_ahead,
    count_slots_between,
    describe,
    jitter_offset,
    next_fire_after,
    preview,
    slots_between,
    upcoming,
)

T0 = datetime(2027, 1, 1, tzinfo=UTC)
NEW_YORK, LONDON, LORD_HOWE = "America/New_York", "Europe/London", "Australia/Lord_Howe"


def cron(expression: str, timezone: str = "UTC", **window: datetime | float) -> CronSchedule:
    return CronSchedule.model_validate({"expression": expression, "timezone": timezone, **window})


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# --- clock changes, found with zoneinfo rather than written down ---------------------------------


@dataclass(frozen=True)
class Change:
    zone: ZoneInfo
    at: datetime
    before: timedelta
    after: timedelta

    @property
    def forward(self) -> bool:
        return self.after > self.before

    @property
    def wall_before(self) -> datetime:
        return (self.at + self.before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        return (self.at + self.after).replace(tzinfo=None)

    @property
    def odd_interval_middle(self) -> datetime:
        """A naive wall time in the middle of the skipped or repeated interval."""
        low, high = sorted((self.wall_before, self.wall_after))
        return low + (high - low) / 2


def changes(zone_name: str, year: int) -> list[Change]:
    zone = ZoneInfo(zone_name)
    found: list[Change] = []
    moment = utc(year, 1, 1)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        later = moment + timedelta(hours=1)
        later_offset = later.astimezone(zone).utcoffset()
        if later_offset != offset:
            at = moment
            while at.astimezone(zone).utcoffset() == offset:
                at += timedelta(minutes=1)
            assert offset is not None
            assert later_offset is not None
            found.append(Change(zone, at, offset, later_offset))
        moment, offset = later, later_offset
    return found


def change(zone_name: str, year: int, *, forward: bool) -> Change:
    (found,) = [c for c in changes(zone_name, year) if c.forward == forward]
    return found


ZONE_YEARS = [(zone, year) for zone in (NEW_YORK, LONDON, LORD_HOWE) for year in (2026, 2027)]


def test_the_clock_changes_found_are_the_known_ones() -> None:
    ny = change(NEW_YORK, 2027, forward=True)
    assert (ny.wall_before, ny.wall_after) == (datetime(2027, 3, 14, 2), datetime(2027, 3, 14, 3))
    lh = change(LORD_HOWE, 2026, forward=True)
    assert (lh.wall_before, lh.wall_after) == (datetime(2026, 10, 4, 2), datetime(2026, 10, 4, 2, 30))
    for zone, year in ZONE_YEARS:
        assert len(changes(zone, year)) == 2


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute field: 61 is out of range (0-59)"),
        ("0 24 * * *", "hour field: 24 is out of range (0-23)"),
        ("0 0 0 * *", "day-of-month field: 0 is out of range (1-31)"),
        ("0 0 * 13 *", "month field: 13 is out of range (1-12)"),
        ("0 0 * * 8", "day-of-week field: 8 is out of range (0-7)"),
        ("60 0 0 * * *", "second field: 60 is out of range (0-59)"),
        ("* * * *", "expected 5 fields"),
        ("* * * * * * *", "got 7"),
        ("5-1 * * * *", "minute field: range '5-1' runs backwards"),
        ("*/0 * * * *", "minute field: step '0'"),
        ("1,,2 * * * *", "minute field: empty item"),
        ("x * * * *", "minute field: 'x' is not a number"),
        ("0 0 * FOO *", "month field: 'FOO' is not a number or a name"),
        ("0 0 * * FRIL", "day-of-week field: 'FRIL' needs a weekday number before L"),
        ("0 0 * * MON#6", "day-of-week field: in 'MON#6' the number after # must be 1-5"),
        ("0 0 L-2 * *", "day-of-month field: 'L' is not a number"),
        ("0 0 ? * *", "day-of-month field"),
        ("@reboot", "unknown macro '@reboot'"),
        # Steps beyond the field read as "every 61st minute" but fire only at the field's first value.
        ("*/61 * * * *", "minute field: step 61 in '*/61' is out of range (1-60)"),
        ("*/99999999999999999999 * * * *", "minute field: step 99999999999999999999 in"),
        ("0 */25 * * *", "hour field: step 25 in '*/25' is out of range (1-24)"),
        ("0 0 */32 * *", "day-of-month field: step 32 in '*/32' is out of range (1-31)"),
        ("0 0 * 1-6/13 *", "month field: step 13 in '1-6/13' is out of range (1-12)"),
        ("0 0 * * */8", "day-of-week field: step 8 in '*/8' is out of range (1-7)"),
        ("*/61 * * * * *", "second field: step 61 in '*/61' is out of range (1-60)"),
        ("10-20/100 * * * *", "minute field: step 100 in '10-20/100' is out of range (1-60)"),
        ("*/\uff15 * * * *", "must be a whole number from 1 to 60"),  # a full-width 5
        ("*/\u00b2 * * * *", "must be a whole number from 1 to 60"),  # superscript 2: int() refuses it
        ("0 0 * * MON#\uff12", "the number after # must be 1-5"),
        ("0 0 30 2 *", "can never fire: day-of-month '30' does not occur in month '2'"),
        ("0 0 31 4 *", "can never fire"),
        ("0 0 31 2,4,6 *", "can never fire"),
    ],
)
def test_bad_expressions_are_refused_with_the_reason(expression: str, message: str) -> None:
    with pytest.raises(ValidationError, match="expression") as caught:
        cron(expression)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "expression",
    ["0 0 29 2 *", "0 0 * 2 MON#5", "0 0 30 2 MON", "0 0 L * *", "0 0 LW * *", "0 0 * * 5L", "0 0 * * 7"],
)
def test_rare_but_possible_expressions_are_accepted(expression: str) -> None:
    assert next_fire_after(cron(expression), T0, anchor=T0) is not None


@pytest.mark.parametrize(
    "expression",
    ["*/60 * * * *", "0 */24 * * *", "0 0 */31 * *", "0 0 * */12 *", "0 0 * * */7", "*/60 * * * * *"],
)
def test_a_step_as_large_as_its_field_is_accepted(expression: str) -> None:
    assert next_fire_after(cron(expression), T0, anchor=T0) is not None


def test_a_stored_step_beyond_its_field_still_loads() -> None:
    """Saved before the step check existed: reading the row back must not fail (docs/schedules.md)."""
    stored = {"type": "cron", "expression": "*/61 * * * *"}
    schedule = TypeAdapter(Schedule).validate_python(stored, context=STORED)
    assert next_fire_after(schedule, T0, anchor=T0) == utc(2027, 1, 1, 1)


def test_expression_whitespace_is_collapsed_and_the_result_round_trips() -> None:
    schedule = cron("  0   9 * *\tmon-fri ")
    assert schedule.expression == "0 9 * * mon-fri"
    adapter: TypeAdapter[Schedule] = TypeAdapter(Schedule)
    assert adapter.validate_json(adapter.dump_json(schedule)) == schedule


@pytest.mark.parametrize(
    ("macro", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_macros_are_kept_and_fire_like_their_fields(macro: str, fields: str) -> None:
    schedule = cron(macro.upper(), NEW_YORK)
    assert schedule.expression == macro
    assert cron(schedule.expression, NEW_YORK) == schedule
    until = T0 + timedelta(days=800)
    assert slots_between(schedule, T0, until, anchor=T0, limit=50) == slots_between(
        cron(fields, NEW_YORK), T0, until, anchor=T0, limit=50
    )


def test_six_fields_put_seconds_first() -> None:
    assert next_fire_after(cron("30 0 9 * * *"), T0, anchor=T0) == utc(2027, 1, 1, 9, 0, 30)
    every_ten = slots_between(cron("*/10 * * * * *"), T0, T0 + timedelta(seconds=30), anchor=T0, limit=9)
    assert every_ten == [T0 + timedelta(seconds=s) for s in (10, 20, 30)]


@pytest.mark.parametrize("name", ["Mars/Base", "", "../etc", "/etc/localtime", "localtime", "utc", "Europe/"])
def test_unknown_time_zones_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        cron("0 9 * * *", name)


def test_time_zone_defaults_to_utc_and_accepts_iana_names() -> None:
    assert CronSchedule(expression="0 9 * * *").timezone == "UTC"
    assert cron("0 9 * * *", "Europe/Berlin").timezone == "Europe/Berlin"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="after must be a timezone-aware"):
        next_fire_after(cron("* * * * *"), datetime(2027, 1, 1), anchor=T0)
    with pytest.raises(ValueError, match="anchor"):
        next_fire_after(IntervalSchedule(seconds=5), T0, anchor=datetime(2027, 1, 1))


# --- once ----------------------------------------------------------------------------------------


def test_once_fires_at_its_time_and_never_again() -> None:
    at = datetime(2027, 1, 1, 10, tzinfo=timezone(timedelta(hours=1)))
    schedule = OnceSchedule(at=at)
    slot = next_fire_after(schedule, T0, anchor=T0)
    assert slot == utc(2027, 1, 1, 9)
    assert slot is not None
    assert slot.tzinfo is UTC
    assert next_fire_after(schedule, at, anchor=T0) is None
    assert count_slots_between(schedule, T0, utc(2028, 1, 1), anchor=T0) == 1
    assert jitter_offset(schedule, "task-1") == 0.0


# --- interval ------------------------------------------------------------------------------------


def test_interval_without_start_counts_from_the_anchor_excluding_it() -> None:
    schedule = IntervalSchedule(seconds=60)
    anchor = utc(2027, 1, 1, 12, 0, 0)
    assert next_fire_after(schedule, anchor - timedelta(hours=1), anchor=anchor) == anchor + timedelta(
        minutes=1
    )
    assert next_fire_after(schedule, anchor, anchor=anchor) == anchor + timedelta(minutes=1)
    assert next_fire_after(schedule, anchor + timedelta(seconds=60), anchor=anchor) == anchor + timedelta(
        minutes=2
    )
    assert next_fire_after(schedule, anchor + timedelta(seconds=61), anchor=anchor) == anchor + timedelta(
        minutes=2
    )


def test_interval_with_start_counts_from_start_including_it() -> None:
    start = utc(2027, 1, 1, 12)
    schedule = IntervalSchedule(seconds=3600, start_at=start)
    assert next_fire_after(schedule, T0, anchor=utc(2026, 5, 5)) == start
    assert next_fire_after(schedule, start, anchor=T0) == start + timedelta(hours=1)
    assert next_fire_after(schedule, start + timedelta(minutes=90), anchor=T0) == start + timedelta(hours=2)


def test_interval_end_is_inclusive_and_final() -> None:
    start = utc(2027, 1, 1, 12)
    schedule = IntervalSchedule(seconds=3600, start_at=start, end_at=start + timedelta(hours=2))
    assert next_fire_after(schedule, start, anchor=T0) == start + timedelta(hours=1)
    assert next_fire_after(schedule, start + timedelta(hours=1), anchor=T0) == start + timedelta(hours=2)
    assert next_fire_after(schedule, start + timedelta(hours=2), anchor=T0) is None


def test_interval_slots_are_exact_far_from_the_anchor() -> None:
    anchor = datetime(2027, 1, 1, 12, 0, 0, 123_457, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    schedule = IntervalSchedule(seconds=7)
    k = 4_000_000_000 // 7  # about 126 years of 7-second slots, computed without stepping
    after = anchor + k * timedelta(seconds=7) - timedelta(microseconds=1)
    slot = next_fire_after(schedule, after, anchor=anchor)
    assert slot == anchor + k * timedelta(seconds=7)
    assert slot is not None
    assert slot.microsecond == 123_457
    assert slot.utcoffset() == timedelta(0)
    assert next_fire_after(schedule, slot, anchor=anchor) == slot + timedelta(seconds=7)


def test_slots_between_is_half_open_and_limited() -> None:
    schedule = IntervalSchedule(seconds=10, start_at=T0)
    slots = slots_between(schedule, T0, T0 + timedelta(seconds=50), anchor=T0, limit=100)
    assert slots == [T0 + timedelta(seconds=s) for s in (10, 20, 30, 40, 50)]
    assert slots_between(schedule, T0, T0 + timedelta(seconds=50), anchor=T0, limit=2) == slots[:2]
    assert slots_between(schedule, T0, T0 + timedelta(seconds=50), anchor=T0, limit=0) == []
    assert slots_between(schedule, T0, T0, anchor=T0, limit=5) == []
    with pytest.raises(ValueError, match="limit"):
        slots_between(schedule, T0, T0, anchor=T0, limit=-1)


@pytest.mark.parametrize(
    "schedule",
    [
        IntervalSchedule(seconds=7),
        IntervalSchedule(seconds=60, start_at=utc(2027, 1, 1, 0, 3, 30)),
        IntervalSchedule(seconds=45, start_at=utc(2026, 12, 31), end_at=utc(2027, 1, 1, 0, 20)),
    ],
)
def test_interval_count_matches_the_listed_slots(schedule: IntervalSchedule) -> None:
    anchor = utc(2026, 12, 31, 23, 59, 58)
    for start_minute in range(0, 30, 3):
        after = T0 + timedelta(minutes=start_minute, seconds=start_minute)
        for length in (0, 1, 7, 45, 600, 1799):
            until = after + timedelta(seconds=length)
            listed = slots_between(schedule, after, until, anchor=anchor, limit=10_000)
            assert count_slots_between(schedule, after, until, anchor=anchor) == len(listed)


def test_interval_count_is_exact_for_long_downtime() -> None:
    schedule = IntervalSchedule(seconds=1)
    until = T0 + timedelta(days=3650)
    assert count_slots_between(schedule, T0, until, anchor=T0) == 3650 * 86_400


def test_cron_count_stops_at_the_cap() -> None:
    every_minute = cron("* * * * *")
    assert count_slots_between(every_minute, T0, T0 + timedelta(hours=1), anchor=T0) == 60
    assert count_slots_between(every_minute, T0, T0 + timedelta(days=30), anchor=T0) == COUNT_CAP
    assert count_slots_between(every_minute, T0, T0 + timedelta(days=30), anchor=T0, cap=10) == 10


# --- cron ----------------------------------------------------------------------------------------


def test_cron_fires_strictly_after_and_in_its_zone() -> None:
    weekdays = cron("0 9 * * MON-FRI", "Europe/Berlin")
    friday_nine = utc(2027, 1, 1, 8)  # 09:00 CET
    assert next_fire_after(weekdays, T0, anchor=T0) == friday_nine
    assert next_fire_after(weekdays, friday_nine, anchor=T0) == utc(2027, 1, 4, 8)
    assert next_fire_after(weekdays, friday_nine - timedelta(microseconds=1), anchor=T0) == friday_nine


def test_cron_respects_start_and_end() -> None:
    start = utc(2027, 1, 1, 12, 0, 0, 1)
    schedule = cron("0 * * * *", start_at=start, end_at=utc(2027, 1, 1, 15))
    slots = slots_between(schedule, T0, utc(2027, 2, 1), anchor=T0, limit=100)
    assert slots == [utc(2027, 1, 1, h) for h in (13, 14, 15)]
    exact_start = cron("0 * * * *", start_at=utc(2027, 1, 1, 12))
    assert next_fire_after(exact_start, T0, anchor=T0) == utc(2027, 1, 1, 12)
    assert next_fire_after(schedule, utc(2027, 1, 1, 15), anchor=T0) is None


def test_cron_slots_are_whole_seconds_in_utc() -> None:
    after = datetime(2027, 1, 1, 9, 0, 0, 500_000, tzinfo=UTC)
    slot = next_fire_after(cron("* * * * * *", NEW_YORK), after, anchor=T0)
    assert slot == utc(2027, 1, 1, 9, 0, 1)
    assert slot is not None
    assert slot.tzinfo is UTC


# --- jitter --------------------------------------------------------------------------------------


def test_jitter_is_deterministic_and_in_range() -> None:
    schedule = IntervalSchedule(seconds=60, jitter_seconds=30)
    offsets = [jitter_offset(schedule, f"task-7:{n}") for n in range(2000)]
    assert offsets == [
        jitter_offset(IntervalSchedule(seconds=5, jitter_seconds=30), f"task-7:{n}") for n in range(2000)
    ]
    assert all(0 <= offset < 30 for offset in offsets)
    assert min(offsets) < 1
    assert max(offsets) > 29
    assert len(set(offsets)) == len(offsets)


def test_jitter_is_stable_across_processes_and_releases() -> None:
    # A golden value: Python's hash() is salted per process, so this would fail if it were used, and
    # changing the derivation would move every task's runs.
    assert jitter_offset(cron("* * * * *", jitter_seconds=60), "task-1") == pytest.approx(28.8232, abs=1e-4)


def test_no_jitter_when_zero() -> None:
    assert jitter_offset(cron("* * * * *"), "task-1") == 0.0
    assert 0 <= jitter_offset(cron("* * * * *", jitter_seconds=0.25), "k") < 0.25


# --- words ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (
            OnceSchedule(at=datetime(2027, 1, 1, 10, tzinfo=timezone(timedelta(hours=1)))),
            "once at 2027-01-01 09:00 UTC",
        ),
        (IntervalSchedule(seconds=30), "every 30 seconds"),
        (IntervalSchedule(seconds=7200), "every 2 hours"),
        (IntervalSchedule(seconds=97_200), "every 1 day 3 hours"),
        (IntervalSchedule(seconds=3600), "every hour"),
        (IntervalSchedule(seconds=61), "every 1 minute 1 second"),
        (
            CronSchedule(expression="0 9 * * 1-5", timezone="Europe/Berlin"),
            "At 09:00 on Monday through Friday (Europe/Berlin)",
        ),
        (CronSchedule(expression="@hourly"), "At the start of every hour (UTC)"),
        (CronSchedule(expression="15 30 9 * * *"), "At 09:30:15 every day (UTC)"),
        (
            IntervalSchedule(seconds=600, start_at=T0, end_at=utc(2027, 2, 1), jitter_seconds=90),
            "every 10 minutes, from 2027-01-01 00:00 UTC, until 2027-02-01 00:00 UTC, "
            "with up to 1 minute 30 seconds of jitter",
        ),
        (
            CronSchedule(expression="*/15 * * * *", jitter_seconds=2.5),
            "Every 15th minute of every hour (UTC), with up to 2.5 seconds of jitter",
        ),
    ],
)
def test_describe(schedule: OnceSchedule | IntervalSchedule | CronSchedule, words: str) -> None:
    assert describe(schedule) == words


@pytest.mark.parametrize(
    ("number", "words"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
     (22, "22nd"), (23, "23rd"), (61, "61st"), (101, "101st"), (111, "111th"), (112, "112th"), (113, "113th"),
     (122, "122nd")],
)  # fmt: skip
def test_ordinals_are_english(number: int, words: str) -> None:
    assert ordinal(number) == words


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("*/21 * * * *", "Every 21st minute of every hour (UTC)"),
        ("*/22 * * * * *", "Every 22nd second of every minute (UTC)"),
        ("0 0 23 * *", "At 00:00 on the 23rd day of every month (UTC)"),
        ("0 0 11 * *", "At 00:00 on the 11th day of every month (UTC)"),
        ("0 0 12,13,31 * *", "the 12th, the 13th, and the 31st day"),
    ],
)
def test_cron_descriptions_use_english_ordinals(expression: str, words: str) -> None:
    assert words in describe(cron(expression))


def test_describe_falls_back_to_the_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: cronsim.CronSim) -> str:
        raise RuntimeError("cannot explain")

    monkeypatch.setattr(cronsim.CronSim, "explain", fail)
    assert describe(cron("0 9 * * *", NEW_YORK)) == f"0 9 * * * ({NEW_YORK})"


# --- preview -------------------------------------------------------------------------------------


def test_preview_lists_fire_times_in_utc_and_local() -> None:
    schedule = cron("0 9 * * *", "Europe/Berlin")
    shown = preview(schedule, count=5, after=T0)
    assert shown.timezone == "Europe/Berlin"
    assert shown.description == "At 09:00 every day (Europe/Berlin)"
    assert [f.utc for f in shown.fire_times] == [utc(2027, 1, d, 8) for d in range(1, 6)]
    assert all(f.local.replace(tzinfo=None) == datetime(2027, 1, f.utc.day, 9) for f in shown.fire_times)
    assert all(f.local == f.utc for f in shown.fire_times)
    # The year's two changes are named even though none touches a 09:00 run.
    assert shown.dst_notes == [
        "2027-03-28: clocks go forward 02:00→03:00 (Europe/Berlin); no run of this schedule falls in the "
        "skipped time.",
        "2027-10-31: clocks go back 03:00→02:00 (Europe/Berlin); no run of this schedule falls in the "
        "repeated time.",
    ]


def test_preview_of_interval_counts_from_after_by_default() -> None:
    shown = preview(IntervalSchedule(seconds=90), count=3, after=T0)
    assert [f.utc for f in shown.fire_times] == [T0 + timedelta(seconds=90 * k) for k in (1, 2, 3)]
    assert shown.timezone == "UTC"
    assert shown.fire_times[0].local.utcoffset() == timedelta(0)
    assert shown.dst_notes == []  # elapsed time: clock changes do not move an interval
    anchored = preview(IntervalSchedule(seconds=90), count=1, after=T0, anchor=T0 - timedelta(seconds=30))
    assert anchored.fire_times[0].utc == T0 + timedelta(seconds=60)


def test_preview_stops_when_the_schedule_does() -> None:
    shown = preview(OnceSchedule(at=utc(2027, 3, 1)), count=10, after=T0)
    assert [f.utc for f in shown.fire_times] == [utc(2027, 3, 1)]
    assert shown.dst_notes == []


@pytest.mark.parametrize("count", [0, -1, 101])
def test_preview_count_is_bounded(count: int) -> None:
    with pytest.raises(ValueError, match="count must be between 1 and 100"):
        preview(IntervalSchedule(seconds=5), count=count, after=T0)


# Created on 1 December: the ten listed runs stop in December, the changes come in March and November.
CREATED = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("count", [1, 10, 100])
def test_preview_notes_cover_the_next_twelve_months_whatever_the_count(count: int) -> None:
    shown = preview(cron("30 2 * * *", NEW_YORK), count=count, after=CREATED)
    assert len(shown.fire_times) == count
    assert shown.fire_times[-1].utc < utc(2027, 3, 14)
    assert shown.dst_notes == [
        "2027-03-14: clocks go forward 02:00→03:00 (America/New_York); the 02:30 run happens at 03:00.",
        "2027-11-07: clocks go back 02:00→01:00 (America/New_York); no run of this schedule falls in the "
        "repeated time.",
    ]


def test_preview_notes_say_which_runs_happen_once_in_the_repeated_hour() -> None:
    shown = preview(cron("30 1 * * *", NEW_YORK), count=10, after=CREATED)
    assert shown.dst_notes[1] == (
        "2027-11-07: clocks go back 02:00→01:00 (America/New_York); the 01:30 run happens once."
    )


def test_preview_notes_stop_twelve_months_ahead() -> None:
    # New York's clocks went back at 06:00 UTC on 1 November 2026; the next autumn change, on
    # 7 November 2027, is more than a year past any moment of 1 November 2026.
    before = preview(cron("30 2 * * *", NEW_YORK), count=10, after=utc(2026, 11, 1, 5))
    assert [note[:10] for note in before.dst_notes] == ["2026-11-01", "2027-03-14"]
    later = preview(cron("30 2 * * *", NEW_YORK), count=10, after=utc(2026, 11, 1, 12))
    assert [note[:10] for note in later.dst_notes] == ["2027-03-14"]


def test_no_dst_notes_for_utc_interval_or_once() -> None:
    assert preview(cron("30 2 * * *", "UTC"), count=10, after=CREATED).dst_notes == []
    assert preview(IntervalSchedule(seconds=3600), count=10, after=CREATED).dst_notes == []
    assert preview(OnceSchedule(at=utc(2027, 3, 14, 7)), count=1, after=CREATED).dst_notes == []


def test_preview_notes_cover_a_year_when_the_schedule_ends_early() -> None:
    schedule = cron("30 2 * * *", NEW_YORK, end_at=utc(2027, 1, 3))
    shown = preview(schedule, count=10, after=T0)
    assert len(shown.fire_times) == 2
    assert [note[:10] for note in shown.dst_notes] == ["2027-03-14", "2027-11-07"]


# --- the DST rule --------------------------------------------------------------------------------


def _slots_on(schedule: CronSchedule, zone: ZoneInfo, day: date) -> list[datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC) - timedelta(hours=3)
    slots = slots_between(schedule, start, start + timedelta(hours=30), anchor=start, limit=10_000)
    return [s for s in slots if s.astimezone(zone).date() == day]


def _fixed(wall: datetime, seconds: bool) -> str:
    fields = f"{wall.minute} {wall.hour} * * *"
    return f"0 {fields}" if seconds else fields


@pytest.mark.parametrize("seconds", [False, True], ids=["5-field", "6-field"])
@pytest.mark.parametrize(("zone_name", "year"), ZONE_YEARS)
def test_fixed_time_in_the_skipped_interval_runs_right_after_the_jump(
    zone_name: str, year: int, seconds: bool
) -> None:
    jump = change(zone_name, year, forward=True)
    wall = jump.odd_interval_middle  # 02:30 in New York, 01:30 in London, 02:15 on Lord Howe
    schedule = cron(_fixed(wall, seconds), zone_name)
    assert _slots_on(schedule, jump.zone, wall.date()) == [jump.at]
    next_day = wall + timedelta(days=1)
    assert _slots_on(schedule, jump.zone, next_day.date()) == [
        next_day.replace(tzinfo=jump.zone).astimezone(UTC)
    ]
    assert next_fire_after(schedule, jump.at, anchor=T0) == next_day.replace(tzinfo=jump.zone).astimezone(UTC)


@pytest.mark.parametrize("seconds", [False, True], ids=["5-field", "6-field"])
@pytest.mark.parametrize(("zone_name", "year"), ZONE_YEARS)
def test_fixed_time_in_the_repeated_interval_runs_once(zone_name: str, year: int, seconds: bool) -> None:
    back = change(zone_name, year, forward=False)
    wall = back.odd_interval_middle  # 01:30 in New York and London, 01:45 on Lord Howe
    schedule = cron(_fixed(wall, seconds), zone_name)
    first_pass = wall.replace(tzinfo=back.zone, fold=0).astimezone(UTC)
    second_pass = wall.replace(tzinfo=back.zone, fold=1).astimezone(UTC)
    assert first_pass < back.at <= second_pass
    assert _slots_on(schedule, back.zone, wall.date()) == [first_pass]
    # Asked from inside the second pass, the slot that already ran is not offered again.
    inside_second_pass = back.at + timedelta(minutes=5)
    tomorrow = (wall + timedelta(days=1)).replace(tzinfo=back.zone).astimezone(UTC)
    assert next_fire_after(schedule, inside_second_pass, anchor=T0) == tomorrow


def test_two_skipped_times_fold_into_one_slot() -> None:
    jump = change(NEW_YORK, 2027, forward=True)
    schedule = cron("0,30 2 * * *", NEW_YORK)
    assert _slots_on(schedule, jump.zone, jump.wall_before.date()) == [jump.at]


def test_a_time_with_seconds_in_the_gap_runs_at_the_exact_jump() -> None:
    jump = change(NEW_YORK, 2027, forward=True)
    assert _slots_on(cron("15 30 2 * * *", NEW_YORK), jump.zone, jump.wall_before.date()) == [jump.at]


def _wall_clock_oracle(zone: ZoneInfo, start: datetime, end: datetime, matches: set[int]) -> list[datetime]:
    """Every real minute in [start, end) whose local minute-of-hour is in ``matches``."""
    found = []
    moment = start
    while moment < end:
        if moment.astimezone(zone).minute in matches:
            found.append(moment)
        moment += timedelta(minutes=1)
    return found


@pytest.mark.parametrize("forward", [True, False], ids=["spring", "autumn"])
@pytest.mark.parametrize(("zone_name", "year"), ZONE_YEARS)
@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("*/15 * * * *", {0, 15, 30, 45}), ("0 * * * *", {0})],
    ids=["quarter", "hourly"],
)
def test_wildcard_hour_schedules_follow_the_real_clock(
    zone_name: str, year: int, forward: bool, expression: str, minutes: set[int]
) -> None:
    moment = change(zone_name, year, forward=forward)
    start, end = moment.at - timedelta(hours=4), moment.at + timedelta(hours=4)
    schedule = cron(expression, zone_name)
    slots = slots_between(
        schedule, start - timedelta(seconds=1), end - timedelta(seconds=1), anchor=T0, limit=100
    )
    assert slots == _wall_clock_oracle(moment.zone, start, end, minutes)
    if expression.startswith("*/15"):
        assert {b - a for a, b in itertools.pairwise(slots)} == {timedelta(minutes=15)}


def test_hourly_keeps_real_hours_across_one_hour_changes() -> None:
    spring, autumn = change(NEW_YORK, 2027, forward=True), change(NEW_YORK, 2027, forward=False)
    hourly = cron("0 * * * *", NEW_YORK)
    around_spring = slots_between(
        hourly, spring.at - timedelta(hours=2), spring.at + timedelta(hours=1), anchor=T0, limit=9
    )
    assert [b - a for a, b in itertools.pairwise(around_spring)] == [timedelta(hours=1)] * 2
    assert [s.astimezone(spring.zone).hour for s in around_spring] == [1, 3, 4]
    around_autumn = slots_between(
        hourly, autumn.at - timedelta(hours=2), autumn.at + timedelta(hours=1), anchor=T0, limit=9
    )
    assert [s.astimezone(autumn.zone).hour for s in around_autumn] == [1, 1, 2]


def test_fixed_hour_with_wildcard_minutes_is_a_wildcard_schedule() -> None:
    # Debian's definition: '*' in the minute field makes the schedule follow the real clock.
    spring, autumn = change(NEW_YORK, 2027, forward=True), change(NEW_YORK, 2027, forward=False)
    assert _slots_on(cron("*/30 2 * * *", NEW_YORK), spring.zone, spring.wall_before.date()) == []
    repeated = _slots_on(cron("*/30 1 * * *", NEW_YORK), autumn.zone, autumn.wall_after.date())
    assert [s.astimezone(autumn.zone).strftime("%H:%M%z") for s in repeated] == [
        "01:00-0400",
        "01:30-0400",
        "01:00-0500",
        "01:30-0500",
    ]


def test_midnight_skipped_runs_at_the_jump() -> None:
    jump = change("America/Santiago", 2026, forward=True)
    assert jump.wall_before.time() == datetime.min.time()
    assert _slots_on(cron("0 0 * * *", "America/Santiago"), jump.zone, jump.wall_after.date()) == [jump.at]


@pytest.mark.parametrize(("zone_name", "year"), ZONE_YEARS)
@pytest.mark.parametrize(
    "expression", ["30 2 * * *", "0,30 1-3 * * *", "15 1 * * *", "45 1 * * SUN", "@daily"]
)
def test_five_field_results_match_cronsim_when_started_before_the_change(
    zone_name: str, year: int, expression: str
) -> None:
    zone = ZoneInfo(zone_name)
    for moment in changes(zone_name, year):
        after = moment.at - timedelta(days=1, minutes=7)
        ours = slots_between(
            cron(expression, zone_name), after, after + timedelta(days=3), anchor=T0, limit=20
        )
        fields = {"@daily": "0 0 * * *"}.get(expression, expression)
        theirs = cronsim.CronSim(fields, after.astimezone(zone))
        expected = []
        for found in theirs:
            if found.astimezone(UTC) > after + timedelta(days=3):
                break
            expected.append(found.astimezone(UTC))
        assert ours == expected


# --- DST notes -----------------------------------------------------------------------------------


def _notes(expression: str, zone_name: str, moment: Change, lead: timedelta = timedelta(days=1)) -> list[str]:
    """The note on ``moment`` (the first in the year scanned; the later changes follow it)."""
    after = moment.at - lead
    return preview(cron(expression, zone_name), count=100, after=after).dst_notes[:1]


def test_dst_notes_for_new_york() -> None:
    spring, autumn = change(NEW_YORK, 2027, forward=True), change(NEW_YORK, 2027, forward=False)
    assert _notes("30 2 * * *", NEW_YORK, spring) == [
        "2027-03-14: clocks go forward 02:00→03:00 (America/New_York); the 02:30 run happens at 03:00."
    ]
    assert _notes("30 1 * * *", NEW_YORK, autumn) == [
        "2027-11-07: clocks go back 02:00→01:00 (America/New_York); the 01:30 run happens once."
    ]
    assert _notes("*/15 * * * *", NEW_YORK, spring, timedelta(hours=3)) == [
        "2027-03-14: clocks go forward 02:00→03:00 (America/New_York); runs keep their real cadence, "
        "so the 02:00, 02:15, 02:30 and 02:45 runs do not happen that day."
    ]
    assert _notes("0 * * * *", NEW_YORK, autumn, timedelta(hours=3)) == [
        "2027-11-07: clocks go back 02:00→01:00 (America/New_York); runs keep their real cadence, "
        "so the 01:00 run happens twice."
    ]
    assert _notes("0,30 2 * * *", NEW_YORK, spring)[0].endswith(
        "the 02:00 and 02:30 runs happen once, at 03:00."
    )
    assert _notes("0 9 * * *", NEW_YORK, autumn)[0].endswith(
        "no run of this schedule falls in the repeated time."
    )
    assert _notes("* * * * *", NEW_YORK, autumn, timedelta(minutes=30))[0].endswith(
        "the 60 runs from 01:00 to 01:59 happen twice."
    )


@pytest.mark.parametrize(("zone_name", "year"), ZONE_YEARS)
def test_dst_notes_name_each_change_in_the_window(zone_name: str, year: int) -> None:
    for moment in changes(zone_name, year):
        wall = moment.odd_interval_middle
        notes = _notes(f"{wall.minute} {wall.hour} * * *", zone_name, moment)
        when = f"{moment.wall_before:%H:%M}→{moment.wall_after:%H:%M}"
        direction = "forward" if moment.forward else "back"
        outcome = f"happens at {moment.wall_after:%H:%M}." if moment.forward else "happens once."
        assert notes == [
            f"{moment.wall_before.date()}: clocks go {direction} {when} ({zone_name}); "
            f"the {wall:%H:%M} run {outcome}"
        ]


def test_lord_howe_notes_show_the_half_hour_shift() -> None:
    spring = change(LORD_HOWE, 2026, forward=True)
    notes = _notes("*/15 * * * *", LORD_HOWE, spring, timedelta(hours=3))
    assert notes == [
        "2026-10-04: clocks go forward 02:00→02:30 (Australia/Lord_Howe); runs keep their real cadence, "
        "so the 02:00 and 02:15 runs do not happen that day."
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "once", "at": "1969-12-31T23:59:59Z"},
        {"type": "once", "at": "0001-01-01T00:00:00+01:00"},
        {"type": "interval", "seconds": 60, "start_at": "9001-01-01T00:00:00Z"},
        {"type": "cron", "expression": "* * * * *", "end_at": "9999-12-31T23:59:59+14:00"},
    ],
)
def test_times_outside_the_supported_years_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="between the years 1970 and 9000"):
        TypeAdapter(Schedule).validate_python(body)


@pytest.mark.parametrize("at", [utc(2027, 1, 1), utc(2026, 12, 31, 23, 59, 59, 999_999), utc(1970, 1, 1)])
def test_a_once_schedule_at_or_before_now_is_refused(at: datetime) -> None:
    problem = check_ahead(OnceSchedule(at=at), T0)
    assert problem is not None
    assert problem[0] == "at"
    assert "is not in the future (the server's time is 2027-01-01 00:00 UTC)" in problem[1]


@pytest.mark.parametrize(
    "schedule", [IntervalSchedule(seconds=60, end_at=T0), cron("* * * * *", end_at=utc(2026, 1, 1))]
)
def test_a_schedule_that_has_ended_is_refused(schedule: Schedule) -> None:
    problem = check_ahead(schedule, T0)
    assert problem is not None
    assert problem[0] == "end_at"


@pytest.mark.parametrize(
    "schedule",
    [
        OnceSchedule(at=utc(2027, 1, 1, 0, 0, 0, 1)),
        IntervalSchedule(seconds=60, start_at=utc(2000, 1, 1)),  # a start in the past has slots ahead
        cron("* * * * *", end_at=utc(2027, 1, 1, 0, 0, 1)),
        None,
    ],
)
def test_schedules_with_time_ahead_pass_the_check(schedule: Schedule | None) -> None:
    assert check_ahead(schedule, T0) is None


def test_the_supported_years_include_their_edges() -> None:
    TypeAdapter(Schedule).validate_python({"type": "once", "at": "1970-01-01T00:00:00Z"})
    TypeAdapter(Schedule).validate_python({"type": "once", "at": "9000-12-31T23:59:59Z"})


# --- upcoming ------------------------------------------------------------------------------------


def _planned(key: int, schedule: Schedule, next_slot: datetime | None = None) -> Planned:
    return Planned(key, lambda: schedule, T0 - timedelta(days=1), next_slot)


def test_upcoming_merges_schedules_soonest_first_ties_by_key() -> None:
    hourly = cron("0 * * * *")
    berlin = cron("30 1 * * *", "Europe/Berlin")  # 00:30 UTC in winter
    every_20 = IntervalSchedule(seconds=1200, start_at=T0)
    slots, truncated = upcoming(
        [_planned(3, hourly), _planned(1, berlin), _planned(2, every_20)],
        T0,
        T0 + timedelta(hours=1),
        limit=50,
    )
    assert slots == [
        (T0, 2),
        (T0, 3),
        (T0 + timedelta(minutes=20), 2),
        (T0 + timedelta(minutes=30), 1),
        (T0 + timedelta(minutes=40), 2),
    ]
    assert truncated is False


def test_upcoming_stops_at_the_limit_and_says_so() -> None:
    every_minute = [_planned(key, cron("* * * * *")) for key in range(3)]
    slots, truncated = upcoming(every_minute, T0, T0 + timedelta(days=8), limit=5)
    assert slots == [
        (T0, 0),
        (T0, 1),
        (T0, 2),
        (T0 + timedelta(minutes=1), 0),
        (T0 + timedelta(minutes=1), 1),
    ]
    assert truncated is True
    exact, more = upcoming(every_minute, T0, T0 + timedelta(minutes=2), limit=6)
    assert (len(exact), more) == (6, False)


def test_upcoming_starts_at_the_next_slot_and_trusts_it() -> None:
    """Slots before a task's next slot have fired; the next slot is not computed again."""
    quarter = cron("*/15 * * * *")
    slots, _ = upcoming(
        [_planned(1, quarter, next_slot=T0 + timedelta(minutes=30))], T0, T0 + timedelta(hours=1), limit=10
    )
    assert [slot for slot, _ in slots] == [T0 + timedelta(minutes=30), T0 + timedelta(minutes=45)]


def test_upcoming_reads_only_the_schedules_it_needs() -> None:
    def unreadable() -> Schedule:
        raise AssertionError("a schedule whose next slot comes after the answer was read")

    late = Planned(9, unreadable, T0, next_slot=T0 + timedelta(hours=5))
    slots, truncated = upcoming(
        [_planned(1, cron("* * * * *"), next_slot=T0), late], T0, T0 + timedelta(days=1), limit=3
    )
    assert [key for _, key in slots] == [1, 1, 1]
    assert truncated is True


def test_upcoming_window_includes_start_excludes_end_and_honours_the_schedules_end() -> None:
    six = cron("0 */6 * * *", end_at=T0 + timedelta(hours=12))
    slots, _ = upcoming([_planned(1, six)], T0, T0 + timedelta(days=2), limit=10)
    assert [slot for slot, _ in slots] == [T0, T0 + timedelta(hours=6), T0 + timedelta(hours=12)]
    slots, _ = upcoming([_planned(1, cron("0 */6 * * *"))], T0, T0 + timedelta(hours=12), limit=10)
    assert [slot for slot, _ in slots] == [T0, T0 + timedelta(hours=6)]
    once = OnceSchedule(at=T0 + timedelta(hours=3))
    assert upcoming([_planned(1, once)], T0 + timedelta(hours=4), T0 + timedelta(days=1), limit=5) == (
        [],
        False,
    )


def test_upcoming_follows_the_dst_rule() -> None:
    spring = cron("30 2 * * *", NEW_YORK)
    start = datetime(2027, 3, 13, 12, tzinfo=UTC)
    slots, _ = upcoming([_planned(1, spring)], start, start + timedelta(days=2), limit=5)
    assert [slot.astimezone(ZoneInfo(NEW_YORK)).strftime("%d %H:%M") for slot, _ in slots] == [
        "14 03:00",
        "15 02:30",
    ]


def test_remembered_cron_slots_keep_expressions_zones_and_windows_apart() -> None:
    """next_fire_after remembers cron answers; whatever a slot depends on must be in what it keys."""
    after = datetime(2026, 3, 8, 6, 59, 30, tzinfo=UTC)
    adapter: TypeAdapter[CronSchedule] = TypeAdapter(CronSchedule)

    def nxt(**fields: object) -> datetime | None:
        schedule = adapter.validate_python({"type": "cron", **fields})
        return next_fire_after(schedule, after, anchor=after)

    for _ in range(2):  # the second round answers from memory, alike
        assert nxt(expression="0 * * * *") == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
        assert nxt(expression="30 * * * *") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
        # 02:00 does not exist in New York that night: the gap's end, 03:00 EDT, is 07:00 UTC.
        assert nxt(expression="0 2 * * *", timezone="America/New_York") == datetime(
            2026, 3, 8, 7, 0, tzinfo=UTC
        )
        assert nxt(expression="0 2 * * *", timezone="Europe/Paris") == datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
        assert nxt(expression="0 * * * *", end_at="2026-03-08T06:59:59Z") is None
        assert nxt(expression="0 * * * *", start_at="2026-03-08T09:00:00Z") == datetime(
            2026, 3, 8, 9, 0, tzinfo=UTC
        )
