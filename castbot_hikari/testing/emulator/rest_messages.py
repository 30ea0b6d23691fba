"""REST routes for channel messages."""

from __future__ import annotations

from castbot_hikari.testing.emulator import channels, errors, messages, payloads
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.routing import Call, Reply, Router
from castbot_hikari.testing.emulator.state import GUILD_CATEGORY, ChannelState, MessageState


class MessageRoutes:
    """``/channels/{channel_id}/messages...``."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def register(self, router: Router) -> None:
        """Add this module's routes to ``router``."""
        router.add("POST", "/channels/{channel_id}/messages", self.create)
        router.add("GET", "/channels/{channel_id}/messages", self.list)
        router.add("GET", "/channels/{channel_id}/messages/{message_id}", self.get)
        router.add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit)
        router.add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete)

    @property
    def _layout(self) -> bool:
        return self._core.settings.enforces("component_layout")

    def _channel(self, call: Call) -> ChannelState:
        channel = self._core.state.channels.get(call.snowflake("channel_id"))
        if channel is None:
            raise errors.api_error(errors.UNKNOWN_CHANNEL)
        return channel

    def _message(self, call: Call, channel: ChannelState) -> MessageState:
        message = self._core.state.find_message(channel.id, call.snowflake("message_id"))
        if message is None:
            raise errors.api_error(errors.UNKNOWN_MESSAGE)
        return message

    def _require(self, channel: ChannelState, bit: int) -> int:
        have = channels.require_view(self._core, channel)
        if not have & bit:
            raise errors.api_error(errors.MISSING_PERMISSIONS)
        return have

    def create(self, call: Call) -> Reply:
        """POST /channels/{channel_id}/messages: needs VIEW_CHANNEL (50001) and SEND_MESSAGES (50013).

        A channel receiving messages faster than ``channel_write_limit`` answers 429 code 20028.
        """
        channel = self._channel(call)
        self._require(channel, perms.SEND_MESSAGES)
        if channel.type == GUILD_CATEGORY:
            raise errors.ApiError(400, 50008, "Cannot send messages in a non-text channel")
        body = call.json()
        messages.check_body(body, create=True, layout=self._layout)
        self._core.writes.count(channel.id)
        flags = int(body.get("flags") or 0) & ~messages.EPHEMERAL
        message = messages.new_message(
            self._core, channel.id, channel.guild_id, self._core.state.bot, body, flags=flags, files=call.files
        )
        messages.store(self._core, message)
        return 200, payloads.message(message)

    def list(self, call: Call) -> Reply:
        """GET /channels/{channel_id}/messages (newest first, ``limit`` default 50)."""
        channel = self._channel(call)
        self._require(channel, perms.READ_MESSAGE_HISTORY)
        limit = min(int(call.query.get("limit", "50")), 100)
        newest = self._core.state.messages.get(channel.id, [])[::-1][:limit]
        return 200, [payloads.message(m) for m in newest]

    def get(self, call: Call) -> Reply:
        """GET /channels/{channel_id}/messages/{message_id}."""
        channel = self._channel(call)
        self._require(channel, perms.READ_MESSAGE_HISTORY)
        return 200, payloads.message(self._message(call, channel))

    def edit(self, call: Call) -> Reply:
        """PATCH /channels/{channel_id}/messages/{message_id}: only the bot's own messages."""
        channel = self._channel(call)
        channels.require_view(self._core, channel)
        message = self._message(call, channel)
        if message.author.id != self._core.state.bot.id:
            raise errors.api_error(errors.NOT_AUTHOR)
        body = call.json()
        messages.check_body(body, create=False, layout=self._layout)
        messages.apply_edit(self._core, message, body, call.files)
        messages.publish(self._core, "MESSAGE_UPDATE", message)
        return 200, payloads.message(message)

    def delete(self, call: Call) -> Reply:
        """DELETE /channels/{channel_id}/messages/{message_id}: own messages or MANAGE_MESSAGES."""
        channel = self._channel(call)
        have = channels.require_view(self._core, channel)
        message = self._message(call, channel)
        if message.author.id != self._core.state.bot.id and not have & perms.MANAGE_MESSAGES:
            raise errors.api_error(errors.MISSING_PERMISSIONS)
        self._core.state.remove_message(message)
        messages.publish_delete(self._core, message)
        return 204, None
