"""``GET /metrics``: Prometheus text, outside the JSON API (no API key; an optional scrape token)."""

from __future__ import annotations

import asyncio
import hmac
import time

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from tasksched.api import errors
from tasksched.api.deps import ServicesDep
from tasksched.api.metrics import exposition
from tasksched.observability.outage import log_failure
from tasksched.services.monitoring import Snapshot

log = structlog.get_logger("tasksched.api")
router = APIRouter(tags=["system"])

# A scrape must answer before Prometheus gives up on it (10 s by default), database or not.
DATABASE_TIMEOUT_SECONDS = 5.0


@router.get("/metrics", operation_id="metrics_get", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    token = services.ctx.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return errors.problem(
                401,
                "Unauthorized",
                "this server's /metrics needs 'Authorization: Bearer <TASKSCHED_METRICS_TOKEN>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
    started = time.perf_counter()
    snapshot: Snapshot | None
    try:
        snapshot = await asyncio.wait_for(services.monitoring.snapshot(), DATABASE_TIMEOUT_SECONDS)
    except Exception as exc:  # the database is down or slow: say so in the metrics, answer anyway
        log_failure(log, "metrics could not read the database", exc)
        snapshot = None
    body = exposition(snapshot, time.perf_counter() - started)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
