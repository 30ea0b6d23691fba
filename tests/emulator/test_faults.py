"""Faults after the action ("done, then fail") and late completion, against hikari's real REST client.

hikari 2.6.0 retries 500/502/503/504 and connection errors (dropped connections, timeouts) by itself,
up to ``max_retries`` (3) times, POSTs included: when Discord acted before failing, the retry acts
again. These tests pin that danger down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any, cast

import aiohttp
import hikari
import orjson
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator
from castbot_hikari.testing.emulator.faults import MalformedBody
from castbot_hikari.testing.emulator.state import ChannelState
from tests.emulator.harness import SEED, TIMEOUT, RunningBot, running_bot

CHANNELS = "/guilds/{guild_id}/channels"


def named(emu: DiscordEmulator, name: str) -> list[ChannelState]:
    """Return the emulator's channels called ``name``."""
    return [c for c in emu.state.channels.values() if c.name == name]


def statuses(emu: DiscordEmulator) -> list[int]:
    """Return the statuses answered on POST /guilds/{guild_id}/channels (0: closed without an answer)."""
    return [r.status for r in emu.requests if r.method == "POST" and r.route_template == CHANNELS]


def without_id(channel: object) -> object:
    """A channel object missing its ``id``."""
    return {k: v for k, v in json_of(channel).items() if k != "id"}


def json_of(body: object) -> dict[str, Any]:
    """Return a recorded JSON body as a dict."""
    assert isinstance(body, dict)
    return cast("dict[str, Any]", body)


@contextlib.asynccontextmanager
async def rest_client(
    emu: DiscordEmulator, *, max_retries: int = 3, give_up_after: float = 30.0
) -> AsyncGenerator[hikari.api.RESTClient]:
    """Yield a hikari REST client on the emulator (``give_up_after``: hikari's total request timeout)."""
    settings = hikari.impl.HTTPSettings(timeouts=hikari.impl.HTTPTimeoutSettings(total=give_up_after))
    app = hikari.RESTApp(url=emu.rest_url, max_retries=max_retries, http_settings=settings)
    await app.start()
    try:
        async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as client:
            yield client
    finally:
        await app.close()


