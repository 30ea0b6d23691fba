"""Gateway behaviour: READY/GUILD_CREATE into hikari's cache, RESUME with replay, op 7, framing."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import aiohttp
import hikari
import orjson
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed
from castbot_hikari.testing.emulator.state import JSONObject
from tests.emulator.harness import SEED, TIMEOUT, FakeClock, running_bot

ZLIB_SUFFIX = b"\x00\x00\xff\xff"
IDENTIFY_PROPERTIES = {"os": "linux", "browser": "test", "device": "test"}


def identify(token: str, intents: int = 513) -> bytes:
    """Return an IDENTIFY payload as hikari sends it (a binary frame)."""
    data = {"token": token, "intents": intents, "properties": IDENTIFY_PROPERTIES, "shard": [0, 1]}
    return orjson.dumps({"op": 2, "d": data})


@pytest_asyncio.fixture
async def frozen(clock: FakeClock) -> AsyncIterator[DiscordEmulator]:
    """An emulator on a frozen clock: a reconnect's backoff (1-2 s) can never exceed the ack deadline."""
    async with DiscordEmulator(clock=clock, seed=7) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.asyncio
async def test_ready_and_guild_create_fill_hikaris_cache(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        cached = running.bot.cache.get_guild(guild.id)
        assert cached is not None
        assert cached.name == "ORG 1"
        channels = running.bot.cache.get_guild_channels_view_for_guild(guild.id)
        assert {c.name for c in channels.values()} == {"apply-here", "Applications"}
        assert {r.name for r in running.bot.cache.get_roles_view_for_guild(guild.id).values()} >= {
            "@everyone",
            "Production",
            "CastBot",
        }
        assert running.bot.cache.get_member(guild.id, emu.bot_user_id) is not None
        me = running.bot.get_me()
        assert me is not None
        assert me.id == emu.bot_user_id
        assert hikari.applications.get_token_id(emu.bot_token) == emu.bot_user_id
    assert emu.gateway.identifies == 1
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_guild_added_after_connect_arrives_as_guild_join(emu: DiscordEmulator) -> None:
    emu.add_guild(SEED)
    async with running_bot(emu) as running:
        late = emu.add_guild(GuildSeed(name="Late Org", text_channels=["Late Channel"]))
        await running.wait_guild(late.id)
        channels = running.bot.cache.get_guild_channels_view_for_guild(late.id).values()
        assert [c.name for c in channels] == ["late-channel"]


@pytest.mark.asyncio
async def test_abrupt_drop_resumes_and_replays_missed_events(frozen: DiscordEmulator) -> None:
    emu = frozen
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        await emu.gateway.drop(resumable=True)
        # Both events happen while the bot is disconnected: they must be replayed on RESUME.
        created = await running.bot.rest.create_guild_text_channel(guild.id, "during drop")
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        assert inter.timeline[0][2] == {"connected": False}
        await inter.wait_until(lambda i: i.content is not None, timeout=TIMEOUT)
        assert running.bot.cache.get_guild_channel(created.id) is not None
    assert (emu.gateway.identifies, emu.gateway.resumes) == (1, 1)
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_op7_reconnect_makes_the_bot_resume(frozen: DiscordEmulator) -> None:
    emu = frozen
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        await emu.gateway.request_reconnect()
        inter = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
        await inter.wait_until(lambda i: i.content is not None, timeout=TIMEOUT)
        await emu.gateway.wait_for(lambda g: g.resumes == 1, timeout=TIMEOUT)
    assert emu.gateway.identifies == 1


@pytest.mark.asyncio
async def test_unresumable_drop_gets_invalid_session_and_reidentifies(frozen: DiscordEmulator) -> None:
    emu = frozen
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        await emu.gateway.drop(resumable=False)
        await emu.gateway.wait_for(lambda g: g.identifies == 2, timeout=TIMEOUT)
        inter = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
        await inter.wait_acked(timeout=TIMEOUT)
    assert emu.gateway.invalid_sessions == 1


@pytest.mark.asyncio
async def test_zlib_stream_uses_one_deflate_context_with_sync_flush(
    emu: DiscordEmulator, http: aiohttp.ClientSession
) -> None:
    guild = emu.add_guild(SEED)
    url = f"{emu.gateway_url}?v=10&encoding=json&compress=zlib-stream"
    async with http.ws_connect(url) as ws:
        inflator = zlib.decompressobj()
        frames: list[bytes] = []

        async def receive() -> JSONObject:
            message = await ws.receive(timeout=TIMEOUT)
            assert message.type is aiohttp.WSMsgType.BINARY
            assert message.data.endswith(ZLIB_SUFFIX)
            frames.append(message.data)
            return orjson.loads(inflator.decompress(message.data))

        hello = await receive()
        assert hello["op"] == 10
        assert hello["d"]["heartbeat_interval"] == 41250
        await ws.send_bytes(identify(emu.bot_token))
        ready = await receive()
        assert (ready["t"], ready["s"]) == ("READY", 1)
        assert ready["d"]["guilds"] == [{"id": str(guild.id), "unavailable": True}]
        assert ready["d"]["resume_gateway_url"].startswith("ws://127.0.0.1:")
        guild_create = await receive()
        assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
        assert guild_create["d"]["unavailable"] is False
        await ws.send_str('{"op": 1, "d": 2}')
        assert (await receive())["op"] == 11
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(frames[1])  # only the connection's shared context can inflate it


@pytest.mark.asyncio
async def test_uncompressed_mode_sends_text_frames(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    emu.add_guild(SEED)
    async with http.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws:
        hello = await ws.receive(timeout=TIMEOUT)
        assert hello.type is aiohttp.WSMsgType.TEXT
        assert orjson.loads(hello.data)["op"] == 10
        await ws.send_bytes(identify(emu.bot_token))
        ready = await ws.receive(timeout=TIMEOUT)
        assert ready.type is aiohttp.WSMsgType.TEXT
        assert orjson.loads(ready.data)["t"] == "READY"


@pytest.mark.asyncio
async def test_identify_with_wrong_token_is_closed_4004(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws:
        await ws.receive(timeout=TIMEOUT)
        await ws.send_bytes(identify("not-the-token"))
        closed = await ws.receive(timeout=TIMEOUT)
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert closed.data == 4004


@pytest.mark.asyncio
async def test_request_guild_members_answers_with_chunks(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    guild = emu.add_guild(SEED)
    async with http.ws_connect(f"{emu.gateway_url}?v=10&encoding=json") as ws:
        await ws.receive(timeout=TIMEOUT)
        await ws.send_bytes(identify(emu.bot_token, intents=513 | 2))
        for _ in range(2):  # READY, GUILD_CREATE
            await ws.receive(timeout=TIMEOUT)
        request = {"guild_id": str(guild.id), "query": "", "limit": 0, "nonce": "n1"}
        await ws.send_bytes(orjson.dumps({"op": 8, "d": request}))
        chunk = orjson.loads((await ws.receive(timeout=TIMEOUT)).data)
    assert chunk["t"] == "GUILD_MEMBERS_CHUNK"
    assert chunk["d"]["nonce"] == "n1"
    usernames = {m["user"]["username"] for m in chunk["d"]["members"]}
    assert {"kevin_a", "zoe", "CastBot"} <= usernames
