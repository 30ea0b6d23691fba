"""The load scenarios and the bot strategies the benchmark compares, and the click plans' arithmetic."""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

PlannedClick = tuple[float, int, int, str]
"""``(seconds after the first click, guild id, user id, custom id)``."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One generated load, the same for every strategy.

    Attributes:
        name: Key in the output.
        users: Distinct applicants.
        servers: Servers they are spread over.
        spread_s: Seconds over which the first clicks are spread.
        clicks_per_user: Clicks by each applicant (the storm's impatient users).
        repeat_gap_s: Range of seconds between one user's repeated clicks.
        burner: Whether a neighbour process burns one core for the whole run.
        world: ``"sandbox"`` (the sandbox's small servers) or ``"realistic"`` (30 channels, 20 roles,
            hundreds of members, a CastBot-sized data file).
        summary: One line for the table.
        shards: Shards of the bot (the emulator routes each server to ``(id >> 22) % shards``).
        processes: ``castbot-hikari run`` processes sharing the shards (contiguous ranges), as deployed at scale.
        store: ``"json"`` (a data folder per process) or ``"postgres"`` (one database for all of them).
    """

    name: str
    users: int
    servers: int
    spread_s: float
    summary: str
    clicks_per_user: int = 1
    repeat_gap_s: tuple[float, float] = (0.05, 0.3)
    burner: bool = False
    world: str = "sandbox"
    shards: int = 1
    processes: int = 1
    store: str = "json"

    @property
    def clicks(self) -> int:
        """Return the number of clicks in the plan."""
        return self.users * self.clicks_per_user


FULL: Final = (
    Scenario("burst", 1000, 75, 1.0, "1,000 clicks by distinct users over 75 servers within 1 s"),
    Scenario(
        "storm", 100, 10, 1.0, "100 users x 10 rapid clicks (0.05-0.3 s apart) over 10 servers", clicks_per_user=10
    ),
    Scenario("steady", 1200, 75, 60.0, "20 clicks/s for 60 s by distinct users over 75 servers"),
    Scenario("busy", 1000, 75, 1.0, "the burst while a neighbour process burns one core", burner=True),
)
QUICK: Final = (
    Scenario("burst", 300, 25, 1.0, "300 clicks by distinct users over 25 servers within 1 s"),
    Scenario("busy", 300, 25, 1.0, "the quick burst while a neighbour process burns one core", burner=True),
)
PROCESSES: Final = tuple(
    Scenario(
        f"burst-{count}p" + ("-pg" if store == "postgres" else ""),
        1000,
        75,
        1.0,
        f"the burst against 4 shards in {count} process{'es' if count > 1 else ''} ({store})",
        shards=4,
        processes=count,
        store=store,
    )
    for store in ("json", "postgres")
    for count in (1, 2, 4)
)
MEMORY: Final = Scenario("memory", 1000, 165, 1.0, "1,000-click burst over 165 realistic servers", world="realistic")


@dataclass(frozen=True, slots=True)
class Strategy:
    """How the bot process is started.

    Attributes:
        name: Key in the output.
        argv: The command after the Python interpreter.
        env: Extra environment.
        chain: Key of its request chain in ``profile.CHAINS``.
        prints_ready: Whether it prints ``botside.READY_LINE`` once it is ready.
        summary: One line for the table.
    """

    name: str
    argv: tuple[str, ...]
    chain: str
    summary: str
    env: Mapping[str, str] = field(default_factory=dict[str, str])
    prints_ready: bool = False

    def command(self) -> list[str]:
        """Return the full command line."""
        return [sys.executable, *self.argv]


STRATEGIES: Final = {
    "deferred": Strategy(
        "deferred",
        ("-m", "castbot_hikari", "run"),
        "deferred",
        "the bot as shipped (castbot-hikari run): defer first, at most 20 applies at once",
    ),
    "synchronous": Strategy(
        "synchronous",
        ("-m", "castbot_hikari.bench.botproc", "--strategy", "synchronous"),
        "synchronous",
        "bench-only: member fetch, the whole apply, then one type-4 answer",
        prints_ready=True,
    ),
    "deferred-naive": Strategy(
        "deferred-naive",
        ("-m", "castbot_hikari", "run"),
        "deferred",
        "the shipped bot without the bound (CASTBOT_MAX_CONCURRENT_APPLIES=100000)",
        env={"CASTBOT_MAX_CONCURRENT_APPLIES": "100000"},
    ),
}
DEFAULT_STRATEGIES: Final = ("deferred", "synchronous", "deferred-naive")
QUICK_STRATEGIES: Final = ("deferred", "synchronous")


def shard_ranges(shards: int, processes: int) -> list[tuple[int, ...]]:
    """Split ``shards`` into ``processes`` contiguous ranges (README: give each process a contiguous range)."""
    per, extra = divmod(shards, processes)
    ranges: list[tuple[int, ...]] = []
    start = 0
    for number in range(processes):
        size = per + (1 if number < extra else 0)
        ranges.append(tuple(range(start, start + size)))
        start += size
    return ranges


def repeat_clicks(
    plan: Sequence[PlannedClick], times: int, gap_s: tuple[float, float], rng: random.Random
) -> list[PlannedClick]:
    """Return ``plan`` with every click followed by ``times - 1`` more by the same user, ``gap_s`` apart."""
    clicks: list[PlannedClick] = []
    for delay, guild_id, user_id, custom_id in plan:
        at = delay
        for number in range(times):
            if number:
                at += rng.uniform(*gap_s)
            clicks.append((at, guild_id, user_id, custom_id))
    return sorted(clicks)


def applies_by_guild(plan: Sequence[PlannedClick]) -> dict[int, int]:
    """Return the applies that create a channel per guild: one per distinct (user, button)."""
    identities: dict[int, set[tuple[int, str]]] = defaultdict(set)
    for _, guild_id, user_id, custom_id in plan:
        identities[guild_id].add((user_id, custom_id))
    return {guild_id: len(found) for guild_id, found in identities.items()}


def last_click_s(plan: Sequence[PlannedClick]) -> float:
    """Return the seconds from the first click to the last."""
    if not plan:
        return 0.0
    delays = [step[0] for step in plan]
    return max(delays) - min(delays)
