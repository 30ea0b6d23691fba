"""Counters, timings and gauges: the ``Metrics`` port, an in-memory implementation, and every metric name.

Names are dotted (``apply.created``) and defined here once, so the code that counts and the reports
that read (``/apps stats``, benchmarks, Prometheus) can never drift apart. ``family_of`` maps each
dotted name to its Prometheus family and label values; every label value comes from a closed set
(outcome kinds and reasons, HTTP statuses, rate-limit scopes, shard numbers), never a guild or user id.
"""

from __future__ import annotations

import collections
import enum
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
STORE_SAVE_MS: Final = "store.save_ms"
"""A durable change of the store: from the request until it is on disk (or in the database)."""
APPLIES_RUNNING: Final = "apply.running"
"""Gauge: applies holding one of the ``CASTBOT_MAX_CONCURRENT_APPLIES`` slots."""
APPLIES_WAITING: Final = "apply.waiting"
"""Gauge: acknowledged clicks waiting for a slot."""
DISCORD_RATE_LIMITED: Final = "discord.rate_limited."
"""Prefix of Discord's 429 answers by ``X-RateLimit-Scope``: ``discord.rate_limited.user``."""
DISCORD_INVALID: Final = "discord.invalid_requests."
"""Prefix of the answers Discord counts towards its ban (401, 403, 429 but shared): ``...invalid_requests.403``."""
RATE_LIMIT_SCOPES: Final = ("user", "global", "shared", "none")
"""The scopes Discord sends (``none``: no header, e.g. a Cloudflare ban); anything else counts as ``none``."""


class Kind(enum.Enum):
    """How a Prometheus family aggregates."""

    COUNTER = "counter"
    HISTOGRAM = "histogram"
    GAUGE = "gauge"


LATENCY_BUCKETS_S: Final = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0,
    5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)  # fmt: skip
"""Buckets that tell 1 ms from 2 ms and 2.5 s from 3 s (Discord's ack deadline), up to the apply timeout."""
STORE_BUCKETS_S: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


@dataclass(frozen=True, slots=True)
class Family:
    """One Prometheus metric family.

    Attributes:
        name: Its name without a unit suffix Prometheus adds (``_total`` for counters).
        kind: Counter, histogram (of seconds, observed in milliseconds through ``Metrics.observe``) or gauge.
        help: What it counts.
        labels: Its label names (values come from closed sets).
        buckets: A histogram's upper bounds, in seconds.
    """

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


CLICKS: Final = Family("castbot_apply_clicks", Kind.COUNTER, "Apply clicks acknowledged.")
OUTCOMES: Final = Family(
    "castbot_apply_outcomes",
    Kind.COUNTER,
    "Apply results by kind and reason (reason none: created).",
    ("kind", "reason"),
)
APPLY_EVENTS: Final = Family(
    "castbot_apply_events",
    Kind.COUNTER,
    "Notable steps inside applies (duplicates prevented, overflows...).",
    ("event",),
)
RECONCILE_OUTCOMES: Final = Family(
    "castbot_reconcile_outcomes",
    Kind.COUNTER,
    "Interrupted applies finished at start-up, by result.",
    ("kind", "reason"),
)
LATE_REPLIES: Final = Family(
    "castbot_late_replies", Kind.COUNTER, "Results of recovered applies sent to the applicant.", ("result",)
)
FOLLOWUP_RETRIES: Final = Family("castbot_followup_retries", Kind.COUNTER, "Result messages retried after a failure.")
FOLLOWUPS_DELIVERED: Final = Family("castbot_followup_delivered", Kind.COUNTER, "Result messages the applicant got.")
FOLLOWUPS_FAILED: Final = Family("castbot_followup_failed", Kind.COUNTER, "Result message attempts that failed.")
FOLLOWUPS_GIVEN_UP: Final = Family(
    "castbot_followup_given_up", Kind.COUNTER, "Results never delivered (kept for the admins)."
)
ACK_SECONDS: Final = Family(
    "castbot_apply_ack_seconds", Kind.HISTOGRAM, "Click to acknowledgement (Discord allows 3 s).", (), LATENCY_BUCKETS_S
)
RESULT_SECONDS: Final = Family(
    "castbot_apply_result_seconds", Kind.HISTOGRAM, "Click to the result shown.", (), LATENCY_BUCKETS_S
)
STORE_SAVE_SECONDS: Final = Family(
    "castbot_store_save_seconds", Kind.HISTOGRAM, "A durable change of the store.", (), STORE_BUCKETS_S
)
RUNNING: Final = Family("castbot_applies_running", Kind.GAUGE, "Applies doing their work (holding a slot).")
WAITING: Final = Family("castbot_applies_waiting", Kind.GAUGE, "Acknowledged clicks waiting for a slot.")
RATE_LIMITED: Final = Family(
    "castbot_discord_rate_limited", Kind.COUNTER, "429 answers from Discord, by X-RateLimit-Scope.", ("scope",)
)
INVALID_REQUESTS: Final = Family(
    "castbot_discord_invalid_requests",
    Kind.COUNTER,
    "Answers Discord counts towards its ban of 10,000 in 10 minutes (401, 403, 429 but shared).",
    ("status",),
)
GATEWAY_LATENCY: Final = Family(
    "castbot_gateway_latency_seconds", Kind.GAUGE, "Heartbeat round trip of each shard of this process.", ("shard",)
)
SHARD_CONNECTED: Final = Family(
    "castbot_gateway_shard_connected", Kind.GAUGE, "1 while a shard of this process is connected.", ("shard",)
)
FAMILIES: Final = (
    CLICKS, OUTCOMES, APPLY_EVENTS, RECONCILE_OUTCOMES, LATE_REPLIES, FOLLOWUP_RETRIES, FOLLOWUPS_DELIVERED,
    FOLLOWUPS_FAILED, FOLLOWUPS_GIVEN_UP, ACK_SECONDS, RESULT_SECONDS, STORE_SAVE_SECONDS, RUNNING, WAITING,
    RATE_LIMITED, INVALID_REQUESTS, GATEWAY_LATENCY, SHARD_CONNECTED,
)  # fmt: skip
"""Every family; the gateway ones are read from the shards at each scrape, the others through ``Metrics``."""

