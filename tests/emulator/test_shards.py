"""Sharding as Discord does it: recommended shards, guild routing, identify rules, overlapping sessions, DMs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import hikari
import orjson
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed
from castbot_hikari.testing.emulator.state import JSONObject
from tests.emulator.harness import SEED, TIMEOUT, FakeClock, Outcome, make_bot, running_bot

EPHEMERAL = hikari.MessageFlag.EPHEMERAL
MESSAGE = hikari.ResponseType.MESSAGE_CREATE
SHARDS = 4


def shard_of(guild_id: int, count: int = SHARDS) -> int:
    """Return the shard Discord sends a guild's events to."""
    return (guild_id >> 22) % count


def sent(emu: DiscordEmulator, event: str) -> dict[tuple[int, int], list[JSONObject]]:
    """Return the ``event`` payloads each live session was sent, by its ``(shard_id, shard_count)``."""
    result: dict[tuple[int, int], list[JSONObject]] = {}
    for session in emu.gateway.sessions.values():
        result.setdefault(session.shard, []).extend(f["d"] for f in session.buffer if f["t"] == event)
    return result


async def guilds_on_every_shard(emu: DiscordEmulator) -> list[int]:
    """Seed guilds until each of the shards has one (a guild's shard is its creation millisecond mod 4)."""
    guild_ids: list[int] = []
    for n in range(400):
        guild_ids.append(emu.add_guild(GuildSeed(name=f"Org {n}", text_channels=["apply-here"])).id)
        if {shard_of(g) for g in guild_ids} == set(range(SHARDS)):
            return guild_ids
        await asyncio.sleep(0.002)  # the next snowflake then has another millisecond
    raise AssertionError("could not spread guilds over every shard")


async def identify(
    ws: aiohttp.ClientWebSocketResponse, token: str, shard: list[int], *, hello: bool = True
) -> JSONObject:
    """Send IDENTIFY for ``shard`` (after HELLO); return the next payload (or the close frame's code)."""
    if hello:
        await ws.receive(timeout=TIMEOUT)
    data = {"token": token, "intents": 513, "properties": {"os": "linux"}, "shard": shard}
    await ws.send_bytes(orjson.dumps({"op": 2, "d": data}))
    message = await ws.receive(timeout=TIMEOUT)
    if message.type is aiohttp.WSMsgType.CLOSE:
        return {"close": message.data}
    return orjson.loads(message.data)


@pytest_asyncio.fixture
async def sharded() -> AsyncIterator[DiscordEmulator]:
    """An emulator recommending 4 shards with max_concurrency 4, enforcing the identify limit."""
    async with DiscordEmulator(seed=7, shards=SHARDS, max_concurrency=SHARDS, enforce_identify_limit=True) as emu:
        yield emu


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.asyncio
async def test_gateway_bot_recommends_the_configured_shards(sharded: DiscordEmulator) -> None:
    app = hikari.RESTApp(url=sharded.rest_url)
    await app.start()
    try:
        async with app.acquire(sharded.bot_token, hikari.TokenType.BOT) as client:
            info = await client.fetch_gateway_bot_info()
    finally:
        await app.close()
    assert info.shard_count == SHARDS
    assert info.session_start_limit.max_concurrency == SHARDS
    assert info.url == sharded.gateway_url


@pytest.mark.asyncio
async def test_two_bots_with_half_of_four_shards_each_see_only_their_guilds(sharded: DiscordEmulator) -> None:
    emu = sharded
    guild_ids = await guilds_on_every_shard(emu)
    async with (
        running_bot(emu, shard_ids=[0, 1], shard_count=SHARDS) as low,
        running_bot(emu, shard_ids=[2, 3], shard_count=SHARDS) as high,
    ):
        owner = {g: low if shard_of(g) < 2 else high for g in guild_ids}
        for guild_id in guild_ids:
            await owner[guild_id].wait_guild(guild_id)
        for guild_id in guild_ids:
            user = next(u for u in emu.state.guilds[guild_id].members if u != emu.bot_user_id)
            inter = await emu.click(guild_id, user, "apply_config_1")
            outcome = await owner[guild_id].next_outcome()
            assert outcome.interaction.id == inter.id
            await inter.wait_until(lambda i: i.content is not None)
        assert low.guilds == {g for g in guild_ids if shard_of(g) < 2}
        assert high.guilds == {g for g in guild_ids if shard_of(g) >= 2}
        clicks = sent(emu, "INTERACTION_CREATE")
        creates = sent(emu, "GUILD_CREATE")
    assert set(clicks) == {(s, SHARDS) for s in range(SHARDS)}
    for (shard_id, _), payloads in clicks.items():
        assert payloads, f"shard {shard_id} got no click"
        assert {shard_of(int(p["guild_id"])) for p in payloads} == {shard_id}
    for (shard_id, _), payloads in creates.items():
        assert {shard_of(int(p["id"])) for p in payloads} == {shard_id}
    gate = emu.gateway.identify_gate
    assert sorted(r.key for r in gate.log) == [0, 1, 2, 3]
    assert gate.rate_limited == []


