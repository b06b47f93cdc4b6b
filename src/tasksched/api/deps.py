"""Dependencies: the services of the running app and the caller's identity."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator, BeforeValidator, StringConstraints

from tasksched.api.clients import client_address
from tasksched.domain.principals import Principal, Role
from tasksched.domain.schedules import ScheduleTime
from tasksched.errors import Forbidden, InvalidInput, TaskschedError, Unauthorized
from tasksched.services.audit import AuditService
from tasksched.services.backups import BackupService
from tasksched.services.channels import ChannelService, NotificationService
from tasksched.services.context import Context
from tasksched.services.health import HealthService
from tasksched.services.keys import KeyService
from tasksched.services.monitoring import MonitoringService
from tasksched.services.planning import PlanningService
from tasksched.services.runs import RunService
from tasksched.services.stats import StatsService
from tasksched.services.task_bulk import TaskBulkService
from tasksched.services.tasks import TaskService
from tasksched.services.tickets import TicketService
from tasksched.services.workers import WorkerService


@dataclass
class Services:
    ctx: Context
    tasks: TaskService
    task_bulk: TaskBulkService
    runs: RunService
    keys: KeyService
    stats: StatsService
    workers: WorkerService
    tickets: TicketService
    health: HealthService
    audit: AuditService
    monitoring: MonitoringService
    backups: BackupService
    channels: ChannelService
    notifications: NotificationService
    planning: PlanningService

    @classmethod
    def build(cls, ctx: Context) -> Services:
        return cls(
            ctx=ctx,
            tasks=TaskService(ctx),
            task_bulk=TaskBulkService(ctx),
            runs=RunService(ctx),
            keys=KeyService(ctx),
            stats=StatsService(ctx),
            workers=WorkerService(ctx),
            tickets=TicketService(ctx),
            health=HealthService(ctx),
            audit=AuditService(ctx),
            monitoring=MonitoringService(ctx),
            backups=BackupService(ctx),
            channels=ChannelService(ctx),
            notifications=NotificationService(ctx),
            planning=PlanningService(ctx),
        )


async def get_services(request: Request) -> Services:
    # async, though it awaits nothing: FastAPI runs plain ``def`` dependencies in a thread pool,
    # a thread hop on every request for a dictionary lookup.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


KEY_IN_URL_REFUSED = (
    "API keys are not accepted in the URL (?access_token=): send 'Authorization: Bearer <API key>'; "
    "for GET /api/events, POST /api/events/tickets and open /api/events?ticket=<ticket>"
)
TICKET_REFUSED = (
    "a ticket (?ticket=) is accepted by GET /api/events only; send 'Authorization: Bearer <API key>'"
)


async def current_principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>`` (or, without it, the session cookie the web
    UI signs in with: ``SESSION_COOKIE``). Read straight from the request: this runs
    on every call. A key in the URL is refused rather than ignored, so a client that sends one
    learns at once (URLs end up in logs, proxies and browser history); the event stream, which
    EventSource cannot give headers, takes a short-lived ticket instead (``stream_principal``)."""
    query = request.query_params
    if "access_token" in query:
        raise Unauthorized(KEY_IN_URL_REFUSED)
    if "ticket" in query:
        raise Unauthorized(TICKET_REFUSED)
    services: Services = request.app.state.services
    authorization = request.headers.get("authorization")
    if not authorization:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <API key>'")
        _refuse_cross_site(request)
        return _from(request, services, await services.keys.authenticate(session))
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("use 'Authorization: Bearer <API key>'")
    return _from(request, services, await services.keys.authenticate(value.strip()))


# --- the session cookie ---------------------------------------------------------------------------

SESSION_COOKIE = "tasksched_session"
"""Set by ``POST /api/session`` (the web UI's sign-in): HttpOnly, SameSite=Strict, Path=/api, Secure
over HTTPS; it holds the API key, so each request is checked as the key is (a revoked key's cookie
stops working at once). An ``Authorization`` header, when sent, is used instead."""

