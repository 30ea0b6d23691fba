"""hikari 2.6.0's REST bucket throttle spins without awaiting while an exhausted bucket is out of sync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import hikari
import pytest
from hikari.impl import buckets, rate_limits
from hikari.internal import routes
from hikari.internal import time as hikari_time

from castbot_hikari.discord import hikari_fixes
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Latency, RequestRecord

PERIOD = 0.5


@pytest.fixture
def original_throttle() -> Iterator[None]:
    """Run a test against hikari as shipped, then put the fix back as the process had it."""
    fixed = rate_limits.WindowedBurstRateLimiter.throttle
    rate_limits.WindowedBurstRateLimiter.throttle = hikari_fixes.ORIGINAL_THROTTLE
    try:
        yield
    finally:
        rate_limits.WindowedBurstRateLimiter.throttle = fixed


async def longest_stall_while_a_request_waits() -> float:
    """Queue a request on an exhausted, out-of-sync bucket and measure the longest gap of a 1 ms ticker."""
    route = routes.POST_CHANNEL_MESSAGES.compile(channel=123)
    bucket = buckets.RESTBucket("b", route, rate_limits.ManualRateLimiter(), max_rate_limit=300.0)
    now = hikari_time.time()
    bucket.limit, bucket.period, bucket.remaining = 1, PERIOD, 0
    bucket.move_at = now - 0.001  # the window is due to move...
    bucket._out_of_sync = True  # ...but hikari waits for Discord's headers first  # pyright: ignore[reportPrivateUsage]
    bucket._is_unknown = False  # pyright: ignore[reportPrivateUsage]
    waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    bucket.queue.append(waiting)
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while not waiting.done():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticks = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is waiting on the loop
    bucket.throttle_task = asyncio.create_task(bucket.throttle())
    await asyncio.wait_for(waiting, timeout=10 * PERIOD)
    await ticks
    return max(gaps)


@pytest.mark.asyncio
@pytest.mark.usefixtures("original_throttle")
async def test_hikari_as_shipped_holds_the_loop_for_a_bucket_period() -> None:
    """The defect the fix is for: nothing else runs until a whole period has passed."""
    assert await longest_stall_while_a_request_waits() >= PERIOD * 0.9


@pytest.mark.asyncio
async def test_with_the_fix_the_loop_keeps_running_while_the_bucket_waits() -> None:
    assert hikari_fixes.apply()
    stall = await longest_stall_while_a_request_waits()
    assert stall < PERIOD / 2  # it waits by sleeping, so other work (acks) runs meanwhile


def test_the_fix_applies_only_to_the_known_hikari() -> None:
    assert hikari_fixes.source_digest() == hikari_fixes._KNOWN_THROTTLE_SHA256  # pyright: ignore[reportPrivateUsage]
    assert hikari_fixes.apply()
    assert hikari_fixes.apply()  # idempotent


# ---- the first burst on a route ----------------------------------------------------------------------

MESSAGES = "POST /channels/{channel_id}/messages"


def most_in_flight(records: list[RequestRecord]) -> int:
    """Return the most requests the emulator was answering at one instant."""
    edges = sorted([(r.t, 1) for r in records] + [(r.t + r.duration, -1) for r in records])
    busy = peak = 0
    for _, step in edges:
        busy += step
        peak = max(peak, busy)
    return peak


async def first_burst_overlap(fixed: bool) -> int:
    """Send one message to each of six new channels at once from a fresh client; return the peak overlap."""
    async with DiscordEmulator(seed=7) as emu:
        guild = emu.add_guild(GuildSeed(name="ORG", text_channels=[f"c{n}" for n in range(6)]))
        emu.latency.set(MESSAGES, Latency.fixed(0.3))
        original = buckets._create_unknown_hash  # pyright: ignore[reportPrivateUsage]
        buckets._create_unknown_hash = (  # pyright: ignore[reportPrivateUsage]
            hikari_fixes._unknown_hash_per_resource if fixed else hikari_fixes.ORIGINAL_UNKNOWN_HASH  # pyright: ignore[reportPrivateUsage]
        )
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as rest:
                await asyncio.gather(*(rest.create_message(c, "hello") for c in guild.text_channels.values()))
        finally:
            await app.close()
            buckets._create_unknown_hash = original  # pyright: ignore[reportPrivateUsage]
        return most_in_flight([r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages"])


@pytest.mark.asyncio
async def test_hikari_as_shipped_sends_a_routes_first_burst_one_by_one() -> None:
    assert await first_burst_overlap(fixed=False) == 1


@pytest.mark.asyncio
async def test_with_the_fix_first_requests_to_different_channels_go_in_parallel() -> None:
    assert await first_burst_overlap(fixed=True) == 6


# ---- the global pace -----------------------------------------------------------------------------


class Gate:
    """A pace that holds every request until released, counting who waited."""

    def __init__(self) -> None:
        self.waited = 0
        self.open = asyncio.Event()

    async def __call__(self) -> None:
        self.waited += 1
        await self.open.wait()


async def paced_sends(*, paced: bool) -> tuple[int, int, int]:
    """Send six messages to six new channels through a client; return (paced, seen while held, seen)."""
    async with DiscordEmulator(seed=7) as emu:
        guild = emu.add_guild(GuildSeed(name="ORG", text_channels=[f"c{n}" for n in range(6)]))
        gate = Gate()
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as rest:
                if paced:
                    assert hikari_fixes.pace_globally(rest, gate)
                sends = asyncio.gather(*(rest.create_message(c, "hello") for c in guild.text_channels.values()))
                for _ in range(200):  # bounded: let the requests reach the pace (or the emulator)
                    if gate.waited == 6 or len(emu.requests) == 6:
                        break
                    await asyncio.sleep(0.01)
                held = len([r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages"])
                gate.open.set()
                await asyncio.wait_for(sends, timeout=10)
        finally:
            await app.close()
        seen = len([r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages"])
        return gate.waited, held, seen


@pytest.mark.asyncio
async def test_a_paced_client_sends_nothing_until_the_pace_lets_it() -> None:
    """Unknown buckets skip hikari's global limiter; the pace still holds all six first requests."""
    assert await paced_sends(paced=True) == (6, 0, 6)


@pytest.mark.asyncio
async def test_a_client_left_unpaced_is_not_held() -> None:
    """The acks' and edits' clients are never paced (interaction webhooks are exempt from the limit)."""
    assert await paced_sends(paced=False) == (0, 6, 6)


def test_the_pace_applies_only_to_the_known_hikari() -> None:
    assert hikari_fixes.source_digest(hikari_fixes.ORIGINAL_ACQUIRE) == hikari_fixes._KNOWN_ACQUIRE_SHA256  # pyright: ignore[reportPrivateUsage]
