"""Per-guild settings of this bot and the guilds' Apply configs, in the journaled CastBot file.

Settings (the admins' notify channel) live under ``_castbotHikari.guilds.<guildId>`` so CastBot's own keys
stay untouched; configs live where CastBot keeps them, ``<guildId>.applicationConfigs``.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any, cast

from castbot_hikari.castbot import document as castbot_doc
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS, META, as_object
from castbot_hikari.castbot.journal import JournaledDocument, del_op, set_op
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId


class JsonGuildSettings:
    """Read and change one guild's bot settings; every change is durable when the call returns."""

    def __init__(self, document: JournaledDocument) -> None:
        self._doc = document

    def _guild(self, guild_id: GuildId) -> dict[str, Any]:
        return as_object(castbot_doc.meta(self._doc, "guilds").get(str(guild_id)))

    async def get_notify_channel(self, guild_id: GuildId) -> ChannelId | None:
        """Return the channel where admins are told what they must know, if one is set."""
        raw = self._guild(guild_id).get("notifyChannelId")
        return ChannelId(int(raw)) if isinstance(raw, str) and raw.isdigit() else None

    async def set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> None:
        """Set (or with ``None`` clear) the admins' notify channel."""
        path = (META, "guilds", str(guild_id), "notifyChannelId")
        await self._doc.change([del_op(*path) if channel_id is None else set_op(*path, value=str(channel_id))])


class JsonConfigRepository:
    """The ``ConfigRepository`` on the journaled CastBot file: ``<guildId>.applicationConfigs.<configId>``.

    It shares the document with ``JsonApplicationRepository`` (one file, one journal, one writer). Edits set
    single fields, so keys this bot does not know (``questions``, ``seasonId``...) are kept as they are.
    """

    def __init__(self, document: JournaledDocument) -> None:
        self._doc = document

    def _configs(self, guild_id: GuildId) -> dict[str, Any]:
        return as_object(castbot_doc.guild(self._doc, guild_id).get(CONFIGS))

    async def all_configs(self, guild_id: GuildId) -> list[ApplicationConfig]:
        """Return the guild's configs, oldest first."""
        found = [
            ApplicationConfig.from_castbot(guild_id, ConfigId(config_id), cast("dict[str, Any]", raw))
            for config_id, raw in self._configs(guild_id).items()
            if isinstance(raw, dict)
        ]
        return sorted(found, key=lambda config: (config.created_at_ms, config.config_id))

    async def find(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        raw = self._configs(guild_id).get(config_id)
        if not isinstance(raw, dict):
            return None
        return ApplicationConfig.from_castbot(guild_id, config_id, cast("dict[str, Any]", raw))

    async def create(self, config: ApplicationConfig) -> None:
        """Store a new config in CastBot's shape."""
        await self._doc.change([set_op(str(config.guild_id), CONFIGS, config.config_id, value=config.to_castbot())])

    async def update(self, guild_id: GuildId, config_id: ConfigId, fields: Mapping[str, object]) -> bool:
        """Set fields of an existing config; ``False`` (nothing written) if it no longer exists.

        The existence check and the in-memory change happen without an ``await`` between them, so a
        concurrent delete can never be undone by an edit recreating half a config.
        """
        if not isinstance(self._configs(guild_id).get(config_id), dict):
            return False
        path = (str(guild_id), CONFIGS, config_id)
        await self._doc.change([set_op(*path, name, value=value) for name, value in fields.items()])
        return True

    async def delete(self, guild_id: GuildId, config_id: ConfigId) -> bool:
        """Remove a config (applications recorded for it stay); ``False`` if it did not exist."""
        if config_id not in self._configs(guild_id):
            return False
        await self._doc.change([del_op(str(guild_id), CONFIGS, config_id)])
        return True

    async def application_counts(self, guild_id: GuildId) -> Mapping[ConfigId, int]:
        """Return the number of recorded applications per config of the guild."""
        applications = as_object(castbot_doc.guild(self._doc, guild_id).get(APPLICATIONS))
        counts: collections.Counter[ConfigId] = collections.Counter()
        for raw in applications.values():
            config_id = as_object(raw).get("configId")
            if isinstance(config_id, str):
                counts[ConfigId(config_id)] += 1
        return dict(counts)
