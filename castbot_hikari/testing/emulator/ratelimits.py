"""Discord-style REST rate limits: per-route buckets per top-level resource, optional global limit.

Windows run on real time (``time.monotonic``), not the emulator's injectable clock: clients wait
them out with real sleeps, so a frozen test clock would otherwise block them forever.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Final

from castbot_hikari.testing.emulator.state import JSONObject

DEFAULT_LIMIT: Final = 10_000
DEFAULT_PER: Final = 1.0
_MAJOR_PARAMS: Final = ("guild_id", "channel_id")


@dataclass(slots=True)
class _Window:
    count: int = 0
    reset_at: float = 0.0


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
class _Limit:
    limit: int | None
    per: float
    bucket: str
    windows: dict[str, _Window] = field(default_factory=dict[str, _Window])


class RateLimitTable:
    """Per-route limits (``"METHOD /route/{template}"``) and an optional global limit.

    Every route not configured gets a generous default (``DEFAULT_LIMIT`` per ``DEFAULT_PER`` s)
    so tests are not slowed, but still receives real headers.
    """

    def __init__(self, known_routes: Collection[str]) -> None:
        self._known = known_routes
        self._limits: dict[str, _Limit] = {}
        self._global: _Limit | None = None

    def set(self, key: str, *, limit: int | None, per: float = 1.0) -> None:
        """Limit one route to ``limit`` requests per ``per`` seconds per top-level resource.

        Args:
            key: ``"METHOD /route/{template}"``.
            limit: Requests per window; ``None`` means unlimited (headers still sent).
            per: Window length in seconds.

        Raises:
            KeyError: If ``key`` names no route the emulator serves.
        """
        if key not in self._known:
            msg = f"the emulator serves no route {key!r}; known: {sorted(self._known)}"
            raise KeyError(msg)
        self._limits[key] = _Limit(limit, per, _bucket_hash(key))

    def set_global(self, limit: int | None, per: float = 1.0) -> None:
        """Enable (or with ``None`` disable) the per-bot global limit, e.g. Discord's 50/s."""
        self._global = None if limit is None else _Limit(limit, per, "global")

    def check(self, key: str, params: Mapping[str, str], *, global_scope: bool) -> Verdict:
        """Count one request against its bucket (and the global limit) and return the verdict."""
        now = time.monotonic()
        if global_scope and self._global is not None:
            rejected = _global_verdict(self._global, now)
            if rejected is not None:
                return rejected
        spec = self._limits.get(key)
        if spec is None:
            spec = self._limits[key] = _Limit(DEFAULT_LIMIT, DEFAULT_PER, _bucket_hash(key))
        window = _window(spec, _major(params), now)
        limit = spec.limit if spec.limit is not None else 1_000_000
        reset_after = max(window.reset_at - now, 0.0)
        if window.count >= limit:
            headers = _headers(spec.bucket, limit, 0, reset_after)
            headers.update(_RETRY_HEADERS)
            headers["Retry-After"] = str(max(1, math.ceil(reset_after)))
            return Verdict(headers, reset_after)
        window.count += 1
        return Verdict(_headers(spec.bucket, limit, limit - window.count, reset_after))


_RETRY_HEADERS: Final = {"X-RateLimit-Global": "false", "X-RateLimit-Scope": "user"}


def _global_verdict(spec: _Limit, now: float) -> Verdict | None:
    window = _window(spec, "", now)
    assert spec.limit is not None
    if window.count < spec.limit:
        window.count += 1
        return None
    retry_after = max(window.reset_at - now, 0.0)
    headers = {
        "X-RateLimit-Global": "true",
        "X-RateLimit-Scope": "global",
        "Retry-After": str(max(1, math.ceil(retry_after))),
    }
    return Verdict(headers, retry_after, is_global=True)


def _window(spec: _Limit, major: str, now: float) -> _Window:
    window = spec.windows.get(major)
    if window is None:
        window = spec.windows[major] = _Window()
    if now >= window.reset_at:
        window.count = 0
        window.reset_at = now + spec.per
    return window


def _major(params: Mapping[str, str]) -> str:
    for name in _MAJOR_PARAMS:
        value = params.get(name)
        if value is not None:
            return value
    webhook = params.get("webhook_id")
    if webhook is not None:
        return f"{webhook}:{params.get('webhook_token', '')}"
    return ""


def _headers(bucket: str, limit: int, remaining: int, reset_after: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket,
    }


def _bucket_hash(key: str) -> str:
    return hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]
