"""Pure helpers: medians, percentiles and throughput from a counter's samples (unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(values: Sequence[float]) -> float | None:
    """The median, or None when there is nothing to take it of (a workload a system lacks)."""
    clean = sorted(v for v in values if v is not None and not math.isnan(v))
    if not clean:
        return None
    middle = len(clean) // 2
    if len(clean) % 2:
        return clean[middle]
    return (clean[middle - 1] + clean[middle]) / 2


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("no values")
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def time_at(samples: Sequence[tuple[float, int]], count: float) -> float | None:
    """When a rising counter first reached ``count``, interpolated between its samples."""
    previous: tuple[float, int] | None = None
    for at, value in samples:
        if value >= count:
            if previous is None or value == previous[1]:
                return at
            t0, v0 = previous
            return t0 + (at - t0) * (count - v0) / (value - v0)
        previous = (at, value)
    return None


def throughput(samples: Sequence[tuple[float, int]], total: int, start: float) -> dict[str, float | None]:
    """Jobs/s overall (from ``start`` to the last job), in the middle 80 % (10 %→90 %), first job's time.

    ``samples`` are (seconds, counter value) pairs taken while the workers drained ``total`` jobs.
    """
    first = time_at(samples, 1)
    last = time_at(samples, total)
    t10 = time_at(samples, total * 0.1)
    t90 = time_at(samples, total * 0.9)
    overall = total / (last - start) if last is not None and last > start else None
    steady = total * 0.8 / (t90 - t10) if t10 is not None and t90 is not None and t90 > t10 else None
    return {
        "overall": overall,
        "steady": steady,
        "first_job_s": first - start if first is not None else None,
    }


def lateness(values_s: Sequence[float]) -> dict[str, float | None]:
    """p50/p99/max of lateness given in seconds, answered in milliseconds."""
    if not values_s:
        return {"p50": None, "p99": None, "max": None}
    ms = [v * 1000 for v in values_s]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms)}


def ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0:
        return None
    return ours / theirs
