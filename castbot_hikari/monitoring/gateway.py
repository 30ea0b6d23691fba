"""The shards' heartbeat latency and connection, read from hikari at each scrape."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import hikari
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from castbot_hikari.core import metrics as names


class ShardCollector:
    """A prometheus-client collector of ``castbot_gateway_latency_seconds`` and ``..._shard_connected``.

    Args:
        shards: This process's shards by id (``GatewayBot.shards``, a live view).
    """

    def __init__(self, shards: Mapping[int, hikari.api.GatewayShard]) -> None:
        self._shards = shards

    def collect(self) -> Iterator[Metric]:
        """Yield both families, one sample per shard (latency only once a heartbeat was answered)."""
        latency = GaugeMetricFamily(
            names.GATEWAY_LATENCY.name, names.GATEWAY_LATENCY.help, labels=names.GATEWAY_LATENCY.labels
        )
        connected = GaugeMetricFamily(
            names.SHARD_CONNECTED.name, names.SHARD_CONNECTED.help, labels=names.SHARD_CONNECTED.labels
        )
        for shard_id, shard in sorted(self._shards.items()):
            if math.isfinite(shard.heartbeat_latency):
                latency.add_metric([str(shard_id)], shard.heartbeat_latency)
            connected.add_metric([str(shard_id)], 1.0 if shard.is_connected else 0.0)
        yield latency
        yield connected
