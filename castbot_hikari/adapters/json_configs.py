"""Per-guild settings of this bot (the admins' notify channel) in the journaled CastBot file.

They live under ``_castbotHikari.guilds.<guildId>`` so CastBot's own keys stay untouched.
"""

from __future__ import annotations

from typing import Any, cast

from castbot_hikari.adapters.journal import JournaledDocument, del_op, set_op
from castbot_hikari.adapters.json_store import META
from castbot_hikari.domain.ids import ChannelId, GuildId


def _dict(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


class JsonGuildSettings:
    """Read and change one guild's bot settings; every change is durable when the call returns."""

    def __init__(self, document: JournaledDocument) -> None:
        self._doc = document

    def _guild(self, guild_id: GuildId) -> dict[str, Any]:
        return _dict(_dict(_dict(self._doc.doc.get(META)).get("guilds")).get(str(guild_id)))

    async def get_notify_channel(self, guild_id: GuildId) -> ChannelId | None:
        """Return the channel where admins are told what they must know, if one is set."""
        raw = self._guild(guild_id).get("notifyChannelId")
        return ChannelId(int(raw)) if isinstance(raw, str) and raw.isdigit() else None

    async def set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> None:
        """Set (or with ``None`` clear) the admins' notify channel."""
        path = (META, "guilds", str(guild_id), "notifyChannelId")
        await self._doc.change([del_op(*path) if channel_id is None else set_op(*path, value=str(channel_id))])
