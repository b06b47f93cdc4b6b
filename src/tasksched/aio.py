"""Small asyncio helpers shared by the long-running loops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def wait_any(*aws: Awaitable[Any], timeout: float) -> None:
    """Wait until any of ``aws`` completes or ``timeout`` seconds pass; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
