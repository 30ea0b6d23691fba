"""Two fixes for hikari 2.6.0's REST rate limiting, found by the click-storm benchmark.

1. The throttle can hold the event loop for a whole bucket period.

``WindowedBurstRateLimiter.throttle`` loops while requests wait for a bucket: it sleeps until the window
moves, then releases what the window allows. ``RESTBucket.move_window`` refuses to move an exhausted
bucket that is "out of sync" (waiting for Discord's headers to resynchronise it) until a full period has
passed; meanwhile ``get_time_until_increase`` returns a time in the past, so ``throttle`` neither sleeps nor
releases anything and spins without ever awaiting. The response that would resynchronise the bucket can
never be processed while it spins: every interaction of the bot waits (measured in the click-storm
benchmark: 11-46% of the bot's samples, ack p99 up to 805 ms). hikari 2.7.0 has the same code, and
hikari-lightbulb 3.2.6 pins ``hikari~=2.6.0``.

``apply()`` replaces ``throttle`` by the same loop with one change: when nothing can be released and no
sleep is due, it yields for ``RESYNC_POLL_S`` so the loop keeps serving while the bucket waits.

2. A route's first burst runs one request at a time. Until a bucket is known, hikari files a request under
an "unknown" bucket keyed by the route's template only, so the first requests for *every* guild, channel
or interaction token on that route share one bucket object with one request in flight, and those already
queued are then counted against whichever resource answered first. Every new application channel's first
message and every new interaction token's first edit is such a first request: in a click storm the
welcomes went one by one. ``apply()`` keys unknown buckets by the route *and its major parameters*, as
Discord keys real ones, so first requests for different resources go in parallel (each still alone on its
own bucket until Discord's headers describe it).

3. The global limit (50 requests per second per bot) is only obeyed once Discord answered 429: hikari's
global limiter lets everything through until then, and a request on an unknown bucket skips it anyway.
``pace_globally(rest, pace)`` gives a client a global limiter that carries ``pace`` (a ``Pacer``), and
every request of that client awaits it right before it is sent, after its route bucket let it through, so
what reaches Discord stays under the limit however hikari's queues release it.

Applied by the composition root (never at import), idempotent, and checked against the installed hikari:
code that no longer has the known shape is left alone, with a warning.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import hikari
from hikari.impl import buckets, rate_limits
from hikari.internal import routes, time

logger = logging.getLogger(__name__)

RESYNC_POLL_S: Final = 0.01
_KNOWN_THROTTLE_SHA256: Final = "251866f5644c75ee71049acc7533cbfed1492c44fed108bc8af14d07e51e5028"
"""SHA-256 of hikari 2.6.0's ``WindowedBurstRateLimiter.throttle`` source (checked before replacing it)."""
ORIGINAL_THROTTLE: Final = rate_limits.WindowedBurstRateLimiter.throttle


_KNOWN_UNKNOWN_HASH_SHA256: Final = "86307aa0375b927a41454d5a0c42919f176b6563be76af0f943054638d050b43"
"""SHA-256 of hikari 2.6.0's ``buckets._create_unknown_hash`` source (checked before replacing it)."""
ORIGINAL_UNKNOWN_HASH: Final = buckets._create_unknown_hash  # pyright: ignore[reportPrivateUsage]


def _unknown_hash_per_resource(route: routes.CompiledRoute, authentication_hash: str) -> str:
    """The unknown-bucket key of a request: the route and its major parameters (guild, channel, webhook)."""
    return (
        f"{buckets.UNKNOWN_HASH}{routes.HASH_SEPARATOR}{authentication_hash}{routes.HASH_SEPARATOR}"
        f"{hash(route.route)!s}{routes.HASH_SEPARATOR}{route.major_param_hash}"
    )


_KNOWN_ACQUIRE_SHA256: Final = "752fe3af3655a9e1bf8a9150e06b4b85f6c728444f09778c25dfd0e1999f671a"
"""SHA-256 of hikari 2.6.0's ``RESTBucket.acquire`` source (checked before wrapping it)."""
ORIGINAL_ACQUIRE: Final = buckets.RESTBucket.acquire


# ManualRateLimiter is marked final for typing only; it is a plain class, and subclassing it keeps every
# isinstance check in hikari true (it refuses weak references, so a side table would have to keep it alive).
class PacedGlobalLimit(rate_limits.ManualRateLimiter):  # pyright: ignore[reportGeneralTypeIssues]
    """hikari's global limiter, carrying the pace every request of its client awaits before it is sent."""

    __slots__ = ("pace",)

    def __init__(self, pace: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.pace = pace


async def _acquire_paced(self: buckets.RESTBucket) -> None:
    """hikari's bucket acquire, then the client's global pace (unknown buckets included)."""
    await ORIGINAL_ACQUIRE(self)
    limiter = self._global_ratelimit  # pyright: ignore[reportPrivateUsage]
    if isinstance(limiter, PacedGlobalLimit):
        await limiter.pace()


def pace_globally(rest: hikari.api.RESTClient, pace: Callable[[], Awaitable[None]]) -> bool:
    """Make every rate-limited request of ``rest`` await ``pace`` before it is sent; call before it starts.

    Returns:
        Whether the client has the known shape (the pace is then in place).
    """
    manager = getattr(rest, "_bucket_manager", None)
    if not isinstance(getattr(manager, "_global_ratelimit", None), rate_limits.ManualRateLimiter):
        logger.warning("hikari's REST client changed (not 2.6.0's): the global pace is not applied")
        return False
    manager._global_ratelimit = PacedGlobalLimit(pace)  # type: ignore[union-attr]
    return _fix_acquire()


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


def source_digest(function: object = ORIGINAL_THROTTLE) -> str:
    """Return the SHA-256 of the source of one of the installed hikari's original functions."""
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()  # pyright: ignore[reportArgumentType]


def apply() -> bool:
    """Install both fixes where the installed hikari has the known code; return whether both are in place."""
    return _fix_throttle() & _fix_unknown_buckets()


def _fix_throttle() -> bool:
    if rate_limits.WindowedBurstRateLimiter.throttle is _throttle:
        return True
    if source_digest(ORIGINAL_THROTTLE) != _KNOWN_THROTTLE_SHA256:
        logger.warning("hikari's rate limiter changed (not 2.6.0's): its busy-wait fix is not applied")
        return False
    rate_limits.WindowedBurstRateLimiter.throttle = _throttle
    return True


def _fix_acquire() -> bool:
    if buckets.RESTBucket.acquire is _acquire_paced:
        return True
    if source_digest(ORIGINAL_ACQUIRE) != _KNOWN_ACQUIRE_SHA256:
        logger.warning("hikari's bucket changed (not 2.6.0's): the global pace is not applied")
        return False
    buckets.RESTBucket.acquire = _acquire_paced
    return True


def _fix_unknown_buckets() -> bool:
    if buckets._create_unknown_hash is _unknown_hash_per_resource:  # pyright: ignore[reportPrivateUsage]
        return True
    if source_digest(ORIGINAL_UNKNOWN_HASH) != _KNOWN_UNKNOWN_HASH_SHA256:
        logger.warning("hikari's bucket manager changed (not 2.6.0's): its first-burst fix is not applied")
        return False
    buckets._create_unknown_hash = _unknown_hash_per_resource  # pyright: ignore[reportPrivateUsage]
    return True
