"""Cost of computing the next fire time (the scheduler does this once per fired slot).

.venv/bin/python -m bench.bench_schedules
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tasksched.domain.schedules import CronSchedule, IntervalSchedule, Schedule, next_fire_after

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def per_call(schedule: Schedule, calls: int = 10_000) -> float:
    afters = [T0 + timedelta(minutes=37 * n) for n in range(calls)]
    started = time.perf_counter()
    for after in afters:
        next_fire_after(schedule, after, anchor=T0)
    return (time.perf_counter() - started) / calls


def main() -> None:
    cases: dict[str, Schedule] = {
        "cron 0 9 * * 1-5 Europe/Berlin": CronSchedule(expression="0 9 * * 1-5", timezone="Europe/Berlin"),
        "cron */15 * * * * America/New_York": CronSchedule(
            expression="*/15 * * * *", timezone="America/New_York"
        ),
        "interval 30 s": IntervalSchedule(seconds=30),
    }
    for name, schedule in cases.items():
        print(f"{name:<40} {per_call(schedule) * 1e6:7.1f} µs per call")


if __name__ == "__main__":
    main()
