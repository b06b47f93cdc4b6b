"""How relays put events on the wire: JSON batches tagged with the sending process's origin.

A process ignores its own batches on the way back (it delivered them locally already). A batch
stays under the transport's size limit; an event too large for any batch is left out, and its
receivers find the change at their next read of the database (the source of truth). A relay may
send a stand-in instead (``oversized``, such as ``resync``), so that receivers re-read at once.
"""

from __future__ import annotations

import json
from typing import Any

from tasksched.events.bus import Event


def encode(
    origin: str, events: list[Event], max_payload: int, *, oversized: Event | None = None
) -> list[str]:
    payloads: list[str] = []
    batch: list[dict[str, Any]] = []
    size = 0
    for event in events:
        item = {"t": event.type, "d": event.data}
        item_size = len(json.dumps(item, default=str))
        if item_size > max_payload:
            if oversized is None:
                continue
            item = {"t": oversized.type, "d": oversized.data}
            item_size = len(json.dumps(item, default=str))
            if batch and batch[-1] == item:
                continue  # one stand-in says it for a run of them
        if batch and size + item_size > max_payload:
            payloads.append(json.dumps({"o": origin, "e": batch}, default=str))
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(json.dumps({"o": origin, "e": batch}, default=str))
    return payloads


def decode(origin: str, payload: str | bytes) -> list[Event]:
    """The events of a batch, none when it is this process's own or not a batch at all."""
    try:
        message = json.loads(payload)
    except ValueError:
        return []
    if not isinstance(message, dict) or message.get("o") == origin:
        return []
    return [Event(item["t"], item.get("d", {})) for item in message.get("e", [])]
