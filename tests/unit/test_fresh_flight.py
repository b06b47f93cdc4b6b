"""FreshFlight: one load at a time per key, and no answer older than what its caller had seen."""

from __future__ import annotations

import asyncio

import pytest

from tasksched.aio import FreshFlight


class Source:
    """A version counter and a load that records the version it began at."""

    def __init__(self) -> None:
        self.version = 0
        self.loads: list[int] = []
        self.release = asyncio.Event()

    def current(self) -> int:
        return self.version

    async def load(self, version: int) -> int:
        self.loads.append(version)
        await self.release.wait()
        return version


async def test_callers_of_one_version_share_one_load() -> None:
    flight: FreshFlight[str, int] = FreshFlight("loading")
    source = Source()
    callers = [asyncio.create_task(flight.join("k", 0, source.current, source.load)) for _ in range(20)]
    await asyncio.sleep(0)
    source.release.set()
    assert await asyncio.gather(*callers) == [0] * 20
    assert source.loads == [0]


async def test_a_caller_that_saw_a_newer_version_waits_for_the_next_load_which_newer_callers_share() -> None:
    flight: FreshFlight[str, int] = FreshFlight("loading")
    source = Source()
    first = asyncio.create_task(flight.join("k", 0, source.current, source.load))
    await asyncio.sleep(0)
    # Changes arrive while the first load runs; every later caller has seen one of them.
    later = []
    for _ in range(10):
        source.version += 1
        later.append(asyncio.create_task(flight.join("k", source.version, source.current, source.load)))
    await asyncio.sleep(0)
    assert source.loads == [0]  # nobody started a second load beside the first
    source.release.set()
    assert await first == 0
    assert await asyncio.gather(*later) == [10] * 10  # one more load, begun after all had asked
    assert source.loads == [0, 10]


async def test_keys_load_apart_and_a_failure_reaches_its_callers_only() -> None:
    flight: FreshFlight[str, int] = FreshFlight("loading")

    async def broken(version: int) -> int:
        raise RuntimeError("no")

    async def fine(version: int) -> int:
        return 7

    with pytest.raises(RuntimeError):
        await flight.join("a", 0, lambda: 0, broken)
    assert await flight.join("b", 0, lambda: 0, fine) == 7
    assert await flight.join("a", 0, lambda: 0, fine) == 7  # the failed load is not kept


async def test_a_caller_giving_up_does_not_cancel_the_load_for_the_others() -> None:
    flight: FreshFlight[str, int] = FreshFlight("loading")
    source = Source()
    impatient = asyncio.create_task(flight.join("k", 0, source.current, source.load))
    patient = asyncio.create_task(flight.join("k", 0, source.current, source.load))
    await asyncio.sleep(0)
    impatient.cancel()
    source.release.set()
    assert await patient == 0
