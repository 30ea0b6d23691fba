"""Counters and timings: the ``Metrics`` port, an in-memory implementation, and every metric name.

Names are dotted (``apply.created``) and defined here once, so the code that counts and the reports
that read (``/apps stats``, benchmarks) can never drift apart.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Protocol

APPLY_CLICKS: Final = "apply.clicks"
APPLY_OUTCOME: Final = "apply."
"""Prefix of the outcome counters: ``apply.<outcome label>``, e.g. ``apply.rejected.in_progress``."""
APPLY_REJECTED: Final = "apply.rejected."
APPLY_FAILED: Final = "apply.failed."
APPLY_CREATED: Final = "apply.created"
APPLY_ACK_MS: Final = "apply.ack_ms"
APPLY_RESULT_MS: Final = "apply.result_ms"
DUPLICATES_PREVENTED: Final = "apply.duplicates_prevented"
ORPHANS_REMOVED: Final = "apply.orphans_removed"
PERMISSION_FAST_FAIL: Final = "apply.permission_fast_fail"
CATEGORY_OVERFLOW: Final = "apply.category_overflow"
WELCOME_FAILED: Final = "apply.welcome_failed"
RECONCILED: Final = "reconcile."
"""Prefix of start-up reconciliation outcomes: ``reconcile.<outcome label>``."""
LATE_REPLIED: Final = "reconcile.replied"
LATE_REPLY_FAILED: Final = "reconcile.reply_failed"
FOLLOWUP_RETRY: Final = "followup.retry"
FOLLOWUP_DELIVERED: Final = "followup.delivered"
FOLLOWUP_FAILED: Final = "followup.failed"
FOLLOWUP_GIVEN_UP: Final = "followup.given_up"


class Metrics(Protocol):
    """Counters and timings with dotted names (see the constants of this module)."""

    def incr(self, name: str, value: int = 1) -> None:
        """Add ``value`` to a counter."""
        ...

    def observe(self, name: str, ms: float) -> None:
        """Record a duration in milliseconds."""
        ...


@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of one timing, in milliseconds."""

    count: int
    p50: float
    p99: float
    max: float


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (0.0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


class InMemoryMetrics:
    """Counters and bounded timing samples, keyed by dotted names such as ``apply.created``."""

    def __init__(self, max_samples: int = 100_000) -> None:
        self.counters: collections.Counter[str] = collections.Counter()
        self._samples: dict[str, collections.deque[float]] = {}
        self._max_samples = max_samples

    def incr(self, name: str, value: int = 1) -> None:
        """Add ``value`` to a counter."""
        self.counters[name] += value

    def observe(self, name: str, ms: float) -> None:
        """Record one duration."""
        samples = self._samples.get(name)
        if samples is None:
            samples = self._samples[name] = collections.deque(maxlen=self._max_samples)
        samples.append(ms)

    def summary(self, name: str) -> Summary:
        """Return count, p50, p99 and max of a timing."""
        values = list(self._samples.get(name, ()))
        return Summary(len(values), percentile(values, 0.5), percentile(values, 0.99), max(values, default=0.0))

    def snapshot(self) -> Mapping[str, int]:
        """Return a copy of all counters."""
        return dict(self.counters)
