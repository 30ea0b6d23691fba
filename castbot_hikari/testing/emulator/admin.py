"""The simulated server member at the keyboard: slash commands, modal submits, components on any message.

Each method returns the interaction record and its INTERACTION_CREATE payload; the emulator
registers and dispatches them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from castbot_hikari.testing.emulator import components, invocation, slash
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import APPLICATION_COMMAND, MODAL_SUBMIT, Interaction
from castbot_hikari.testing.emulator.messages import EPHEMERAL
from castbot_hikari.testing.emulator.responses import MODAL, InteractionStore
from castbot_hikari.testing.emulator.state import ChannelState, JSONObject, MessageState

Invocation = tuple[Interaction, JSONObject]
"""An interaction record and the INTERACTION_CREATE payload to dispatch for it."""


class Admin:
    """Builds APPLICATION_COMMAND, MODAL_SUBMIT and MESSAGE_COMPONENT interactions of guild members.

    Modal submits and button clicks also work in the bot's DM with a user (an interaction without
    a guild); selects and slash commands there are not emulated.
    """

    def __init__(self, core: Core, store: InteractionStore) -> None:
        self._core = core
        self._store = store

    def slash_command(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        *,
        subcommand: str | None,
        options: Mapping[str, object],
        channel_id: int | None,
        ignore_default_permissions: bool,
    ) -> Invocation:
        """Invoke the registered chat-input command ``name`` (see :meth:`DiscordEmulator.slash_command`).

        Raises:
            ValueError: If Discord's client would not let the member send this command.
        """
        guild = invocation.member_guild(self._core, guild_id, user_id)
        channel = invocation.guild_channel(self._core, guild, channel_id)
        command = slash.find_command(self._core, guild_id, name)
        slash.check_can_use(command, guild, user_id, channel, ignore_default_permissions=ignore_default_permissions)
        data = slash.command_data(self._core, command, invocation.Actor(guild, user_id, channel), subcommand, options)
        path = f"{name} {subcommand}" if subcommand else name
        inter = invocation.new_interaction(
            self._core, guild, user_id, channel, interaction_type=APPLICATION_COMMAND, command=path
        )
        return inter, invocation.envelope(self._core, inter, guild, channel, data)

    def submit_modal(self, source: Interaction, values: Mapping[str, str]) -> Invocation:
        """Submit the modal ``source`` was answered with (see :meth:`DiscordEmulator.submit_modal`).

        Raises:
            ValueError: If ``source``'s first response was no modal, it was already submitted, or
                the values would not pass the client's checks.
        """
        modal = source.modal
        if source.ack_type != MODAL or modal is None:
            msg = f"interaction {source.id} ({source.label}) was answered with type {source.ack_type}, not a modal (9)"
            raise ValueError(msg)
        if source.submission is not None:
            msg = f"the modal of interaction {source.id} was already submitted (by {source.submission.id})"
            raise ValueError(msg)
        data: JSONObject = {"custom_id": modal["custom_id"], "components": components.modal_submission(modal, values)}
        message = self._store.source_message(source)
        fields: dict[str, object] = {
            "interaction_type": MODAL_SUBMIT,
            "custom_id": modal["custom_id"],
            "message_id": source.message_id,
        }
        if source.guild_id is None:
            inter = invocation.new_dm_interaction(self._core, source.user_id, source.channel_id, **fields)
            payload = invocation.dm_envelope(self._core, inter, data, message=message)
        else:
            guild = invocation.member_guild(self._core, source.guild_id, source.user_id)
            channel = self._channel(source.channel_id)
            inter = invocation.new_interaction(self._core, guild, source.user_id, channel, **fields)
            payload = invocation.envelope(self._core, inter, guild, channel, data, message=message)
        source.submission = inter
        source.record("modal_submitted", by=inter.id)
        return inter, payload

    def component(
        self,
        target: Interaction | MessageState,
        user_id: int,
        custom_id: str,
        values: Sequence[str | int] | None,
    ) -> Invocation:
        """Click a button (``values is None``) or pick ``values`` in a select on a message.

        Raises:
            ValueError: If the user cannot see the message, or the component cannot be used so.
        """
        message = self._message(target)
        self._check_sees(message, user_id)
        if message.guild_id is None:
            return self._dm_component(message, user_id, custom_id, values)
        guild = invocation.member_guild(self._core, message.guild_id, user_id)
        channel = self._channel(message.channel_id)
        if values is None:
            data = components.button_data(message, custom_id)
        else:
            data = components.select_data(
                self._core, invocation.Actor(guild, user_id, channel), message, custom_id, values
            )
        inter = invocation.new_interaction(
            self._core,
            guild,
            user_id,
            channel,
            message_id=message.id,
            custom_id=custom_id,
            values=list(data.get("values") or []),
        )
        return inter, invocation.envelope(self._core, inter, guild, channel, data, message=message)

    def _dm_component(
        self, message: MessageState, user_id: int, custom_id: str, values: Sequence[str | int] | None
    ) -> Invocation:
        if self._core.state.dm_channels.get(user_id) != message.channel_id:
            msg = f"message {message.id} is not in the bot's DM with user {user_id}"
            raise ValueError(msg)
        if values is not None:
            msg = "selects in DMs are not emulated (buttons are)"
            raise ValueError(msg)
        data = components.button_data(message, custom_id)
        inter = invocation.new_dm_interaction(
            self._core, user_id, message.channel_id, message_id=message.id, custom_id=custom_id
        )
        return inter, invocation.dm_envelope(self._core, inter, data, message=message)

    def _message(self, target: Interaction | MessageState) -> MessageState:
        if isinstance(target, Interaction):
            message = self._store.visible(target)
            if message is None:
                msg = f"interaction {target.id} ({target.label}) shows no message now (ack type {target.ack_type})"
                raise ValueError(msg)
            return message
        if not self._store.is_live(target):
            msg = f"message {target.id} no longer exists"
            raise ValueError(msg)
        return target

    def _check_sees(self, message: MessageState, user_id: int) -> None:
        entry = self._store.response_message(message.id)
        if message.flags & EPHEMERAL and entry is not None and entry[1].user_id != user_id:
            msg = f"message {message.id} is ephemeral: only user {entry[1].user_id} sees it"
            raise ValueError(msg)

    def _channel(self, channel_id: int) -> ChannelState:
        channel = self._core.state.channels.get(channel_id)
        if channel is None:
            msg = f"channel {channel_id} no longer exists"
            raise ValueError(msg)
        return channel
