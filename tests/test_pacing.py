"""The pacer lets a burst through, then ``rate`` per second, in arrival order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

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


async def most_in_one_second(make: Callable[[Time], Pacer]) -> int:
    """Send a wave, wait, send a long wave; return the most requests sent in any one-second window."""
    time = Time()
    pacer = make(time)
    sent: list[float] = []

    async def request() -> None:
        await pacer.wait()
        sent.append(time.now)

    await asyncio.gather(*(request() for _ in range(30)))
    time.now += 5.0  # quiet: the bucket refills
    await asyncio.gather(*(request() for _ in range(200)))
    # The busiest window starts at some send time (any window can slide forward to its first request).
    return max(sum(1 for t in sent if start <= t < start + 1.0 - 1e-9) for start in sent)


@pytest.mark.asyncio
async def test_per_second_never_lets_more_than_the_limit_into_one_second() -> None:
    """Discord counts its global limit per second: the pacer's burst plus a second's refill must fit in it."""

    def per_second(time: Time) -> Pacer:
        return Pacer.per_second(45, monotonic=time, sleep=time.sleep)

    def burst_as_large_as_the_rate(time: Time) -> Pacer:
        return Pacer(45, 45, monotonic=time, sleep=time.sleep)

    assert await most_in_one_second(per_second) <= 45
    assert await most_in_one_second(burst_as_large_as_the_rate) > 50  # what this guards against
