"""The one exception tree of tasksched.

Services raise these; the API maps each to an RFC 9457 problem (see ``api/errors.py``) and the CLI
prints its message. Every error names what was wrong so a user can fix the request.
"""

from __future__ import annotations

from typing import Any


class TaskschedError(Exception):
    """Base of every error tasksched raises on purpose."""

    status = 500
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class NotFound(TaskschedError):
    status = 404
    title = "Not found"


class Conflict(TaskschedError):
    """The request clashes with stored state (a duplicate name, a run that already finished)."""

    status = 409
    title = "Conflict"


class PreconditionFailed(TaskschedError):
    """``If-Match`` named a version that is no longer current."""

    status = 412
    title = "Precondition failed"


class InvalidInput(TaskschedError):
    """Input that is well-formed JSON but breaks a rule (an unknown function, shell disabled…)."""

    status = 422
    title = "Invalid input"


class InvalidSchedule(InvalidInput):
    """A schedule that cannot be parsed or can never fire."""

    title = "Invalid schedule"


class Unauthorized(TaskschedError):
    status = 401
    title = "Unauthorized"


class Forbidden(TaskschedError):
    status = 403
    title = "Forbidden"


class ServiceUnavailable(TaskschedError):
    status = 503
    title = "Service unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (refused, unknown host, no such database, unreadable file)."""
