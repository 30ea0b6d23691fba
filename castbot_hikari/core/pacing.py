"""A token bucket that paces requests before a server has to refuse them.

Discord allows a bot 50 requests per second in all (interaction callbacks and webhooks aside) and answers
more with 429s, which count towards its ban of 10,000 invalid requests in 10 minutes; hikari only slows down
once such a 429 came back. In a click storm hundreds of applies would each send their requests at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from castbot_hikari.core.clock import Sleep

_EPSILON = 1e-9


class Pacer:
    """Lets ``rate`` requests per second through after a burst of ``burst``, first come first served.

    Args:
        rate: Requests per second in the long run.
        burst: Requests allowed at once after a quiet period.
        monotonic: Time source in seconds; ``sleep`` waits on it (tests inject both).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._last = monotonic()
        self._turn = asyncio.Lock()  # fair: waiters go through in arrival order

    @classmethod
    def per_second(
        cls, limit: float, *, monotonic: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> Pacer:
        """Return a pacer that lets at most ``limit`` requests through in any one second.

        A token bucket lets ``burst + rate * T`` through in any window of ``T`` seconds, so a burst as large
        as the rate would let twice the limit into one second (the burst, then a second's refill): the burst
        is a tenth of the limit and the rate the rest.
        """
        burst = max(1, int(limit / 10))
        return cls(max(limit - burst, 1.0), burst, monotonic=monotonic, sleep=sleep)

    async def wait(self) -> None:
        """Return once this request may be sent."""
        async with self._turn:
            while True:
                now = self._monotonic()
                self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
                self._last = now
                if self._tokens >= 1 - _EPSILON:  # a refill computed in floats may fall short by a hair
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                await self._sleep((1 - self._tokens) / self._rate)
