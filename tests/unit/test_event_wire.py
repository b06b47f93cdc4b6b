"""The relays' wire format: batches under the transport's limit, the sender's own ignored."""

from __future__ import annotations

from tasksched.events import wire
from tasksched.events.bus import RUN_CREATED, Event


def test_batches_stay_under_the_limit_and_keep_the_order() -> None:
    events = [Event(RUN_CREATED, {"id": i, "pad": "x" * 100}) for i in range(100)]
    payloads = wire.encode("me", events, 1000)
    assert len(payloads) > 1
    assert all(len(p) < 1000 + 100 for p in payloads)  # the envelope around at most 1000 of items
    assert [e for p in payloads for e in wire.decode("other", p)] == events


def test_an_event_too_large_for_any_batch_is_left_out() -> None:
    events = [Event(RUN_CREATED, {"id": 1}), Event(RUN_CREATED, {"id": 2, "pad": "x" * 2000})]
    received = [e for p in wire.encode("me", events, 1000) for e in wire.decode("other", p)]
    assert received == [Event(RUN_CREATED, {"id": 1})]


def test_own_batches_and_foreign_messages_give_nothing() -> None:
    (payload,) = wire.encode("me", [Event(RUN_CREATED, {"id": 1})], 1000)
    assert wire.decode("me", payload) == []
    assert wire.decode("other", "not json") == []
    assert wire.decode("other", "[1, 2]") == []
