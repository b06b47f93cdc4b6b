"""Shared Pydantic configuration for the domain's models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, JsonValue


class StrictModel(BaseModel):
    """Input models refuse unknown fields: a typo must be an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


JSONValue = JsonValue
