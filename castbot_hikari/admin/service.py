"""The ``/apps`` admin workflows: post an Apply card, list, edit, open/close, delete, the notify channel.

Every method returns a value or a ``Refusal`` and never raises for expected failures: a Discord or storage
failure becomes a refusal with nothing half-done (a card whose config could not be saved is deleted again).
Checks that Discord would otherwise answer with a 403 (the bot's permissions in the target channel and the
category) run before any change, so a refused action changes nothing.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final, TypeVar

from castbot_hikari.admin import model as admin
from castbot_hikari.admin.model import (
    CARD_REQUIRED,
    CATEGORY_LIMIT,
    CategoryUse,
    ChannelInfo,
    ChannelKind,
    ConfigChanges,
    Reason,
    Refusal,
)
from castbot_hikari.admin.ports import AdminDiscord, ConfigRepository, GuildSettings
from castbot_hikari.admin.setup import Named, SetupDraft, SetupSessions
from castbot_hikari.castbot.config import ACTIVE, ApplicationConfig, ButtonStyle
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind, StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, RoleId, UserId
from castbot_hikari.core.permissions import BOT_REQUIRED, Permission, describe, missing

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CHOICES: Final = 25
NOTIFY_REQUIRED: Final = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES


class CardUpdate(enum.Enum):
    """What happened to the posted card after a change."""

    UPDATED = "updated"
    NOT_POSTED = "not_posted"
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Posted:
    """A card posted and its config saved."""

    config: ApplicationConfig


@dataclass(frozen=True, slots=True)
class Changed:
    """A config changed (or already as asked), and what happened to its card."""

    config: ApplicationConfig
    card: CardUpdate
    already: bool = False


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """One config in ``/apps list``: its applications and its category's use (``None`` if unknown)."""

    config: ApplicationConfig
    applications: int
    category: CategoryUse | None


@dataclass(frozen=True, slots=True)
class Deleted:
    """A config removed; its applications and channels stay."""

    config: ApplicationConfig
    card: CardUpdate
    applications: int


def _refusal_of(exc: DiscordError) -> Refusal:
    match exc.kind:
        case DiscordErrorKind.MISSING_PERMISSIONS:
            return Refusal(Reason.CANNOT_POST, "Discord refused the request (missing permissions)")
        case DiscordErrorKind.NOT_FOUND:
            return Refusal(Reason.CHANNEL_MISSING)
        case _:
            return Refusal(Reason.DISCORD_UNAVAILABLE, str(exc))


