"""The in-process event bus: typed subscriptions, bounded queues, and ``resync`` reaching everyone."""

from __future__ import annotations

from tasksched.events.bus import RESYNC, RUN_CREATED, TASK_UPDATED, Event, EventBus


async def test_a_subscriber_gets_only_the_types_it_asked_for() -> None:
    bus = EventBus()
    sub = bus.subscribe({RUN_CREATED})
    bus.publish(Event(TASK_UPDATED, {"id": 1}), Event(RUN_CREATED, {"id": 2}))
    assert [e.type for e in sub.drain()] == [RUN_CREATED]


async def test_resync_reaches_every_subscriber_whatever_it_asked_for() -> None:
    bus = EventBus()
    runs_only = bus.subscribe({RUN_CREATED})
    everything = bus.subscribe()
    assert bus.wants(RESYNC)
    bus.deliver_local([Event(RESYNC)])
    assert [e.type for e in runs_only.drain()] == [RESYNC]
    assert [e.type for e in everything.drain()] == [RESYNC]


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=2)
    bus.publish(*(Event(TASK_UPDATED, {"id": i}) for i in range(3)))
    assert sub.dropped == 1
    assert [e.data["id"] for e in sub.drain()] == [1, 2]


async def test_nobody_listening_means_no_event_is_wanted() -> None:
    bus = EventBus()
    assert not bus.wants(TASK_UPDATED)
    sub = bus.subscribe({TASK_UPDATED})
    assert bus.wants(TASK_UPDATED)
    assert not bus.wants(RUN_CREATED)
    sub.close()
    assert not bus.wants(TASK_UPDATED)
