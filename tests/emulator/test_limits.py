"""Discord's limits: the global limit, the invalid-request ban, channel writes, and coherent bucket headers."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import aiohttp
import hikari
import pytest
import pytest_asyncio
from hikari.impl import buckets
from hikari.internal import routes as hikari_routes

from castbot_hikari.discord import hikari_fixes
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Latency, Overwrite
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.ratelimits import RateLimitTable
from tests.emulator.harness import SEED, FakeClock, running_bot

MESSAGES = "POST /channels/{channel_id}/messages"
HIKARI_LOGGERS = ("hikari.ratelimits", "hikari.rest")
CHANNELS = ("c-1", "c-2", "c-3", "c-4")


@dataclass(frozen=True)
class Answer:
    """One raw HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    received: float

    def header(self, name: str) -> float:
        """Return a numeric header."""
        return float(self.headers[name])


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, emu: DiscordEmulator, method: str, path: str, json: object = None, *, token: str = ""
) -> Answer:
    """Send one request as the bot (or with ``token``) and return the answer."""
    headers = {"Authorization": f"Bot {token or emu.bot_token}"}
    async with http.request(method, f"{emu.rest_url}{path}", json=json, headers=headers) as response:
        return Answer(response.status, dict(response.headers), await response.read(), time.time())


def hikari_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Return what hikari's REST and rate-limit loggers said at WARNING or above."""
    return [r.getMessage() for r in caplog.records if r.name in HIKARI_LOGGERS and r.levelno >= logging.WARNING]


# ---- the global limit -----------------------------------------------------------------------------


def test_the_global_limit_is_discords_50_per_second_by_default() -> None:
    assert DiscordEmulator(validate=False).rate_limits.global_limit == (50, 1.0)
    assert DiscordEmulator(validate=False, global_rate_limit=None).rate_limits.global_limit is None


