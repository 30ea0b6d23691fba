"""Whom messages ping: ``allowed_mentions`` applied as Discord does, for channel messages and interactions."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import aiohttp
import hikari
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator, Guild, GuildSeed, MessageState
from castbot_hikari.testing.emulator import permissions as perms
from tests.emulator.harness import running_bot

SEED = GuildSeed(
    name="ORG 1",
    text_channels=["apply-here"],
    roles=["Production", "Hosts"],
    mentionable_roles=["Hosts"],
    members=[("kevin_a", "Kevin A"), ("zoe", "Zoë")],
)


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain aiohttp client session (to send bodies hikari would not)."""
    async with aiohttp.ClientSession() as session:
        yield session


def everything(guild: Guild) -> str:
    """Content mentioning both members, both roles and @everyone."""
    kevin, zoe = guild.members["kevin_a"], guild.members["zoe"]
    return f"<@{kevin}> <@!{zoe}> <@&{guild.roles['Production']}> <@&{guild.roles['Hosts']}> @everyone"


def pings(message: MessageState) -> tuple[list[int], list[int], bool]:
    """Return ``(user ids, role ids, @everyone)`` a stored message pings."""
    return [u.id for u in message.mentions], message.mention_roles, message.mention_everyone


async def post(
    emu: DiscordEmulator, http: aiohttp.ClientSession, channel_id: int, body: object
) -> aiohttp.ClientResponse:
    """POST a raw message body as the bot."""
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with http.post(f"{emu.rest_url}/channels/{channel_id}/messages", json=body, headers=headers) as response:
        await response.read()
        return response


@pytest.mark.asyncio
async def test_hikari_messages_ping_only_whom_they_allow(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    kevin = guild.members["kevin_a"]
    silent = await rest.create_message(channel_id, everything(guild))  # hikari sends {"parse": []}
    one = await rest.create_message(channel_id, everything(guild), user_mentions=[kevin], role_mentions=False)
    silent_state, one_state = emu.state.messages[channel_id]
    assert pings(silent_state) == ([], [], False)
    assert not silent_state.pings_anyone
    assert pings(one_state) == ([kevin], [], False)
    assert (silent.user_mentions_ids, one.user_mentions_ids) == ([], [kevin])  # what hikari read back


@pytest.mark.parametrize(
    ("bot_permissions", "roles", "everyone"),
    [
        (perms.DEFAULT_BOT, ["Hosts"], False),  # only the mentionable role, and no @everyone
        (perms.DEFAULT_BOT | perms.MENTION_EVERYONE, ["Production", "Hosts"], True),
    ],
)
@pytest.mark.asyncio
async def test_without_allowed_mentions_everything_is_parsed_within_permissions(
    http: aiohttp.ClientSession, bot_permissions: int, roles: list[str], everyone: bool
) -> None:
    async with DiscordEmulator() as emu:
        guild = emu.add_guild(dataclasses.replace(SEED, bot_permissions=bot_permissions))
        channel_id = guild.text_channels["apply-here"]
        response = await post(emu, http, channel_id, {"content": everything(guild) + " <@123>"})
        assert response.status == 200
        (message,) = emu.state.messages[channel_id]
        expected_users = [guild.members["kevin_a"], guild.members["zoe"]]  # 123 is nobody
        assert pings(message) == (expected_users, [guild.roles[r] for r in roles], everyone)


@pytest.mark.asyncio
async def test_parse_and_ids_of_one_kind_are_refused(emu: DiscordEmulator, http: aiohttp.ClientSession) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    body = {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": [str(guild.members["zoe"])]}}
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with http.post(f"{emu.rest_url}/channels/{channel_id}/messages", json=body, headers=headers) as response:
        error = await response.json()
    assert response.status == 400
    assert error["code"] == 50035
    assert error["errors"]["allowed_mentions"]["_errors"][0]["code"] == "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"
    assert emu.state.messages[channel_id] == []


@pytest.mark.asyncio
async def test_interaction_responses_and_followups_ping_as_allowed(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    zoe = guild.members["zoe"]
    production = guild.roles["Production"]

    async def respond(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
        await interaction.edit_initial_response(f"Welcome <@{zoe}>!", user_mentions=True)
        await interaction.execute(f"<@&{production}> @everyone, <@{zoe}> applied", role_mentions=True)
        await interaction.execute(f"<@{zoe}> quietly")  # hikari's default: ping nobody

    async with running_bot(emu, respond) as running:
        inter = await emu.click(guild.id, zoe, "apply_config_1")
        outcome = await running.next_outcome()
    assert outcome.error is None
    original = emu.visible_message(inter)
    assert original is not None
    assert pings(original) == ([zoe], [], False)
    loud, quiet = (emu.state.find_message(inter.channel_id, int(f["id"])) for f in inter.followups)
    assert loud is not None
    assert quiet is not None
    # A webhook message may ping a role that is not mentionable; @everyone was not allowed here.
    assert pings(loud) == ([], [production], False)
    assert not quiet.pings_anyone
    assert inter.followups[0]["mention_roles"] == [str(production)]


@pytest.mark.asyncio
async def test_editing_recomputes_mentions(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    kevin = guild.members["kevin_a"]
    message = await rest.create_message(channel_id, "no one yet")
    await rest.edit_message(channel_id, message.id, f"now <@{kevin}>", user_mentions=True)
    (stored,) = emu.state.messages[channel_id]
    assert pings(stored) == ([kevin], [], False)
    await rest.edit_message(channel_id, message.id, f"still <@{kevin}>", user_mentions=False)
    assert pings(stored) == ([], [], False)
