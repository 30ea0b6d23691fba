"""The simulated applicant: builds realistic INTERACTION_CREATE payloads for button clicks."""

from __future__ import annotations

from castbot_hikari.testing.emulator import messages, payloads, permissions
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.state import (
    GUILD_TEXT,
    ChannelState,
    GuildState,
    JSONObject,
    MessageState,
)

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
BUTTON = 2


class Applicant:
    """Clicks buttons on behalf of guild members.

    When a click names no message, the button sits on a "panel" message the bot is assumed to have
    posted earlier: one per channel and custom id, stored in the channel (without a gateway event).
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self._panels: dict[tuple[int, str], int] = {}

    def click(
        self, guild_id: int, user_id: int, custom_id: str, *, channel_id: int | None, message_id: int | None
    ) -> tuple[Interaction, JSONObject]:
        """Create the interaction record and INTERACTION_CREATE payload for one button click.

        Raises:
            ValueError: If the guild, member, channel, message or button does not exist.
        """
        state = self._core.state
        guild = state.guilds.get(guild_id)
        if guild is None:
            msg = f"unknown guild {guild_id}"
            raise ValueError(msg)
        if user_id not in guild.members:
            msg = f"user {user_id} is not a member of guild {guild_id}"
            raise ValueError(msg)
        channel = self._channel(guild, channel_id)
        message = self._message(channel, custom_id, message_id)
        component_id = _component_id(message, custom_id)
        inter = Interaction(
            id=self._core.ids.snowflake(),
            token=self._core.ids.interaction_token(),
            guild_id=guild.id,
            user_id=user_id,
            channel_id=channel.id,
            message_id=message.id,
            custom_id=custom_id,
            clock=self._core.clock,
            ack_deadline=self._core.settings.ack_deadline,
        )
        return inter, self._payload(inter, guild, channel, message, component_id)

    def _channel(self, guild: GuildState, channel_id: int | None) -> ChannelState:
        state = self._core.state
        if channel_id is None:
            for channel in state.guild_channels(guild.id):
                if channel.type == GUILD_TEXT:
                    return channel
            msg = f"guild {guild.id} has no text channel to click in"
            raise ValueError(msg)
        channel = state.channels.get(channel_id)
        if channel is None or channel.guild_id != guild.id:
            msg = f"unknown channel {channel_id} in guild {guild.id}"
            raise ValueError(msg)
        return channel

    def _message(self, channel: ChannelState, custom_id: str, message_id: int | None) -> MessageState:
        state = self._core.state
        if message_id is not None:
            message = state.find_message(channel.id, message_id)
            if message is None:
                msg = f"unknown message {message_id} in channel {channel.id}"
                raise ValueError(msg)
            return message
        panel_id = self._panels.get((channel.id, custom_id))
        panel = state.find_message(channel.id, panel_id) if panel_id is not None else None
        if panel is not None:
            return panel
        button = {"type": BUTTON, "id": 2, "style": 1, "label": "Apply", "custom_id": custom_id}
        panel = MessageState(
            id=self._core.ids.snowflake(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=self._core.state.bot,
            content="",
            components=[{"type": 1, "id": 1, "components": [button]}],
        )
        state.add_message(panel)
        self._panels[(channel.id, custom_id)] = panel.id
        return panel

    def _payload(
        self, inter: Interaction, guild: GuildState, channel: ChannelState, message: MessageState, component_id: int
    ) -> JSONObject:
        state = self._core.state
        user = state.users[inter.user_id]
        member = payloads.member(guild.members[inter.user_id], user)
        member["permissions"] = str(permissions.channel_permissions(guild, user.id, channel))
        app_permissions = permissions.channel_permissions(guild, state.bot.id, channel)
        return {
            "id": str(inter.id),
            "application_id": str(state.bot.id),
            "type": 3,
            "data": {"custom_id": inter.custom_id, "component_type": BUTTON, "id": component_id},
            "guild_id": str(guild.id),
            "channel_id": str(channel.id),
            "channel": payloads.channel_with_permissions(channel, int(member["permissions"])),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": list(guild.features)},
            "member": member,
            "token": inter.token,
            "version": 1,
            "message": payloads.message(message),
            "app_permissions": str(app_permissions),
            "locale": "en-US",
            "guild_locale": guild.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }


def _component_id(message: MessageState, custom_id: str) -> int:
    for component in messages.walk(message.components):
        if component.get("custom_id") == custom_id:
            return int(component["id"])
    msg = f"message {message.id} has no component with custom_id {custom_id!r}"
    raise ValueError(msg)
