"""/apps stats totals across processes: each publishes its metrics to PostgreSQL and reads the others'."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

import asyncpg
import pytest
import pytest_asyncio

from castbot_hikari.core import metrics as names
from castbot_hikari.monitoring.cluster import ClusterMetrics
from castbot_hikari.monitoring.prometheus import PrometheusMetrics
from castbot_hikari.pg.metrics import MetricsExchange


@pytest_asyncio.fixture
async def pool(pg_url: str) -> AsyncIterator[asyncpg.Pool]:
    sql = resources.files("castbot_hikari.pg").joinpath("migrations/0003_process_metrics.sql").read_text()
    found = await asyncpg.create_pool(pg_url, min_size=1, max_size=4)
    await found.execute(sql)
    try:
        yield found
    finally:
        await found.close()


def cluster_with(clicks: int) -> ClusterMetrics:
    metrics = PrometheusMetrics(process=False)
    metrics.incr(names.APPLY_CLICKS, clicks)
    metrics.observe(names.APPLY_ACK_MS, 4.0)
    return ClusterMetrics(metrics)


@pytest.mark.asyncio
async def test_each_process_sees_the_totals_of_every_live_process(pool: asyncpg.Pool) -> None:
    clusters = [cluster_with(n) for n in (1, 2, 4)]
    exchanges = [MetricsExchange(pool, f"proc-{n}", c) for n, c in enumerate(clusters)]
    for exchange in exchanges:
        await exchange.exchange()
    await exchanges[0].exchange()  # the first one published before the others: it reads them now
    assert clusters[0].snapshot()[names.APPLY_CLICKS] == 7
    assert clusters[2].snapshot()[names.APPLY_CLICKS] == 7
    assert clusters[0].processes() == 3
    assert clusters[0].summary(names.APPLY_ACK_MS).count == 3

    await exchanges[2].forget()  # a clean stop leaves the totals at once
    await exchanges[0].exchange()
    assert (clusters[0].processes(), clusters[0].snapshot()[names.APPLY_CLICKS]) == (2, 3)

    await pool.execute("UPDATE process_metrics SET updated_at = now() - interval '2 minutes' WHERE owner = 'proc-1'")
    await exchanges[0].exchange()  # proc-1 was killed: its row went stale
    assert (clusters[0].processes(), clusters[0].snapshot()[names.APPLY_CLICKS]) == (1, 1)


class Down:
    async def execute(self, query: str, *args: object) -> str:
        raise ConnectionRefusedError("refused")

    async def fetch(self, query: str, *args: object) -> list[object]:
        raise ConnectionRefusedError("refused")


@pytest.mark.asyncio
async def test_an_unreachable_database_keeps_the_last_figures(pool: asyncpg.Pool) -> None:
    here, peer = cluster_with(1), cluster_with(2)
    await MetricsExchange(pool, "peer", peer).exchange()
    await MetricsExchange(pool, "here", here).exchange()
    assert here.snapshot()[names.APPLY_CLICKS] == 3
    await MetricsExchange(Down(), "here", here).exchange()  # no exception; the peers stay as last seen
    assert here.snapshot()[names.APPLY_CLICKS] == 3
