"""Discord's invalid-request ban: too many 401/403/429 answers in 10 minutes and Cloudflare steps in.

Discord counts every 401, 403 and 429 answer (429s of scope ``shared`` excepted) per IP; at 10,000
within 10 minutes the IP is refused for a while by Cloudflare, whose answers carry none of Discord's
JSON. The emulator counts the same answers on its clock and, past the limit, answers every REST
request with Cloudflare's 429 ``error code: 1015`` until the ban ends.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

logger = logging.getLogger(__name__)

INVALID_REQUEST_LIMIT: Final = 10_000
INVALID_REQUEST_WINDOW: Final = 600.0
BAN_DURATION: Final = 3600.0
"""How long Cloudflare refuses a banned bot (Discord documents "a while"; an hour is what bots report)."""
CLOUDFLARE_STATUS: Final = 429
CLOUDFLARE_BODY: Final = "error code: 1015"
_INVALID_STATUSES: Final = frozenset({401, 403, 429})


@dataclass(slots=True)
class Ban:
    """One Cloudflare ban.

    Attributes:
        started: Emulator clock time the ban began.
        until: Emulator clock time it ends.
        refused: Requests refused during it.
    """

    started: float
    until: float
    refused: int = 0


class InvalidRequests:
    """Counts invalid answers in a sliding window and bans when they reach the limit.

    Args:
        clock: The emulator's clock (seconds).
        limit: Invalid answers within ``window`` that trigger a ban; ``None`` counts without banning.
        window: Sliding window in seconds.
        ban_duration: Seconds a ban lasts.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        limit: int | None = INVALID_REQUEST_LIMIT,
        window: float = INVALID_REQUEST_WINDOW,
        ban_duration: float = BAN_DURATION,
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._ban_duration = ban_duration
        self._recent: collections.deque[float] = collections.deque()
        self.total = 0
        self.bans: list[Ban] = []

    def in_window(self) -> int:
        """Return the invalid answers counted within the last ``window`` seconds."""
        self._expire(self._clock())
        return len(self._recent)

    @property
    def banned(self) -> bool:
        """Whether a ban is in force now."""
        return self._banned_at(self._clock())

    def refuse(self) -> bool:
        """Whether a request arriving now is refused by a ban in force (the refusal is counted on it)."""
        if not self.banned:
            return False
        self.bans[-1].refused += 1
        return True

    def count(self, status: int, headers: Mapping[str, str]) -> None:
        """Count one answer if Discord would (401, 403, and 429 unless its scope is ``shared``)."""
        if status not in _INVALID_STATUSES or headers.get("X-RateLimit-Scope") == "shared":
            return
        now = self._clock()
        self.total += 1
        self._recent.append(now)
        self._expire(now)
        if self._limit is not None and len(self._recent) >= self._limit and not self._banned_at(now):
            self.bans.append(Ban(now, now + self._ban_duration))
            self._recent.clear()
            logger.warning(
                "emulator: %s invalid requests within %.0f s: Cloudflare bans the bot for %.0f s",
                self._limit,
                self._window,
                self._ban_duration,
            )

    def _banned_at(self, now: float) -> bool:
        return bool(self.bans) and now < self.bans[-1].until

    def _expire(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= self._window:
            self._recent.popleft()