class AdminService:
    """Run the ``/apps`` workflows of one bot.

    Args:
        configs: The guilds' Apply configs.
        discord: The Discord calls (channels, roles, cards).
        settings: Per-guild settings (the notify channel).
        sessions: ``/apps post`` setups in progress.
        clock: Time source.
    """

    def __init__(
        self,
        configs: ConfigRepository,
        discord: AdminDiscord,
        settings: GuildSettings,
        sessions: SetupSessions,
        clock: Clock,
    ) -> None:
        self._configs = configs
        self._discord = discord
        self._settings = settings
        self._sessions = sessions
        self._clock = clock

    async def _safely(self, work: Awaitable[T | Refusal]) -> T | Refusal:
        """Await ``work``; Discord and storage failures become refusals (the one place they are caught)."""
        try:
            return await work
        except DiscordError as exc:
            logger.warning("admin action failed on Discord error=%s", exc)
            return _refusal_of(exc)
        except StorageError as exc:
            logger.error("admin action could not be saved error=%s", exc)
            return Refusal(Reason.STORAGE, str(exc))

    # ---- /apps post ---------------------------------------------------------------------------

    async def start_setup(
        self, guild_id: GuildId, admin_id: UserId, title: str, description: str, channel_format: str
    ) -> SetupDraft | Refusal:
        """Validate the modal's texts and start a setup listing the guild's categories."""
        text = admin.check_text(title, description, channel_format)
        if isinstance(text, Refusal):
            return text

        async def start() -> SetupDraft:
            categories = tuple(await self._discord.categories(guild_id))
            return self._sessions.create(guild_id, admin_id, text, categories)

        return await self._safely(start())

    def setup(self, guild_id: GuildId, admin_id: UserId, session_id: str) -> SetupDraft | Refusal:
        """Return a live setup, or ``SETUP_EXPIRED``."""
        return self._sessions.get(session_id, guild_id, admin_id)

    def choose_channel(
        self, guild_id: GuildId, admin_id: UserId, session_id: str, channel: Named
    ) -> SetupDraft | Refusal:
        """Record the target channel (checked when posting)."""
        draft = self._sessions.get(session_id, guild_id, admin_id)
        if isinstance(draft, Refusal):
            return draft
        return self._sessions.save(dataclasses.replace(draft, channel=channel))

    async def choose_category(
        self, guild_id: GuildId, admin_id: UserId, session_id: str, category_id: ChannelId
    ) -> SetupDraft | Refusal:
        """Record the category for application channels, with its current use."""
        draft = self._sessions.get(session_id, guild_id, admin_id)
        if isinstance(draft, Refusal):
            return draft

        async def choose() -> SetupDraft | Refusal:
            category = await self._category_use(guild_id, category_id)
            if category is None:
                return Refusal(Reason.CATEGORY_MISSING, f"<#{category_id}>")
            return self._sessions.save(dataclasses.replace(draft, category=category))

        return await self._safely(choose())

    def choose_style(self, guild_id: GuildId, admin_id: UserId, session_id: str, value: str) -> SetupDraft | Refusal:
        """Record the button style."""
        draft = self._sessions.get(session_id, guild_id, admin_id)
        if isinstance(draft, Refusal):
            return draft
        style = ButtonStyle.parse(value)
        if style is None:
            return draft
        return self._sessions.save(dataclasses.replace(draft, style=style))

    def choose_role(
        self, guild_id: GuildId, admin_id: UserId, session_id: str, role: Named | None
    ) -> SetupDraft | Refusal:
        """Record (or with ``None`` clear) the production role."""
        draft = self._sessions.get(session_id, guild_id, admin_id)
        if isinstance(draft, Refusal):
            return draft
        return self._sessions.save(dataclasses.replace(draft, role=role))

    def cancel_setup(self, guild_id: GuildId, admin_id: UserId, session_id: str) -> bool:
        """Forget a setup of this admin in this server; ``False`` for another server's or admin's."""
        return self._sessions.cancel(session_id, guild_id, admin_id)

    async def post(self, guild_id: GuildId, admin_id: UserId, session_id: str) -> Posted | Refusal:
        """Check the setup, post the card and save its config; a second click meanwhile is refused."""
        draft = self._sessions.get(session_id, guild_id, admin_id)
        if isinstance(draft, Refusal):
            return draft
        if draft.posting:
            return Refusal(Reason.SETUP_BUSY)
        if not draft.ready:
            return Refusal(Reason.SETUP_INCOMPLETE)
        draft = self._sessions.save(dataclasses.replace(draft, posting=True))
        result = await self._safely(self._post(draft))
        if isinstance(result, Posted):
            self._sessions.drop(session_id)
            logger.info(
                "apply card posted guild=%s config=%s channel=%s message=%s admin=%s",
                guild_id,
                result.config.config_id,
                result.config.posted_channel_id,
                result.config.posted_message_id,
                admin_id,
            )
        else:
            self._sessions.save(dataclasses.replace(draft, posting=False))
        return result

    async def _post(self, draft: SetupDraft) -> Posted | Refusal:
        assert draft.channel_id is not None
        assert draft.category is not None
        assert draft.style is not None
        guild_id = draft.guild_id
        target = await self._check_target(guild_id, draft.channel_id)
        if isinstance(target, Refusal):
            return target
        category = await self._check_category(guild_id, draft.category.id)
        if isinstance(category, Refusal):
            return category
        if draft.role_id is not None and (refused := await self._check_role(guild_id, draft.role_id)) is not None:
            return refused
        now = self._clock.now_ms()
        config = ApplicationConfig(
            guild_id=guild_id,
            config_id=await self._fresh_id(guild_id, now, draft.admin_id),
            title=draft.text.title,
            description=draft.text.description,
            channel_format=draft.text.channel_format,
            target_channel_id=target.id,
            category_id=category.id,
            button_style=draft.style,
            production_role=draft.role_id,
            created_by=draft.admin_id,
            stage=ACTIVE,
            created_at_ms=now,
            last_updated_ms=now,
        )
        message_id = await self._discord.post_card(target.id, admin.card_of(config))
        posted = dataclasses.replace(config, posted_channel_id=target.id, posted_message_id=message_id)
        try:
            await self._configs.create(posted)
        except StorageError:
            await self._undo_card(target.id, message_id)
            raise
        return Posted(posted)

    async def _fresh_id(self, guild_id: GuildId, now_ms: int, admin_id: UserId) -> ConfigId:
        """Return ``config_<ms>_<admin>``, moving the time on if that id is taken (two posts in one ms)."""
        while await self._configs.find(guild_id, candidate := admin.new_config_id(now_ms, admin_id)) is not None:
            now_ms += 1
        return candidate

    async def _undo_card(self, channel_id: ChannelId, message_id: MessageId) -> None:
        """Delete a card whose config could not be saved, so no button leads nowhere."""
        try:
            await self._discord.delete_card(channel_id, message_id)
        except DiscordError as exc:
            logger.error("could not delete unsaved card channel=%s message=%s error=%s", channel_id, message_id, exc)

    async def _check_role(self, guild_id: GuildId, role_id: RoleId) -> Refusal | None:
        info = None if role_id == guild_id else await self._discord.role(guild_id, role_id)
        return admin.check_production_role(guild_id, role_id, info)

    async def _check_target(self, guild_id: GuildId, channel_id: ChannelId) -> ChannelInfo | Refusal:
        info = await self._discord.channel(guild_id, channel_id)
        if info is None:
            return Refusal(Reason.CHANNEL_MISSING, f"<#{channel_id}>")
        if info.kind is not ChannelKind.TEXT:
            return Refusal(Reason.CHANNEL_NOT_TEXT, f"<#{channel_id}>")
        if lacking := missing(info.bot_permissions, CARD_REQUIRED):
            return Refusal(Reason.CANNOT_POST, f"<#{channel_id}>: {describe(lacking)}")
        return info

    async def _check_category(self, guild_id: GuildId, category_id: ChannelId) -> CategoryUse | Refusal:
        info = await self._discord.channel(guild_id, category_id)
        if info is None or info.kind is not ChannelKind.CATEGORY:
            return Refusal(Reason.CATEGORY_MISSING, f"<#{category_id}>")
        if lacking := missing(info.bot_permissions, BOT_REQUIRED):
            return Refusal(Reason.CANNOT_MANAGE, f"{info.name}: {describe(lacking)}")
        use = await self._category_use(guild_id, category_id)
        if use is None:
            return Refusal(Reason.CATEGORY_MISSING, f"<#{category_id}>")
        if use.used >= CATEGORY_LIMIT:
            return Refusal(Reason.CATEGORY_FULL, use.name)
        return use

    async def _category_use(self, guild_id: GuildId, category_id: ChannelId) -> CategoryUse | None:
        return next((c for c in await self._discord.categories(guild_id) if c.id == category_id), None)

    # ---- managing -----------------------------------------------------------------------------

    async def list_configs(self, guild_id: GuildId) -> list[ConfigRow]:
        """Return every config of the guild with its applications count and its category's use."""
        configs = await self._configs.all_configs(guild_id)
        counts = await self._configs.application_counts(guild_id)
        try:
            categories = {c.id: c for c in await self._discord.categories(guild_id)} if configs else {}
        except DiscordError as exc:  # the list is still useful without the categories' use
            logger.warning("categories unavailable for /apps list guild=%s error=%s", guild_id, exc)
            categories = {}
        return [
            ConfigRow(c, counts.get(c.config_id, 0), categories.get(c.category_id) if c.category_id else None)
            for c in configs
        ]

    async def choices(self, guild_id: GuildId, typed: str) -> list[tuple[str, str]]:
        """Return up to 25 ``(label, config id)`` of this guild matching what the admin typed."""
        needle = typed.strip().lower()
        rows: list[tuple[str, str]] = []
        for config in reversed(await self._configs.all_configs(guild_id)):  # newest first
            if needle and needle not in config.title.lower() and needle not in config.config_id.lower():
                continue
            state = "open" if config.is_open else "closed"
            rows.append((f"{config.title[:60]} · {state} · {config.config_id}"[:100], config.config_id))
            if len(rows) == MAX_CHOICES:
                break
        return rows

    async def find(self, guild_id: GuildId, config_id: ConfigId) -> ConfigRow | Refusal:
        """Return one config of this guild with its applications count, or ``CONFIG_NOT_FOUND``."""
        config = await self._configs.find(guild_id, config_id)
        if config is None:
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        counts = await self._configs.application_counts(guild_id)
        return ConfigRow(config, counts.get(config_id, 0), None)

    async def edit(self, guild_id: GuildId, config_id: ConfigId, changes: ConfigChanges) -> Changed | Refusal:
        """Change text, style, category or role; the posted card is updated in place."""
        return await self._safely(self._edit(guild_id, config_id, changes))

    async def _edit(self, guild_id: GuildId, config_id: ConfigId, changes: ConfigChanges) -> Changed | Refusal:
        config = await self._configs.find(guild_id, config_id)
        if config is None:
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        if changes.empty:
            return Refusal(Reason.NOTHING_TO_CHANGE)
        updated = _apply_text(config, changes)
        if isinstance(updated, Refusal):
            return updated
        if changes.category_id is not None:
            category = await self._check_category(guild_id, changes.category_id)
            if isinstance(category, Refusal):
                return category
            updated = dataclasses.replace(updated, category_id=category.id)
        if changes.remove_role:
            updated = dataclasses.replace(updated, production_role=None)
        elif changes.production_role is not None:
            if (refused := await self._check_role(guild_id, changes.production_role)) is not None:
                return refused
            updated = dataclasses.replace(updated, production_role=changes.production_role)
        now = self._clock.now_ms()
        updated = dataclasses.replace(updated, last_updated_ms=now)
        if not await self._configs.update(guild_id, config_id, admin.castbot_fields(updated, changes, now)):
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        logger.info("apply config edited guild=%s config=%s changes=%s", guild_id, config_id, changes)
        return Changed(updated, await self._refresh_card(updated))

    async def set_stage(self, guild_id: GuildId, config_id: ConfigId, stage: str) -> Changed | Refusal:
        """Open (``active``) or close (``closed``) applications; the card's button follows."""
        return await self._safely(self._set_stage(guild_id, config_id, stage))

    async def _set_stage(self, guild_id: GuildId, config_id: ConfigId, stage: str) -> Changed | Refusal:
        config = await self._configs.find(guild_id, config_id)
        if config is None:
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        already = config.stage == stage
        if not already:
            now = self._clock.now_ms()
            config = dataclasses.replace(config, stage=stage, last_updated_ms=now)
            if not await self._configs.update(guild_id, config_id, {"stage": stage, "lastUpdated": now}):
                return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
            logger.info("apply config stage guild=%s config=%s stage=%s", guild_id, config_id, stage)
        # Refreshed even when unchanged: a card edited by hand or a failed earlier update is put right.
        return Changed(config, await self._refresh_card(config), already=already)

    async def delete(self, guild_id: GuildId, config_id: ConfigId) -> Deleted | Refusal:
        """Remove a config: its card shows a disabled "Applications closed"; applications and channels stay."""
        return await self._safely(self._delete(guild_id, config_id))

    async def _delete(self, guild_id: GuildId, config_id: ConfigId) -> Deleted | Refusal:
        config = await self._configs.find(guild_id, config_id)
        if config is None:
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        card = await self._refresh_card(config, deleted=True)
        if not await self._configs.delete(guild_id, config_id):
            return Refusal(Reason.CONFIG_NOT_FOUND, config_id)
        applications = (await self._configs.application_counts(guild_id)).get(config_id, 0)
        logger.info("apply config deleted guild=%s config=%s card=%s", guild_id, config_id, card.value)
        return Deleted(config, card, applications)

    async def _refresh_card(self, config: ApplicationConfig, *, deleted: bool = False) -> CardUpdate:
        """Show the config's state on its posted card; a failure is reported, never raised."""
        if config.posted_channel_id is None or config.posted_message_id is None:
            return CardUpdate.NOT_POSTED
        card = admin.card_of(config, deleted=deleted)
        try:
            found = await self._discord.edit_card(config.posted_channel_id, config.posted_message_id, card)
        except DiscordError as exc:
            logger.warning("card update failed config=%s error=%s", config.config_id, exc)
            return CardUpdate.FAILED
        return CardUpdate.UPDATED if found else CardUpdate.GONE

    # ---- notify channel -----------------------------------------------------------------------

    async def notify_channel(self, guild_id: GuildId) -> ChannelId | None:
        """Return the admins' notify channel, if set."""
        return await self._settings.get_notify_channel(guild_id)

    async def set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> ChannelId | Refusal | None:
        """Set (after checking the bot can post there) or clear the admins' notify channel."""
        return await self._safely(self._set_notify_channel(guild_id, channel_id))

    async def _set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> ChannelId | Refusal | None:
        if channel_id is not None:
            info = await self._discord.channel(guild_id, channel_id)
            if info is None:
                return Refusal(Reason.CHANNEL_MISSING, f"<#{channel_id}>")
            if info.kind is not ChannelKind.TEXT:
                return Refusal(Reason.CHANNEL_NOT_TEXT, f"<#{channel_id}>")
            if lacking := missing(info.bot_permissions, NOTIFY_REQUIRED):
                return Refusal(Reason.CANNOT_POST, f"<#{channel_id}>: {describe(lacking)}")
        await self._settings.set_notify_channel(guild_id, channel_id)
        logger.info("notify channel set guild=%s channel=%s", guild_id, channel_id)
        return channel_id


def _apply_text(config: ApplicationConfig, changes: ConfigChanges) -> ApplicationConfig | Refusal:
    """Return ``config`` with the text and style changes applied, or the first invalid one."""
    updated = config
    if changes.title is not None:
        title = admin.check_title(changes.title)
        if isinstance(title, Refusal):
            return title
        updated = dataclasses.replace(updated, title=title)
    if changes.description is not None:
        description = admin.check_description(changes.description)
        if isinstance(description, Refusal):
            return description
        updated = dataclasses.replace(updated, description=description)
    if changes.channel_format is not None:
        channel_format = admin.check_format(changes.channel_format)
        if isinstance(channel_format, Refusal):
            return channel_format
        updated = dataclasses.replace(updated, channel_format=channel_format)
    if changes.button_style is not None:
        updated = dataclasses.replace(updated, button_style=changes.button_style)
    return updated
