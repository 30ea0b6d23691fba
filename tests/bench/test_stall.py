"""The stall meter: lateness of a ticker's wake-ups."""

from __future__ import annotations

import asyncio
import time

import pytest

from castbot_hikari.bench.stall import StallMeter


class ScriptedTime:
    """A clock that a fake sleep advances by the interval plus a scripted delay."""

    def __init__(self, delays: list[float]) -> None:
        self.now = 100.0
        self._delays = delays

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self._delays.pop(0)


@pytest.mark.asyncio
async def test_gaps_are_the_lateness_of_each_wake_up() -> None:
    fake = ScriptedTime([0.0, 0.2, 0.0, 0.05])
    meter = StallMeter(0.01, clock=fake.clock, sleep=fake.sleep)
    await meter.tick(4)
    assert meter.gaps == pytest.approx([0.0, 0.2, 0.0, 0.05])
    assert meter.longest == pytest.approx(0.2)
    assert meter.quantile(0.5) == pytest.approx(0.0)
    meter.reset()
    assert meter.longest == 0.0


@pytest.mark.asyncio
async def test_early_wake_ups_count_as_no_lateness() -> None:
    fake = ScriptedTime([-0.005])
    meter = StallMeter(0.01, clock=fake.clock, sleep=fake.sleep)
    await meter.tick(1)
    assert meter.gaps == [0.0]


@pytest.mark.asyncio
async def test_a_blocked_loop_shows_as_a_stall_of_at_least_the_block() -> None:
    async with StallMeter(0.005) as meter:
        await asyncio.sleep(0.02)
        time.sleep(0.1)  # noqa: ASYNC251 - the point: hold the loop
        await asyncio.sleep(0.02)
    # The ticker cannot wake while the loop is held: it is late by at least the block minus one interval.
    assert meter.longest >= 0.1 - 0.005
