"""The pacer lets a burst through, then ``rate`` per second, in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from castbot_hikari.core.pacing import Pacer


class Time:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_a_burst_then_the_rate_in_arrival_order() -> None:
    time = Time()
    pacer = Pacer(10, 5, monotonic=time, sleep=time.sleep)
    sent: list[tuple[int, float]] = []

    async def request(n: int) -> None:
        await pacer.wait()
        sent.append((n, time.now))

    await asyncio.gather(*(request(n) for n in range(25)))
    assert [n for n, _ in sent] == list(range(25))  # first come, first served
    assert all(at == 0 for _, at in sent[:5])  # the burst
    assert sent[-1][1] == pytest.approx(2.0)  # 20 more at 10 per second
    for n in range(5, 25):  # never faster than the rate after the burst
        assert sent[n][1] >= (n - 4) / 10 - 1e-9
