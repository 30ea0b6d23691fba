"""The real clock (the ``Clock`` port)."""

from __future__ import annotations

import time


class SystemClock:
    """Wall-clock and monotonic time from the operating system."""

    def now_ms(self) -> int:
        """Return Unix time in milliseconds."""
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        """Return monotonic seconds."""
        return time.monotonic()
