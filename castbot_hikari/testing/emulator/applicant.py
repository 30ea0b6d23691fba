"""The simulated applicant: builds realistic INTERACTION_CREATE payloads for button clicks."""

from __future__ import annotations

from castbot_hikari.testing.emulator import components, invocation
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.state import JSONObject, MessageState

BUTTON = components.BUTTON


class Applicant:
    """Clicks buttons on behalf of guild members (and of users in their DM with the bot).

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
        message = self._message(channel.id, channel.guild_id, custom_id, message_id)
        data = components.button_data(message, custom_id)
        inter = invocation.new_interaction(
            self._core, guild, user_id, channel, message_id=message.id, custom_id=custom_id
        )
        return inter, invocation.envelope(self._core, inter, guild, channel, data, message=message)

    def dm_click(self, user_id: int, custom_id: str, *, message_id: int | None) -> tuple[Interaction, JSONObject]:
        """Create the interaction and payload for a click on a button in the bot's DM with ``user_id``.

        Raises:
            ValueError: If the user, message or button does not exist, or the button is disabled.
        """
        if user_id not in self._core.state.users:
            msg = f"unknown user {user_id}"
            raise ValueError(msg)
        channel_id = self._core.state.dm_channel(user_id)
        message = self._message(channel_id, None, custom_id, message_id)
        data = components.button_data(message, custom_id)
        inter = invocation.new_dm_interaction(
            self._core, user_id, channel_id, message_id=message.id, custom_id=custom_id
        )
        return inter, invocation.dm_envelope(self._core, inter, data, message=message)

    def _message(self, channel_id: int, guild_id: int | None, custom_id: str, message_id: int | None) -> MessageState:
        state = self._core.state
        if message_id is not None:
            message = state.find_message(channel_id, message_id)
            if message is None:
                msg = f"unknown message {message_id} in channel {channel_id}"
                raise ValueError(msg)
            return message
        panel_id = self._panels.get((channel_id, custom_id))
        panel = state.find_message(channel_id, panel_id) if panel_id is not None else None
        if panel is not None:
            return panel
        button = {"type": BUTTON, "id": 2, "style": 1, "label": "Apply", "custom_id": custom_id}
        panel = MessageState(
            id=self._core.ids.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=self._core.state.bot,
            content="",
            components=[{"type": 1, "id": 1, "components": [button]}],
        )
        state.add_message(panel)
        self._panels[(channel_id, custom_id)] = panel.id
        return panel
