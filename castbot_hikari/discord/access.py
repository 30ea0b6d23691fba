"""The bot's permissions in a guild's channels, computed once, the way Discord documents it.

The guild's owner, roles and the bot's own roles come from the gateway cache when it has them, else
from REST (``BotAccess.roles``); callers that must not trust a stale cache ask REST directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import hikari

from castbot_hikari.core.access import Grant, effective_permissions
from castbot_hikari.core.ids import GuildId, UserId
from castbot_hikari.core.permissions import Overwrite, OverwriteTarget


def permission_grants(channel: hikari.GuildChannel) -> list[Grant]:
    """Return a channel's permission overwrites as ``Grant``s (threads have none of their own)."""
    if not isinstance(channel, hikari.PermissibleGuildChannel):
        return []
    return [
        Grant(int(o.id), o.type is hikari.PermissionOverwriteType.MEMBER, int(o.allow), int(o.deny))
        for o in channel.permission_overwrites.values()
    ]


def to_hikari(overwrite: Overwrite) -> hikari.PermissionOverwrite:
    """Return hikari's form of a domain overwrite."""
    kind = (
        hikari.PermissionOverwriteType.ROLE
        if overwrite.target is OverwriteTarget.ROLE
        else hikari.PermissionOverwriteType.MEMBER
    )
    return hikari.PermissionOverwrite(
        id=hikari.Snowflake(overwrite.target_id),
        type=kind,
        allow=hikari.Permissions(int(overwrite.allow)),
        deny=hikari.Permissions(int(overwrite.deny)),
    )


@dataclass(frozen=True, slots=True)
class GuildRoles:
    """What the bot's permissions in a guild depend on, besides a channel's overwrites."""

    owner_id: int | None
    role_permissions: Mapping[int, int]
    bot_roles: Sequence[int]


class BotAccess:
    """Computes the bot's permissions in a guild or one of its channels.

    Args:
        rest: hikari's REST client.
        cache: The gateway cache (``None`` to always use REST).
        bot_user_id: The bot's own user id.
    """

    def __init__(self, rest: hikari.api.RESTClient, cache: hikari.api.Cache | None, bot_user_id: UserId) -> None:
        self._rest = rest
        self._cache = cache
        self._bot = bot_user_id

    def cached_roles(self, guild_id: GuildId) -> GuildRoles | None:
        """Return the guild's roles and the bot's from the gateway cache, or ``None`` if it lacks them."""
        cache = self._cache
        if cache is None:
            return None
        guild = cache.get_guild(guild_id)
        roles = cache.get_roles_view_for_guild(guild_id)
        member = cache.get_member(guild_id, self._bot)
        if guild is None or not roles or member is None:
            return None
        permissions = {int(r.id): int(r.permissions) for r in roles.values()}
        return GuildRoles(int(guild.owner_id), permissions, [int(r) for r in member.role_ids])

    async def fetched_roles(self, guild_id: GuildId) -> GuildRoles:
        """Return the guild's roles and the bot's over REST (hikari's errors propagate)."""
        guild = await self._rest.fetch_guild(guild_id)
        member = await self._rest.fetch_member(guild_id, self._bot)
        permissions = {int(r.id): int(r.permissions) for r in guild.roles.values()}
        return GuildRoles(int(guild.owner_id), permissions, [int(r) for r in member.role_ids])

    async def roles(self, guild_id: GuildId) -> GuildRoles:
        """Return the guild's roles and the bot's: from the cache when it has them, else over REST."""
        return self.cached_roles(guild_id) or await self.fetched_roles(guild_id)

    def permissions(self, guild_id: GuildId, roles: GuildRoles, channel: hikari.GuildChannel | None) -> int:
        """Return the bot's permissions in ``channel`` (in the guild at large when ``None``)."""
        return effective_permissions(
            guild_id=guild_id,
            owner_id=roles.owner_id,
            member_id=self._bot,
            member_roles=roles.bot_roles,
            role_permissions=roles.role_permissions,
            overwrites=permission_grants(channel) if channel is not None else [],
        )
