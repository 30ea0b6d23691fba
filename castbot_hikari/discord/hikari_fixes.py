"""A fix for hikari 2.6.0's REST rate limiter, which can hold the event loop for a whole bucket period.

``WindowedBurstRateLimiter.throttle`` loops while requests wait for a bucket: it sleeps until the window
moves, then releases what the window allows. ``RESTBucket.move_window`` refuses to move an exhausted
bucket that is "out of sync" (waiting for Discord's headers to resynchronise it) until a full period has
passed; meanwhile ``get_time_until_increase`` returns a time in the past, so ``throttle`` neither sleeps nor
releases anything and spins without ever awaiting. The response that would resynchronise the bucket can
never be processed while it spins: every interaction of the bot waits (measured in the click-storm
benchmark: 11-46% of the bot's samples, ack p99 up to 805 ms). hikari 2.7.0 has the same code, and
hikari-lightbulb 3.2.6 pins ``hikari~=2.6.0``.

``apply()`` replaces ``throttle`` by the same loop with one change: when nothing can be released and no
sleep is due, it yields for ``RESYNC_POLL_S`` so the loop keeps serving while the bucket waits. Applied by
the composition root (never at import), idempotent, and checked against the installed hikari: a hikari
whose ``throttle`` no longer has the known shape is left alone, with a warning.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from typing import Final

from hikari.impl import rate_limits
from hikari.internal import time

logger = logging.getLogger(__name__)

RESYNC_POLL_S: Final = 0.01
_KNOWN_THROTTLE_SHA256: Final = "251866f5644c75ee71049acc7533cbfed1492c44fed108bc8af14d07e51e5028"
"""SHA-256 of hikari 2.6.0's ``WindowedBurstRateLimiter.throttle`` source (checked before replacing it)."""
ORIGINAL_THROTTLE: Final = rate_limits.WindowedBurstRateLimiter.throttle


async def _throttle(self: rate_limits.WindowedBurstRateLimiter) -> None:
    """hikari's ``throttle``, yielding while an out-of-sync bucket waits instead of spinning."""
    while self.queue:
        sleep_for = self.get_time_until_increase(time.time())
        if sleep_for > 0:
            await asyncio.sleep(sleep_for)
        elif self.remaining <= 0:
            # The window cannot move yet (the bucket waits for Discord's headers): let the loop run.
            await asyncio.sleep(RESYNC_POLL_S)
        while self.remaining > 0 and self.queue:
            self.remaining -= 1
            self.queue.pop(0).set_result(None)
    self.throttle_task = None


def source_digest() -> str:
    """Return the SHA-256 of the installed hikari's original ``throttle`` source."""
    return hashlib.sha256(inspect.getsource(ORIGINAL_THROTTLE).encode()).hexdigest()


def apply() -> bool:
    """Install the fix if the installed hikari has the known ``throttle``; return whether it is in place."""
    if rate_limits.WindowedBurstRateLimiter.throttle is _throttle:
        return True
    if source_digest() != _KNOWN_THROTTLE_SHA256:
        logger.warning("hikari's rate limiter changed (not 2.6.0's): its busy-wait fix is not applied")
        return False
    rate_limits.WindowedBurstRateLimiter.throttle = _throttle
    return True
