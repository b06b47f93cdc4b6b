"""JSON bodies are checked against their JSON types, as the OpenAPI document states them.

FastAPI validates a body in Pydantic's lax Python mode, which turns ``"yes"`` and ``1`` into
``true``, ``"60"`` into ``60`` and ``0`` into a date: the document says ``boolean``, ``integer``
and ``date-time`` and the server took anything that could be converted. Each body is first
validated here in strict JSON mode (strings for dates, numbers for numbers, booleans for
booleans), so what the document refuses the server refuses too, with the same problem shape.
The domain's models stay lax: they also read rows back from the databases.
"""

from __future__ import annotations

import typing
from typing import Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError


def strict_body(model: type[BaseModel], role: Any) -> list[Any]:
    """Route dependencies: the caller has ``role`` (``deps.Admin`` …), then the body is ``model`` in
    strict JSON mode.

    A route's own dependencies run before its parameters'; the role's check comes first so a
    caller without the key or the role hears 401 or 403, not what is wrong with the body. FastAPI
    runs the role's check once per request: the parameter that asks for it again gets its result.
    """
    adapter: TypeAdapter[BaseModel] = TypeAdapter(model)

    async def check(request: Request) -> None:
        raw = await request.body()
        if not raw:
            return  # FastAPI answers a missing body itself
        try:
            adapter.validate_json(raw, strict=True)
        except ValidationError as exc:
            errors = exc.errors()
            if any(error["type"] == "json_invalid" for error in errors):
                return  # not JSON at all: FastAPI answers 400 Malformed JSON
            raise RequestValidationError(
                [{**error, "loc": ("body", *error["loc"])} for error in errors]
            ) from None

    return [typing.get_args(role)[1], Depends(check)]