SESSION_HEADER = "X-Tasksched-Request"
"""The header a request signed in by the cookie must send on POST, PUT, PATCH and DELETE.

Another site's page cannot send it without a CORS preflight this server does not grant (the
allowed headers are ``Authorization``, ``Content-Type`` and ``If-Match``); with SameSite=Strict
(the browser sends no cookie on a request another site starts) it keeps the cookie from being
used by anyone but this server's own pages."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteRefused(Forbidden):
    """A change asked with the session cookie that may come from another site: refused, as 403."""

    title = "Cross-site request refused"


def _refuse_cross_site(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    if not request.headers.get(SESSION_HEADER):
        raise CrossSiteRefused(
            f"a {request.method} signed in by the session cookie must send the header "
            f"'{SESSION_HEADER}: 1' (so that other sites' pages cannot use the cookie), "
            "or send 'Authorization: Bearer <API key>' instead"
        )
    origin = request.headers.get("origin")
    host = urlsplit(f"//{request.headers.get('host', '')}").hostname
    # Host names only: a proxy in front may drop the port from Host, or end TLS (the scheme).
    if origin is not None and urlsplit(origin).hostname != host:
        raise CrossSiteRefused(
            f"the request comes from the page of another site ({origin!r}); the session cookie "
            "works for this server's own pages only"
        )


def _from(request: Request, services: Services, principal: Principal) -> Principal:
    """``principal`` as it asks this time: from this request's client address (the audit log's)."""
    return replace(principal, address=client_address(request, services.ctx.settings.trusted_proxy_list))


async def stream_principal(
    request: Request,
    ticket: Annotated[
        str | None,
        Query(max_length=200, description="A ticket from POST /api/events/tickets (for EventSource)."),
    ] = None,
) -> Principal:
    """The caller of GET /api/events: a ticket from ``POST /api/events/tickets`` in the URL (as
    EventSource needs), or the Bearer header as everywhere else."""
    if ticket is None:
        return await current_principal(request)
    if "access_token" in request.query_params:
        raise Unauthorized(KEY_IN_URL_REFUSED)
    services: Services = request.app.state.services
    return _from(request, services, await services.tickets.redeem(ticket))


StreamViewer = Annotated[Principal, Depends(stream_principal)]
"""Any role may watch the stream; a ticket carries its key's rights to it and to nothing else."""


def require(role: Role) -> object:
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(
                f"this needs the {role.value} role; the key '{principal.name}' is {principal.role.value}"
            )
        return principal

    return Depends(_check)


Viewer = Annotated[Principal, require(Role.VIEWER)]
Operator = Annotated[Principal, require(Role.OPERATOR)]
Admin = Annotated[Principal, require(Role.ADMIN)]


def parse_if_match(value: str | None) -> int | None:
    """``If-Match: "3"`` (or W/"3", or 3) → 3; ``*`` matches any version."""
    if value is None or value.strip() == "*":
        return None
    text = value.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(
            f'If-Match must be a task version such as "3", not {value!r}', field="If-Match"
        ) from None


# --- ids, paging and text in the URL ------------------------------------------------------------

MAX_ID = 2**63 - 1
"""The largest id (and offset) the databases can take (BIGINT); larger numbers would fail in the driver."""

PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL; refusing it everywhere keeps both databases alike.
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SearchText = Annotated[str | None, AfterValidator(_no_nul)]


def _iso_time(value: object) -> object:
    # Pydantic would also read "0.5" or "1700000000" as Unix times; the document says date-time.
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a time such as 2026-01-01T09:00:00Z (ISO 8601 with a UTC offset)")
    return value


QueryTime = Annotated[ScheduleTime, BeforeValidator(_iso_time)]
"""A time in the URL: ISO 8601 with a UTC offset, in the years schedules support."""

Word = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
"""One value of a repeatable text filter (``?action=task.create&action=task.delete``)."""


# --- JSON bodies the databases can store --------------------------------------------------------

MAX_BODY_DEPTH = 200
"""How deeply arrays and objects may nest in a request body (the body itself is level 1).

orjson, which encodes pages of tasks, gives up at 255 levels, and a page puts a stored value four
levels down where a request body has it two: a task saved deeper would break every listing of it.
"""

