"""What every simulated interaction shares: who acts where, and the INTERACTION_CREATE envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from castbot_hikari.testing.emulator import payloads, permissions
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.state import GUILD_TEXT, ChannelState, GuildState, JSONObject, MessageState

ATTACHMENT_SIZE_LIMIT: Final = 10 * 1024 * 1024
GUILD_CONTEXT: Final = 0
BOT_DM_CONTEXT: Final = 1
DM_CHANNEL: Final = 1
DM_APP_PERMISSIONS: Final = (
    permissions.ADD_REACTIONS
    | permissions.VIEW_CHANNEL
    | permissions.SEND_MESSAGES
    | permissions.EMBED_LINKS
    | permissions.ATTACH_FILES
    | permissions.READ_MESSAGE_HISTORY
    | permissions.MENTION_EVERYONE
    | permissions.USE_EXTERNAL_EMOJIS
    | permissions.USE_APPLICATION_COMMANDS
)
"""What the bot may do in its DM with a user (no guild roles or overwrites apply there)."""


@dataclass(frozen=True, slots=True)
class Actor:
    """A guild member acting in a channel (whose permissions there an interaction carries)."""

    guild: GuildState
    user_id: int
    channel: ChannelState


def member_guild(core: Core, guild_id: int, user_id: int) -> GuildState:
    """Return the guild, checking that ``user_id`` is a member of it.

    Raises:
        ValueError: If the guild does not exist or the user is not a member.
    """
    guild = core.state.guilds.get(guild_id)
    if guild is None:
        msg = f"unknown guild {guild_id}"
        raise ValueError(msg)
    if user_id not in guild.members:
        msg = f"user {user_id} is not a member of guild {guild_id}"
        raise ValueError(msg)
    return guild


def guild_channel(core: Core, guild: GuildState, channel_id: int | None) -> ChannelState:
    """Return ``channel_id`` of ``guild``, or the guild's first text channel when ``None``.

    Raises:
        ValueError: If there is no such channel (or no text channel at all).
    """
    state = core.state
    if channel_id is None:
        for channel in state.guild_channels(guild.id):
            if channel.type == GUILD_TEXT:
                return channel
        msg = f"guild {guild.id} has no text channel to use"
        raise ValueError(msg)
    channel = state.channels.get(channel_id)
    if channel is None or channel.guild_id != guild.id:
        msg = f"unknown channel {channel_id} in guild {guild.id}"
        raise ValueError(msg)
    return channel


def new_interaction(
    core: Core,
    guild: GuildState,
    user_id: int,
    channel: ChannelState,
    **fields: object,
) -> Interaction:
    """Create an interaction record with a fresh id and token on the emulator's clock.

    ``fields`` are :class:`Interaction`'s other keyword arguments (``custom_id``, ``message_id``...).
    """
    return Interaction(
        id=core.ids.snowflake(),
        token=core.ids.interaction_token(),
        guild_id=guild.id,
        user_id=user_id,
        channel_id=channel.id,
        clock=core.clock,
        ack_deadline=core.settings.ack_deadline,
        **fields,  # pyright: ignore[reportArgumentType] - forwarded keyword arguments
    )


def new_dm_interaction(core: Core, user_id: int, channel_id: int, **fields: object) -> Interaction:
    """Create the record of an interaction in the bot's DM with ``user_id`` (no guild)."""
    return Interaction(
        id=core.ids.snowflake(),
        token=core.ids.interaction_token(),
        guild_id=None,
        user_id=user_id,
        channel_id=channel_id,
        clock=core.clock,
        ack_deadline=core.settings.ack_deadline,
        **fields,  # pyright: ignore[reportArgumentType] - forwarded keyword arguments
    )


def member_with_permissions(
    core: Core, guild: GuildState, user_id: int, channel: ChannelState, *, with_user: bool = True
) -> JSONObject:
    """Return a member object with the member's ``permissions`` in ``channel`` (as interactions carry)."""
    member = payloads.member(guild.members[user_id], core.state.users[user_id], with_user=with_user)
    member["permissions"] = str(permissions.channel_permissions(guild, user_id, channel))
    return member


def envelope(
    core: Core,
    inter: Interaction,
    guild: GuildState,
    channel: ChannelState,
    data: JSONObject,
    *,
    message: MessageState | None = None,
) -> JSONObject:
    """Return the INTERACTION_CREATE payload Discord sends for ``inter`` (any interaction type).

    ``member.permissions`` and ``channel.permissions`` are the user's permissions in ``channel``;
    ``app_permissions`` the bot's. ``message`` is the message holding the component, if any.
    """
    state = core.state
    member = member_with_permissions(core, guild, inter.user_id, channel)
    payload: JSONObject = {
        "id": str(inter.id),
        "application_id": str(state.bot.id),
        "type": inter.interaction_type,
        "data": data,
        "guild_id": str(guild.id),
        "channel_id": str(channel.id),
        "channel": payloads.channel_with_permissions(channel, int(member["permissions"])),
        "guild": {"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
        "member": member,
        "token": inter.token,
        "version": 1,
        "app_permissions": str(permissions.channel_permissions(guild, state.bot.id, channel)),
        "locale": "en-US",
        "guild_locale": guild.locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": GUILD_CONTEXT,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if message is not None:
        payload["message"] = payloads.message(message)
    return payload


def dm_envelope(core: Core, inter: Interaction, data: JSONObject, *, message: MessageState | None = None) -> JSONObject:
    """Return the INTERACTION_CREATE payload of an interaction in the bot's DM with ``inter.user_id``.

    As Discord sends it: ``user`` instead of ``member``, no ``guild_id``, a DM channel with the user
    as recipient, context 1 (BOT_DM) and ``"0"`` as the guild-install owner.
    """
    state = core.state
    user = payloads.user(state.users[inter.user_id])
    channel: JSONObject = {
        "id": str(inter.channel_id),
        "type": DM_CHANNEL,
        "flags": 0,
        "last_message_id": None,
        "recipients": [user],
    }
    payload: JSONObject = {
        "id": str(inter.id),
        "application_id": str(state.bot.id),
        "type": inter.interaction_type,
        "data": data,
        "channel_id": str(inter.channel_id),
        "channel": channel,
        "user": user,
        "token": inter.token,
        "version": 1,
        "app_permissions": str(DM_APP_PERMISSIONS),
        "locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": "0"},
        "context": BOT_DM_CONTEXT,
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if message is not None:
        payload["message"] = payloads.message(message)
    return payload
