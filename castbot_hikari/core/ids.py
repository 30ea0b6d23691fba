"""Domain identifiers: Discord snowflakes as distinct types, and CastBot config ids."""

from __future__ import annotations

from typing import NewType

GuildId = NewType("GuildId", int)
UserId = NewType("UserId", int)
ChannelId = NewType("ChannelId", int)
RoleId = NewType("RoleId", int)
ConfigId = NewType("ConfigId", str)

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_time_ms(snowflake: int) -> int:
    """Return the Unix time in milliseconds at which Discord created ``snowflake``."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS
