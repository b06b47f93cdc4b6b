"""Cron expressions and time zones: validation, fire times under the DST rule, DST notes.

``schedules.py`` is the public face; this module keeps cronsim and zoneinfo details in one place.
The DST rule (Debian cron's, see docs/schedules.md) is applied here, not left to cronsim alone,
because cronsim only applies it to 5-field expressions and, when started inside the second pass of
a repeated hour, can return a time before its start.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# Zones that never change offset: computing in naive wall time is exact and much faster there.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu"})
# `localtime` names whatever the host is set to, so two instances could disagree about it.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules"})
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    cycle: int
    """How many distinct values the field has: the largest step that means what it says."""
    names: tuple[str, ...] = ()
    name_base: int = 0


_SECOND = _FieldSpec("second", 0, 59, 60)
_MINUTE = _FieldSpec("minute", 0, 59, 60)
_HOUR = _FieldSpec("hour", 0, 23, 24)
_DAY = _FieldSpec("day-of-month", 1, 31, 31)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH = _FieldSpec("month", 1, 12, 12, _MONTHS, 1)
# 0 and 7 both name Sunday: seven days.
_WEEKDAY = _FieldSpec("day-of-week", 0, 7, 7, _WEEKDAYS, 0)
_FIELDS = (_SECOND, _MINUTE, _HOUR, _DAY, _MONTH, _WEEKDAY)


# --- validation ---------------------------------------------------------------------------------


def _check_value(spec: _FieldSpec, text: str) -> int:
    if _is_number(text):
        value = int(text)
        if not spec.low <= value <= spec.high:
            raise ValueError(f"{spec.name} field: {value} is out of range ({spec.low}-{spec.high})")
        return value
    if text.upper() in spec.names:
        return spec.names.index(text.upper()) + spec.name_base
    kind = "a number or a name like " + spec.names[1] if spec.names else "a number"
    raise ValueError(f"{spec.name} field: {text!r} is not {kind}")


def _is_number(text: str) -> bool:
    # str.isdigit alone also accepts full-width and superscript digits, which int() reads or refuses.
    return text.isascii() and text.isdigit()


def _check_step(spec: _FieldSpec, term: str, step: str, *, stored: bool) -> None:
    if not (_is_number(step) and int(step) >= 1):
        raise ValueError(
            f"{spec.name} field: step {step!r} in {term!r} must be a whole number from 1 to {spec.cycle}"
        )
    if int(step) > spec.cycle and not stored:
        # cron takes a step beyond the field as "the first value only": */61 fires at minute 0, hourly,
        # while reading as "every 61st minute". Refused rather than let the words and the times disagree.
        raise ValueError(f"{spec.name} field: step {step} in {term!r} is out of range (1-{spec.cycle})")


def _check_term(spec: _FieldSpec, term: str, *, stored: bool) -> None:
    if term == "":
        raise ValueError(f"{spec.name} field: empty item in a comma list")
    if term == "*" or (spec is _DAY and term.upper() in ("L", "LW")):
        return
    if spec is _WEEKDAY and term.upper().endswith("L"):
        if not _is_number(term[:-1]):
            raise ValueError(f"{spec.name} field: {term!r} needs a weekday number before L, like 5L")
        _check_value(spec, term[:-1])
        return
    if spec is _WEEKDAY and "#" in term:
        weekday, nth = term.split("#", 1)
        _check_value(spec, weekday)
        if not (_is_number(nth) and 1 <= int(nth) <= 5):
            raise ValueError(f"{spec.name} field: in {term!r} the number after # must be 1-5")
        return
    if "/" in term:
        base, step = term.split("/", 1)
        _check_step(spec, term, step, stored=stored)
        if base != "*":
            _check_range_or_value(spec, base)
        return
    _check_range_or_value(spec, term)


def _check_range_or_value(spec: _FieldSpec, text: str) -> None:
    if "-" not in text:
        _check_value(spec, text)
        return
    first, last = text.split("-", 1)
    if _check_value(spec, first) > _check_value(spec, last):
        raise ValueError(f"{spec.name} field: range {text!r} runs backwards")


def normalize_expression(raw: str, *, stored: bool = False) -> str:
    """Validate a cron expression and return the form to store (whitespace collapsed, macros lowercase).

    Raises ValueError naming the field and the problem, or saying the expression can never fire.
    ``stored``: the expression was read back from the database, so checks newer than it are skipped.
    """
    parts = raw.split()
    if len(parts) == 1 and parts[0].startswith("@"):
        macro = parts[0].lower()
        if macro not in MACROS:
            raise ValueError(f"unknown macro {parts[0]!r}; use one of {', '.join(MACROS)}")
        return macro
    if len(parts) not in (5, 6):
        raise ValueError(
            "expected 5 fields (minute hour day-of-month month day-of-week) "
            f"or 6 with seconds first, got {len(parts)}"
        )
    specs = _FIELDS[1:] if len(parts) == 5 else _FIELDS
    for spec, field in zip(specs, parts, strict=True):
        for term in field.split(","):
            _check_term(spec, term, stored=stored)
    expression = " ".join(parts)
    _check_can_fire(expression)
    return expression


def _check_can_fire(expression: str) -> None:
    fields = to_six_fields(expression)
    try:
        # Naive time: whether any date matches does not depend on a zone. cronsim gives up after
        # 50 years, longer than any cron calendar pattern (weekday/date combinations repeat in 28).
        next(CronSim(fields, datetime(2000, 1, 1)))
    except CronSimError as exc:
        day, month = fields.split()[3], fields.split()[4]
        if "day-of-month" in str(exc):
            raise ValueError(
                f"can never fire: day-of-month {day!r} does not occur in month {month!r}"
            ) from None
        raise ValueError(f"invalid cron expression: {exc}") from None
    except StopIteration:
        raise ValueError("can never fire: no date matches this expression") from None


# --- compiled rules -----------------------------------------------------------------------------


def to_six_fields(expression: str) -> str:
    """The expression as cronsim's 6 fields (seconds first); macros expanded."""
    expression = MACROS.get(expression.lower(), expression)
    parts = expression.split()
    return " ".join(["0", *parts] if len(parts) == 5 else parts)


@dataclass(frozen=True)
class CronRule:
    fields: str
    """Six fields, seconds first: what cronsim is given."""
    fixed_time: bool
    """Debian cron's test: neither the minute nor the hour field starts with ``*``."""


@lru_cache(maxsize=1024)
def compile_rule(expression: str) -> CronRule:
    fields = to_six_fields(expression)
    _, minute, hour, *_ = fields.split()
    return CronRule(fields, fixed_time=not (minute.startswith("*") or hour.startswith("*")))


def explain(expression: str) -> str:
    """cronsim's English for the expression; the raw expression if cronsim cannot explain it."""
    fields = to_six_fields(expression)
    if len(expression.split()) == 5 or expression.startswith("@"):
        # cronsim words 5-field input without seconds; prefixing "0" would add ":00" to every time.
        fields = " ".join(fields.split()[1:])
    try:
        text = CronSim(fields, datetime(2000, 1, 1)).explain()
    except Exception:
        return expression
    if not (isinstance(text, str) and text):
        return expression
    # cronsim spells 1-9 as words and every other number with "th" ("61th", "22th", "21th").
    return _NUMERIC_ORDINAL.sub(lambda match: ordinal(int(match[1])), text)


_NUMERIC_ORDINAL = re.compile(r"\b([0-9]+)th\b")


def ordinal(number: int) -> str:
    """English ordinal: 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 111th, 112th, 123rd."""
    if number % 100 in (11, 12, 13):
        return f"{number}th"
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


# --- time zones ---------------------------------------------------------------------------------


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ValueError if there is no such zone."""
    if name in _HOST_DEPENDENT_ZONES or not _ZONE_NAME.fullmatch(name):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name like 'Europe/Berlin' or 'UTC'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'Europe/Berlin' or 'UTC'"
        ) from None


def _is_imaginary(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall


def _first_with_offset_after(zone: ZoneInfo, low: int, high: int, before: timedelta | None) -> datetime:
    """The first whole second in (low, high] (epoch seconds) whose offset is no longer ``before``."""
    # tzdata transitions fall on whole seconds, so bisecting on integers finds them exactly.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clock jumped over ``wall`` (which must be in a gap), in UTC."""
    # fold=1 reads `wall` with the offset after the jump (an instant before it), fold=0 with the
    # offset before (an instant at or after it); the jump lies between.
    low = wall.replace(tzinfo=zone, fold=1)
    high = wall.replace(tzinfo=zone, fold=0)
    return _first_with_offset_after(
        zone,
        math.floor(low.timestamp()),
        math.ceil(high.timestamp()),
        low.astimezone(UTC).astimezone(zone).utcoffset(),
    )


