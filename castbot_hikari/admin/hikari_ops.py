"""``AdminDiscord`` over hikari: channels and the bot's permissions in them, roles, and Apply cards.

Channels are always fetched over REST (a deleted channel must be seen as deleted); the guild's owner,
roles and the bot's own roles come from the gateway cache when it has them, else from REST.
"""

from __future__ import annotations

import logging

import hikari

from castbot_hikari.admin import components as admin_components
from castbot_hikari.admin.model import Card, CategoryUse, ChannelInfo, ChannelKind, RoleInfo
from castbot_hikari.core.errors import DiscordError
from castbot_hikari.core.ids import ChannelId, GuildId, MessageId, RoleId, UserId
from castbot_hikari.discord.access import BotAccess
from castbot_hikari.discord.errors import translated

logger = logging.getLogger(__name__)

_TEXT_TYPES = (hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_NEWS)


def _kind(channel: hikari.PartialChannel) -> ChannelKind:
    if channel.type in _TEXT_TYPES:
        return ChannelKind.TEXT
    if channel.type is hikari.ChannelType.GUILD_CATEGORY:
        return ChannelKind.CATEGORY
    return ChannelKind.OTHER


class HikariAdminOps:
    """The admin commands' Discord calls.

    Args:
        rest: hikari's REST client.
        cache: The gateway cache (``None`` to always use REST).
        bot_user_id: The bot's own user id.
    """

    def __init__(self, rest: hikari.api.RESTClient, cache: hikari.api.Cache | None, bot_user_id: UserId) -> None:
        self._rest = rest
        self._cache = cache
        self._access = BotAccess(rest, cache, bot_user_id)

    async def channel(self, guild_id: GuildId, channel_id: ChannelId) -> ChannelInfo | None:
        """Return a channel of this guild with the bot's permissions in it, or ``None`` if it is gone."""
        try:
            with translated():
                found = await self._rest.fetch_channel(channel_id)
        except DiscordError as exc:
            if exc.status in (403, 404):
                return None  # gone, or the bot cannot see it: either way nothing can be done there
            raise
        if not isinstance(found, hikari.GuildChannel) or found.guild_id != guild_id:
            return None  # another guild's channel is "not found" here
        with translated():
            roles = await self._access.roles(guild_id)
        permissions = self._access.permissions(guild_id, roles, found)
        return ChannelInfo(channel_id, guild_id, found.name or str(channel_id), _kind(found), permissions)

    async def categories(self, guild_id: GuildId) -> list[CategoryUse]:
        """Return the guild's categories in display order, with how many channels each holds."""
        with translated():
            channels = await self._rest.fetch_guild_channels(guild_id)
        used: dict[int, int] = {}
        for channel in channels:
            if channel.parent_id is not None:
                used[int(channel.parent_id)] = used.get(int(channel.parent_id), 0) + 1
        categories = sorted(
            (c for c in channels if isinstance(c, hikari.GuildCategory)), key=lambda c: (c.position, c.id)
        )
        return [CategoryUse(ChannelId(int(c.id)), c.name or str(c.id), used.get(int(c.id), 0)) for c in categories]

    async def role(self, guild_id: GuildId, role_id: RoleId) -> RoleInfo | None:
        """Return a role of this guild (from the cache when it has it), or ``None``."""
        found: hikari.Role | None = self._cache.get_role(role_id) if self._cache is not None else None
        if found is None or found.guild_id != guild_id:
            with translated():
                roles = await self._rest.fetch_roles(guild_id)
            found = next((role for role in roles if int(role.id) == role_id), None)
        return RoleInfo(RoleId(int(found.id)), bool(found.is_managed)) if found is not None else None

    async def post_card(self, channel_id: ChannelId, card: Card) -> MessageId:
        """Post an Apply card and return its message id."""
        with translated():
            message = await self._rest.create_message(
                channel_id,
                embed=admin_components.card_embed(card),
                components=admin_components.card_rows(card),
                mentions_everyone=False,
                user_mentions=False,
                role_mentions=False,
            )
        return MessageId(int(message.id))

    async def edit_card(self, channel_id: ChannelId, message_id: MessageId, card: Card) -> bool:
        """Update a posted card in place; ``False`` when the message or its channel is gone."""
        try:
            with translated():
                await self._rest.edit_message(
                    channel_id,
                    message_id,
                    embed=admin_components.card_embed(card),
                    components=admin_components.card_rows(card),
                )
        except DiscordError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def delete_card(self, channel_id: ChannelId, message_id: MessageId) -> None:
        """Delete a posted card; one already gone is fine."""
        try:
            with translated():
                await self._rest.delete_message(channel_id, message_id)
        except DiscordError as exc:
            if exc.status != 404:
                raise
