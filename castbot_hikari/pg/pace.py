"""Discord's global REST limit shared by every process of the bot, through PostgreSQL.

Discord allows a bot 50 requests per second in all, whatever the number of its processes. Each process
pacing itself (``core.pacing.Pacer``) lets N processes send N times that: 344 429s per burst with two
processes, 1,502 with four (README, Performance). Here every request takes a turn from one row of the
database instead (the generic cell rate algorithm, GCRA): one statement moves the row's theoretical arrival
time on by one interval and returns how long this request has to wait for its turn. Nothing is held while
waiting, the database's clock is the only clock (no skew between machines), and a process that dies only
leaves its turn unused.

When the database cannot be reached the process falls back to its own pacer (said once in the log), so the
bot goes on, only without the shared guarantee, and tries the database again after ``retry_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol

import asyncpg

from castbot_hikari.core.clock import Sleep
from castbot_hikari.core.pacing import Pacer

logger = logging.getLogger(__name__)

MAX_TURNS: Final = 3
UNREACHABLE: Final = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a turn at the database can fail with: no connection, a slow answer, an error of the server."""

TURN = """
INSERT INTO rest_pace AS p (name, tat) VALUES ($1, statement_timestamp() + make_interval(secs => $2))
ON CONFLICT (name) DO UPDATE SET tat = greatest(p.tat, statement_timestamp()) + make_interval(secs => $2)
RETURNING greatest(0.0, extract(epoch FROM p.tat - statement_timestamp())::float8 - $2 - $3)
"""
"""Take the next turn: ``$1`` the limit's name, ``$2`` the interval between turns, ``$3`` the burst's tolerance
(seconds a turn may come early). Returns the seconds to wait before sending."""


class Connection(Protocol):
    """What a turn needs of a database connection (``fetchval``)."""

    async def fetchval(self, query: str, *args: object) -> object:
        """Run ``query`` and return the first column of its first row."""
        ...


class Executor(Protocol):
    """What the pace needs of an asyncpg pool (``acquire``)."""

    def acquire(self) -> AbstractAsyncContextManager[Connection]:
        """Return a connection of the pool for the ``async with`` block."""
        ...


class OwnPool:
    """A small pool of the pace's own, opened at first use: turns never queue behind the store's queries.

    Args:
        url: The database's ``postgresql://`` URL (the store's).
        size: Connections at most; a turn holds one for a millisecond or so.
    """

    def __init__(self, url: str, size: int = 2) -> None:
        self._url = url
        self._size = size
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncGenerator[Connection]:
        """Yield a connection, opening the pool first if need be (failures propagate: the caller falls back)."""
        async with self._opening:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._url, min_size=1, max_size=self._size, statement_cache_size=0
                )
        async with self._pool.acquire() as conn:
            yield conn

    async def close(self) -> None:
        """Close the pool, if it was opened."""
        if self._pool is not None:
            await self._pool.close()


class Turns(Protocol):
    """A pace of this process alone (``core.pacing.Pacer``)."""

    async def wait(self) -> None:
        """Return once the next request may be sent."""
        ...


class SharedPace:
    """Lets at most ``limit`` requests per second through, summed over every process on one database.

    The same split as ``Pacer.per_second``: a burst of a tenth of the limit, the rest as the steady rate, so
    that no window of one second holds more than ``limit`` turns.

    Args:
        pool: The database (an asyncpg pool); the ``rest_pace`` table comes from the migrations.
        limit: Requests per second for all processes together.
        name: Which limit (one row each).
        fallback: This process's own pacer, used while the database cannot be reached.
        timeout_s: How long a turn may take at the database before the fallback is used.
        retry_s: How long the fallback is used before the database is tried again.
        grace_s: How late after its turn a request may still be sent (see ``wait``).
    """

    def __init__(
        self,
        pool: Executor,
        limit: float,
        *,
        name: str = "global",
        fallback: Turns | None = None,
        timeout_s: float = 2.0,
        retry_s: float = 5.0,
        grace_s: float = 0.04,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        burst = max(1, int(limit / 10))
        rate = max(limit - burst, 1.0)
        self._pool = pool
        self._name = name
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._fallback: Turns = fallback or Pacer.per_second(limit, monotonic=monotonic, sleep=sleep)
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._down_until: float | None = None
        self._down_since = 0.0
        self._grace_s = grace_s
        self.late_turns = 0
        """Turns this process woke up too late for and took again."""

    @property
    def shared(self) -> bool:
        """Whether turns currently come from the database (not the fallback)."""
        return self._down_until is None

    async def wait(self) -> None:
        """Return once this request may be sent.

        A turn is a moment in the shared schedule. A process that wakes up later than ``grace_s`` after its turn
        (its loop was busy, or the answer slow) would send into a later second that other processes fill
        already: it takes a new turn instead, up to ``MAX_TURNS`` times; then it sends (hikari waits out a 429).
        """
        for _ in range(MAX_TURNS):
            turn = await self._take_turn()
            if turn is None:
                await self._fallback.wait()
                return
            if (ahead := turn - self._monotonic()) > 0:
                await self._sleep(ahead)
            if self._monotonic() - turn <= self._grace_s:
                return
            self.late_turns += 1

    async def _take_turn(self) -> float | None:
        """Return when this process's next turn is (its monotonic clock), or ``None`` to use the fallback."""
        if self._down_until is not None and self._monotonic() < self._down_until:
            return None
        try:
            async with asyncio.timeout(self._timeout_s), self._pool.acquire() as conn:
                asked = self._monotonic()  # before the database's moment by the request's travel: early, safe
                delay = await conn.fetchval(TURN, self._name, self._interval, self._tolerance)
        except UNREACHABLE as exc:
            self._fell_back(exc)
            return None
        if self._down_until is not None and asked >= self._down_since:
            self._down_until = None
            logger.warning("the shared REST pace is back: turns come from the database again")
        return asked + (delay if isinstance(delay, float) else 0.0)

    def _fell_back(self, exc: BaseException) -> None:
        first = self._down_until is None
        if first:
            self._down_since = self._monotonic()
        self._down_until = self._monotonic() + self._retry_s
        if first:
            logger.warning(
                "the shared REST pace is unavailable (%s): this process paces itself alone until the database "
                "answers, so processes together may exceed Discord's limit meanwhile",
                type(exc).__name__,
            )
