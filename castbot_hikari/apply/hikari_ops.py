"""``DiscordOps`` over hikari's REST client: the only module of the apply flow that speaks hikari."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final, cast

import hikari

from castbot_hikari.apply.model import ChannelSpec, Welcome
from castbot_hikari.apply.ports import ApplyKey
from castbot_hikari.core import naming
from castbot_hikari.core.access import Grant, effective_permissions
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, GuildId, UserId
from castbot_hikari.core.permissions import BOT_REQUIRED, NONE, Overwrite, OverwriteTarget, Permission, missing

logger = logging.getLogger(__name__)

UNKNOWN_CHANNEL: Final = 10003
MISSING_ACCESS: Final = 50001
MISSING_PERMISSIONS: Final = 50013
GUILD_CHANNEL_LIMIT: Final = 30013
WORD_FILTER: Final = 20031
INVALID_FORM_BODY: Final = 50035
CATEGORY_CAPACITY: Final = 50


def _form_error_codes(errors: Mapping[str, Any] | None, field: str) -> list[str]:
    """Return the inner ``code``s of a 50035 error for one top-level field."""
    entry: Any = (errors or {}).get(field)
    items: Any = cast("Mapping[str, Any]", entry).get("_errors") if isinstance(entry, Mapping) else None
    if not isinstance(items, list):
        return []
    return [str(cast("Mapping[str, Any]", item).get("code")) for item in cast("list[Any]", items)
            if isinstance(item, Mapping)]  # fmt: skip


def classify(exc: hikari.HTTPError) -> DiscordError:
    """Translate a hikari REST failure (after hikari's own retries) into a ``DiscordError``."""
    if isinstance(exc, hikari.BadRequestError):
        return _bad_request(exc)
    if isinstance(exc, hikari.ForbiddenError):
        return DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, exc.message, code=exc.code, status=403)
    if isinstance(exc, hikari.NotFoundError):
        return DiscordError(DiscordErrorKind.NOT_FOUND, exc.message, code=exc.code, status=404)
    if isinstance(exc, hikari.HTTPResponseError):
        kind = DiscordErrorKind.UNAVAILABLE if int(exc.status) >= 500 else DiscordErrorKind.BAD_REQUEST
        return DiscordError(kind, exc.message, code=exc.code, status=int(exc.status))
    # Connection errors after hikari's retries and rate limits too long to wait out.
    return DiscordError(DiscordErrorKind.UNAVAILABLE, str(exc) or type(exc).__name__)


def _bad_request(exc: hikari.BadRequestError) -> DiscordError:
    if exc.code == GUILD_CHANNEL_LIMIT:
        return DiscordError(DiscordErrorKind.GUILD_FULL, exc.message, code=exc.code, status=400)
    if exc.code == WORD_FILTER:
        return DiscordError(DiscordErrorKind.NAME_REJECTED, exc.message, code=exc.code, status=400)
    if exc.code == INVALID_FORM_BODY:
        parent = _form_error_codes(exc.errors, "parent_id")
        if "CHANNEL_PARENT_MAX_CHANNELS" in parent:
            return DiscordError(DiscordErrorKind.CATEGORY_FULL, exc.message, code=exc.code, status=400)
        if parent:  # the category was deleted or is not a category
            return DiscordError(DiscordErrorKind.NOT_FOUND, exc.message, code=exc.code, status=400)
        if exc.errors and "permission_overwrites" in exc.errors:  # a role of the overwrites was deleted
            return DiscordError(DiscordErrorKind.ROLE_MISSING, exc.message, code=exc.code, status=400)
        if _form_error_codes(exc.errors, "name"):
            return DiscordError(DiscordErrorKind.NAME_REJECTED, exc.message, code=exc.code, status=400)
    return DiscordError(DiscordErrorKind.BAD_REQUEST, exc.message, code=exc.code, status=400)


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


