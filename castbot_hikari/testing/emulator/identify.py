"""Discord's rules for IDENTIFY: a valid shard, one shard count, guilds per shard, max_concurrency.

Identifies are rate limited per bucket ``shard_id % max_concurrency``: one per 5 seconds each
(``GET /gateway/bot`` tells ``max_concurrency``). The gateway answers an identify that breaks the
rule with op 9 INVALID_SESSION (``d: false``), the client then waits and identifies again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from castbot_hikari.testing.emulator.core import Core

IDENTIFY_WINDOW: Final = 5.0
MAX_GUILDS_PER_SHARD: Final = 2500
INVALID_SHARD: Final = (4010, "Invalid shard.")
SHARDING_REQUIRED: Final = (4011, "Sharding required.")


@dataclass(frozen=True, slots=True)
class IdentifyRecord:
    """One IDENTIFY the gateway received.

    Attributes:
        t: Emulator clock time.
        shard: ``(shard_id, shard_count)`` as sent.
        key: Its rate-limit bucket, ``shard_id % max_concurrency``.
        outcome: ``"accepted"``, ``"rate_limited"`` (op 9), or the close code it got (4010, 4011).
    """

    t: float
    shard: tuple[int, int]
    key: int
    outcome: str | int


class IdentifyGate:
    """Decides what happens to each IDENTIFY, and records them all.

    Attributes:
        log: Every IDENTIFY with a well-formed shard, in order.
        max_guilds_per_shard: Guilds one session may cover before Discord requires more shards
            (4011); 2,500 on Discord, lower it to test sharding without seeding thousands of guilds.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self.log: list[IdentifyRecord] = []
        self.max_guilds_per_shard = MAX_GUILDS_PER_SHARD

    def times(self, key: int) -> list[float]:
        """Return the clock times of the identifies accepted in rate-limit bucket ``key``."""
        return [r.t for r in self.log if r.key == key and r.outcome == "accepted"]

    @property
    def rate_limited(self) -> list[IdentifyRecord]:
        """The identifies refused for breaking the 5-second-per-bucket rule."""
        return [r for r in self.log if r.outcome == "rate_limited"]

    def check(self, shard: tuple[int, int], live_counts: Collection[int]) -> tuple[int, str] | None:
        """Return the close code and reason for an IDENTIFY of ``shard``, or ``None`` to go on.

        Args:
            shard: ``(shard_id, shard_count)`` from the IDENTIFY.
            live_counts: Shard counts of the sessions connected now.
        """
        shard_id, count = shard
        if not 0 <= shard_id < count or (live_counts and count not in live_counts):
            self._record(shard, INVALID_SHARD[0])
            return INVALID_SHARD
        guilds = sum(1 for gid in self._core.state.guilds if (gid >> 22) % count == shard_id)
        if guilds > self.max_guilds_per_shard:
            self._record(shard, SHARDING_REQUIRED[0])
            return SHARDING_REQUIRED
        return None

    def admit(self, shard: tuple[int, int]) -> bool:
        """Record a valid IDENTIFY; return ``False`` if its bucket identified less than 5 s ago.

        Refusals only happen with ``enforce_identify_limit``; the times are recorded regardless.
        """
        key = self._key(shard)
        last = self.times(key)
        now = self._core.clock()
        if self._core.settings.enforce_identify_limit and last and now - last[-1] < IDENTIFY_WINDOW:
            self._record(shard, "rate_limited")
            return False
        self._record(shard, "accepted")
        return True

    def _key(self, shard: tuple[int, int]) -> int:
        return shard[0] % self._core.settings.max_concurrency

    def _record(self, shard: tuple[int, int], outcome: str | int) -> None:
        self.log.append(IdentifyRecord(self._core.clock(), shard, self._key(shard), outcome))