_EVENTS: Final = (DUPLICATES_PREVENTED, ORPHANS_REMOVED, PERMISSION_FAST_FAIL, CATEGORY_OVERFLOW, WELCOME_FAILED)
_EXACT: Final[Mapping[str, tuple[Family, tuple[str, ...]]]] = {
    APPLY_CLICKS: (CLICKS, ()),
    APPLY_CREATED: (OUTCOMES, ("created", "none")),
    APPLY_ACK_MS: (ACK_SECONDS, ()),
    APPLY_RESULT_MS: (RESULT_SECONDS, ()),
    STORE_SAVE_MS: (STORE_SAVE_SECONDS, ()),
    APPLIES_RUNNING: (RUNNING, ()),
    APPLIES_WAITING: (WAITING, ()),
    **{name: (APPLY_EVENTS, (name.removeprefix("apply."),)) for name in _EVENTS},
    LATE_REPLIED: (LATE_REPLIES, ("delivered",)),
    LATE_REPLY_FAILED: (LATE_REPLIES, ("failed",)),
    RECONCILED + "created": (RECONCILE_OUTCOMES, ("created", "none")),
    FOLLOWUP_RETRY: (FOLLOWUP_RETRIES, ()),
    FOLLOWUP_DELIVERED: (FOLLOWUPS_DELIVERED, ()),
    FOLLOWUP_FAILED: (FOLLOWUPS_FAILED, ()),
    FOLLOWUP_GIVEN_UP: (FOLLOWUPS_GIVEN_UP, ()),
}
_PREFIXES: Final = (
    (APPLY_REJECTED, OUTCOMES, "rejected"),
    (APPLY_FAILED, OUTCOMES, "failed"),
    (RECONCILED + "rejected.", RECONCILE_OUTCOMES, "rejected"),
    (RECONCILED + "failed.", RECONCILE_OUTCOMES, "failed"),
    (DISCORD_RATE_LIMITED, RATE_LIMITED, None),
    (DISCORD_INVALID, INVALID_REQUESTS, None),
)


def family_of(name: str) -> tuple[Family, tuple[str, ...]]:
    """Return the Prometheus family of a dotted name and its label values.

    ``apply.rejected.in_progress`` is ``castbot_apply_outcomes{kind="rejected", reason="in_progress"}``.

    Raises:
        KeyError: The name is none of this module's (a typo would otherwise be a metric nobody reads).
    """
    if (found := _EXACT.get(name)) is not None:
        return found
    for prefix, family, kind in _PREFIXES:
        if name.startswith(prefix) and (rest := name[len(prefix) :]):
            return family, (rest,) if kind is None else (kind, rest)
    raise KeyError(f"unknown metric name {name!r}")


def dotted_name(family: Family, labels: tuple[str, ...]) -> str:
    """Return the dotted name ``family_of`` maps to ``family`` with ``labels`` (its inverse)."""
    for name, found in _EXACT.items():
        if found == (family, labels):
            return name
    for prefix, candidate, kind in _PREFIXES:
        if candidate == family and (kind is None or labels[0] == kind):
            return prefix + labels[-1]
    raise KeyError(f"no dotted name for {family.name}{labels}")


class Metrics(Protocol):
    """Counters and timings with dotted names (see the constants of this module)."""

    def incr(self, name: str, value: int = 1) -> None:
        """Add ``value`` to a counter."""
        ...

    def observe(self, name: str, ms: float) -> None:
        """Record a duration in milliseconds."""
        ...

    def gauge(self, name: str, value: float) -> None:
        """Set a gauge (a value that goes up and down, such as applies running now)."""
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
        self.gauges: dict[str, float] = {}
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

    def gauge(self, name: str, value: float) -> None:
        """Set a gauge."""
        self.gauges[name] = value

    def summary(self, name: str) -> Summary:
        """Return count, p50, p99 and max of a timing."""
        values = list(self._samples.get(name, ()))
        return Summary(len(values), percentile(values, 0.5), percentile(values, 0.99), max(values, default=0.0))

    def snapshot(self) -> Mapping[str, int]:
        """Return a copy of all counters."""
        return dict(self.counters)

    def processes(self) -> int:
        """Return 1: the figures of this process only."""
        return 1
