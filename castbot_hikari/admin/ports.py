"""Protocols the admin services depend on (``/apps``); adapters implement them (hikari REST, JSON file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from castbot_hikari.admin.model import Card, CategoryUse, ChannelInfo, RoleInfo
from castbot_hikari.apply.model import ApplyOutcome, Pending, Undelivered
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, RoleId
from castbot_hikari.core.metrics import Summary


class AdminDiscord(Protocol):
    """The Discord calls of the admin commands; adapters raise ``DiscordError`` on failure."""

    async def channel(self, guild_id: GuildId, channel_id: ChannelId) -> ChannelInfo | None:
        """Return a channel of this guild with the bot's permissions in it, or ``None`` if it is gone."""
        ...

    async def categories(self, guild_id: GuildId) -> list[CategoryUse]:
        """Return the guild's categories in display order, with their use."""
        ...

    async def role(self, guild_id: GuildId, role_id: RoleId) -> RoleInfo | None:
        """Return a role of this guild, or ``None`` if it does not exist (here)."""
        ...

    async def post_card(self, channel_id: ChannelId, card: Card) -> MessageId:
        """Post an Apply card and return its message id."""
        ...

    async def edit_card(self, channel_id: ChannelId, message_id: MessageId, card: Card) -> bool:
        """Update a posted card in place; return ``False`` when the message (or channel) is gone."""
        ...

    async def delete_card(self, channel_id: ChannelId, message_id: MessageId) -> None:
        """Delete a posted card (used to undo a card whose config could not be saved)."""
        ...


class ConfigRepository(Protocol):
    """Apply configs of each guild; every change is durable when the call returns (else ``StorageError``)."""

    async def all_configs(self, guild_id: GuildId) -> list[ApplicationConfig]:
        """Return the guild's configs, oldest first."""
        ...

    async def find(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        ...

    async def create(self, config: ApplicationConfig) -> None:
        """Store a new config."""
        ...

    async def update(self, guild_id: GuildId, config_id: ConfigId, fields: Mapping[str, object]) -> bool:
        """Set CastBot fields of an existing config (others untouched); ``False`` if it no longer exists."""
        ...

    async def delete(self, guild_id: GuildId, config_id: ConfigId) -> bool:
        """Remove a config (its applications stay); ``False`` if it did not exist."""
        ...

    async def application_counts(self, guild_id: GuildId) -> Mapping[ConfigId, int]:
        """Return the number of recorded applications per config of the guild."""
        ...


class GuildSettings(Protocol):
    """Per-guild settings of this bot."""

    async def get_notify_channel(self, guild_id: GuildId) -> ChannelId | None:
        """Return the admins' notify channel, if set."""
        ...

    async def set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> None:
        """Set or clear the admins' notify channel."""
        ...


class PendingApplies(Protocol):
    """Applies that did not finish, and finishing them (the apply service provides both)."""

    async def list_pending(self, guild_id: GuildId) -> list[Pending]:
        """Return the guild's unfinished applies, oldest first."""
        ...

    async def resume(self, pending: Pending) -> ApplyOutcome:
        """Finish one unfinished apply; never raises for expected failures."""
        ...


class UndeliveredLog(Protocol):
    """Results the applicants never saw."""

    async def list_undelivered(self, guild_id: GuildId | None = None) -> list[Undelivered]:
        """Return kept undelivered results (of one guild), oldest first."""
        ...


class MetricsReader(Protocol):
    """Counters and timings since this process started (with a shared store: of every live process)."""

    def snapshot(self) -> Mapping[str, int]:
        """Return a copy of all counters."""
        ...

    def summary(self, name: str) -> Summary:
        """Return count and percentiles of a timing."""
        ...

    def processes(self) -> int:
        """Return how many bot processes the figures cover (1: this one only)."""
        ...
