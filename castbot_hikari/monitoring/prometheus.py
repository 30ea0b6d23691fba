"""The ``Metrics`` port over a prometheus-client registry, which ``/apps stats`` reads as well.

One registry per ``App`` (never the library's global one), so several bots in one test process do not
share counts. Families and label values come from ``core.metrics``: nothing here names a metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeAlias

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from castbot_hikari.core import metrics as names
from castbot_hikari.core.metrics import Family, Kind, Summary

_Metric: TypeAlias = Counter | Histogram | Gauge


def bucket_quantile(bounds: list[float], cumulative: list[float], fraction: float) -> float:
    """Estimate a quantile from cumulative bucket counts, as Prometheus's ``histogram_quantile`` does.

    Linear within the bucket that holds the rank; a rank in the ``+Inf`` bucket is the last finite bound.

    Args:
        bounds: Upper bounds, ascending, the last one ``inf``.
        cumulative: Observations at or below each bound.
        fraction: The quantile, from 0 to 1.
    """
    total = cumulative[-1] if cumulative else 0.0
    if not total:
        return 0.0
    rank = fraction * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def summarize(family: Family, bounds: list[float], cumulative: list[float]) -> Summary:
    """Return count, p50, p99 and max (ms) of a histogram of seconds from its cumulative bucket counts."""
    count = int(cumulative[-1]) if cumulative else 0
    if not count:
        return Summary(0, 0.0, 0.0, 0.0)
    highest = next(b for b, c in zip(bounds, cumulative, strict=True) if c == count)
    top = family.buckets[-1] if math.isinf(highest) else highest
    return Summary(
        count,
        bucket_quantile(bounds, cumulative, 0.5) * 1000,
        bucket_quantile(bounds, cumulative, 0.99) * 1000,
        top * 1000,
    )


class PrometheusMetrics:
    """Counters, histograms (of seconds) and gauges in a prometheus-client registry.

    Implements ``core.metrics.Metrics`` for the services and ``admin.ports.MetricsReader`` for
    ``/apps stats``, both over the same registry that the metrics endpoint serves.

    Args:
        registry: Where the families live (a new one by default).
        process: Also export the process's CPU, memory and file descriptors, and Python's GC.
    """

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._metrics: dict[Family, _Metric] = {
            family: _make(family, self.registry) for family in names.FAMILIES if family not in _COLLECTED
        }
        if process:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)

    def incr(self, name: str, value: int = 1) -> None:
        """Add ``value`` to the counter of a dotted name."""
        metric = self._child(name, Kind.COUNTER)
        assert isinstance(metric, Counter)
        metric.inc(value)

    def observe(self, name: str, ms: float) -> None:
        """Record a duration given in milliseconds (histograms are in seconds)."""
        metric = self._child(name, Kind.HISTOGRAM)
        assert isinstance(metric, Histogram)
        metric.observe(ms / 1000)

    def gauge(self, name: str, value: float) -> None:
        """Set the gauge of a dotted name."""
        metric = self._child(name, Kind.GAUGE)
        assert isinstance(metric, Gauge)
        metric.set(value)

    def snapshot(self) -> Mapping[str, int]:
        """Return every counter that moved, by dotted name, read back from the registry."""
        counters = {f.name: f for f in self._metrics if f.kind is Kind.COUNTER}
        result: dict[str, int] = {}
        for collected in self.registry.collect():
            family = counters.get(collected.name)
            if family is None:
                continue
            for sample in collected.samples:
                if sample.name.endswith("_total") and sample.value:
                    labels = tuple(sample.labels[label] for label in family.labels)
                    result[names.dotted_name(family, labels)] = int(sample.value)
        return result

    def summary(self, name: str) -> Summary:
        """Return count, p50 and p99 (in ms, estimated from the buckets) of a timing, read from the registry.

        ``max`` is the upper bound of the highest bucket holding an observation: histograms keep no maximum.
        """
        family, _ = names.family_of(name)
        bounds, cumulative = self._buckets(family.name)
        return summarize(family, bounds, cumulative)

    def processes(self) -> int:
        """Return 1: this registry holds this process's figures only (``monitoring.cluster`` adds the others')."""
        return 1

    def histograms(self) -> dict[str, list[float]]:
        """Return each histogram's cumulative bucket counts (its buckets, then ``+Inf``), by family name."""
        found: dict[str, list[float]] = {}
        for family in self._metrics:
            if family.kind is Kind.HISTOGRAM:
                _, cumulative = self._buckets(family.name)
                found[family.name] = cumulative or [0.0] * (len(family.buckets) + 1)
        return found

    def _buckets(self, family_name: str) -> tuple[list[float], list[float]]:
        for collected in self.registry.collect():
            if collected.name == family_name:
                pairs = [(float(s.labels["le"]), s.value) for s in collected.samples if s.name.endswith("_bucket")]
                return [b for b, _ in pairs], [c for _, c in pairs]
        return [], []

    def _child(self, name: str, kind: Kind) -> _Metric:
        family, labels = names.family_of(name)
        if family.kind is not kind:
            raise TypeError(f"{name} is a {family.kind.value}, not a {kind.value}")
        metric = self._metrics[family]
        return metric.labels(*labels) if labels else metric


_COLLECTED = frozenset({names.GATEWAY_LATENCY, names.SHARD_CONNECTED})
"""Families read from the shards at each scrape (``monitoring.gateway``), not set through the port."""


def _make(family: Family, registry: CollectorRegistry) -> _Metric:
    labels: Iterable[str] = family.labels
    if family.kind is Kind.COUNTER:
        return Counter(family.name, family.help, labels, registry=registry)
    if family.kind is Kind.HISTOGRAM:
        return Histogram(family.name, family.help, labels, registry=registry, buckets=family.buckets)
    return Gauge(family.name, family.help, labels, registry=registry)
