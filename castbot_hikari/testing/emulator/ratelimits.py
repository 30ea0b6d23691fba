"""Discord-style REST rate limits: sliding per-route buckets per top-level resource, and the global limit.

A bucket is a leaky bucket (GCRA): it holds ``limit`` requests, and one used request comes back
every ``interval = per / limit`` seconds. Its headers describe exactly that state, the way hikari
models Discord's sliding buckets (``hikari/impl/buckets.py``): ``Reset-After`` is the time until the
bucket is full again, so ``Reset-After / (Limit - Remaining)``, hikari's "slide period", equals the
interval on a bucket's first request and never strays from it by half an interval or more. hikari
re-estimates its period only on a 0.3 s change and warns ("greatly changed its slide period") only
on a 0.5 s one, so with intervals up to 0.6 s (the default is 0.1 s) it keeps the interval and never
warns. ``Reset`` moves forward by at least one interval per request, so with intervals above 0.05 s
hikari never mistakes a bucket for a fixed window either. Every response of a route carries the same
bucket hash and limit.

Windows run on real time (``time.monotonic``), not the emulator's injectable clock: clients wait
them out with real sleeps, so a frozen test clock would otherwise block them forever. (The table
takes a clock of its own for tests that study its headers offline.)
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from castbot_hikari.testing.emulator.state import JSONObject

DEFAULT_LIMIT: Final = 10_000
"""Burst size of a route nobody configured: no test comes near it."""
DEFAULT_INTERVAL: Final = 0.1
"""Seconds per regained request on an unconfigured route (longer than hikari's 0.05 s fixed-bucket test)."""
GLOBAL_LIMIT: Final = 50
"""Discord's global limit: 50 requests per second per bot."""
_MAJOR_PARAMS: Final = ("guild_id", "channel_id")
_EPSILON: Final = 1e-9


@dataclass(frozen=True, slots=True)
class Verdict:
    """The rate limiter's answer for one request.

    Attributes:
        headers: ``X-RateLimit-*`` headers to send (also on 429s).
        retry_after: Seconds to wait when the request is rejected; ``None`` when it may proceed.
        is_global: Whether the global limit rejected it.
    """

    headers: Mapping[str, str]
    retry_after: float | None = None
    is_global: bool = False

    def body(self) -> JSONObject:
        """Return Discord's 429 body."""
        message = "You are being rate limited."
        return {"message": message, "retry_after": round(self.retry_after or 0.0, 3), "global": self.is_global}


@dataclass(slots=True)
class _Bucket:
    """Configuration of one route's buckets and the state of each (one per top-level resource)."""

    limit: int
    interval: float
    bucket: str
    # GCRA's theoretical arrival time per resource: when that bucket is full again.
    full_at: dict[str, float] = field(default_factory=dict[str, float])

    def check(self, major: str, now: float, wall: float) -> Verdict:
        """Count one request at monotonic ``now`` (``wall``: the same instant as a Unix time)."""
        level = max(self.full_at.get(major, now) - now, 0.0)
        if level > (self.limit - 1) * self.interval + _EPSILON:
            # A refused request changes nothing; its Reset names when a retry may pass. (That is
            # earlier than the last Reset hikari saw, so hikari keeps its bucket as it was.)
            retry_after = level - (self.limit - 1) * self.interval
            headers = self._headers(0, retry_after, wall)
            headers.update({"X-RateLimit-Global": "false", "X-RateLimit-Scope": "user"})
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
            return Verdict(headers, retry_after)
        level += self.interval
        self.full_at[major] = now + level
        used = math.ceil(level / self.interval - _EPSILON)
        return Verdict(self._headers(self.limit - used, level, wall))

    def _headers(self, remaining: int, reset_after: float, wall: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{wall + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket,
        }


@dataclass(slots=True)
class _GlobalWindow:
    """Discord's global limit: a count per fixed window of ``per`` seconds."""

    limit: int
    per: float
    count: int = 0
    reset_at: float = 0.0

    def check(self, now: float) -> Verdict | None:
        if now >= self.reset_at:
            self.count = 0
            self.reset_at = now + self.per
        if self.count < self.limit:
            self.count += 1
            return None
        retry_after = self.reset_at - now
        headers = {
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
            "Retry-After": str(max(1, math.ceil(retry_after))),
        }
        return Verdict(headers, retry_after, is_global=True)


class RateLimitTable:
    """Per-route buckets (``"METHOD /route/{template}"``) and the global limit (50/s by default).

    Every route not configured gets a generous bucket (``DEFAULT_LIMIT``, one request back every
    ``DEFAULT_INTERVAL`` s) so tests are not slowed, but still receives real, consistent headers.
    """

    def __init__(
        self,
        known_routes: Collection[str],
        *,
        global_limit: int | None = GLOBAL_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._known = known_routes
        self._clock = clock
        # Reset is a Unix time: the offset turns the (possibly simulated) monotonic clock into one.
        self._wall_offset = time.time() - clock()
        self._limits: dict[str, _Bucket] = {}
        self._global: _GlobalWindow | None = None
        self.set_global(global_limit)

    def set(self, key: str, *, limit: int | None, per: float = 1.0) -> None:
        """Give one route buckets of ``limit`` requests per ``per`` seconds per top-level resource.

        The bucket slides: after a burst of ``limit``, one more request is allowed every
        ``per / limit`` seconds.

        Args:
            key: ``"METHOD /route/{template}"``.
            limit: Requests per window; ``None`` restores the default bucket.
            per: Window length in seconds.

        Raises:
            KeyError: If ``key`` names no route the emulator serves.
            ValueError: If ``limit`` or ``per`` is not positive.
        """
        if key not in self._known:
            msg = f"the emulator serves no route {key!r}; known: {sorted(self._known)}"
            raise KeyError(msg)
        if limit is None:
            self._limits.pop(key, None)
            return
        if limit < 1 or per <= 0:
            msg = f"limit ({limit}) and per ({per}) must be positive"
            raise ValueError(msg)
        self._limits[key] = _Bucket(limit, per / limit, _bucket_hash(key))

    @property
    def global_limit(self) -> tuple[int, float] | None:
        """``(requests, seconds)`` of the global limit, or ``None`` when it is off."""
        return None if self._global is None else (self._global.limit, self._global.per)

    def set_global(self, limit: int | None, per: float = 1.0) -> None:
        """Set (or with ``None`` switch off) the per-bot global limit, Discord's 50 per second by default."""
        self._global = None if limit is None else _GlobalWindow(limit, per)

    def check(self, key: str, params: Mapping[str, str], *, global_scope: bool) -> Verdict:
        """Count one request against the global limit and its bucket and return the verdict."""
        now = self._clock()
        if global_scope and self._global is not None:
            rejected = self._global.check(now)
            if rejected is not None:
                return rejected
        spec = self._limits.get(key)
        if spec is None:
            spec = self._limits[key] = _Bucket(DEFAULT_LIMIT, DEFAULT_INTERVAL, _bucket_hash(key))
        return spec.check(_major(params), now, now + self._wall_offset)


def _major(params: Mapping[str, str]) -> str:
    for name in _MAJOR_PARAMS:
        value = params.get(name)
        if value is not None:
            return value
    webhook = params.get("webhook_id")
    if webhook is not None:
        return f"{webhook}:{params.get('webhook_token', '')}"
    return ""


def _bucket_hash(key: str) -> str:
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]
