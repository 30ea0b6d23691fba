"""Readiness for orchestrators: every shard of this process connected, and the store answering."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import hikari

logger = logging.getLogger(__name__)

StoreProbe = Callable[[], Awaitable[bool]]
"""Return whether the store answers (the JSON store: its data file is there; a database: a query)."""
PROBE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Readiness:
    """The answer of ``/readyz``: ready or not, and why."""

    ready: bool
    started: bool
    shards: Mapping[int, bool]
    store: bool

    def as_json(self) -> dict[str, object]:
        """Return the body of the endpoint."""
        return {
            "ready": self.ready,
            "started": self.started,
            "shards": {str(k): "connected" if v else "disconnected" for k, v in sorted(self.shards.items())},
            "store": "ok" if self.store else "failing",
        }


class Health:
    """Tracks start-up and answers readiness.

    Args:
        shards: This process's shards by id (``GatewayBot.shards``, a live view).
        store: Probe of the store, bounded by ``PROBE_SECONDS``.
    """

    def __init__(self, shards: Mapping[int, hikari.api.GatewayShard], store: StoreProbe) -> None:
        self._shards = shards
        self._store = store
        self.started = False

    def mark_started(self) -> None:
        """Note that every shard of this process was started (hikari's ``StartedEvent``)."""
        self.started = True

    def mark_stopping(self) -> None:
        """Note that the bot is stopping: it is not ready any more."""
        self.started = False

    async def readiness(self) -> Readiness:
        """Return whether this process can serve clicks now."""
        shards = {shard_id: shard.is_connected for shard_id, shard in self._shards.items()}
        store = await self._probe()
        ready = self.started and bool(shards) and all(shards.values()) and store
        return Readiness(ready, self.started, shards, store)

    async def _probe(self) -> bool:
        try:
            async with asyncio.timeout(PROBE_SECONDS):
                return await self._store()
        except Exception:  # a failing probe means "not ready", whatever it raised
            logger.warning("store probe failed", exc_info=True)
            return False
