"""Everything operators watch, built once per bot: the registry, Discord's answers, health, the endpoint."""

from __future__ import annotations

from collections.abc import Mapping

import hikari

from castbot_hikari.monitoring.gateway import ShardCollector
from castbot_hikari.monitoring.health import Health, StoreProbe
from castbot_hikari.monitoring.prometheus import PrometheusMetrics
from castbot_hikari.monitoring.responses import ResponseCounter
from castbot_hikari.monitoring.server import MonitoringServer


class Monitoring:
    """The bot's metrics (always: ``/apps stats`` reads them) and, with a port, their HTTP endpoint.

    Args:
        shards: The bot's shards by id (``GatewayBot.shards``).
        store: Whether the store answers, for readiness.
        host: Address of the endpoint.
        port: Its port; ``None``: no endpoint.
    """

    def __init__(
        self, shards: Mapping[int, hikari.api.GatewayShard], store: StoreProbe, *, host: str, port: int | None
    ) -> None:
        self.metrics = PrometheusMetrics()
        self.metrics.registry.register(ShardCollector(shards))
        self.health = Health(shards, store)
        self.responses = ResponseCounter(self.metrics)
        self.server = MonitoringServer(self.metrics.registry, self.health, host, port) if port is not None else None

    async def listen(self) -> None:
        """Start the endpoint, if any (idempotent; the CLI calls it first to fail in one line).

        Raises:
            OSError: The address cannot be bound.
        """
        if self.server is not None:
            await self.server.start()

    async def starting(self, *rest_clients: object) -> None:
        """Count the responses of the started REST clients, and listen."""
        for rest in rest_clients:
            self.responses.watch(rest)
        await self.listen()

    def started(self) -> None:
        """Every shard was started: readiness now follows the shards and the store."""
        self.health.mark_started()

    def stopping(self) -> None:
        """The bot stops: not ready any more (the endpoint still answers until ``stopped``)."""
        self.health.mark_stopping()

    async def stopped(self) -> None:
        """Stop the endpoint."""
        if self.server is not None:
            await self.server.stop()
