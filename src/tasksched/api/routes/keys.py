"""/api/keys: API keys (admin only) and /api/auth/me."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tasksched.api.deps import Admin, PathId, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import KeyCreate, KeyCreated, KeyOut, KeyPage, Me
from tasksched.api.strict import strict_body

router = APIRouter(prefix="/api", tags=["keys"])


@router.get("/auth/me", operation_id="auth_me", response_model=Me, summary="Who the presented key is")
async def me(principal: Viewer) -> Me:
    return Me(name=principal.name, role=principal.role, prefix=principal.prefix)


@router.get(
    "/keys", operation_id="keys_list", response_model=KeyPage, summary="List API keys (never their values)"
)
async def list_keys(services: ServicesDep, _: Admin) -> KeyPage:
    keys = await services.keys.list()
    return KeyPage(items=[KeyOut.model_validate(k.model_dump()) for k in keys])


@router.post(
    "/keys",
    operation_id="keys_create",
    dependencies=strict_body(KeyCreate, Admin),
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key (shown once)",
)
async def create_key(
    body: KeyCreate, services: ServicesDep, principal: Admin, _body: StorableJson
) -> KeyCreated:
    key, value = await services.keys.create(body.name, body.role, actor=principal.actor)
    return KeyCreated.model_validate({**key.model_dump(), "key": value})


@router.delete("/keys/{key_id}", operation_id="keys_revoke", status_code=204, summary="Revoke an API key")
async def revoke_key(key_id: PathId, services: ServicesDep, principal: Admin) -> Response:
    await services.keys.revoke(key_id, actor=principal.actor)
    return Response(status_code=204)
