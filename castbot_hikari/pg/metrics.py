"""Every process's metrics in one place, so ``/apps stats`` shows the totals of all the bot's processes.

Each process upserts its ``MetricsState`` into ``process_metrics`` every ``interval_s`` and reads back the
states the other live processes published (refreshed within ``live_s``; the database's clock decides), which
``ClusterMetrics`` adds to its own. A clean stop deletes the process's row; a killed process's row stops
counting once it is ``live_s`` old. Failures only leave the figures as they were (logged once per outage).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, cast

import orjson

from castbot_hikari.core.clock import Sleep
from castbot_hikari.monitoring.cluster import ClusterMetrics, MetricsState
from castbot_hikari.pg.pace import UNREACHABLE

logger = logging.getLogger(__name__)

PUBLISH = """
INSERT INTO process_metrics (owner, state, updated_at) VALUES ($1, $2::jsonb, now())
ON CONFLICT (owner) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
"""
PEERS = """
SELECT state::text FROM process_metrics WHERE owner <> $1 AND updated_at > now() - make_interval(secs => $2)
"""
FORGET = "DELETE FROM process_metrics WHERE owner = $1"


class Database(Protocol):
    """What the exchange needs of an asyncpg pool."""

    async def execute(self, query: str, *args: object) -> str:
        """Run a statement."""
        ...

    async def fetch(self, query: str, *args: object) -> list[Any]:
        """Run a query and return its rows."""
        ...


class MetricsExchange:
    """Publishes this process's metrics and collects the other processes'.

    Args:
        pool: The shared database (``process_metrics`` comes from the migrations).
        owner: This process's id (the store's lease owner).
        cluster: Where the peers' states go, and this process's state comes from.
        interval_s: Seconds between exchanges.
        live_s: A peer's state older than this is a process that is gone.
    """

    def __init__(
        self,
        pool: Database,
        owner: str,
        cluster: ClusterMetrics,
        *,
        interval_s: float = 15.0,
        live_s: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self._owner = owner
        self._cluster = cluster
        self._interval_s = interval_s
        self._live_s = live_s
        self._sleep = sleep
        self._failing = False

    async def exchange(self) -> None:
        """Publish this process's state and take in the others' (once)."""
        try:
            await self._pool.execute(PUBLISH, self._owner, orjson.dumps(self._cluster.state().to_json()).decode())
            rows = await self._pool.fetch(PEERS, self._owner, self._live_s)
        except UNREACHABLE as exc:
            if not self._failing:
                logger.warning(
                    "metrics of the other processes unavailable (%s): /apps stats shows this process's figures "
                    "and the others' as last seen",
                    type(exc).__name__,
                )
            self._failing = True
            return
        self._failing = False
        self._cluster.set_peers([MetricsState.from_json(_object(row[0])) for row in rows])

    async def run(self) -> None:
        """Exchange every ``interval_s`` until cancelled."""
        while True:
            await self.exchange()
            await self._sleep(self._interval_s)

    async def forget(self) -> None:
        """Remove this process's row (a clean stop: its counts leave the totals at once)."""
        try:
            await self._pool.execute(FORGET, self._owner)
        except UNREACHABLE as exc:
            logger.debug("could not remove this process's metrics row: %s", type(exc).__name__)


def _object(text: object) -> dict[str, Any]:
    try:
        found: Any = orjson.loads(cast("str", text))
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return cast("dict[str, Any]", found) if isinstance(found, dict) else {}
