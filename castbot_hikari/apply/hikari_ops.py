"""``DiscordOps`` over hikari's REST client: the only module of the apply flow that speaks hikari."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from typing import Final

import hikari

from castbot_hikari.apply import render
from castbot_hikari.apply.model import ApplyKey, ChannelSpec, Welcome
from castbot_hikari.core import naming
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, GuildId, UserId
from castbot_hikari.core.permissions import BOT_REQUIRED, NONE, Permission, missing
from castbot_hikari.discord.access import BotAccess, to_hikari
from castbot_hikari.discord.errors import UNKNOWN_CHANNEL, translated, translated_once
from castbot_hikari.questions import render as questions_render

logger = logging.getLogger(__name__)

CATEGORY_CAPACITY: Final = 50
MAX_CHAIN: Final = 100
WELCOME_LOOKBACK: Final = 20


class HikariDiscordOps:
    """The apply flow's Discord calls over ``hikari.api.RESTClient``.

    Args:
        rest: hikari's REST client (it retries 5xx and connection errors and waits out 429s itself).
        bot_user_id: The bot's own user id, from the token or READY.
        cache: The gateway cache: the permission check and the look for an existing channel before creating
            (``None``: no permission check, and every look asks REST).
        once: A REST client with ``max_retries=0`` for requests that create something (a channel, a
            category, the welcome): hikari must never send those twice on its own, because Discord may have
            acted before failing. Defaults to ``rest``.
        questions: Whether the welcome carries the in-channel application's buttons (Start, Withdraw).
    """

    def __init__(
        self,
        rest: hikari.api.RESTClient,
        bot_user_id: UserId,
        cache: hikari.api.Cache | None = None,
        *,
        once: hikari.api.RESTClient | None = None,
        questions: bool = True,
    ) -> None:
        self._rest = rest
        self._questions = questions
        self._once = once or rest
        self._bot_user_id = bot_user_id
        self._cache = cache
        self._access = BotAccess(rest, cache, bot_user_id)
        # One overflow search per chain of categories at a time: concurrent applies wait for the one that
        # creates the next category instead of each creating one (or failing while it is being created).
        self._overflow_locks: dict[ChannelId, asyncio.Lock] = {}

    @property
    def bot_user_id(self) -> UserId:
        """Return the bot's own user id."""
        return self._bot_user_id

    async def channel_exists(self, channel_id: ChannelId) -> bool:
        """Return whether the channel exists; one the bot cannot see still counts as existing."""
        try:
            with translated():
                await self._rest.fetch_channel(channel_id)
        except DiscordError as exc:
            if exc.status == 404:
                return False
            if exc.status == 403:
                return True  # it exists; claiming otherwise could make a duplicate
            raise
        return True

    async def missing_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> Permission:
        """Return what the bot lacks in the category, from the cache; a shortfall is confirmed over REST.

        A stale cache must never refuse an applicant by mistake, so only REST's answer refuses; when the
        cache or REST cannot tell, nothing is reported missing and Discord decides.
        """
        if self._cache is None:
            return NONE
        roles = self._access.cached_roles(guild_id)
        category = self._cache.get_guild_channel(category_id) if category_id is not None else None
        if roles is None or (category_id is not None and category is None):
            return NONE
        if not missing(self._access.permissions(guild_id, roles, category), BOT_REQUIRED):
            return NONE
        try:
            roles = await self._access.fetched_roles(guild_id)
            fetched = await self._rest.fetch_channel(category_id) if category_id is not None else None
        except hikari.HTTPError:
            return NONE
        channel = fetched if isinstance(fetched, hikari.GuildChannel) else None
        return missing(self._access.permissions(guild_id, roles, channel), BOT_REQUIRED)

    async def create_channel(self, spec: ChannelSpec) -> ChannelId:
        """Create a private text channel and return its id (sent once; see ``translated_once``)."""
        with translated_once():
            channel = await self._once.create_guild_text_channel(
                spec.guild_id,
                spec.name,
                topic=spec.topic,
                category=spec.category_id if spec.category_id is not None else hikari.UNDEFINED,
                permission_overwrites=[to_hikari(overwrite) for overwrite in spec.overwrites],
                reason="Season application",
            )
        return ChannelId(int(channel.id))

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        """Post the welcome (sent once), pinging exactly the applicant and the production role."""
        with translated_once():
            await self._once.create_message(
                channel_id,
                render.welcome(welcome),
                components=list(questions_render.welcome_rows()) if self._questions else [],
                user_mentions=list(welcome.mention_users),
                role_mentions=list(welcome.mention_roles),
                mentions_everyone=False,
            )

    async def delete_channel(self, channel_id: ChannelId) -> None:
        """Delete a channel; one already gone is fine."""
        try:
            with translated():
                await self._rest.delete_channel(channel_id)
        except DiscordError as exc:
            if exc.status != 404:
                raise

    async def welcome_posted(self, channel_id: ChannelId) -> bool:
        """Return whether the bot has a message among the channel's latest (its welcome comes first)."""
        with translated():
            messages = await self._rest.fetch_messages(channel_id).limit(WELCOME_LOOKBACK)
        return any(message.author.id == self._bot_user_id for message in messages)

    async def find_application_channel(self, key: ApplyKey, *, fresh: bool = False) -> ChannelId | None:
        """Find an application channel by its topic marker: in the gateway cache, or (``fresh``) over REST.

        With the GUILDS intent the cache holds every channel of an available guild; a channel that an
        unconfirmed request just created may not be there yet, so callers after such a request ask fresh.
        """
        cached = self._cache.get_available_guild(key.guild_id) if self._cache is not None and not fresh else None
        if cached is not None and self._cache is not None:
            channels = list(self._cache.get_guild_channels_view_for_guild(key.guild_id).values())
        else:
            with translated():
                channels = await self._rest.fetch_guild_channels(key.guild_id)
        for channel in channels:
            if isinstance(channel, hikari.GuildTextChannel):
                found = naming.parse_topic_marker(channel.topic)
                if found == (key.user_id, key.config_id):
                    return ChannelId(int(channel.id))
        return None

    async def overflow_category(self, guild_id: GuildId, root: ChannelId, full: ChannelId) -> ChannelId:
        """Return the first category of ``root``'s chain ("<name>", "<name> 2", ...) with room, other than
        ``full``, creating the next one (with ``root``'s overwrites) when none has room.

        Single-flight per chain: concurrent callers wait for the one that creates the next category and
        then reuse it.
        """
        lock = self._overflow_locks.setdefault(root, asyncio.Lock())
        async with lock:
            with translated():
                channels = await self._rest.fetch_guild_channels(guild_id)
            original = next((c for c in channels if c.id == root and isinstance(c, hikari.GuildCategory)), None)
            if original is None:
                raise DiscordError(
                    DiscordErrorKind.NOT_FOUND, f"category {root} is gone", code=UNKNOWN_CHANNEL, status=404
                )
            children = Counter(c.parent_id for c in channels if c.parent_id is not None)
            categories = {c.name: c for c in channels if isinstance(c, hikari.GuildCategory)}
            for number in range(2, MAX_CHAIN):
                existing = categories.get(f"{original.name} {number}"[:100])
                if existing is None:
                    return await self._create_overflow(guild_id, original, number, channels)
                if existing.id != full and children[existing.id] < CATEGORY_CAPACITY:
                    return ChannelId(int(existing.id))
        raise DiscordError(DiscordErrorKind.CATEGORY_FULL, "no overflow category has room", status=400)

    async def _create_overflow(
        self, guild_id: GuildId, original: hikari.GuildCategory, number: int, seen: Sequence[hikari.GuildChannel]
    ) -> ChannelId:
        """Create "<name> <number>" once; after an unconfirmed answer, look for it by name before failing."""
        name = f"{original.name} {number}"[:100]
        try:
            with translated_once():
                created = await self._once.create_guild_category(
                    guild_id,
                    name,
                    permission_overwrites=list(original.permission_overwrites.values()),
                    reason="Applications category is full",
                )
        except DiscordError as exc:
            if exc.kind is not DiscordErrorKind.UNCONFIRMED:
                raise
            with translated():
                channels = await self._rest.fetch_guild_channels(guild_id)
            known = {c.id for c in seen}
            landed = [
                c for c in channels if isinstance(c, hikari.GuildCategory) and c.name == name and c.id not in known
            ]
            if not landed:
                raise
            created = landed[0]
        logger.info("overflow category created guild=%s root=%s overflow=%s", guild_id, original.id, created.id)
        return ChannelId(int(created.id))
