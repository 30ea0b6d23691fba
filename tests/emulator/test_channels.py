"""Channels and messages over hikari's REST client: limits, permissions, overwrites, error codes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import hikari
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Overwrite
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.state import GUILD_TEXT
from tests.emulator.harness import SEED, FakeClock, running_bot

P = hikari.Permissions
ROLE = hikari.PermissionOverwriteType.ROLE
MEMBER = hikari.PermissionOverwriteType.MEMBER


@pytest_asyncio.fixture
async def rest_relaxed() -> AsyncIterator[tuple[DiscordEmulator, hikari.api.RESTClient]]:
    """An emulator that ignores the category's overwrites when creating channels, and a REST client."""
    async with DiscordEmulator(relax={"category_permissions"}) as emu:
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as client:
                yield emu, client
        finally:
            await app.close()


def error_code(info: pytest.ExceptionInfo[hikari.ClientHTTPResponseError]) -> int:
    """Return Discord's error code from a raised hikari error."""
    return int(info.value.code)


def form_error_code(info: pytest.ExceptionInfo[hikari.BadRequestError], field: str) -> str:
    """Return the string code of a 50035 error on ``field``."""
    errors = info.value.errors
    assert errors is not None
    return str(errors[field]["_errors"][0]["code"])


@pytest.mark.asyncio
async def test_private_channel_with_overwrites(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    kevin, zoe = guild.members["kevin_a"], guild.members["zoe"]
    overwrites = [
        hikari.PermissionOverwrite(id=guild.everyone_role_id, type=ROLE, deny=P.VIEW_CHANNEL),
        hikari.PermissionOverwrite(id=kevin, type=MEMBER, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES),
        hikari.PermissionOverwrite(id=guild.roles["Production"], type=ROLE, allow=P.VIEW_CHANNEL),
        hikari.PermissionOverwrite(id=emu.bot_user_id, type=MEMBER, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES),
    ]
    async with running_bot(emu) as running:
        await running.wait_guild(guild.id)
        created = await running.bot.rest.create_guild_text_channel(
            guild.id,
            "Kevin A 🎬 App",
            category=guild.categories["Applications"],
            topic="[castbot-app:1]",
            permission_overwrites=overwrites,
        )
        welcome = await running.bot.rest.create_message(created.id, f"Welcome <@{kevin}>!")
    assert created.name == "kevin-a-🎬-app"
    channel = emu.state.channels[created.id]
    assert channel.parent_id == guild.categories["Applications"]
    assert channel.topic == "[castbot-app:1]"
    assert {(o["id"], o["type"]): (o["allow"], o["deny"]) for o in channel.permission_overwrites} == {
        (guild.id, 0): (0, perms.VIEW_CHANNEL),
        (kevin, 1): (perms.VIEW_CHANNEL | perms.SEND_MESSAGES, 0),
        (guild.roles["Production"], 0): (perms.VIEW_CHANNEL, 0),
        (emu.bot_user_id, 1): (perms.VIEW_CHANNEL | perms.SEND_MESSAGES, 0),
    }
    state_guild = emu.state.guilds[guild.id]
    assert perms.channel_permissions(state_guild, kevin, channel) & perms.VIEW_CHANNEL
    assert perms.channel_permissions(state_guild, zoe, channel) == 0
    (stored,) = emu.state.messages[created.id]
    assert stored["content"] == f"Welcome <@{kevin}>!"
    assert stored.id == welcome.id
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_category_holds_at_most_50_channels(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    category = guild.categories["Applications"]
    for n in range(50):
        emu.state.add_channel(guild.id, GUILD_TEXT, f"app-{n}", parent_id=category)
    with pytest.raises(hikari.BadRequestError) as info:
        await rest.create_guild_text_channel(guild.id, "one-too-many", category=category)
    assert error_code(info) == 50035
    assert form_error_code(info, "parent_id") == "CHANNEL_PARENT_MAX_CHANNELS"
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_guild_holds_at_most_500_channels(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    for n in range(500 - len(emu.state.guilds[guild.id].channel_ids)):
        emu.state.add_channel(guild.id, GUILD_TEXT, f"c-{n}")
    with pytest.raises(hikari.BadRequestError) as info:
        await rest.create_guild_text_channel(guild.id, "channel-501")
    assert error_code(info) == 30013


@pytest.mark.asyncio
async def test_creating_without_manage_channels_is_50013(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(GuildSeed(name="No Manage", bot_permissions=perms.VIEW_CHANNEL | perms.SEND_MESSAGES))
    with pytest.raises(hikari.ForbiddenError) as info:
        await rest.create_guild_text_channel(guild.id, "nope")
    assert error_code(info) == 50013


@pytest.mark.parametrize(
    ("bot_permissions", "allow", "expected"),
    [
        (perms.DEFAULT_BOT, P.MANAGE_GUILD, 50013),  # a bit the bot does not have
        (perms.DEFAULT_BOT, P.MANAGE_ROLES, 50013),  # the bot has it, but only admins may grant it
        (perms.ADMINISTRATOR, P.MANAGE_ROLES | P.MANAGE_GUILD, None),
    ],
)
@pytest.mark.asyncio
async def test_overwrites_may_only_grant_what_the_bot_has(
    emu: DiscordEmulator, rest: hikari.api.RESTClient, bot_permissions: int, allow: P, expected: int | None
) -> None:
    guild = emu.add_guild(GuildSeed(name="Org", roles=["Production"], bot_permissions=bot_permissions))
    overwrite = hikari.PermissionOverwrite(id=guild.roles["Production"], type=ROLE, allow=allow)
    if expected is None:
        await rest.create_guild_text_channel(guild.id, "ok", permission_overwrites=[overwrite])
        return
    with pytest.raises(hikari.ForbiddenError) as info:
        await rest.create_guild_text_channel(guild.id, "nope", permission_overwrites=[overwrite])
    assert error_code(info) == expected


@pytest.mark.asyncio
async def test_sending_needs_view_channel_then_send_messages(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    hidden = await rest.create_guild_text_channel(
        guild.id,
        "hidden",
        permission_overwrites=[hikari.PermissionOverwrite(id=guild.id, type=ROLE, deny=P.VIEW_CHANNEL)],
    )
    mute = hikari.PermissionOverwrite(id=guild.bot_role_id, type=ROLE, deny=P.SEND_MESSAGES)
    read_only = await rest.create_guild_text_channel(guild.id, "read-only", permission_overwrites=[mute])
    with pytest.raises(hikari.ForbiddenError) as no_view:
        await rest.create_message(hidden.id, "hi")
    with pytest.raises(hikari.ForbiddenError) as no_fetch:
        await rest.fetch_channel(hidden.id)
    with pytest.raises(hikari.ForbiddenError) as no_send:
        await rest.create_message(read_only.id, "hi")
    assert (error_code(no_view), error_code(no_fetch), error_code(no_send)) == (50001, 50001, 50013)


@pytest.mark.asyncio
async def test_unknown_channel_message_and_member(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    with pytest.raises(hikari.NotFoundError) as channel:
        await rest.fetch_channel(123)
    with pytest.raises(hikari.NotFoundError) as message:
        await rest.fetch_message(channel_id, 456)
    with pytest.raises(hikari.NotFoundError) as member:
        await rest.fetch_member(guild.id, 789)
    assert (error_code(channel), error_code(message), error_code(member)) == (10003, 10008, 10007)
    fetched = await rest.fetch_member(guild.id, guild.members["zoe"])
    assert fetched.display_name == "Zoë"


@pytest.mark.asyncio
async def test_channel_name_rules_and_renames(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    with pytest.raises(hikari.BadRequestError) as too_long:
        await rest.create_guild_text_channel(guild.id, "x" * 101)
    assert form_error_code(too_long, "name") == "BASE_TYPE_BAD_LENGTH"
    category = await rest.create_guild_category(guild.id, "Season 14 Apps")
    assert category.name == "Season 14 Apps"  # categories keep case and spaces
    channel = await rest.create_guild_text_channel(guild.id, "first")
    await rest.edit_channel(channel.id, name="second")
    await rest.edit_channel(channel.id, name="third")
    with pytest.raises(hikari.RateLimitTooLongError):  # 2 renames per 10 minutes
        await rest.edit_channel(channel.id, name="fourth")
    assert emu.state.channels[channel.id].name == "third"


@pytest.mark.asyncio
async def test_deleting_a_category_moves_its_channels_to_the_top(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    category = guild.categories["Applications"]
    child = await rest.create_guild_text_channel(guild.id, "child", category=category)
    deleted = await rest.delete_channel(category)
    assert deleted.id == category
    assert category not in emu.state.channels
    assert emu.state.channels[child.id].parent_id is None


@pytest.mark.asyncio
async def test_messages_get_component_ids_and_can_be_edited(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    row = rest.build_message_action_row().add_interactive_button(
        hikari.ButtonStyle.SUCCESS, "apply_config_1", label="Apply"
    )
    message = await rest.create_message(channel_id, "Apply here", component=row)
    (row_component,) = message.components
    assert isinstance(row_component, hikari.ActionRowComponent)
    assert row_component.id == 1
    assert [c.id for c in row_component.components] == [2]
    edited = await rest.edit_message(channel_id, message.id, "Applications are open")
    assert edited.content == "Applications are open"
    with pytest.raises(RuntimeError, match="no gateway session"):
        await emu.click(guild.id, guild.members["zoe"], "apply_config_1", message_id=message.id)
    with pytest.raises(hikari.BadRequestError) as too_long:
        await rest.create_message(channel_id, "x" * 2001)
    assert error_code(too_long) == 50035
    await rest.delete_message(channel_id, message.id)
    assert [m.id for m in emu.state.messages[channel_id]] == []


def category_seed(bot_permissions: int = perms.DEFAULT_BOT) -> GuildSeed:
    """A guild whose "Applications" category the tests restrict."""
    return GuildSeed(name="Org", categories=["Applications"], roles=["Production"], bot_permissions=bot_permissions)


def restrict(emu: DiscordEmulator, category_id: int, *overwrites: Overwrite) -> None:
    """Give the category these overwrites (as an admin would, without asking the bot)."""
    emu.state.channels[category_id].permission_overwrites = list(overwrites)


@pytest.mark.parametrize(
    "denied",
    [perms.VIEW_CHANNEL | perms.MANAGE_CHANNELS, perms.VIEW_CHANNEL, perms.MANAGE_CHANNELS],
)
@pytest.mark.asyncio
async def test_creating_in_a_category_needs_view_and_manage_there(
    emu: DiscordEmulator, rest: hikari.api.RESTClient, denied: int
) -> None:
    guild = emu.add_guild(category_seed())
    category = guild.categories["Applications"]
    restrict(emu, category, Overwrite(id=guild.bot_role_id, type=0, allow=0, deny=denied))
    with pytest.raises(hikari.ForbiddenError) as info:
        await rest.create_guild_text_channel(guild.id, "app", category=category)
    assert error_code(info) == 50013
    assert [c.name for c in emu.state.channels.values()] == ["Applications"]
    assert (await rest.create_guild_text_channel(guild.id, "top-level")).parent_id is None  # the guild allows it


@pytest.mark.asyncio
async def test_a_category_can_grant_what_the_guild_does_not(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(category_seed(bot_permissions=perms.VIEW_CHANNEL | perms.SEND_MESSAGES))
    category = guild.categories["Applications"]
    restrict(emu, category, Overwrite(id=emu.bot_user_id, type=1, allow=perms.MANAGE_CHANNELS, deny=0))
    created = await rest.create_guild_text_channel(guild.id, "app", category=category)
    assert created.parent_id == category
    with pytest.raises(hikari.ForbiddenError):
        await rest.create_guild_text_channel(guild.id, "top-level")


@pytest.mark.asyncio
async def test_overwrites_may_only_grant_what_the_bot_has_in_the_category(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(category_seed())
    category = guild.categories["Applications"]
    restrict(emu, category, Overwrite(id=guild.id, type=0, allow=0, deny=perms.EMBED_LINKS))
    embeds = hikari.PermissionOverwrite(id=guild.roles["Production"], type=ROLE, allow=P.EMBED_LINKS)
    with pytest.raises(hikari.ForbiddenError) as info:
        await rest.create_guild_text_channel(guild.id, "app", category=category, permission_overwrites=[embeds])
    assert error_code(info) == 50013
    await rest.create_guild_text_channel(guild.id, "top-level", permission_overwrites=[embeds])  # the guild grants it


@pytest.mark.asyncio
async def test_category_permissions_can_be_relaxed(rest_relaxed: tuple[DiscordEmulator, hikari.api.RESTClient]) -> None:
    emu, rest = rest_relaxed
    guild = emu.add_guild(category_seed())
    category = guild.categories["Applications"]
    restrict(emu, category, Overwrite(id=guild.id, type=0, allow=0, deny=perms.VIEW_CHANNEL))
    created = await rest.create_guild_text_channel(guild.id, "app", category=category)
    assert created.parent_id == category


@pytest.mark.asyncio
async def test_an_overwrite_id_given_twice_is_a_form_error(emu: DiscordEmulator, rest: hikari.api.RESTClient) -> None:
    guild = emu.add_guild(SEED)
    # What a bot sends when the production role is @everyone: two overwrites for the guild id.
    overwrites = [
        hikari.PermissionOverwrite(id=guild.id, type=ROLE, deny=P.VIEW_CHANNEL),
        hikari.PermissionOverwrite(id=emu.bot_user_id, type=MEMBER, allow=P.VIEW_CHANNEL),
        hikari.PermissionOverwrite(id=guild.id, type=ROLE, allow=P.VIEW_CHANNEL),
    ]
    with pytest.raises(hikari.BadRequestError) as created:
        await rest.create_guild_text_channel(guild.id, "app", permission_overwrites=overwrites)
    channel = await rest.create_guild_text_channel(guild.id, "fine", permission_overwrites=overwrites[:2])
    with pytest.raises(hikari.BadRequestError) as edited:
        await rest.edit_channel(channel.id, permission_overwrites=overwrites)
    for info in (created, edited):
        assert error_code(info) == 50035
        errors = info.value.errors
        assert errors is not None
        assert errors["permission_overwrites"]["2"]["id"]["_errors"][0]["code"] == "SET_TYPE_ALREADY_CONTAINS_VALUE"
    assert len(emu.state.channels[channel.id].permission_overwrites) == 2
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_a_refused_edit_changes_nothing_and_uses_no_rename(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    channel = await rest.create_guild_text_channel(guild.id, "first")
    too_much = hikari.PermissionOverwrite(id=guild.roles["Production"], type=ROLE, allow=P.MANAGE_GUILD)
    with pytest.raises(hikari.ForbiddenError):
        await rest.edit_channel(channel.id, name="second", permission_overwrites=[too_much])
    assert emu.state.channels[channel.id].name == "first"
    assert emu.state.channels[channel.id].renames == []
    await rest.edit_channel(channel.id, name="second")
    await rest.edit_channel(channel.id, name="third")  # still two renames left before the refused edit
    assert emu.state.channels[channel.id].name == "third"


@pytest.mark.asyncio
async def test_third_rename_gets_the_real_remaining_wait(clock: FakeClock) -> None:
    async with DiscordEmulator(clock=clock) as emu, aiohttp.ClientSession() as http:
        guild = emu.add_guild(SEED)
        channel_id = guild.text_channels["apply-here"]
        url = f"{emu.rest_url}/channels/{channel_id}"
        headers = {"Authorization": f"Bot {emu.bot_token}"}
        answers: list[tuple[int, object, str | None]] = []
        for n, wait in enumerate((0.0, 200.0, 50.0)):
            clock.advance(wait)
            async with http.patch(url, json={"name": f"name-{n}"}, headers=headers) as response:
                answers.append((response.status, await response.json(), response.headers.get("X-RateLimit-Scope")))
    assert [status for status, _, _ in answers] == [200, 200, 429]
    _, body, scope = answers[2]
    assert body == {"message": "You are being rate limited.", "code": 0, "retry_after": 350.0, "global": False}
    assert scope == "shared"
    assert emu.invalid_requests == 0  # a shared 429 does not count towards the ban
