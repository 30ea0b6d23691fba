"""An event-loop stall meter: a ticker task that records how late each of its wake-ups is.

A task that sleeps ``interval`` seconds should wake ``interval`` later; anything that holds the loop
(a big ``orjson.dumps``, a synchronous file write) makes it wake late by about as long as it held it.
The largest lateness seen is the longest stall, measured to within about one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Self

from castbot_hikari.bench.stats import percentile


class StallMeter:
    """Record the lateness of periodic wake-ups on the running loop.

    Args:
        interval: Seconds between ticks.
        clock: Monotonic clock in seconds.
        sleep: The sleep to tick with (injected in tests).
    """

    def __init__(
        self,
        interval: float = 0.005,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self.gaps: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def tick(self, count: int | None = None) -> None:
        """Tick ``count`` times (forever for ``None``), recording each wake-up's lateness in seconds."""
        done = 0
        while count is None or done < count:
            expected = self._clock() + self.interval
            await self._sleep(self.interval)
            self.gaps.append(max(0.0, self._clock() - expected))
            done += 1

    def reset(self) -> None:
        """Forget the gaps recorded so far."""
        self.gaps.clear()

    @property
    def longest(self) -> float:
        """Return the longest lateness seen (seconds)."""
        return max(self.gaps, default=0.0)

    def quantile(self, fraction: float) -> float:
        """Return a percentile of the lateness (seconds; 0 for none)."""
        return percentile(self.gaps, fraction) or 0.0

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self.tick(), name="stall-meter")
        await asyncio.sleep(0)  # let the first tick start before the measured work
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