def resolve_wall_time(wall: datetime, zone: ZoneInfo) -> datetime:
    """Apply the DST rule to a naive wall-clock time: the first occurrence, or the end of a gap."""
    if _is_imaginary(wall, zone):
        return _gap_end(wall, zone)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def fire_times(rule: CronRule, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after ``after`` in UTC, oldest first, under the DST rule."""
    local_after = after.astimezone(zone)
    if zone.key in _UTC_NAMES:
        sim = CronSim(rule.fields, local_after.replace(tzinfo=None))
        walls: Iterator[datetime] = (wall.replace(tzinfo=UTC) for wall in sim)
    elif rule.fixed_time:
        # Wall-clock search, then the rule maps each wall time to one instant.
        sim = CronSim(rule.fields, local_after.replace(tzinfo=None))
        walls = (resolve_wall_time(wall, zone) for wall in sim)
    else:
        # Wildcard schedules: cronsim steps through real time in the zone.
        sim = CronSim(rule.fields, local_after)
        walls = (moment.astimezone(UTC) for moment in sim)
    latest = after
    for slot in walls:
        # Skips the first pass of a repeated hour when starting in its second pass, and folds
        # several gap times that map to the same instant into one slot.
        if slot > latest:
            latest = slot
            yield slot


def wall_matches(rule: CronRule, start: datetime, end: datetime, cap: int) -> list[datetime]:
    """Naive wall-clock times in [start, end) that the expression names, at most ``cap``."""
    found: list[datetime] = []
    for wall in CronSim(rule.fields, start - _ONE_SECOND):
        if wall >= end or len(found) >= cap:
            break
        found.append(wall)
    return found


# --- DST notes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    at: datetime
    """The UTC instant of the change."""
    offset_before: timedelta
    offset_after: timedelta

    @property
    def wall_before(self) -> datetime:
        return (self.at + self.offset_before).replace(tzinfo=None)

    @property
    def wall_after(self) -> datetime:
        return (self.at + self.offset_after).replace(tzinfo=None)


def transitions(zone: ZoneInfo, start: datetime, end: datetime, limit: int) -> list[Transition]:
    """Offset changes of ``zone`` in (start, end], at most ``limit``."""
    found: list[Transition] = []
    if zone.key in _UTC_NAMES:
        return found
    step = timedelta(days=1)
    cursor = start
    offset = cursor.astimezone(zone).utcoffset()
    while cursor < end and len(found) < limit:
        probe = min(cursor + step, end)
        probe_offset = probe.astimezone(zone).utcoffset()
        if probe_offset != offset and offset is not None and probe_offset is not None:
            at = _first_with_offset_after(
                zone, math.floor(cursor.timestamp()), math.ceil(probe.timestamp()), offset
            )
            found.append(Transition(at, offset, probe_offset))
        cursor, offset = probe, probe_offset
    return found


def _hm(wall: datetime) -> str:
    return wall.strftime("%H:%M:%S" if wall.second else "%H:%M")


def _list_times(walls: list[datetime]) -> str:
    times = [_hm(w) for w in walls]
    return times[0] if len(times) == 1 else f"{', '.join(times[:-1])} and {times[-1]}"


def dst_note(rule: CronRule, zone_name: str, change: Transition) -> str:
    """One sentence on what ``change`` does to this schedule."""
    forward = change.offset_after > change.offset_before
    day: date = change.wall_before.date()
    head = (
        f"{day.isoformat()}: clocks go {'forward' if forward else 'back'} "
        f"{_hm(change.wall_before)}→{_hm(change.wall_after)} ({zone_name})"
    )
    start, end = (
        (change.wall_before, change.wall_after) if forward else (change.wall_after, change.wall_before)
    )
    listed = 4
    matches = wall_matches(rule, start, end, cap=101)
    what = "skipped" if forward else "repeated"
    if not matches:
        return f"{head}; no run of this schedule falls in the {what} time."
    if len(matches) > 100:
        runs, one = f"more than 100 runs between {_hm(start)} and {_hm(end)}", False
    elif len(matches) > listed:
        runs, one = f"the {len(matches)} runs from {_hm(matches[0])} to {_hm(matches[-1])}", False
    else:
        runs, one = f"the {_list_times(matches)} run{'' if len(matches) == 1 else 's'}", len(matches) == 1
    if rule.fixed_time and forward:
        return f"{head}; {runs} {'happens' if one else 'happen once,'} at {_hm(change.wall_after)}."
    if rule.fixed_time:
        return f"{head}; {runs} {'happens' if one else 'happen'} once."
    if forward:
        return (
            f"{head}; runs keep their real cadence, so {runs} {'does' if one else 'do'} not happen that day."
        )
    return f"{head}; runs keep their real cadence, so {runs} {'happens' if one else 'happen'} twice."
