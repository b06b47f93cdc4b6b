"""Dependencies: the services of the running app and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from tasksched.errors import Forbidden, InvalidInput, Unauthorized
from tasksched.services.context import Context
from tasksched.services.keys import KeyService, Principal, Role
from tasksched.services.runs import RunService
from tasksched.services.stats import StatsService
from tasksched.services.tasks import TaskService
from tasksched.services.workers import WorkerService


@dataclass
class Services:
    ctx: Context
    tasks: TaskService
    runs: RunService
    keys: KeyService
    stats: StatsService
    workers: WorkerService

    @classmethod
    def build(cls, ctx: Context) -> Services:
        return cls(
            ctx=ctx,
            tasks=TaskService(ctx),
            runs=RunService(ctx),
            keys=KeyService(ctx),
            stats=StatsService(ctx),
            workers=WorkerService(ctx),
        )


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_principal(
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    access_token: Annotated[
        str | None, Query(include_in_schema=False, description="For EventSource, which cannot set headers")
    ] = None,
) -> Principal:
    key: str | None = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use 'Authorization: Bearer <API key>'")
        key = value.strip()
    elif access_token:
        key = access_token
    if not key:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <API key>'")
    return await services.keys.authenticate(key)


def require(role: Role) -> object:
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(f"this needs the {role.value} role; the key '{principal.name}' is {principal.role.value}")
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
        raise InvalidInput(f"If-Match must be a task version such as \"3\", not {value!r}", field="If-Match") from None
