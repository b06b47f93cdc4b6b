"""Shared Pydantic configuration for the domain's models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, JsonValue, ValidationInfo
from pydantic_core import CoreSchema


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


class RequiredTag:
    """Mark a discriminated union's tag as required in its JSON schema.

    Each member gives its tag a default (``HttpAction(url=...)`` is an http action in code), so
    Pydantic lists the tag as optional; but the union refuses input without it. Annotating the
    union with this makes the published schema say what the server does: the tag is required.
    """

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        for member in json_schema.get("oneOf", []):
            definition = handler.resolve_ref_schema(member)
            definition["properties"][self.tag].pop("default", None)
            required = definition.setdefault("required", [])
            if self.tag not in required:
                required.insert(0, self.tag)
        return json_schema


def utc_text(when: datetime) -> str:
    """A UTC time as the API and run reasons show it everywhere: 2027-01-01T09:00:00Z."""
    return when.isoformat().replace("+00:00", "Z")
