"""``/apps stats`` over every process of the bot: this process's registry plus what the others published.

Counters add up; timings are Prometheus histograms, whose cumulative bucket counts add up too, so the
percentiles of all processes are estimated from the summed buckets exactly as for one (``bucket_quantile``).
Each process publishes its ``MetricsState`` to the shared store now and then (``pg.metrics``) and hands the
others' latest states to ``ClusterMetrics.set_peers``; this module does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from castbot_hikari.core import metrics as names
from castbot_hikari.core.metrics import Summary
from castbot_hikari.monitoring.prometheus import PrometheusMetrics, summarize


@dataclass(frozen=True, slots=True)
class MetricsState:
    """What one process publishes: its counters (dotted names) and its histograms' cumulative bucket counts.

    Attributes:
        counters: Every counter that moved, by dotted name.
        histograms: By Prometheus family name, the cumulative count at each of ``Family.buckets`` and ``+Inf``.
    """

    counters: Mapping[str, int] = field(default_factory=dict[str, int])
    histograms: Mapping[str, Sequence[float]] = field(default_factory=dict[str, Sequence[float]])

    def to_json(self) -> dict[str, Any]:
        """Return the state as a JSON object (what the store keeps)."""
        return {"counters": dict(self.counters), "histograms": {k: list(v) for k, v in self.histograms.items()}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> MetricsState:
        """Read a published state; anything malformed is left out (a peer of another version)."""
        counters: dict[str, int] = {}
        histograms: dict[str, list[float]] = {}
        found_counters: Any = raw.get("counters")
        found_histograms: Any = raw.get("histograms")
        if isinstance(found_counters, dict):
            for name, value in cast("dict[str, Any]", found_counters).items():
                if isinstance(value, int):
                    counters[name] = value
        if isinstance(found_histograms, dict):
            for name, counts in cast("dict[str, Any]", found_histograms).items():
                if isinstance(counts, list) and all(isinstance(c, int | float) for c in cast("list[Any]", counts)):
                    histograms[name] = [float(c) for c in cast("list[float]", counts)]
        return cls(counters, histograms)


class ClusterMetrics:
    """A ``MetricsReader`` (admin ports) over this process and its peers' last published states."""

    def __init__(self, local: PrometheusMetrics) -> None:
        self._local = local
        self._peers: tuple[MetricsState, ...] = ()

    def state(self) -> MetricsState:
        """Return this process's state, to publish."""
        return MetricsState(self._local.snapshot(), self._local.histograms())

    def set_peers(self, peers: Sequence[MetricsState]) -> None:
        """Replace what the other live processes last published."""
        self._peers = tuple(peers)

    def processes(self) -> int:
        """Return how many processes the figures cover (this one and its live peers)."""
        return 1 + len(self._peers)

    def snapshot(self) -> Mapping[str, int]:
        """Return every counter summed over the processes."""
        total = dict(self._local.snapshot())
        for peer in self._peers:
            for name, value in peer.counters.items():
                total[name] = total.get(name, 0) + value
        return total

    def summary(self, name: str) -> Summary:
        """Return count, p50, p99 and max of a timing over the processes (from the summed buckets)."""
        family, _ = names.family_of(name)
        bounds = [*family.buckets, math.inf]
        cumulative = self._local.histograms().get(family.name, [0.0] * len(bounds))
        for peer in self._peers:
            counts = peer.histograms.get(family.name)
            if counts is not None and len(counts) == len(bounds):
                cumulative = [a + b for a, b in zip(cumulative, counts, strict=True)]
        return summarize(family, bounds, cumulative)
