"""Snowflake and token generation for the emulator."""

from __future__ import annotations

import base64
import random
import string
import time
from typing import Final

DISCORD_EPOCH_MS: Final = 1_420_070_400_000
_TOKEN_ALPHABET: Final = string.ascii_letters + string.digits + "-_"


def snowflake_time_ms(snowflake: int) -> int:
    """Return the Unix time in milliseconds encoded in a snowflake."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


class IdFactory:
    """Create snowflakes whose timestamp is the current wall-clock time, and random tokens.

    Args:
        seed: Seed for the random parts (worker/process bits and tokens); ``None`` for a random seed.
    """

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - ids and tokens of a local emulator, not secrets
        self._worker = self._rng.randrange(32)
        self._process = self._rng.randrange(32)
        self._increment = 0
        self._last_ms = 0

    def snowflake(self) -> int:
        """Return a new unique snowflake stamped with the current time."""
        now_ms = max(int(time.time() * 1000), self._last_ms)
        if now_ms == self._last_ms and self._increment == 4095:
            now_ms += 1  # the 12-bit increment is exhausted for this millisecond
        if now_ms != self._last_ms:
            self._increment = 0
        self._last_ms = now_ms
        self._increment = (self._increment + 1) & 4095
        return ((now_ms - DISCORD_EPOCH_MS) << 22) | (self._worker << 17) | (self._process << 12) | self._increment

    def token(self, length: int = 40) -> str:
        """Return a random URL-safe token string."""
        return "".join(self._rng.choice(_TOKEN_ALPHABET) for _ in range(length))

    def interaction_token(self) -> str:
        """Return a token shaped like Discord's interaction tokens (``aW50ZXJhY3Rpb246...``)."""
        return "aW50ZXJhY3Rpb246" + self.token(120)

    def bot_token(self, user_id: int) -> str:
        """Return a bot token whose first segment is base64 of ``user_id`` (hikari reads it)."""
        first = base64.b64encode(str(user_id).encode()).decode().rstrip("=")
        return f"{first}.{self.token(6)}.{self.token(38)}"
