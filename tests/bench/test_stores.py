"""``castbot-hikari bench stores``: both stores timed by the same applies, and every apply really written."""

from __future__ import annotations

import asyncpg
import pytest

from castbot_hikari.bench import stores


@pytest.mark.asyncio
async def test_both_stores_are_timed_with_whole_applies(pg_url: str) -> None:
    figures = await stores.run_stores(pg_url, pool_size=4, sequential=20, burst=50)
    assert [f.name for f in figures] == ["json (fsync)", "postgres (pool 4)"]
    for f in figures:
        assert 0 < f.reserve[0] <= f.reserve[1]
        assert f.reserve[0] < f.apply[0] <= f.apply[1]
        assert f.burst == 50
        assert f.burst_per_s > 0
        assert f.reserves_per_s > 0
    text = stores.render_stores(figures)
    assert "json (fsync)" in text
    assert "postgres (pool 4)" in text
    conn = await asyncpg.connect(pg_url)
    try:  # what the bench wrote is cleaned up again
        assert await conn.fetchval("SELECT count(*) FROM applies") == 0
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_without_a_database_only_the_json_store_is_timed() -> None:
    figures = await stores.run_stores(None, sequential=5, burst=10)
    assert [f.name for f in figures] == ["json (fsync)"]
    assert "not timed" in stores.render_stores(figures, skipped="postgres: not timed")