INT64 = range(-(2**63), 2**63)
"""The integers a body may hold.

orjson, which reads stored JSON back, reads a larger integer as a float (10**30 came back as 1e+30)
and cannot write one at all; many JSON clients cannot hold one either. Refused with the field named
rather than kept exact in one place and rounded in another; a larger number can travel as a string.
"""


class BodyTooDeep(TaskschedError):
    """A body nested beyond ``MAX_BODY_DEPTH``: a limit on the document's form, so a 400 like bad JSON."""

    status = 400
    title = "Body nested too deeply"


TOO_DEEP = f"the request body nests arrays and objects deeper than the limit of {MAX_BODY_DEPTH} levels"


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL (\\u0000) characters"
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            return "must be valid Unicode text (\\ud800-\\udfff escapes must come in pairs)"
    return None


def _unstorable(data: Any) -> tuple[str, str] | None:
    """The first place in parsed JSON that a database cannot store, as (field path, message)."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), data)]
    while stack:  # iterative: a deeply nested body must not exhaust the recursion limit
        path, value = stack.pop()
        if isinstance(value, str) and (problem := _text_problem(value)):
            return ".".join(path), problem
        if isinstance(value, float) and not math.isfinite(value):
            return ".".join(path), "must be a finite number (NaN and Infinity are not JSON)"
        if isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            return ".".join(path), (
                f"integers must be from {INT64.start} to {INT64.stop - 1} (64 bits); send larger ones as strings"
            )
        if isinstance(value, dict | list) and len(path) >= MAX_BODY_DEPTH:
            raise BodyTooDeep(TOO_DEEP, field=".".join(path[:2]) or "body")
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                if problem := _text_problem(key):
                    return ".".join(path), f"keys {problem}"
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(value))))
    return None


# What may make a parsed body unstorable shows in its bytes first: NUL and lone surrogates only as
# escapes (or, for surrogates, as their UTF-8 form, which the parser lets through), NaN and
# Infinity as words, and numbers beyond 64 bits or a float's range only with 19 digits in a row or
# a three-digit exponent. A body with none of them (and no NUL byte: UTF-16 or -32) needs only its
# depth checked; any of them, anywhere, even inside a string, and the whole walk runs.
_SUSPECT = re.compile(
    rb"\\u0000|\\u[dD][89abcdefABCDEF]|\xed[\xa0-\xbf]|NaN|Infinity|\d{19}|[eE][+-]?\d{3}|\x00"
)


def _within_depth(data: Any) -> bool:
    """Whether no array or object of ``data`` is nested as deeply as ``_unstorable`` refuses."""
    level = [data] if isinstance(data, dict | list) else []
    depth = 0
    while level:
        if depth >= MAX_BODY_DEPTH:
            return False
        below: list[Any] = []
        for value in level:
            items = value.values() if type(value) is dict else value
            below.extend(item for item in items if isinstance(item, dict | list))
        level = below
        depth += 1
    return True


async def storable_json(request: Request) -> None:
    """Refuse a JSON body that parses but cannot be stored: NUL characters, NaN, Infinity, 1e999,
    integers beyond 64 bits, nesting beyond ``MAX_BODY_DEPTH``.

    Python's parser accepts all of them; PostgreSQL refuses the first ones (a 500 otherwise), and a
    SQLite database holding them could not be copied to PostgreSQL; the last two would not read back
    or list as sent. Malformed bodies are left to FastAPI (``api/errors.py`` words its refusals).

    The body is the one FastAPI parsed for the route (``request.json()`` keeps it), not parsed
    again; its bytes say whether each value must be looked at (``_SUSPECT``), else only the depth.
    """
    raw = await request.body()
    if not raw:
        return
    try:
        data = await request.json()
    except RecursionError:
        raise BodyTooDeep(TOO_DEEP) from None
    except ValueError:
        return
    if _SUSPECT.search(raw) is None and _within_depth(data):
        return
    found = _unstorable(data)
    if found is not None:
        field, message = found
        raise InvalidInput(f"{field or 'body'}: {message}", field=field or "body")


StorableJson = Annotated[None, Depends(storable_json)]
