"""When a task fires: once, every N seconds, or on a cron expression in a time zone.

The models below are the one definition of a schedule's shape; the API and the store reuse them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from tasksched.domain.base import StrictModel

MAX_JITTER_SECONDS = 86_400


class OnceSchedule(StrictModel):
    type: Literal["once"] = "once"
    at: AwareDatetime


class _Window(StrictModel):
    start_at: AwareDatetime | None = None
    end_at: AwareDatetime | None = None
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


Schedule = Annotated[OnceSchedule | IntervalSchedule | CronSchedule, Field(discriminator="type")]

