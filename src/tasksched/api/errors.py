"""Every error as RFC 9457 ``application/problem+json``, naming the field or the reason.

Validation errors from Pydantic are turned into ``errors: [{"field": "schedule.expression",
"message": …}]`` with paths relative to the request body, so a UI can put each message beside its
field. Nothing unexpected leaks out as a bare 500: it is logged and answered as a problem too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasksched.api.introspect import allowed_methods
from tasksched.api.middleware import _TooLarge as BodyTooLarge
from tasksched.errors import TaskschedError

log = structlog.get_logger("tasksched.api")

PROBLEM_JSON = "application/problem+json"
# Tags of the discriminated unions: Pydantic puts them in error paths; users never wrote them.
_UNION_TAGS = {"action": {"http", "shell", "python"}, "schedule": {"once", "interval", "cron"}}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = list(errors)
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: Sequence[int | str]) -> tuple[str, str]:
    """('body', 'schedule', 'cron', 'expression') → ('body', 'schedule.expression')."""
    where = str(loc[0]) if loc else "body"
    parts: list[str] = []
    for item in loc[1:]:
        text = str(item)
        if parts and text in _UNION_TAGS.get(parts[-1], ()):
            continue
        if "[" in text and text.endswith("]") and not text.startswith("["):  # function-after[...] etc.
            continue
        parts.append(text)
    return where, ".".join(parts)


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "field required"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown type; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "a 'type' field is required"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def validation_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for error in errors:
        where, field = _field_path(error.get("loc", ()))
        entry: dict[str, Any] = {"field": field or where, "message": _message(error)}
        if where != "body":
            entry["in"] = where
        if entry not in out:
            out.append(entry)
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(TaskschedError)
    async def _domain_error(_request: Request, exc: TaskschedError) -> JSONResponse:
        errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
        # RFC 9110: a 401 says which scheme would be accepted.
        headers = {"WWW-Authenticate": 'Bearer realm="tasksched"'} if exc.status == 401 else None
        return problem(exc.status, exc.title, exc.detail, errors=errors, headers=headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in raw):
            return problem(400, "Malformed JSON", "the request body is not valid JSON")
        errors = validation_errors(raw)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, "Invalid input", summary or "the request is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):
            # A body without Content-Length crossed the limit while FastAPI read it; FastAPI turns
            # any error during that read into "400 error parsing the body". It is a 413.
            limit = request.app.state.services.ctx.settings.max_body_bytes
            return problem(
                413,
                "Payload too large",
                f"the request body is larger than the limit of {limit} bytes (TASKSCHED_MAX_BODY_BYTES)",
            )
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405 and (methods := allowed_methods(request.app, request.url.path)):
            headers = {**(headers or {}), "Allow": ", ".join(methods)}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, method=request.method)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
