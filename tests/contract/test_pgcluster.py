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


def test_the_development_command_prints_a_url_that_works_and_stops_clean(pg_cluster: object) -> None:
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    del pg_cluster  # only to skip (or fail under CI) where no server binaries exist
    root = Path(__file__).parent.parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "castbot_hikari.testing.pgcluster"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("CASTBOT_DATABASE_URL=postgresql://")
        url = line.removeprefix("CASTBOT_DATABASE_URL=")
        assert "@127.0.0.1:" in url
        assert url.endswith("/castbot")

        async def check() -> int:
            conn = await asyncpg.connect(url)
            try:
                return int(await conn.fetchval("SELECT 1"))
            finally:
                await conn.close()

        import asyncio

        assert asyncio.run(check()) == 1
        proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
