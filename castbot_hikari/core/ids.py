"""Identifiers: Discord snowflakes as distinct types, CastBot config ids, and reading them from JSON."""

from __future__ import annotations

import re
from typing import Final, NewType

GuildId = NewType("GuildId", int)
UserId = NewType("UserId", int)
ChannelId = NewType("ChannelId", int)
RoleId = NewType("RoleId", int)
MessageId = NewType("MessageId", int)
ConfigId = NewType("ConfigId", str)

DISCORD_EPOCH_MS: Final = 1_420_070_400_000
CONFIG_ID_CHARS: Final = r"[A-Za-z0-9_-]{1,90}"
"""The alphabet of config ids (CastBot's are ``config_<epoch ms>_<creator id>``): any id of it is accepted,
so older or hand-edited configs still resolve, but nothing that could reach a path or a log line unescaped."""
_CONFIG_ID: Final = re.compile(CONFIG_ID_CHARS)


def snowflake_time_ms(snowflake: int) -> int:
    """Return the Unix time in milliseconds at which Discord created ``snowflake``."""
    return (snowflake >> 22) + DISCORD_EPOCH_MS


def parse_snowflake(value: object) -> int | None:
    """Read an optional snowflake stored as a string (CastBot) or an int; anything else is ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse_config_id(text: str) -> ConfigId | None:
    """Return ``text`` as a config id, or ``None`` if it is not one."""
    return ConfigId(text) if _CONFIG_ID.fullmatch(text) else None
