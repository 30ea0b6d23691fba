"""Discord's channel write rate limit (error 20028): too many new messages in one channel.

Independent of the route buckets (whose headers say nothing about it), Discord refuses new messages
in a channel that receives them faster than it allows, with a 429 of scope ``shared`` and code 20028.
hikari waits out its ``retry_after`` and retries (or raises ``RateLimitTooLongError`` beyond its
``max_rate_limit``). Runs on real time, like the buckets: clients wait with real sleeps.
"""

from __future__ import annotations

import collections
import time
from typing import Final

from castbot_hikari.testing.emulator import errors

CHANNEL_WRITE_LIMIT: Final = (50, 10.0)
"""Default: 50 new messages per 10 s per channel, far above what any test or the sandbox posts."""
CHANNEL_WRITE_MESSAGE: Final = "The channel you are writing has hit the write rate limit"


class ChannelWrites:
    """Sliding-window count of new messages per channel.

    Args:
        limit: ``(messages, seconds)`` allowed per channel, or ``None`` for no limit.
    """

    def __init__(self, limit: tuple[int, float] | None = CHANNEL_WRITE_LIMIT) -> None:
        self.limit = limit
        self._writes: dict[int, collections.deque[float]] = {}

    def count(self, channel_id: int) -> None:
        """Count one new message in a channel.

        Raises:
            ApiError: 429 code 20028 (scope ``shared``) if the channel is over its limit; the
                refused message is not counted.
        """
        if self.limit is None:
            return
        most, window = self.limit
        now = time.monotonic()
        writes = self._writes.setdefault(channel_id, collections.deque())
        while writes and now - writes[0] >= window:
            writes.popleft()
        if len(writes) >= most:
            raise errors.shared_rate_limit(writes[0] + window - now, CHANNEL_WRITE_MESSAGE, code=20028)
        writes.append(now)
