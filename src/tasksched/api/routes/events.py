"""/api/events: Server-Sent Events for task and run changes, and tickets to open them with."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from tasksched.api.deps import ServicesDep, StreamViewer, Viewer
from tasksched.api.schemas import EventTicket
from tasksched.events.bus import (
    RESYNC,
    RUN_CREATED,
    RUN_OUTPUT,
    RUN_UPDATED,
    TASK_CREATED,
    TASK_DELETED,
    TASK_UPDATED,
)

router = APIRouter(prefix="/api", tags=["events"])

STREAMED = (TASK_CREATED, TASK_UPDATED, TASK_DELETED, RUN_CREATED, RUN_UPDATED, RUN_OUTPUT)
KEEPALIVE_SECONDS = 15.0


@router.get(
    "/events",
    operation_id="events_stream",
    summary="Live task and run changes (text/event-stream)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(request: Request, services: ServicesDep, _: StreamViewer) -> StreamingResponse:
    bus = services.ctx.bus
    subscription = bus.subscribe(STREAMED, maxsize=5000)
    # A client that reconnects sends the id it last saw (EventSource does by itself). What changed
    # while it was away (on this instance or, behind a load balancer, while it moved to another)
    # cannot be replayed: tell it to re-read everything first.
    reconnected = request.headers.get("last-event-id") is not None

    async def stream() -> AsyncIterator[str]:
        try:
            # The id (when this stream opened) is what makes the client send Last-Event-ID later.
            yield f"retry: 2000\nid: {int(time.time() * 1000)}\n\n"
            if reconnected:
                yield f"event: {RESYNC}\ndata: {{}}\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keepalive\n\n"
                    continue
                if subscription.dropped:
                    # The client fell behind and lost events: tell it to refetch everything.
                    subscription.dropped = 0
                    yield f"event: {RESYNC}\ndata: {{}}\n\n"
                yield f"event: {event.type}\ndata: {json.dumps(event.data, default=str)}\n\n"
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/events/tickets",
    operation_id="events_ticket",
    response_model=EventTicket,
    summary="A short-lived ticket that opens GET /api/events?ticket=… (for EventSource)",
)
async def event_ticket(services: ServicesDep, principal: Viewer, response: Response) -> EventTicket:
    ticket = await services.tickets.issue(principal)
    response.headers["Cache-Control"] = "no-store"  # a credential, however short-lived
    return EventTicket(ticket=ticket.value, expires_at=ticket.expires_at)
