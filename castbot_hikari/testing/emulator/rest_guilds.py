"""REST routes for guilds, roles, members and channels."""

from __future__ import annotations

from castbot_hikari.testing.emulator import channels, errors, payloads
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.routing import Call, Reply, Router
from castbot_hikari.testing.emulator.state import ChannelState, GuildState


class GuildRoutes:
    """``/guilds/{guild_id}...`` and ``/channels/{channel_id}``."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def register(self, router: Router) -> None:
        """Add this module's routes to ``router``."""
        router.add("GET", "/guilds/{guild_id}", self.get_guild)
        router.add("GET", "/guilds/{guild_id}/roles", self.get_roles)
        router.add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        router.add("GET", "/guilds/{guild_id}/channels", self.list_channels)
        router.add("POST", "/guilds/{guild_id}/channels", self.create_channel)
        router.add("GET", "/channels/{channel_id}", self.get_channel)
        router.add("PATCH", "/channels/{channel_id}", self.edit_channel)
        router.add("DELETE", "/channels/{channel_id}", self.delete_channel)

    def guild(self, call: Call) -> GuildState:
        """Return the guild named by the path (404 10004 if unknown)."""
        guild = self._core.state.guilds.get(call.snowflake("guild_id"))
        if guild is None:
            raise errors.api_error(errors.UNKNOWN_GUILD)
        return guild

    def channel(self, call: Call) -> ChannelState:
        """Return the channel named by the path (404 10003 if unknown)."""
        channel = self._core.state.channels.get(call.snowflake("channel_id"))
        if channel is None:
            raise errors.api_error(errors.UNKNOWN_CHANNEL)
        return channel

    def get_guild(self, call: Call) -> Reply:
        """GET /guilds/{guild_id}."""
        return 200, payloads.rest_guild(self.guild(call), with_counts=call.flag("with_counts"))

    def get_roles(self, call: Call) -> Reply:
        """GET /guilds/{guild_id}/roles."""
        return 200, [payloads.role(r) for r in self.guild(call).roles.values()]

    def get_member(self, call: Call) -> Reply:
        """GET /guilds/{guild_id}/members/{user_id}."""
        guild = self.guild(call)
        member = guild.members.get(call.snowflake("user_id"))
        if member is None:
            raise errors.api_error(errors.UNKNOWN_MEMBER)
        return 200, payloads.member(member, self._core.state.users[member.user_id])

    def list_channels(self, call: Call) -> Reply:
        """GET /guilds/{guild_id}/channels."""
        guild = self.guild(call)
        return 200, [payloads.channel(c) for c in self._core.state.guild_channels(guild.id)]

    def create_channel(self, call: Call) -> Reply:
        """POST /guilds/{guild_id}/channels (201 with the channel)."""
        channel = channels.create(self._core, self.guild(call), call.json())
        return 201, payloads.channel(channel)

    def get_channel(self, call: Call) -> Reply:
        """GET /channels/{channel_id} (403 50001 if the bot cannot view it)."""
        channel = self.channel(call)
        channels.require_view(self._core, channel)
        return 200, payloads.channel(channel)

    def edit_channel(self, call: Call) -> Reply:
        """PATCH /channels/{channel_id}."""
        return 200, payloads.channel(channels.edit(self._core, self.channel(call), call.json()))

    def delete_channel(self, call: Call) -> Reply:
        """DELETE /channels/{channel_id} (200 with the deleted channel)."""
        return 200, payloads.channel(channels.delete(self._core, self.channel(call)))
