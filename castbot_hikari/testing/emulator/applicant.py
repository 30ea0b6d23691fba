"""The simulated applicant: builds realistic INTERACTION_CREATE payloads for button clicks."""

from __future__ import annotations

from castbot_hikari.testing.emulator import components, invocation
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.state import ChannelState, JSONObject, MessageState

BUTTON = components.BUTTON


class Applicant:
    """Clicks buttons on behalf of guild members.

    When a click names no message, the button sits on a "panel" message the bot is assumed to have
    posted earlier: one per channel and custom id, stored in the channel (without a gateway event).
    A click naming a message uses that real message: it must exist and carry an enabled button.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self._panels: dict[tuple[int, str], int] = {}

    def click(
        self, guild_id: int, user_id: int, custom_id: str, *, channel_id: int | None, message_id: int | None
    ) -> tuple[Interaction, JSONObject]:
        """Create the interaction record and INTERACTION_CREATE payload for one button click.

        Raises:
            ValueError: If the guild, member, channel, message or button does not exist, the
                component is not a button, or the button is disabled.
        """
        guild = invocation.member_guild(self._core, guild_id, user_id)
        channel = invocation.guild_channel(self._core, guild, channel_id)
        message = self._message(channel, custom_id, message_id)
        data = components.button_data(message, custom_id)
        inter = invocation.new_interaction(
            self._core, guild, user_id, channel, message_id=message.id, custom_id=custom_id
        )
        return inter, invocation.envelope(self._core, inter, guild, channel, data, message=message)

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
