"""Shared Pydantic configuration for the domain's models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, JsonValue
from pydantic_core import CoreSchema


class StrictModel(BaseModel):
    """Input models refuse unknown fields: a typo must be an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


JSONValue = JsonValue


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