@pytest.mark.asyncio
async def test_hikari_waits_out_the_identify_window_when_max_concurrency_is_1() -> None:
    async with DiscordEmulator(seed=7, shards=2, max_concurrency=1, enforce_identify_limit=True) as emu:
        emu.add_guild(SEED)
        async with running_bot(emu) as running:  # shard count and concurrency from GET /gateway/bot
            assert running.bot.shard_count == 2
        gate = emu.gateway.identify_gate
        assert [r.shard for r in gate.log] == [(0, 2), (1, 2)]
        assert gate.rate_limited == []  # hikari started shard 1 in the next 5-second window
        first, second = gate.times(0)
        assert second - first >= 5.0


@pytest.mark.asyncio
async def test_an_identify_too_soon_in_its_bucket_gets_invalid_session(
    clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    async with DiscordEmulator(clock=clock, max_concurrency=2, enforce_identify_limit=True) as emu:
        url = f"{emu.gateway_url}?v=10&encoding=json"
        async with http.ws_connect(url) as a, http.ws_connect(url) as b, http.ws_connect(url) as c:
            assert (await identify(a, emu.bot_token, [0, 2]))["t"] == "READY"
            assert (await identify(b, emu.bot_token, [1, 2]))["t"] == "READY"  # another bucket
            assert await identify(c, emu.bot_token, [0, 2]) == {"op": 9, "d": False, "s": None, "t": None}
            clock.advance(5.0)
            assert (await identify(c, emu.bot_token, [0, 2], hello=False))["t"] == "READY"  # same connection
        gate = emu.gateway.identify_gate
        assert [(r.key, r.outcome) for r in gate.log] == [
            (0, "accepted"),
            (1, "accepted"),
            (0, "rate_limited"),
            (0, "accepted"),
        ]
        assert emu.gateway.invalid_sessions == 1


@pytest.mark.asyncio
async def test_identify_limit_is_only_recorded_unless_enforced(clock: FakeClock, http: aiohttp.ClientSession) -> None:
    async with DiscordEmulator(clock=clock) as emu:
        url = f"{emu.gateway_url}?v=10&encoding=json"
        async with http.ws_connect(url) as a, http.ws_connect(url) as b:
            assert (await identify(a, emu.bot_token, [0, 1]))["t"] == "READY"
            assert (await identify(b, emu.bot_token, [0, 1]))["t"] == "READY"
        assert emu.gateway.identify_gate.times(0) == [clock.now, clock.now]


@pytest.mark.asyncio
@pytest.mark.parametrize(("shard", "code"), [([4, 4], 4010), ([-1, 4], 4010), ([0, 0], 4010)])
async def test_invalid_shard_is_closed_4010(
    emu: DiscordEmulator, http: aiohttp.ClientSession, shard: list[int], code: int
) -> None:
    async with http.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws:
        assert await identify(ws, emu.bot_token, shard) == {"close": code}


@pytest.mark.asyncio
async def test_a_shard_count_other_than_the_live_sessions_is_closed_4010(emu: DiscordEmulator) -> None:
    emu.add_guild(SEED)
    async with running_bot(emu, shard_ids=[0], shard_count=2):
        other = make_bot(emu)
        try:
            with pytest.raises(hikari.GatewayServerClosedConnectionError) as closed:
                await other.start(check_for_updates=False, shard_ids=[0], shard_count=3)
        finally:
            with contextlib.suppress(hikari.ComponentStateConflictError):
                await other.close()
    assert closed.value.code == 4010
    assert [r.outcome for r in emu.gateway.identify_gate.log] == ["accepted", 4010]


@pytest.mark.asyncio
async def test_too_many_guilds_for_one_shard_is_closed_4011(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    emu.gateway.identify_gate.max_guilds_per_shard = 1
    emu.add_guild(SEED)
    emu.add_guild(GuildSeed(name="ORG 2"))
    async with http.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws:
        assert await identify(ws, emu.bot_token, [0, 1]) == {"close": 4011}


# ---- two sessions on one shard (a rolling restart) ----------------------------------------------


async def defer(interaction: hikari.ComponentInteraction) -> None:
    """Acknowledge with an ephemeral defer, as the bot's Apply handler does first."""
    await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=EPHEMERAL)


@pytest.mark.asyncio
async def test_two_sessions_on_one_shard_both_get_the_click_and_only_the_first_ack_wins(
    emu: DiscordEmulator,
) -> None:
    guild = emu.add_guild(SEED)
    async with running_bot(emu, defer) as old, running_bot(emu, defer) as new:
        await old.wait_guild(guild.id)
        await new.wait_guild(guild.id)
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        outcomes: list[Outcome] = [await old.next_outcome(), await new.next_outcome()]
        per_session = [
            [f["d"]["id"] for f in s.buffer if f["t"] == "INTERACTION_CREATE"] for s in emu.gateway.sessions.values()
        ]
    assert [o.interaction.id for o in outcomes] == [inter.id, inter.id]
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(errors) == 1
    assert isinstance(errors[0], hikari.BadRequestError)
    assert errors[0].code == 40060
    assert [kind for _, kind, _ in inter.timeline] == ["dispatched", "acked", "ack_rejected"]
    assert inter.timeline[-1][2]["reason"] == "double"
    assert per_session == [[str(inter.id)], [str(inter.id)]]  # both sessions of the one shard got it


# ---- DMs --------------------------------------------------------------------------------------


async def reply_in_dm(interaction: hikari.ComponentInteraction) -> None:
    """Answer a click with a public message (in a DM, it lands in the DM)."""
    await interaction.create_initial_response(MESSAGE, f"hi {interaction.user.username}")


@pytest.mark.asyncio
async def test_a_dm_click_has_a_user_and_no_guild_and_reaches_shard_0_only(emu: DiscordEmulator) -> None:
    emu.add_guild(SEED)
    stranger = emu.state.add_user("stranger", "Stranger")  # shares no guild with the bot
    async with (
        running_bot(emu, reply_in_dm, shard_ids=[0], shard_count=2) as zero,
        running_bot(emu, reply_in_dm, shard_ids=[1], shard_count=2),
    ):
        inter = await emu.dm_click(stranger.id, "dm_button")
        outcome = await zero.next_outcome()
        await inter.wait_acked()
        clicks = sent(emu, "INTERACTION_CREATE")
        messages = sent(emu, "MESSAGE_CREATE")
    assert outcome.error is None
    assert outcome.interaction.guild_id is None
    assert outcome.interaction.member is None
    assert outcome.interaction.user.id == stranger.id
    assert outcome.interaction.context is hikari.ApplicationContextType.BOT_DM
    payload = inter.payload
    assert payload is not None
    assert "guild_id" not in payload
    assert "member" not in payload
    assert payload["channel"]["type"] == 1
    assert inter.guild_id is None
    assert inter.channel_id == emu.state.dm_channels[stranger.id]
    assert (inter.content, inter.ephemeral) == ("hi stranger", False)
    assert emu.state.messages[inter.channel_id][-1].content == "hi stranger"
    assert [p["id"] for p in clicks[(0, 2)]] == [str(inter.id)]
    assert clicks[(1, 2)] == []
    dm_messages = {k: [m for m in v if m["channel_id"] == str(inter.channel_id)] for k, v in messages.items()}
    assert [m["content"] for m in dm_messages[(0, 2)]] == ["hi stranger"]
    assert dm_messages[(1, 2)] == []
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_buttons_on_a_dm_reply_can_be_clicked_by_its_recipient_only(emu: DiscordEmulator) -> None:
    async def reply_with_button(interaction: hikari.ComponentInteraction) -> None:
        if interaction.custom_id == "again":
            await interaction.create_initial_response(hikari.ResponseType.MESSAGE_UPDATE, "clicked again")
            return
        row = interaction.app.rest.build_message_action_row().add_interactive_button(
            hikari.ButtonStyle.PRIMARY, "again", label="Again"
        )
        await interaction.create_initial_response(MESSAGE, "pick", component=row)

    guild = emu.add_guild(SEED)
    async with running_bot(emu, reply_with_button) as running:
        first = await emu.dm_click(guild.members["kevin_a"], "dm_button")
        await running.next_outcome()
        with pytest.raises(ValueError, match="not in the bot's DM with user"):
            await emu.click_component(first, guild.members["zoe"], "again")
        second = await emu.click_component(first, guild.members["kevin_a"], "again")
        assert (await running.next_outcome()).error is None
    assert second.guild_id is None
    assert second.ack_type == 7
    visible = emu.visible_message(first)
    assert visible is not None
    assert visible.content == "clicked again"
