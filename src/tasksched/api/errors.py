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
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasksched.api.deps import TOO_DEEP
from tasksched.api.introspect import allowed_methods
from tasksched.errors import ServiceUnavailable, TaskschedError

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


class BodyTooLarge(Exception):
    """Raised by the body size limit (``api/middleware.py``) while a body is being read."""


def payload_too_large(limit: int) -> JSONResponse:
    """The one 413 problem, whether refused by Content-Length or while the body streamed in."""
    return problem(
        413,
        "Payload too large",
        f"the request body is larger than the limit of {limit} bytes (TASKSCHED_MAX_BODY_BYTES)",
    )


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
        return (
            "a JSON request body is required"
            if tuple(error.get("loc", ())) == ("body",)
            else "field required"
        )
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown type; expected one of {expected}"
    if kind == "union_tag_not_found":
        return "a 'type' field is required"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _json_error_detail(error: dict[str, Any], document: Any) -> str:
    """ "not valid JSON: Expecting ',' delimiter at line 3, column 7", from FastAPI's json_invalid error."""
    reason = str(error.get("ctx", {}).get("error", "")) or "invalid JSON"
    loc = error.get("loc", ())
    position = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    if position is None or not isinstance(document, str):
        return f"the request body is not valid JSON: {reason}"
    line = document.count("\n", 0, position) + 1
    column = position - document.rfind("\n", 0, position)
    return f"the request body is not valid JSON: {reason} at line {line}, column {column}"


def body_parse_problem(cause: BaseException | None) -> tuple[str, str] | None:
    """(title, detail) for a body FastAPI could not parse, which it reports only as "There was an
    error parsing the body"; None for causes it does not come from."""
    if isinstance(cause, RecursionError):
        return "Body nested too deeply", TOO_DEEP
    if isinstance(cause, UnicodeDecodeError):
        byte = cause.object[cause.start : cause.start + 1].hex()
        return (
            "Malformed JSON",
            f"the request body is not UTF-8 text: byte 0x{byte} at offset {cause.start} ({cause.reason}); "
            "JSON must be sent as UTF-8",
        )
    return None


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
        headers: dict[str, str] | None = None
        if exc.status == 401:  # RFC 9110: a 401 says which scheme would be accepted
            headers = {"WWW-Authenticate": 'Bearer realm="tasksched"'}
        elif isinstance(exc, ServiceUnavailable):  # the database is down: when to try again
            headers = {"Retry-After": str(exc.retry_after)}
        return problem(exc.status, exc.title, exc.detail, errors=errors, headers=headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = list(exc.errors())
        invalid = next((e for e in raw if e.get("type") == "json_invalid"), None)
        if invalid is not None:
            return problem(400, "Malformed JSON", _json_error_detail(invalid, exc.body))
        errors = validation_errors(raw)
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        return problem(422, "Invalid input", summary or "the request is invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, BodyTooLarge):
            # A body without Content-Length crossed the limit while FastAPI read it; FastAPI turns
            # any error during that read into "400 error parsing the body". It is a 413.
            return payload_too_large(request.app.state.services.ctx.settings.max_body_bytes)
        if exc.status_code == 400 and (parse_problem := body_parse_problem(exc.__cause__)):
            return problem(400, *parse_problem)
        titles = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405 and (methods := allowed_methods(request.app, request.url.path)):
            headers = {**(headers or {}), "Allow": ", ".join(methods)}
        return problem(exc.status_code, titles.get(exc.status_code, "Error"), detail, headers=headers)

    app.add_middleware(_LastResort)


class _LastResort:
    """An exception no handler took: logged once, with its traceback, and answered as a 500 problem.

    Starlette's own last resort answers too, but then re-raises: the server logs the traceback a
    second time and closes the connection, dropping whatever request the client had sent next on it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error", path=scope.get("path"), method=scope.get("method"))
            if started:  # too late for an answer: the server closes the connection
                raise
            response = problem(500, "Internal error", "an unexpected error occurred; it has been logged")
            await response(scope, receive, send)