@pytest.mark.asyncio
async def test_global_429_and_interaction_routes_are_exempt(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        emu.rate_limits.set_global(50, per=600.0)  # a window no test outlives, so the count is exact
        answers = [await call(http, emu, "GET", "/users/@me") for _ in range(52)]
        inter = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
        outcome = await running.next_outcome()
    assert [a.status for a in answers] == [200] * 50 + [429] * 2
    limited = answers[-1]
    assert limited.headers["X-RateLimit-Global"] == "true"
    assert limited.headers["X-RateLimit-Scope"] == "global"
    assert int(limited.headers["Retry-After"]) >= 1
    assert b'"global":true' in limited.body
    # The callback and the interaction webhook do not count: the click was answered all the same.
    assert outcome.error is None
    assert inter.content == "✅ done: apply_config_1"


@pytest.mark.asyncio
async def test_hikari_waits_out_global_429s(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    emu.rate_limits.set_global(3, per=0.3)
    fetched = await asyncio.gather(*(rest.fetch_guild(guild.id) for _ in range(6)))
    assert [g.id for g in fetched] == [guild.id] * 6
    assert any(r.status == 429 for r in emu.requests)


# ---- the invalid-request ban ------------------------------------------------------------------------


def hidden_seed() -> GuildSeed:
    """A guild with a channel the bot cannot see."""
    return GuildSeed(name="Org", text_channels=["secret"])


def hide(emu: DiscordEmulator, channel_id: int, guild_id: int) -> None:
    """Deny @everyone (and so the bot) VIEW_CHANNEL in a channel."""
    emu.state.channels[channel_id].permission_overwrites = [
        Overwrite(id=guild_id, type=0, allow=0, deny=perms.VIEW_CHANNEL)
    ]


def test_the_ban_threshold_is_discords_10000_by_default() -> None:
    assert inspect.signature(DiscordEmulator).parameters["invalid_request_limit"].default == 10_000


@pytest.mark.asyncio
async def test_invalid_requests_are_counted_and_too_many_get_the_bot_banned(
    clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    async with DiscordEmulator(clock=clock, invalid_request_limit=5, ban_duration=100.0) as emu:
        guild = emu.add_guild(hidden_seed())
        secret = guild.text_channels["secret"]
        hide(emu, secret, guild.id)
        statuses = [(await call(http, emu, "GET", "/users/@me", token="wrong")).status]
        statuses += [(await call(http, emu, "GET", f"/channels/{secret}")).status for _ in range(4)]
        assert statuses == [401, 403, 403, 403, 403]
        refused = await call(http, emu, "GET", "/users/@me")
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as rest:
                with pytest.raises(hikari.HTTPResponseError) as info:
                    await rest.fetch_my_user()
                clock.advance(100.0)
                me = await rest.fetch_my_user()
        finally:
            await app.close()
        assert (refused.status, refused.body.decode()) == (429, "error code: 1015")  # Cloudflare's, not Discord's
        assert refused.headers["Content-Type"].startswith("text/plain")  # no Discord JSON
        assert info.value.status == 429  # hikari gives up at once on a non-JSON 429
        assert me.id == emu.bot_user_id
        assert emu.invalid_requests == 5  # the refusals themselves are not counted
        (ban,) = emu.bans
        assert (ban.until - ban.started, ban.refused) == (100.0, 2)


@pytest.mark.asyncio
async def test_the_ban_counts_only_the_last_ten_minutes(clock: FakeClock, http: aiohttp.ClientSession) -> None:
    async with DiscordEmulator(clock=clock, invalid_request_limit=5) as emu:
        guild = emu.add_guild(hidden_seed())
        secret = guild.text_channels["secret"]
        hide(emu, secret, guild.id)
        for _ in range(4):
            await call(http, emu, "GET", f"/channels/{secret}")
        clock.advance(600.0)
        for _ in range(4):
            await call(http, emu, "GET", f"/channels/{secret}")
        assert (await call(http, emu, "GET", "/users/@me")).status == 200
        assert emu.invalid_requests == 8
        assert emu.bans == []


# ---- channel writes (20028) ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_channel_written_too_fast_answers_20028(http: aiohttp.ClientSession) -> None:
    async with DiscordEmulator(channel_write_limit=(2, 600.0)) as emu:
        guild = emu.add_guild(GuildSeed(name="Org", text_channels=["apply-here", "admin-log"]))
        channel_id, other = guild.text_channels["apply-here"], guild.text_channels["admin-log"]
        path = f"/channels/{channel_id}/messages"
        answers = [await call(http, emu, "POST", path, {"content": f"m{n}"}) for n in range(3)]
        elsewhere = await call(http, emu, "POST", f"/channels/{other}/messages", {"content": "fine"})
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as rest:
                with pytest.raises(hikari.RateLimitTooLongError):  # 600 s is beyond hikari's max_rate_limit
                    await rest.create_message(channel_id, "one more")
        finally:
            await app.close()
        assert [a.status for a in answers] == [200, 200, 429]
        limited = answers[2]
        assert limited.headers["X-RateLimit-Scope"] == "shared"
        assert b'"code":20028' in limited.body
        assert b'"global":false' in limited.body
        assert elsewhere.status == 200
        assert emu.invalid_requests == 0  # scope shared: not counted towards the ban
        assert [m.content for m in emu.state.messages[channel_id]] == ["m0", "m1"]


@pytest.mark.asyncio
async def test_non_ephemeral_followups_count_as_channel_writes() -> None:
    async def followups(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
        await interaction.edit_initial_response("done")
        await interaction.execute("private", flags=hikari.MessageFlag.EPHEMERAL)
        await interaction.execute("public")
        await interaction.execute("one too many")

    async with DiscordEmulator(channel_write_limit=(1, 600.0)) as emu:
        guild = emu.add_guild(SEED)
        async with running_bot(emu, followups) as running:
            inter = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
            outcome = await running.next_outcome()
    assert isinstance(outcome.error, hikari.RateLimitTooLongError)
    assert [f["content"] for f in inter.followups] == ["private", "public"]


@pytest.mark.asyncio
async def test_the_default_channel_write_limit_is_50_per_10_seconds(http: aiohttp.ClientSession) -> None:
    async with DiscordEmulator(global_rate_limit=None) as emu:  # 51 requests would break the global 50/s first
        guild = emu.add_guild(SEED)
        path = f"/channels/{guild.text_channels['apply-here']}/messages"
        answers = await asyncio.gather(*(call(http, emu, "POST", path, {"content": f"m{n}"}) for n in range(51)))
    # 51 local requests take far less than the 10 s window.
    assert sorted(a.status for a in answers) == [200] * 50 + [429]


# ---- bucket headers ------------------------------------------------------------------------------------


def check_sliding(answers: list[Answer], limit: int, interval: float) -> None:
    """Assert the answers describe one leaky bucket of ``limit`` regaining a request every ``interval``."""
    assert {a.headers["X-RateLimit-Bucket"] for a in answers} != set()
    assert len({a.headers["X-RateLimit-Bucket"] for a in answers}) == 1
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {str(limit)}
    allowed = [a for a in answers if a.status < 400]
    for answer in allowed:
        used = limit - int(answer.headers["X-RateLimit-Remaining"])
        slide = answer.header("X-RateLimit-Reset-After") / used  # hikari's slide period
        assert interval / 2 < slide <= interval + 0.001
        server_now = answer.header("X-RateLimit-Reset") - answer.header("X-RateLimit-Reset-After")
        assert abs(server_now - answer.received) < 5.0  # coherent: both name the same instant
    resets = [a.header("X-RateLimit-Reset") for a in allowed]
    assert all(later - earlier >= interval - 0.002 for earlier, later in itertools.pairwise(resets))
    for refused in (a for a in answers if a.status == 429):
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert refused.headers["X-RateLimit-Scope"] == "user"


@pytest.mark.asyncio
async def test_bucket_headers_describe_one_sliding_bucket(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    guild = emu.add_guild(GuildSeed(name="Org", text_channels=["apply-here", "admin-log"]))
    emu.rate_limits.set(MESSAGES, limit=5, per=2.5)
    path = f"/channels/{guild.text_channels['apply-here']}/messages"
    answers = [await call(http, emu, "POST", path, {"content": f"m{n}"}) for n in range(8)]
    other = await call(http, emu, "POST", f"/channels/{guild.text_channels['admin-log']}/messages", {"content": "x"})
    first = answers[0]
    assert (first.headers["X-RateLimit-Remaining"], first.headers["X-RateLimit-Reset-After"]) == ("4", "0.500")
    check_sliding(answers, 5, 0.5)
    assert 429 in [a.status for a in answers]  # 8 requests within 2.5 s cannot all pass
    assert other.headers["X-RateLimit-Remaining"] == "4"  # one bucket per channel
    defaults = [await call(http, emu, "GET", f"/guilds/{guild.id}") for _ in range(5)]
    check_sliding(defaults, 10_000, 0.1)


def bursty_arrivals(rng: random.Random) -> list[float]:
    """Arrival times of clicks-like traffic: bursts of 1-15 requests, pauses of 0.2-2.5 s."""
    now, arrivals = 0.0, list[float]()
    for _ in range(8):
        for _ in range(rng.randint(1, 15)):
            now += rng.uniform(0.0, 0.02)
            arrivals.append(now)
        now += rng.uniform(0.2, 2.5)
    return arrivals


@pytest.mark.parametrize(("limit", "per"), [(None, 1.0), (5, 2.5), (50, 30.0), (2, 1.2)])
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.asyncio
async def test_hikari_buckets_never_warn_on_the_emulators_headers(
    caplog: pytest.LogCaptureFixture, seed: int, limit: int | None, per: float
) -> None:
    """Feed hikari's bucket manager the headers of bursty traffic, answers reordered by latency."""
    rng = random.Random(seed)
    now = 0.0
    table = RateLimitTable({MESSAGES}, global_limit=None, clock=lambda: now)
    table.set(MESSAGES, limit=limit, per=per)
    answers: list[tuple[float, Mapping[str, str]]] = []
    for now in bursty_arrivals(rng):  # the table's clock reads ``now``
        answers.append(
            (now + rng.uniform(0.0, 0.5), table.check(MESSAGES, {"channel_id": "1"}, global_scope=False).headers)
        )
    manager = hikari.impl.RESTBucketManager(max_rate_limit=300.0)
    manager.start()
    route = hikari_routes.POST_CHANNEL_MESSAGES.compile(channel=1)
    caplog.set_level(logging.DEBUG, logger="hikari.ratelimits")
    try:
        for _, headers in sorted(answers, key=lambda answer: answer[0]):
            manager.update_rate_limits(
                compiled_route=route,
                authentication="Bot token",
                bucket_header=headers["X-RateLimit-Bucket"],
                remaining_header=int(headers["X-RateLimit-Remaining"]),
                limit_header=int(headers["X-RateLimit-Limit"]),
                reset_at=float(headers["X-RateLimit-Reset"]),
                reset_after=float(headers["X-RateLimit-Reset-After"]),
            )
    finally:
        await manager.close()
    assert hikari_warnings(caplog) == []


@pytest.mark.asyncio
async def test_hikari_logs_no_rate_limit_warning_in_bursts(
    rest: hikari.api.RESTClient, emu: DiscordEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    guild = emu.add_guild(GuildSeed(name="Org", text_channels=CHANNELS))
    emu.rate_limits.set("GET /channels/{channel_id}", limit=20, per=4.0)
    emu.latency.set(MESSAGES, Latency.uniform(0.0, 0.03))
    caplog.set_level(logging.DEBUG, logger="hikari")
    channel_ids = list(guild.text_channels.values())
    for wave in range(2):
        await asyncio.gather(
            *(rest.create_message(c, f"w{wave}-{n}") for c in channel_ids for n in range(2)),
            *(rest.fetch_channel(c) for c in channel_ids for _ in range(2)),
            *(rest.fetch_guild(guild.id) for _ in range(4)),  # 2 x 20 requests: within the global 50/s
        )
        await asyncio.sleep(0.3)  # the traffic pattern: bursts with pauses, as clicks come
    assert hikari_warnings(caplog) == []
    assert [r for r in emu.requests if r.status == 429] == []


@pytest.mark.asyncio
async def test_hikari_sends_a_cold_routes_first_requests_one_at_a_time(
    emu: DiscordEmulator, rest: hikari.api.RESTClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hikari (as shipped) files requests of a route it never got an answer for under one "unknown" bucket."""
    # The bot fixes this (castbot_hikari.discord.hikari_fixes) once a bot was built in this process: pin
    # hikari's own behaviour, which this test documents.
    monkeypatch.setattr(buckets, "_create_unknown_hash", hikari_fixes.ORIGINAL_UNKNOWN_HASH)
    guild = emu.add_guild(GuildSeed(name="Org", text_channels=CHANNELS))
    emu.latency.set(MESSAGES, Latency.fixed(0.05))
    cold = list(guild.text_channels.values())
    await asyncio.gather(*(rest.create_message(c, "first") for c in cold))
    first_wave = sorted(
        (r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages"), key=lambda r: r.t
    )
    for earlier, later in itertools.pairwise(first_wave):
        assert later.t >= earlier.t + earlier.duration - 0.005  # sent only after the previous answer
    # Learned from those answers: another burst goes out at once (the 1 s latency overlaps).
    emu.latency.set(MESSAGES, Latency.fixed(1.0))
    fresh = [(await rest.create_guild_text_channel(guild.id, f"new-{n}")).id for n in range(3)]
    await asyncio.gather(*(rest.create_message(c, "second") for c in fresh))
    second_wave = sorted(
        (r for r in emu.requests if r.route_template == "/channels/{channel_id}/messages"), key=lambda r: r.t
    )[len(cold) :]
    assert second_wave[1].t < second_wave[0].t + second_wave[0].duration
