"""Versioned SQL migrations (``migrations/NNNN_name.sql``), applied in order, each once, whoever starts first.

Every run takes a transaction-scoped advisory lock first (``pg_advisory_xact_lock``: released by the commit,
so a pooled connection never keeps it), then reads ``schema_migrations`` and applies what is missing in the
same transaction. Two processes starting together: the second waits for the first's commit and finds
nothing left to do. A failing migration rolls back whole.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Final

import asyncpg
from asyncpg.pool import PoolConnectionProxy

LOCK_ID: Final = 0x6361_7374_626F_7431  # "castbot1": the advisory lock of this schema's migrations


Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, pooled or not."""


class SchemaError(Exception):
    """The database's schema is not one this version can use (written by a newer version)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file: its version (the file name without ``.sql``) and its text."""

    version: str
    sql: str


def migrations() -> list[Migration]:
    """Return the packaged migrations in the order they apply (by file name)."""
    folder = importlib.resources.files("castbot_hikari.pg").joinpath("migrations")
    found = [
        Migration(entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    ]
    return sorted(found, key=lambda migration: migration.version)


async def migrate(conn: Conn) -> list[str]:
    """Apply the migrations this database lacks; return the versions applied (empty: it was up to date).

    Raises:
        SchemaError: The database has a migration this version does not know (a newer version wrote it).
    """
    known = migrations()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_ID)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch("SELECT version FROM schema_migrations")
        done = {str(row["version"]) for row in rows}
        if unknown := done - {migration.version for migration in known}:
            raise SchemaError(
                f"the database has schema migrations this castbot-hikari does not know ({', '.join(sorted(unknown))}):"
                " a newer version wrote it; upgrade castbot-hikari"
            )
        applied: list[str] = []
        for migration in known:
            if migration.version in done:
                continue
            await conn.execute(migration.sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version)
            applied.append(migration.version)
        return applied
