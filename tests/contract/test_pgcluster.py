"""The tests' throwaway PostgreSQL: reachable on loopback only, one fresh database per test."""

from __future__ import annotations

import asyncpg
import pytest


@pytest.mark.asyncio
async def test_each_test_gets_a_fresh_database_on_loopback(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        assert await conn.fetchval("SHOW listen_addresses") in ("127.0.0.1", "localhost")
        assert await conn.fetchval("SHOW fsync") == "off"
        await conn.execute("CREATE TABLE scratch (x int)")
    finally:
        await conn.close()
