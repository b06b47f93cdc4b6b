"""/api/channels: where notices go (admin to change, anyone to read: secrets are masked)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tasksched.api.deps import Admin, PathId, ServicesDep, StorableJson, Viewer
from tasksched.api.schemas import ChannelPage
from tasksched.api.strict import strict_body
from tasksched.domain.notifications import Channel, ChannelSpec, ChannelTestResult

router = APIRouter(prefix="/api/channels", tags=["notifications"])


@router.get(
    "", operation_id="channels_list", response_model=ChannelPage, summary="List notification channels"
)
async def list_channels(services: ServicesDep, _: Viewer) -> ChannelPage:
    return ChannelPage(items=await services.channels.list())


@router.post(
    "",
    operation_id="channels_create",
    dependencies=strict_body(ChannelSpec, Admin),
    status_code=201,
    response_model=Channel,
    summary="Create a notification channel",
)
async def create_channel(
    spec: ChannelSpec,
    services: ServicesDep,
    principal: Admin,
    _body: StorableJson,
    request: Request,
    response: Response,
) -> Channel:
    channel = await services.channels.create(spec, actor=principal.actor)
    response.headers["Location"] = str(request.url_for("get_channel", channel_id=channel.id))
    return channel


@router.get("/{channel_id}", operation_id="channels_get", response_model=Channel, summary="Get a channel")
async def get_channel(channel_id: PathId, services: ServicesDep, _: Viewer) -> Channel:
    return await services.channels.get(channel_id)


@router.put(
    "/{channel_id}",
    operation_id="channels_replace",
    dependencies=strict_body(ChannelSpec, Admin),
    response_model=Channel,
    summary="Replace a channel (send `********` to keep a stored secret)",
)
async def replace_channel(
    channel_id: PathId, spec: ChannelSpec, services: ServicesDep, principal: Admin, _body: StorableJson
) -> Channel:
    return await services.channels.replace(channel_id, spec, actor=principal.actor)


@router.delete(
    "/{channel_id}",
    operation_id="channels_delete",
    status_code=204,
    summary="Delete a channel and its notices",
)
async def delete_channel(channel_id: PathId, services: ServicesDep, principal: Admin) -> Response:
    await services.channels.delete(channel_id, actor=principal.actor)
    return Response(status_code=204)


@router.post(
    "/{channel_id}/test",
    operation_id="channels_test",
    response_model=ChannelTestResult,
    summary="Send a test notice to the channel now and report what happened",
)
async def test_channel(channel_id: PathId, services: ServicesDep, principal: Admin) -> ChannelTestResult:
    return await services.channels.test(channel_id, actor=principal.actor)
