"""/api/session: the web UI's sign-in, a cookie holding the API key (``deps.SESSION_COOKIE``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from tasksched.api.clients import is_https
from tasksched.api.deps import SESSION_COOKIE, SESSION_HEADER, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import Me, SessionCreate
from tasksched.api.strict import strict_body
from tasksched.errors import Unauthorized

router = APIRouter(prefix="/api", tags=["keys"])

REMEMBER_SECONDS = 30 * 24 * 3600
"""How long a remembered sign-in lasts ("remember on this device"); otherwise until the browser closes."""

COOKIE_PATH = "/api"

HINT_COOKIE = "tasksched_signed_in"
"""A second cookie, ``1``, readable by the page (Path=/, not HttpOnly, no secret in it): it tells a new
tab to ask /api/auth/me at all, so that a signed-out visitor's pages make no 401s (each counts against
the address's failed authentications)."""


@router.post(
    "/session",
    operation_id="session_create",
    dependencies=strict_body(SessionCreate, Viewer),
    response_model=Me,
    summary="Sign in: a cookie (HttpOnly, SameSite=Strict) that carries the key for this browser",
    description=(
        "Checks the key sent as `Authorization: Bearer <API key>` and answers with a cookie holding it "
        f"(`{SESSION_COOKIE}`: HttpOnly, SameSite=Strict, Path=/api, Secure over HTTPS; beside it "
        f"`{HINT_COOKIE}=1`, which the page can read, says a session exists), so other tabs "
        "of the browser are signed in too; until the browser closes, or for 30 days with "
        f"`remember`. Calls signed in by the cookie must send `{SESSION_HEADER}: 1` on POST, PUT, "
        "PATCH and DELETE (403 otherwise). A revoked key's cookie stops working at once. "
        "Recorded in the audit log as `key.sign_in`."
    ),
)
async def create_session(
    request: Request,
    services: ServicesDep,
    principal: Viewer,
    _body: StorableJson,
    body: Annotated[SessionCreate, Body()] = SessionCreate(),  # noqa: B008 - see tasks.run_task
) -> Response:
    scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("sign in with the key itself: send 'Authorization: Bearer <API key>'")
    remember = body.remember
    await services.keys.record_sign_in(principal, remember=remember)
    me = Me(name=principal.name, role=principal.role, prefix=principal.prefix)
    response = Response(me.model_dump_json(), media_type="application/json")
    response.headers["Cache-Control"] = "no-store"
    secure = is_https(request, services.ctx.settings.trusted_proxy_list)
    max_age = REMEMBER_SECONDS if remember else None
    response.set_cookie(
        SESSION_COOKIE,
        key.strip(),
        max_age=max_age,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        HINT_COOKIE, "1", max_age=max_age, path="/", secure=secure, httponly=False, samesite="strict"
    )
    return response


@router.delete(
    "/session",
    operation_id="session_delete",
    status_code=204,
    summary="Sign out: the session cookie is cleared",
    description="Needs no key, so that the cookie of a revoked key can be cleared too; changes nothing stored.",
)
async def delete_session(request: Request, services: ServicesDep) -> Response:
    response = Response(status_code=204)
    secure = is_https(request, services.ctx.settings.trusted_proxy_list)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
    response.delete_cookie(HINT_COOKIE, path="/", secure=secure, httponly=False, samesite="strict")
    return response
