"""The API control: a bare Starlette app answering ``GET /api/tasks?limit=50`` with the query tasksched's
store runs for it (the page by name, then the count), on the same database, without auth or validation.

``PEERS_CONTROL_URL=<tasksched database URL> .venv/bin/uvicorn bench.peers.control:app --port N``
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


PAGE = sa.text("SELECT * FROM tasks ORDER BY name ASC, id ASC LIMIT :limit OFFSET :offset")
COUNT = sa.text("SELECT count(*) FROM tasks")
ENGINE: dict[str, AsyncEngine] = {}


async def list_tasks(request: Request) -> Response:
    limit = min(int(request.query_params.get("limit", "50")), 500)
    offset = int(request.query_params.get("offset", "0"))
    async with ENGINE["db"].connect() as conn:
        rows = [dict(r) for r in (await conn.execute(PAGE, {"limit": limit, "offset": offset})).mappings()]
        total = len(rows) if offset == 0 and len(rows) < limit else (await conn.execute(COUNT)).scalar_one()
    body: dict[str, Any] = {"items": rows, "total": total}
    return Response(orjson.dumps(body, default=str), media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    ENGINE["db"] = create_async_engine(async_url(os.environ["PEERS_CONTROL_URL"]), pool_size=10)
    yield
    await ENGINE["db"].dispose()


app = Starlette(routes=[Route("/api/tasks", list_tasks)], lifespan=lifespan)
