"""CastBot's Apply button config (``applicationConfigs.<configId>``): the one reader and writer.

Both the apply flow and the admin commands read configs through ``ApplicationConfig.from_castbot``, so a
missing or odd field means the same thing everywhere (a title falls back to ``seasonName``, then "Apply").
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, RoleId, UserId, parse_snowflake

ACTIVE: Final = "active"
CLOSED: Final = "closed"
DEFAULT_CHANNEL_FORMAT: Final = "📝%name%-app"
DEFAULT_TITLE: Final = "Apply"


class ButtonStyle(enum.Enum):
    """The Apply button's colour, named as CastBot stores it."""

    PRIMARY = "Primary"
    SECONDARY = "Secondary"
    SUCCESS = "Success"
    DANGER = "Danger"

    @classmethod
    def parse(cls, value: object) -> ButtonStyle | None:
        """Return the style named ``value`` (case-insensitive), or ``None``."""
        if not isinstance(value, str):
            return None
        for style in cls:
            if style.value.lower() == value.strip().lower():
                return style
        return None


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _id(value: object) -> int | None:
    return parse_snowflake(value)


def id_str(value: int | None) -> str | None:
    """Return a snowflake as CastBot stores it (a string), or ``None``."""
    return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class ApplicationConfig:
    """An Apply button's configuration: CastBot's fields plus the posted card's channel and message."""

    guild_id: GuildId
    config_id: ConfigId
    title: str
    description: str
    channel_format: str
    target_channel_id: ChannelId | None
    category_id: ChannelId | None
    button_style: ButtonStyle
    production_role: RoleId | None
    created_by: UserId | None
    stage: str
    created_at_ms: int
    last_updated_ms: int
    posted_channel_id: ChannelId | None = None
    posted_message_id: MessageId | None = None

    @property
    def is_open(self) -> bool:
        """Whether applicants can apply (CastBot's ``stage`` is anything but ``closed``)."""
        return self.stage != CLOSED

    @classmethod
    def from_castbot(cls, guild_id: GuildId, config_id: ConfigId, raw: Mapping[str, Any]) -> ApplicationConfig:
        """Read a config from CastBot's JSON object, tolerating missing or odd fields."""
        target, category, role = (
            _id(raw.get("targetChannelId")),
            _id(raw.get("categoryId")),
            _id(raw.get("productionRole")),
        )
        creator, posted_channel, posted_message = (
            _id(raw.get("createdBy")),
            _id(raw.get("postedChannelId")),
            _id(raw.get("postedMessageId")),
        )
        return cls(
            guild_id=guild_id,
            config_id=config_id,
            title=_text(raw.get("buttonText")).strip() or _text(raw.get("seasonName")).strip() or DEFAULT_TITLE,
            description=_text(raw.get("explanatoryText")),
            channel_format=_text(raw.get("channelFormat")).strip() or DEFAULT_CHANNEL_FORMAT,
            target_channel_id=ChannelId(target) if target is not None else None,
            category_id=ChannelId(category) if category is not None else None,
            button_style=ButtonStyle.parse(raw.get("buttonStyle")) or ButtonStyle.PRIMARY,
            production_role=RoleId(role) if role is not None else None,
            created_by=UserId(creator) if creator is not None else None,
            stage=_text(raw.get("stage")) or ACTIVE,
            created_at_ms=_int(raw.get("createdAt")),
            last_updated_ms=_int(raw.get("lastUpdated")),
            posted_channel_id=ChannelId(posted_channel) if posted_channel is not None else None,
            posted_message_id=MessageId(posted_message) if posted_message is not None else None,
        )

    def to_castbot(self) -> dict[str, Any]:
        """Return a new config object in CastBot's shape (with ``questions`` empty, as CastBot starts)."""
        return {
            "seasonName": self.title,
            "buttonText": self.title,
            "explanatoryText": self.description,
            "channelFormat": self.channel_format,
            "targetChannelId": id_str(self.target_channel_id),
            "categoryId": id_str(self.category_id),
            "buttonStyle": self.button_style.value,
            "productionRole": id_str(self.production_role),
            "createdBy": id_str(self.created_by),
            "stage": self.stage,
            "createdAt": self.created_at_ms,
            "lastUpdated": self.last_updated_ms,
            "questions": [],
            "postedChannelId": id_str(self.posted_channel_id),
            "postedMessageId": id_str(self.posted_message_id),
        }
