"""Time, injectable so tests never sleep: the ``Clock`` port, the real clock and the ``Sleep`` type."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

Sleep = Callable[[float], Awaitable[None]]


class Clock(Protocol):
    """Wall-clock and monotonic time."""

    def now_ms(self) -> int:
        """Return wall-clock Unix time in milliseconds."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds."""
        ...


class SystemClock:
    """Wall-clock and monotonic time from the operating system."""

    def now_ms(self) -> int:
        """Return Unix time in milliseconds."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """Return monotonic seconds."""
        return time.monotonic()
