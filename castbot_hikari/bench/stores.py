"""Store figures: what one apply costs the JSON store and the PostgreSQL store, alone and in a burst.

One apply is what the apply flow writes for a click that creates a channel: ``reserve``, ``mark_creating``,
``mark_channel``, ``mark_welcomed`` and ``commit`` (five durable changes). The JSON store fsyncs each (group
commit for concurrent ones); PostgreSQL commits each (with the server's own fsync and WAL settings).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from castbot_hikari.apply.model import Application, ApplyKey, Won
from castbot_hikari.apply.ports import ApplicationRepository
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.bench.stats import percentile
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.pg.store import PostgresStore

GUILD: Final = GuildId(111111111111111111)
CONFIG: Final = ConfigId("config_1781015852414_1")
SEQUENTIAL: Final = 300
BURST: Final = 1000


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """One store's figures (milliseconds, and applies per second)."""

    name: str
    reserve: tuple[float, float]
    apply: tuple[float, float]
    burst: int
    burst_per_s: float
    reserves_per_s: float


def _p50_p99(samples: Sequence[float]) -> tuple[float, float]:
    return percentile(samples, 0.5) or 0.0, percentile(samples, 0.99) or 0.0


class Applies:
    """Fresh identities, one per apply."""

    def __init__(self) -> None:
        self._next = 10_000

    def key(self) -> ApplyKey:
        self._next += 1
        return ApplyKey(GUILD, UserId(self._next), CONFIG)


async def one_apply(repo: ApplicationRepository, key: ApplyKey, owner: str) -> float:
    """Write one apply's five changes; return the reserve's cost (ms)."""
    start = time.perf_counter()
    won = await repo.reserve(key, owner=owner, now_ms=0, stale_after_ms=10**9)
    reserved = (time.perf_counter() - start) * 1000
    assert isinstance(won, Won)
    channel = ChannelId(key.user_id + 1)
    await repo.mark_creating(key, 0)
    await repo.mark_channel(key, channel)
    await repo.mark_welcomed(key)
    await repo.commit(Application(key.guild_id, channel, key.user_id, key.config_id, {"channelName": "app"}))
    return reserved


async def measure(
    name: str, repo: ApplicationRepository, owner: str, *, sequential: int = SEQUENTIAL, burst: int = BURST
) -> StoreFigures:
    """Time ``sequential`` applies one after another, then ``burst`` at once (and ``burst`` reserves)."""
    applies = Applies()
    reserves: list[float] = []
    totals: list[float] = []
    for _ in range(sequential):
        start = time.perf_counter()
        reserves.append(await one_apply(repo, applies.key(), owner))
        totals.append((time.perf_counter() - start) * 1000)
    keys = [applies.key() for _ in range(burst)]
    start = time.perf_counter()
    await asyncio.gather(*(one_apply(repo, key, owner) for key in keys))
    wall = time.perf_counter() - start
    keys = [applies.key() for _ in range(burst)]
    start = time.perf_counter()
    await asyncio.gather(*(repo.reserve(key, owner=owner, now_ms=0, stale_after_ms=10**9) for key in keys))
    reserve_wall = time.perf_counter() - start
    return StoreFigures(name, _p50_p99(reserves), _p50_p99(totals), burst, burst / wall, burst / reserve_wall)


async def run_stores(
    database_url: str | None, *, pool_size: int = 10, sequential: int = SEQUENTIAL, burst: int = BURST
) -> list[StoreFigures]:
    """Measure the JSON store (fsync on, in a temp folder here) and, given a URL, the PostgreSQL store."""
    figures: list[StoreFigures] = []
    with tempfile.TemporaryDirectory(prefix="castbot-bench-stores-", dir=Path.cwd()) as tmp:
        repo = JsonApplicationRepository.open(Path(tmp), fsync=True)
        try:
            figures.append(await measure("json (fsync)", repo, "bench", sequential=sequential, burst=burst))
        finally:
            await repo.close()
    if database_url is not None:
        store = await PostgresStore.connect(database_url, owner="bench", max_size=pool_size)
        try:
            await _empty(store)
            name = f"postgres (pool {pool_size})"
            figures.append(await measure(name, store, "bench", sequential=sequential, burst=burst))
            await _empty(store)
        finally:
            await store.close()
    return figures


async def _empty(store: PostgresStore) -> None:
    await store.pool.execute("DELETE FROM applies WHERE guild_id = $1 AND user_id > 10000", int(GUILD))


def render_stores(figures: Sequence[StoreFigures], *, skipped: str | None = None) -> str:
    """Return the store table."""
    from castbot_hikari.bench.report import table  # noqa: PLC0415

    def pair(values: tuple[float, float]) -> str:
        return f"{values[0]:.2f} / {values[1]:.2f} ms"

    rows = [("store", "reserve p50/p99", "one apply (5 changes) p50/p99", "burst: applies", "burst: reserves")]
    rows += [
        (f.name, pair(f.reserve), pair(f.apply), f"{f.burst_per_s:,.0f}/s", f"{f.reserves_per_s:,.0f}/s")
        for f in figures
    ]
    lines = [
        "",
        f"Stores: one apply = reserve, 3 steps and the record; {SEQUENTIAL} one after another, then bursts of "
        f"{BURST:,} at once (whole applies; reserves alone)",
        *("  " + line for line in table(rows)),
    ]
    if skipped:
        lines.append(f"  {skipped}")
    lines.append("")
    return "\n".join(lines)
