"""The figures of one run (a scenario with a strategy) from what the emulator saw, and the ratios between runs."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Return the nearest-rank percentile of ``values`` (``None`` for none).

    The nearest rank is ``ceil(fraction * n)`` (at least 1): the p99 of 100 values is the 99th smallest,
    of 1,000 values the 990th, so a single outlier among 1,000 never moves it.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """Return ``numerator / denominator``; ``inf`` for a positive one over zero, ``None`` when undefined."""
    if numerator is None or denominator is None:
        return None
    if denominator == 0:
        return None if numerator == 0 else math.inf
    return numerator / denominator


@dataclass(frozen=True, slots=True)
class ClickRecord:
    """What one click's user experienced, in seconds.

    Attributes:
        t: From the first planned click to this click's dispatch.
        ack: From dispatching INTERACTION_CREATE to the emulator receiving the first callback (also a
            refused late one); ``None`` when none came.
        accepted: Whether that callback was in time (within 3 s).
        ack_type: Type of the accepted callback (4 message, 5 deferred).
        final: From dispatch to the final message being visible; ``None`` when the user never saw one.
        kind: The final message's kind (created, in progress, already applied, failed).
    """

    t: float
    ack: float | None
    accepted: bool
    ack_type: int | None
    final: float | None
    kind: str | None

    def settled_at(self) -> float | None:
        """Return when this click's last visible outcome came (final message, or the refused answer)."""
        if self.final is not None:
            return self.t + self.final
        if self.ack is not None and not self.accepted:
            return self.t + self.ack
        return None


@dataclass(frozen=True, slots=True)
class RunData:
    """Everything measured in one run, before figures are computed."""

    records: Sequence[ClickRecord]
    completed: int
    duplicates: int
    floor_s: float
    cpu_s: float
    peak_rss_mb: float
    emulator_lag_max_ms: float = 0.0
    rate_limited: int = 0
    requests: int = 0
    invalid: int = 0


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one run; ``as_json`` is the shape ``--json`` writes."""

    clicks: int
    completed: int
    past_3s: int
    duplicates: int
    ack_ms: Mapping[str, float | None]
    final_s: Mapping[str, float | None]
    wall_s: float | None
    floor_s: float
    cpu_s_per_apply: float | None
    peak_rss_mb: float
    unanswered: int = 0
    unsettled: int = 0
    finals: int = 0
    results: Mapping[str, int] = field(default_factory=dict[str, int])
    ack_types: Mapping[str, int] = field(default_factory=dict[str, int])
    emulator_lag_max_ms: float = 0.0
    rate_limited: int = 0
    requests: int = 0
    ack_samples_ms: Sequence[float] = ()
    invalid: int = 0

    @property
    def failed_rate(self) -> float:
        """Return the share of clicks past 3 s ("This interaction failed")."""
        return self.past_3s / self.clicks if self.clicks else 0.0

    def as_json(self) -> dict[str, Any]:
        """Return exactly the keys of the ``--json`` file."""
        return {
            "clicks": self.clicks,
            "completed": self.completed,
            "past_3s": self.past_3s,
            "duplicates": self.duplicates,
            "ack_ms": {key: _round(self.ack_ms.get(key), 1) for key in ("p50", "p99", "max")},
            "final_s": {key: _round(self.final_s.get(key), 3) for key in ("p50", "p99")},
            "wall_s": _round(self.wall_s, 2),
            "floor_s": _round(self.floor_s, 2),
            "cpu_s_per_apply": _round(self.cpu_s_per_apply, 5),
            "peak_rss_mb": _round(self.peak_rss_mb, 1),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def figures(data: RunData) -> Figures:
    """Compute the figures of a run."""
    records = data.records
    acks = [r.ack * 1000 for r in records if r.ack is not None]
    finals = [r.final for r in records if r.final is not None]
    settled = [at for r in records if (at := r.settled_at()) is not None]
    return Figures(
        clicks=len(records),
        completed=data.completed,
        past_3s=sum(1 for r in records if not r.accepted),
        duplicates=data.duplicates,
        ack_ms={"p50": percentile(acks, 0.5), "p99": percentile(acks, 0.99), "max": max(acks, default=None)},
        final_s={"p50": percentile(finals, 0.5), "p99": percentile(finals, 0.99)},
        wall_s=max(settled, default=None),
        floor_s=data.floor_s,
        cpu_s_per_apply=data.cpu_s / data.completed if data.completed else None,
        peak_rss_mb=data.peak_rss_mb,
        unanswered=sum(1 for r in records if r.ack is None),
        unsettled=len(records) - len(settled),
        finals=len(finals),
        results=dict(Counter(r.kind for r in records if r.kind is not None)),
        ack_types={str(t): n for t, n in Counter(r.ack_type for r in records if r.ack_type is not None).items()},
        emulator_lag_max_ms=data.emulator_lag_max_ms,
        rate_limited=data.rate_limited,
        requests=data.requests,
        ack_samples_ms=acks,
        invalid=data.invalid,
    )


@dataclass(frozen=True, slots=True)
class Ratios:
    """How much worse the synchronous pattern is than the deferred bot in one scenario."""

    failed_rate: float | None
    ack_p99: float | None


def ratios(synchronous: Figures, deferred: Figures) -> Ratios:
    """Return synchronous ÷ deferred for the failed rate and the ack p99."""
    return Ratios(
        failed_rate=ratio(synchronous.failed_rate, deferred.failed_rate),
        ack_p99=ratio(synchronous.ack_ms.get("p99"), deferred.ack_ms.get("p99")),
    )


def scenarios_json(results: Mapping[str, Mapping[str, Figures]]) -> dict[str, Any]:
    """Return the ``--json`` document: ``{"scenarios": {name: {strategy: figures}}}``."""
    return {
        "scenarios": {
            name: {strategy: fig.as_json() for strategy, fig in by_strategy.items()}
            for name, by_strategy in results.items()
        }
    }
