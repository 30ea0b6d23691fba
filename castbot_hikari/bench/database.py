"""A fresh PostgreSQL database for one benchmark run, loaded with the run's data file as an operator would."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO

import asyncpg

from castbot_hikari.bench.procs import python_env


class BenchDatabase:
    """Creates ``bench_<random>`` on a server whose user may create databases; drops it at the end.

    Args:
        server_url: A ``postgresql://`` URL of the server (any database of it).
    """

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        self._name = f"bench_{uuid.uuid4().hex[:12]}"
        base, _, _ = server_url.rpartition("/")
        self.url = f"{base}/{self._name}"
        self.imported = 0

    async def __aenter__(self) -> BenchDatabase:
        conn = await asyncpg.connect(self._server_url)
        try:
            await conn.execute(f'CREATE DATABASE "{self._name}"')
        finally:
            await conn.close()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn = await asyncpg.connect(self._server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        finally:
            await conn.close()

    def env(self) -> dict[str, str]:
        """Return the bot's store settings for this database."""
        return {"CASTBOT_STORE": "postgres", "CASTBOT_DATABASE_URL": self.url}

    async def load(self, data_file: Path, log: IO[bytes]) -> None:
        """Import ``data_file`` with ``castbot-hikari import`` (which also applies the migrations).

        Raises:
            RuntimeError: The import failed (its output is in ``log``).
        """
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "castbot_hikari",
            "import",
            str(data_file),
            env=python_env(self.env()),
            stdout=log,
            stderr=log,
        )
        if await proc.wait() != 0:
            msg = f"castbot-hikari import into {self._name} failed (exit {proc.returncode}); see {log.name}"
            raise RuntimeError(msg)
        self.imported = await self.count_applications()

    async def count_applications(self) -> int:
        """Return the applications the database records."""
        conn = await asyncpg.connect(self.url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM applies WHERE state <> 'reserved'"))
        finally:
            await conn.close()