async def cached_channels(running: RunningBot, guild_id: int, name: str, count: int) -> Sequence[hikari.GuildChannel]:
    """Wait until the bot's cache (fed only by CHANNEL_CREATE) holds ``count`` channels called ``name``."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            view = running.bot.cache.get_guild_channels_view_for_guild(guild_id)
            found = [c for c in view.values() if c.name == name]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)  # bounded by the timeout; hikari offers nothing to await here


@pytest.mark.asyncio
async def test_done_then_503_on_channel_create_makes_hikari_create_a_twin(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    rule = emu.faults.inject(method="POST", route=CHANNELS, after="status", status=503)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        returned = await running.bot.rest.create_guild_text_channel(guild.id, "kevin-app")
        cached = await cached_channels(running, guild.id, "kevin-app", 2)
    twins = named(emu, "kevin-app")
    # Discord created the first channel and answered 503; hikari's own retry created the second.
    assert len(twins) == 2
    assert statuses(emu) == [503, 201]
    assert returned.id == twins[1].id
    assert [(status, json_of(body)["id"]) for status, body in rule.outcomes] == [(201, str(twins[0].id))]
    assert {c.id for c in cached} == {c.id for c in twins}  # both CHANNEL_CREATEs were dispatched
    first = next(r for r in emu.requests if r.route_template == CHANNELS)
    assert first.response_body == {"message": "503: Service Unavailable", "code": 0}
    assert emu.validation_errors == []


@pytest.mark.parametrize(
    ("after", "hang", "give_up_after"),
    [
        ("drop", None, 30.0),  # the connection closes without an answer: ServerDisconnectedError
        ("hang", 0.2, 30.0),  # held 0.2 s, then closed
        ("hang", None, 0.3),  # held until hikari's own 0.3 s timeout gives up
    ],
)
@pytest.mark.asyncio
async def test_done_then_no_answer_is_retried_by_hikari_into_a_twin(
    emu: DiscordEmulator, after: str, hang: float | None, give_up_after: float
) -> None:
    guild = emu.add_guild(SEED)
    rule = emu.faults.inject(method="POST", route=CHANNELS, after=after, hang=hang)
    async with rest_client(emu, give_up_after=give_up_after) as rest:
        returned = await rest.create_guild_text_channel(guild.id, "zoe-app")
    twins = named(emu, "zoe-app")
    assert len(twins) == 2
    assert statuses(emu) == [0, 201]
    assert returned.id == twins[1].id
    assert len(rule.hits) == 1
    assert rule.outcomes[0][0] == 201


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, KeyError),
        (None, orjson.JSONDecodeError),  # the real channel JSON cut in half
        (without_id, KeyError),
    ],
)
@pytest.mark.asyncio
async def test_done_then_malformed_200_is_not_retried_and_hikari_raises(
    emu: DiscordEmulator, body: MalformedBody, error: type[Exception]
) -> None:
    guild = emu.add_guild(SEED)
    emu.faults.inject(method="POST", route=CHANNELS, after="malformed", body=body)
    async with rest_client(emu) as rest:
        with pytest.raises(error):
            await rest.create_guild_text_channel(guild.id, "broken-answer")
    (channel,) = named(emu, "broken-answer")  # Discord did create it; hikari could not read the answer
    assert statuses(emu) == [200]
    assert isinstance(emu.requests[-1].response_body, str)  # what was sent, as text
    assert channel.guild_id == guild.id


@pytest.mark.asyncio
async def test_before_action_fault_changes_nothing(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    rule = emu.faults.inject(method="POST", route=CHANNELS, status=503, count=2)
    async with rest_client(emu, max_retries=1) as rest:
        with pytest.raises(hikari.InternalServerError):
            await rest.create_guild_text_channel(guild.id, "never")
    assert named(emu, "never") == []
    assert statuses(emu) == [503, 503]  # the first try and hikari's retry
    assert rule.outcomes == []


@pytest.mark.asyncio
async def test_late_503_lands_after_the_client_gave_up_and_left(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    rule = emu.faults.inject(method="POST", route=CHANNELS, after="status", status=503, late=0.2)
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        async with rest_client(emu, max_retries=0) as rest:
            with pytest.raises(hikari.InternalServerError):
                await rest.create_guild_text_channel(guild.id, "late-app")
        assert named(emu, "late-app") == []  # nothing yet, and the client is gone
        (action,) = await emu.late.wait(timeout=TIMEOUT)
        (cached,) = await cached_channels(running, guild.id, "late-app", 1)
    (channel,) = named(emu, "late-app")
    assert action.landed
    assert action.status == 201
    assert cached.id == channel.id  # CHANNEL_CREATE reached the bot
    assert rule.outcomes == [(201, action.body)]
    assert emu.late.pending == []


@pytest.mark.asyncio
async def test_late_hang_lands_after_the_client_timed_out(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    emu.faults.inject(method="POST", route=CHANNELS, after="hang", late=0.0)
    async with rest_client(emu, max_retries=0, give_up_after=0.3) as rest:
        with pytest.raises(hikari.HTTPError):
            await rest.create_guild_text_channel(guild.id, "slow-app")
    (action,) = await emu.late.wait(timeout=TIMEOUT)
    assert action.status == 201
    assert len(named(emu, "slow-app")) == 1
    assert statuses(emu) == [0]


@pytest.mark.asyncio
async def test_land_now_lands_pending_actions_in_order_without_waiting(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    emu.faults.inject(method="POST", route=CHANNELS, after="drop", late=3600.0, count=2)
    async with rest_client(emu, max_retries=0) as rest:
        for name in ("first", "second"):
            with pytest.raises(hikari.HTTPError):
                await rest.create_guild_text_channel(guild.id, name)
    assert [json_of(a.request.body)["name"] for a in emu.late.pending] == ["first", "second"]
    landed = await emu.late.land_now()
    assert [a.status for a in landed] == [201, 201]
    assert [c.name for c in emu.state.channels.values() if c.name in ("first", "second")] == ["first", "second"]
    assert emu.late.pending == []


@pytest.mark.asyncio
async def test_late_action_that_fails_when_it_lands_records_its_error(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    category = guild.categories["Applications"]
    emu.faults.inject(method="POST", route=CHANNELS, after="status", status=503, late=3600.0)
    async with rest_client(emu, max_retries=0) as rest:
        with pytest.raises(hikari.InternalServerError):
            await rest.create_guild_text_channel(guild.id, "too-late", category=category)
        await rest.delete_channel(category)
    (action,) = await emu.late.land_now()
    assert action.status == 400
    assert named(emu, "too-late") == []


def test_fault_modes_are_checked() -> None:
    emu = DiscordEmulator(validate=False)
    with pytest.raises(ValueError, match="after must be one of"):
        emu.faults.inject(method="POST", route=CHANNELS, after="explode")
    with pytest.raises(ValueError, match="late needs"):
        emu.faults.inject(method="POST", route=CHANNELS, status=503, late=1.0)
    with pytest.raises(ValueError, match="late needs"):
        emu.faults.inject(method="POST", route=CHANNELS, after="malformed", late=1.0)
    with pytest.raises(ValueError, match="hang needs"):
        emu.faults.inject(method="POST", route=CHANNELS, after="drop", hang=1.0)


@pytest.mark.asyncio
async def test_after_faults_wait_for_a_request_the_spec_accepts() -> None:
    async with DiscordEmulator(strict=True) as emu:
        guild = emu.add_guild(SEED)
        rule = emu.faults.inject(method="POST", route=CHANNELS, after="status", status=503)
        headers = {"Authorization": f"Bot {emu.bot_token}"}
        async with aiohttp.ClientSession() as http:
            invalid = {"name": "invalid", "nsfw": "very"}
            async with http.post(f"{emu.rest_url}/guilds/{guild.id}/channels", json=invalid, headers=headers) as sent:
                assert sent.status == 400  # strict: refused before any action
        async with rest_client(emu, max_retries=0) as rest:
            with pytest.raises(hikari.InternalServerError):  # the fault was kept for this one
                await rest.create_guild_text_channel(guild.id, "valid")
        assert named(emu, "invalid") == []
        assert len(named(emu, "valid")) == 1
        assert len(rule.hits) == 1
        assert len(emu.validation_errors) == 1
