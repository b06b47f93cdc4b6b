"""Shared Pydantic configuration for the domain's models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationInfo


class StrictModel(BaseModel):
    """Input models refuse unknown fields: a typo must be an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


JSONValue = JsonValue

STORED: dict[str, Any] = {"stored": True}
"""Validation context for values read back from the database (``model_validate(..., context=STORED)``).

Checks added after a value could already have been saved (cron steps beyond their field, URLs the
HTTP client cannot use) apply to input only: a row saved before them must still load, or one old row
would break every listing and the scheduler's loop. Such a value is refused when a write sends it again.
"""


def from_storage(info: ValidationInfo) -> bool:
    """Whether this validation reads a stored value (see ``STORED``) rather than new input."""
    return bool(info.context and info.context.get("stored"))
