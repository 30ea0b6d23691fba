"""The Prometheus side of the Metrics port: names resolve, values move in the scraped text, stats read it back."""

from __future__ import annotations

import itertools
import math

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from castbot_hikari.core import metrics as names
from castbot_hikari.core.metrics import Kind
from castbot_hikari.monitoring.prometheus import PrometheusMetrics, bucket_quantile
from castbot_hikari.monitoring.responses import classify

DOTTED_COUNTERS = (
    names.APPLY_CLICKS,
    names.APPLY_CREATED,
    "apply.rejected.in_progress",
    "apply.failed.category_full",
    names.DUPLICATES_PREVENTED,
    names.ORPHANS_REMOVED,
    names.PERMISSION_FAST_FAIL,
    names.CATEGORY_OVERFLOW,
    names.WELCOME_FAILED,
    "reconcile.created",
    "reconcile.rejected.config_not_found",
    "reconcile.failed.storage",
    names.LATE_REPLIED,
    names.LATE_REPLY_FAILED,
    names.FOLLOWUP_RETRY,
    names.FOLLOWUP_DELIVERED,
    names.FOLLOWUP_FAILED,
    names.FOLLOWUP_GIVEN_UP,
    "discord.rate_limited.user",
    "discord.invalid_requests.403",
)
ALLOWED_LABELS = {"kind", "reason", "event", "result", "scope", "status", "shard"}


def samples(metrics: PrometheusMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return the scraped text of the registry, parsed: (sample name, labels) -> value."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_counter_name_resolves_and_reads_back_by_its_dotted_name() -> None:
    metrics = PrometheusMetrics(process=False)
    for value, name in enumerate(DOTTED_COUNTERS, start=1):
        metrics.incr(name, value)
    assert metrics.snapshot() == {name: value for value, name in enumerate(DOTTED_COUNTERS, start=1)}


def test_labels_never_carry_ids() -> None:
    for family in names.FAMILIES:
        assert set(family.labels) <= ALLOWED_LABELS, family
        assert family.name.startswith("castbot_")


def test_a_typo_or_a_wrong_kind_is_refused() -> None:
    metrics = PrometheusMetrics(process=False)
    with pytest.raises(KeyError, match=r"apply\.creatd"):
        metrics.incr("apply.creatd")
    with pytest.raises(TypeError, match="histogram"):
        metrics.incr(names.APPLY_ACK_MS)


def test_values_move_in_the_scraped_text() -> None:
    metrics = PrometheusMetrics(process=False)
    metrics.incr(names.APPLY_CLICKS)
    metrics.incr("apply.rejected.already_applied", 2)
    metrics.observe(names.APPLY_ACK_MS, 1.5)
    metrics.observe(names.APPLY_ACK_MS, 2900.0)
    metrics.gauge(names.APPLIES_WAITING, 7)
    scraped = samples(metrics)
    assert scraped[("castbot_apply_clicks_total", ())] == 1.0
    assert scraped[("castbot_apply_outcomes_total", (("kind", "rejected"), ("reason", "already_applied")))] == 2.0
    assert scraped[("castbot_applies_waiting", ())] == 7.0
    assert scraped[("castbot_apply_ack_seconds_count", ())] == 2.0
    bucket = "castbot_apply_ack_seconds_bucket"
    assert scraped[(bucket, (("le", "0.001"),))] == 0.0  # 1.5 ms is told from 1 ms...
    assert scraped[(bucket, (("le", "0.002"),))] == 1.0
    assert scraped[(bucket, (("le", "2.5"),))] == 1.0  # ...and 2.9 s from 2.5 s and 3 s
    assert scraped[(bucket, (("le", "3.0"),))] == 2.0


def test_histogram_buckets_resolve_1_ms_to_3_s() -> None:
    for family in (names.ACK_SECONDS, names.RESULT_SECONDS):
        assert family.kind is Kind.HISTOGRAM
        inside = [b for b in family.buckets if 0.001 <= b <= 3.0]
        assert inside[0] == 0.001
        assert inside[-1] == 3.0
        assert all(high / low <= 2.5 for low, high in itertools.pairwise(inside))


def test_summary_estimates_percentiles_from_the_buckets() -> None:
    metrics = PrometheusMetrics(process=False)
    assert metrics.summary(names.APPLY_ACK_MS).count == 0
    for ms in (2.0, 3.0, 50.0):
        metrics.observe(names.APPLY_ACK_MS, ms)
    summary = metrics.summary(names.APPLY_ACK_MS)
    assert summary.count == 3
    assert 2.0 <= summary.p50 <= 5.0  # in the bucket of the true median (3 ms)
    assert 20.0 <= summary.p99 <= 50.0
    assert summary.max == 50.0  # the upper bound of the highest bucket used


def test_bucket_quantile_interpolates_and_stops_at_the_last_finite_bound() -> None:
    bounds = [1.0, 2.0, math.inf]
    assert bucket_quantile(bounds, [0.0, 10.0, 10.0], 0.5) == 1.5
    assert bucket_quantile(bounds, [0.0, 0.0, 4.0], 0.99) == 2.0
    assert bucket_quantile(bounds, [0.0, 0.0, 0.0], 0.5) == 0.0


@pytest.mark.parametrize(
    ("status", "scope", "moved"),
    [
        (200, None, []),
        (404, None, []),
        (401, None, ["discord.invalid_requests.401"]),
        (403, None, ["discord.invalid_requests.403"]),
        (429, "user", ["discord.rate_limited.user", "discord.invalid_requests.429"]),
        (429, "global", ["discord.rate_limited.global", "discord.invalid_requests.429"]),
        (429, "shared", ["discord.rate_limited.shared"]),  # Discord does not count shared buckets' 429s
        (429, None, ["discord.rate_limited.none", "discord.invalid_requests.429"]),  # e.g. Cloudflare
        (429, "weird", ["discord.rate_limited.none", "discord.invalid_requests.429"]),
    ],
)
def test_responses_are_classified_as_discord_counts_them(status: int, scope: str | None, moved: list[str]) -> None:
    assert classify(status, scope) == moved
