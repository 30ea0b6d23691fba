"""/apps stats over several processes: counters add up, timings come from the summed buckets."""

from __future__ import annotations

from castbot_hikari.core import metrics as names
from castbot_hikari.monitoring.cluster import ClusterMetrics, MetricsState
from castbot_hikari.monitoring.prometheus import PrometheusMetrics


def process(clicks: int, acks_ms: list[float]) -> PrometheusMetrics:
    metrics = PrometheusMetrics(process=False)
    metrics.incr(names.APPLY_CLICKS, clicks)
    for ms in acks_ms:
        metrics.observe(names.APPLY_ACK_MS, ms)
    return metrics


def test_counters_and_timings_cover_every_live_process() -> None:
    here = ClusterMetrics(process(3, [1.5] * 3))
    peer = ClusterMetrics(process(5, [2500.0] * 97))
    assert (here.processes(), here.snapshot()[names.APPLY_CLICKS]) == (1, 3)
    here.set_peers([MetricsState.from_json(peer.state().to_json())])  # as published, through JSON
    assert here.processes() == 2
    assert here.snapshot()[names.APPLY_CLICKS] == 8
    ack = here.summary(names.APPLY_ACK_MS)
    assert ack.count == 100
    assert 2000 < ack.p50 <= 2500  # the peer's slow acks dominate: not this process's 1.5 ms
    assert ack.max == 2500
    here.set_peers([])
    assert (here.processes(), here.summary(names.APPLY_ACK_MS).count) == (1, 3)


def test_a_malformed_or_foreign_state_counts_nothing() -> None:
    here = ClusterMetrics(process(1, [1.0]))
    state = MetricsState.from_json(
        {"counters": {names.APPLY_CLICKS: "many"}, "histograms": {"castbot_apply_ack_seconds": [1, 2]}}
    )
    here.set_peers([state, MetricsState.from_json({"unexpected": True})])
    assert here.snapshot()[names.APPLY_CLICKS] == 1
    assert here.summary(names.APPLY_ACK_MS).count == 1  # bucket counts of another layout are left out
