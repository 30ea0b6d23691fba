"""Database failures in domain terms: ``StorageError`` with one line, never SQL or a password."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import asyncpg

from castbot_hikari.core.errors import LeaseLostError, StorageError


@contextlib.asynccontextmanager
async def storage(what: str) -> AsyncGenerator[None]:
    """Turn database and connection failures into ``StorageError`` (one line, no SQL, no password)."""
    try:
        yield
    except (LeaseLostError, StorageError):
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError) as exc:
        raise StorageError(f"PostgreSQL: could not {what}: {type(exc).__name__}: {exc}") from exc
