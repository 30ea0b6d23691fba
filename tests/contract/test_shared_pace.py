"""The global REST limit shared through PostgreSQL: processes together stay within it, and a lost database
only costs the sharing, never a request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from importlib import resources

import asyncpg
import pytest
import pytest_asyncio

from castbot_hikari.pg.pace import SharedPace

LIMIT = 10  # per second in all: a burst of 1, then 9/s
SLACK_S = 0.05  # between the database's clock and this process's: a turn's answer takes a moment to arrive


@pytest_asyncio.fixture
async def pools(pg_url: str) -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    """Two pools on one database, as two processes of the bot have."""
    sql = resources.files("castbot_hikari.pg").joinpath("migrations/0002_rest_pace.sql").read_text()
    first = await asyncpg.create_pool(pg_url, min_size=1, max_size=4)
    second = await asyncpg.create_pool(pg_url, min_size=1, max_size=4)
    await first.execute(sql)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


class Recorder:
    """A sleep that only records when each request would have been sent (this process's clock)."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self._delay = 0.0

    async def sleep(self, seconds: float) -> None:
        self._delay = seconds

    def turn_taken(self) -> None:
        self.sent.append(time.monotonic() + self._delay)
        self._delay = 0.0


async def take_turns(pace: SharedPace, recorder: Recorder, count: int) -> None:
    for _ in range(count):
        await pace.wait()
        recorder.turn_taken()


def busiest_second(sent: list[float]) -> int:
    """The most requests sent within any window of one second (less the slack)."""
    times = sorted(sent)
    return max(sum(1 for t in times[i:] if t < start + 1.0 - SLACK_S) for i, start in enumerate(times))


@pytest.mark.asyncio
async def test_two_processes_together_stay_within_one_limit(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    recorders = [Recorder(), Recorder()]
    paces = [SharedPace(pool, LIMIT, sleep=rec.sleep) for pool, rec in zip(pools, recorders, strict=True)]
    await asyncio.gather(*(take_turns(p, r, 30) for p, r in zip(paces, recorders, strict=True)))
    sent = recorders[0].sent + recorders[1].sent
    assert len(sent) == 60
    assert busiest_second(sent) <= LIMIT  # each pacing itself alone would send 2 x 10 in the first second
    assert max(sent) - min(sent) >= (60 - 1) / (LIMIT - 1) - 1.0  # the turns were spread, not dropped
    assert all(p.shared for p in paces)


@pytest.mark.asyncio
async def test_each_limit_name_has_its_own_schedule(pools: tuple[asyncpg.Pool, asyncpg.Pool]) -> None:
    recorder = Recorder()
    first = SharedPace(pools[0], LIMIT, name="bot-a", sleep=recorder.sleep)
    await take_turns(first, recorder, 20)
    other = Recorder()
    second = SharedPace(pools[1], LIMIT, name="bot-b", sleep=other.sleep)
    await take_turns(second, other, 1)
    assert other.sent[0] - time.monotonic() < SLACK_S  # not queued behind bot-a's 20 turns


class Unreachable:
    """A pool whose database is gone: every turn fails to connect (until ``up``)."""

    def __init__(self, delays: list[float] | None = None) -> None:
        self.calls = 0
        self.up = False
        self._delays = delays or []

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncGenerator[Unreachable]:
        if not self.up:
            self.calls += 1
            raise ConnectionRefusedError("connection refused")
        yield self

    async def fetchval(self, query: str, *args: object) -> object:
        self.calls += 1
        return self._delays.pop(0) if self._delays else 0.0


class CountingPacer:
    def __init__(self) -> None:
        self.turns = 0

    async def wait(self) -> None:
        self.turns += 1


@pytest.mark.asyncio
async def test_without_the_database_the_process_paces_itself_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    pool, fallback = Unreachable(), CountingPacer()
    pace = SharedPace(pool, LIMIT, fallback=fallback, retry_s=5.0, monotonic=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="castbot_hikari.pg.pace"):
        for _ in range(50):
            await pace.wait()
        assert (pool.calls, fallback.turns, pace.shared) == (1, 50, False)  # tried once, then waits retry_s
        now[0] = 5.0
        await pace.wait()
        assert (pool.calls, fallback.turns) == (2, 51)  # tried again, still down
        pool.up = True
        now[0] = 10.0
        await pace.wait()
        assert (pool.calls, fallback.turns, pace.shared) == (3, 51, True)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "unavailable" in m]) == 1
    assert any("back" in m for m in messages)
    assert "refused" not in " ".join(messages)  # the error's type, not its text (which may hold a URL)


@pytest.mark.asyncio
async def test_a_turn_woken_too_late_is_taken_again_not_crowded_into_a_later_second() -> None:
    now = [0.0]
    stalls = [0.5, 0.0]  # the loop is busy through the first turn, not the second

    async def sleep(seconds: float) -> None:
        now[0] += seconds + stalls.pop(0)

    pool = Unreachable(delays=[0.2, 0.3])
    pool.up = True
    pace = SharedPace(pool, LIMIT, grace_s=0.04, monotonic=lambda: now[0], sleep=sleep)
    await pace.wait()
    assert (pool.calls, pace.late_turns) == (2, 1)
    assert now[0] == pytest.approx(0.2 + 0.5 + 0.3 + 0.0)  # sent at its second turn, on time

    starved = Unreachable(delays=[0.1] * 5)
    starved.up = True
    always_late = SharedPace(starved, LIMIT, monotonic=lambda: now[0], sleep=lambda s: _advance(now, s + 1.0))
    await always_late.wait()  # bounded: after MAX_TURNS late turns it sends anyway
    assert (starved.calls, always_late.late_turns) == (3, 3)


async def _advance(now: list[float], seconds: float) -> None:
    now[0] += seconds