class HikariDiscordOps:
    """The apply flow's Discord calls over ``hikari.api.RESTClient``.

    Args:
        rest: hikari's REST client (it retries 5xx and connection errors and waits out 429s itself).
        bot_user_id: The bot's own user id, from the token or READY.
        cache: The gateway cache, for the permission check before creating (``None``: no check).
    """

    def __init__(self, rest: hikari.api.RESTClient, bot_user_id: UserId, cache: hikari.api.Cache | None = None) -> None:
        self._rest = rest
        self._bot_user_id = bot_user_id
        self._cache = cache
        # One overflow search per full category at a time: concurrent applies must not each create one.
        self._overflow_locks: dict[ChannelId, asyncio.Lock] = {}

    @property
    def bot_user_id(self) -> UserId:
        """Return the bot's own user id."""
        return self._bot_user_id

    async def channel_exists(self, channel_id: ChannelId) -> bool:
        """Return whether the channel exists; one the bot cannot see still counts as existing."""
        try:
            await self._rest.fetch_channel(channel_id)
        except hikari.NotFoundError:
            return False
        except hikari.ForbiddenError:
            return True  # it exists; claiming otherwise could make a duplicate
        except hikari.HTTPError as exc:
            raise classify(exc) from exc
        return True

    async def missing_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> Permission:
        """Return what the bot lacks in the category, from the cache; a shortfall is confirmed over REST.

        A stale cache must never refuse an applicant by mistake, so only REST's answer refuses; when the
        cache or REST cannot tell, nothing is reported missing and Discord decides.
        """
        have = self._cached_permissions(guild_id, category_id)
        if have is None or not missing(have, BOT_REQUIRED):
            return NONE
        try:
            have = await self._fetched_permissions(guild_id, category_id)
        except hikari.HTTPError:
            return NONE
        return missing(have, BOT_REQUIRED)

    def _cached_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> int | None:
        cache = self._cache
        if cache is None:
            return None
        guild = cache.get_guild(guild_id)
        roles = cache.get_roles_view_for_guild(guild_id)
        member = cache.get_member(guild_id, self._bot_user_id)
        category = cache.get_guild_channel(category_id) if category_id is not None else None
        if guild is None or not roles or member is None or (category_id is not None and category is None):
            return None
        return effective_permissions(
            guild_id=guild_id, owner_id=int(guild.owner_id), member_id=self._bot_user_id,
            member_roles=[int(r) for r in member.role_ids],
            role_permissions={int(r.id): int(r.permissions) for r in roles.values()},
            overwrites=permission_grants(category) if category is not None else [],
        )  # fmt: skip

    async def _fetched_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> int:
        guild = await self._rest.fetch_guild(guild_id)
        member = await self._rest.fetch_member(guild_id, self._bot_user_id)
        category = await self._rest.fetch_channel(category_id) if category_id is not None else None
        return effective_permissions(
            guild_id=guild_id, owner_id=int(guild.owner_id), member_id=self._bot_user_id,
            member_roles=[int(r) for r in member.role_ids],
            role_permissions={int(r.id): int(r.permissions) for r in guild.roles.values()},
            overwrites=permission_grants(category) if isinstance(category, hikari.GuildChannel) else [],
        )  # fmt: skip

    async def create_channel(self, spec: ChannelSpec) -> ChannelId:
        """Create a private text channel and return its id."""
        try:
            channel = await self._rest.create_guild_text_channel(
                spec.guild_id,
                spec.name,
                topic=spec.topic,
                category=spec.category_id if spec.category_id is not None else hikari.UNDEFINED,
                permission_overwrites=[to_hikari(overwrite) for overwrite in spec.overwrites],
                reason="Season application",
            )
        except hikari.HTTPError as exc:
            raise classify(exc) from exc
        return ChannelId(int(channel.id))

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        """Post the welcome, pinging exactly the users and roles it names."""
        try:
            await self._rest.create_message(
                channel_id,
                welcome.content,
                user_mentions=list(welcome.mention_users),
                role_mentions=list(welcome.mention_roles),
                mentions_everyone=False,
            )
        except hikari.HTTPError as exc:
            raise classify(exc) from exc

    async def delete_channel(self, channel_id: ChannelId) -> None:
        """Delete a channel; one already gone is fine."""
        try:
            await self._rest.delete_channel(channel_id)
        except hikari.NotFoundError:
            return
        except hikari.HTTPError as exc:
            raise classify(exc) from exc

    async def find_application_channel(self, key: ApplyKey) -> ChannelId | None:
        """Find an application channel by its topic marker among the guild's channels."""
        try:
            channels = await self._rest.fetch_guild_channels(key.guild_id)
        except hikari.HTTPError as exc:
            raise classify(exc) from exc
        for channel in channels:
            if isinstance(channel, hikari.GuildTextChannel):
                found = naming.parse_topic_marker(channel.topic)
                if found == (key.user_id, key.config_id):
                    return ChannelId(int(channel.id))
        return None

    async def overflow_category(self, guild_id: GuildId, full: ChannelId) -> ChannelId:
        """Return "<name> 2" (or 3, ...) with room, creating it with the full category's overwrites."""
        lock = self._overflow_locks.setdefault(full, asyncio.Lock())
        async with lock:
            try:
                return await self._overflow_category(guild_id, full)
            except hikari.HTTPError as exc:
                raise classify(exc) from exc

    async def _overflow_category(self, guild_id: GuildId, full: ChannelId) -> ChannelId:
        channels = await self._rest.fetch_guild_channels(guild_id)
        original = next((c for c in channels if c.id == full and isinstance(c, hikari.GuildCategory)), None)
        if original is None:
            raise DiscordError(DiscordErrorKind.NOT_FOUND, f"category {full} is gone", code=UNKNOWN_CHANNEL, status=404)
        children = Counter(c.parent_id for c in channels if c.parent_id is not None)
        categories = {c.name: c for c in channels if isinstance(c, hikari.GuildCategory)}
        for number in range(2, 100):
            name = f"{original.name} {number}"[:100]
            existing = categories.get(name)
            if existing is None:
                created = await self._rest.create_guild_category(
                    guild_id, name, permission_overwrites=list(original.permission_overwrites.values()),
                    reason="Applications category is full",
                )  # fmt: skip
                logger.info("overflow category created guild=%s full=%s overflow=%s", guild_id, full, created.id)
                return ChannelId(int(created.id))
            if children[existing.id] < CATEGORY_CAPACITY:
                return ChannelId(int(existing.id))
        raise DiscordError(DiscordErrorKind.CATEGORY_FULL, "no overflow category has room", status=400)
