"""Admin values: Apply button configs as admins manage them, their cards, and why a change is refused.

No hikari, no I/O. A config is stored in CastBot's ``applicationConfigs`` shape (see ``DATA.md``) plus the
posted card's channel and message ids, so the card can be updated in place later.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, NewType

from castbot_hikari.apply.model import DEFAULT_CHANNEL_FORMAT
from castbot_hikari.core import naming
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, RoleId, UserId
from castbot_hikari.core.permissions import Permission

MessageId = NewType("MessageId", int)

MAX_TITLE: Final = 80
MAX_DESCRIPTION: Final = 2000
MAX_FORMAT: Final = 100
# The fixed part of a format must leave room in Discord's 100-character channel names for the name itself.
MAX_FORMAT_FIXED: Final = 80
CATEGORY_LIMIT: Final = 50
OPEN_LABEL: Final = "📝 Open Application"
DELETED_LABEL: Final = "Applications closed"
ACTIVE: Final = "active"
CLOSED: Final = "closed"
# What the bot needs in the channel where the card is posted (the card is an embed).
CARD_REQUIRED: Final = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.EMBED_LINKS
# What an admin needs: Manage Server (Administrator implies it).
ADMIN_REQUIRED: Final = Permission.MANAGE_GUILD
_SPACES: Final = re.compile(r"\s+")


def is_admin(member_permissions: int) -> bool:
    """Return whether a member's permissions allow the ``/apps`` commands (Manage Server or Administrator)."""
    return bool(member_permissions & (Permission.MANAGE_GUILD | Permission.ADMINISTRATOR))


def new_config_id(now_ms: int, creator: UserId) -> ConfigId:
    """Return a config id in CastBot's form ``config_<epoch ms>_<creator id>``."""
    return ConfigId(f"config_{now_ms}_{creator}")


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


class Reason(enum.Enum):
    """Why an admin action changed nothing; each has a sentence in ``ui.admin_render``."""

    NOT_ADMIN = "not_admin"
    NOT_IN_GUILD = "not_in_guild"
    CONFIG_NOT_FOUND = "config_not_found"
    TITLE_EMPTY = "title_empty"
    TITLE_TOO_LONG = "title_too_long"
    DESCRIPTION_TOO_LONG = "description_too_long"
    FORMAT_EMPTY = "format_empty"
    FORMAT_WITHOUT_NAME = "format_without_name"
    FORMAT_TOO_LONG = "format_too_long"
    SETUP_EXPIRED = "setup_expired"
    SETUP_INCOMPLETE = "setup_incomplete"
    SETUP_BUSY = "setup_busy"
    CHANNEL_MISSING = "channel_missing"
    CHANNEL_NOT_TEXT = "channel_not_text"
    CATEGORY_MISSING = "category_missing"
    CATEGORY_FULL = "category_full"
    ROLE_MISSING = "role_missing"
    CANNOT_POST = "cannot_post"
    CANNOT_MANAGE = "cannot_manage"
    NOTHING_TO_CHANGE = "nothing_to_change"
    RETRY_RUNNING = "retry_running"
    DISCORD_UNAVAILABLE = "discord_unavailable"
    STORAGE = "storage"


@dataclass(frozen=True, slots=True)
class Refusal:
    """An admin action that changed nothing, and why.

    Attributes:
        reason: The kind of problem.
        detail: Words the message needs (missing permissions, a length, a channel mention...).
    """

    reason: Reason
    detail: str = ""


def check_title(title: str) -> str | Refusal:
    """Return the cleaned card title, or why it is refused."""
    cleaned = title.strip()
    if not cleaned:
        return Refusal(Reason.TITLE_EMPTY)
    if len(cleaned) > MAX_TITLE:
        return Refusal(Reason.TITLE_TOO_LONG, str(len(cleaned)))
    return cleaned


def check_description(description: str) -> str | Refusal:
    """Return the cleaned description (may be empty), or why it is refused."""
    cleaned = description.strip()
    if len(cleaned) > MAX_DESCRIPTION:
        return Refusal(Reason.DESCRIPTION_TOO_LONG, str(len(cleaned)))
    return cleaned


def check_format(channel_format: str) -> str | Refusal:
    """Return the cleaned channel name format, or why it is refused.

    A format is cleaned like a text channel name (spaces become ``-``, ends trimmed); one that cleans to
    nothing, lacks ``%name%`` or leaves no room for the name in Discord's 100 characters is refused.
    """
    cleaned = _SPACES.sub("-", channel_format.strip()).strip("-")
    if not cleaned:
        return Refusal(Reason.FORMAT_EMPTY)
    if naming.NAME_PLACEHOLDER not in cleaned:
        return Refusal(Reason.FORMAT_WITHOUT_NAME)
    fixed = cleaned.replace(naming.NAME_PLACEHOLDER, "")
    if len(cleaned) > MAX_FORMAT or len(fixed) > MAX_FORMAT_FIXED:
        return Refusal(Reason.FORMAT_TOO_LONG, str(len(fixed)))
    return cleaned


@dataclass(frozen=True, slots=True)
class CardText:
    """The admin-written text of an Apply card, validated."""

    title: str
    description: str
    channel_format: str


def check_text(title: str, description: str, channel_format: str) -> CardText | Refusal:
    """Validate the three texts of the post modal; the first problem found is returned."""
    checked_title = check_title(title)
    if isinstance(checked_title, Refusal):
        return checked_title
    checked_description = check_description(description)
    if isinstance(checked_description, Refusal):
        return checked_description
    checked_format = check_format(channel_format or DEFAULT_CHANNEL_FORMAT)
    if isinstance(checked_format, Refusal):
        return checked_format
    return CardText(checked_title, checked_description, checked_format)


def example_channel_name(channel_format: str) -> str:
    """Return the channel name an applicant called "Kevin A" would get with this format."""
    return naming.channel_name(channel_format, "Kevin A", UserId(0))


def _snowflake(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class AppsConfig:
    """An Apply button's configuration as the admin commands see it (CastBot fields plus the posted card)."""

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
    def from_castbot(cls, guild_id: GuildId, config_id: ConfigId, raw: Mapping[str, Any]) -> AppsConfig:
        """Read a config from CastBot's JSON object, tolerating missing or odd fields."""

        def snowflake(key: str) -> int | None:
            return _snowflake(raw.get(key))

        fmt = _text(raw.get("channelFormat")).strip()
        target, category, role = snowflake("targetChannelId"), snowflake("categoryId"), snowflake("productionRole")
        creator, posted_channel, posted_message = snowflake("createdBy"), snowflake("postedChannelId"), None
        if (message := snowflake("postedMessageId")) is not None:
            posted_message = MessageId(message)
        return cls(
            guild_id=guild_id,
            config_id=config_id,
            title=_text(raw.get("buttonText")) or _text(raw.get("seasonName")) or "Apply",
            description=_text(raw.get("explanatoryText")),
            channel_format=fmt or DEFAULT_CHANNEL_FORMAT,
            target_channel_id=ChannelId(target) if target is not None else None,
            category_id=ChannelId(category) if category is not None else None,
            button_style=ButtonStyle.parse(raw.get("buttonStyle")) or ButtonStyle.PRIMARY,
            production_role=RoleId(role) if role is not None else None,
            created_by=UserId(creator) if creator is not None else None,
            stage=_text(raw.get("stage")) or ACTIVE,
            created_at_ms=_int(raw.get("createdAt")),
            last_updated_ms=_int(raw.get("lastUpdated")),
            posted_channel_id=ChannelId(posted_channel) if posted_channel is not None else None,
            posted_message_id=posted_message,
        )

    def to_castbot(self) -> dict[str, Any]:
        """Return a new config object in CastBot's shape (with ``questions`` empty, as CastBot starts)."""
        return {
            "seasonName": self.title,
            "buttonText": self.title,
            "explanatoryText": self.description,
            "channelFormat": self.channel_format,
            "targetChannelId": _id_str(self.target_channel_id),
            "categoryId": _id_str(self.category_id),
            "buttonStyle": self.button_style.value,
            "productionRole": _id_str(self.production_role),
            "createdBy": _id_str(self.created_by),
            "stage": self.stage,
            "createdAt": self.created_at_ms,
            "lastUpdated": self.last_updated_ms,
            "questions": [],
            "postedChannelId": _id_str(self.posted_channel_id),
            "postedMessageId": _id_str(self.posted_message_id),
        }


def _id_str(value: int | None) -> str | None:
    return str(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class ConfigChanges:
    """What ``/apps edit`` asks to change; ``None`` means "leave as is"."""

    title: str | None = None
    description: str | None = None
    channel_format: str | None = None
    button_style: ButtonStyle | None = None
    category_id: ChannelId | None = None
    production_role: RoleId | None = None
    remove_role: bool = False

    @property
    def empty(self) -> bool:
        """Whether nothing was asked."""
        return self == ConfigChanges()


def castbot_fields(config: AppsConfig, changes: ConfigChanges, now_ms: int) -> dict[str, Any]:
    """Return the CastBot fields to set for an edit whose values are already validated into ``config``.

    The title is CastBot's ``buttonText``; ``seasonName`` is left alone (CastBot seasons keep their name).
    """
    fields: dict[str, Any] = {"lastUpdated": now_ms}
    if changes.title is not None:
        fields["buttonText"] = config.title
    if changes.description is not None:
        fields["explanatoryText"] = config.description
    if changes.channel_format is not None:
        fields["channelFormat"] = config.channel_format
    if changes.button_style is not None:
        fields["buttonStyle"] = config.button_style.value
    if changes.category_id is not None:
        fields["categoryId"] = _id_str(config.category_id)
    if changes.production_role is not None or changes.remove_role:
        fields["productionRole"] = _id_str(config.production_role)
    return fields


class CardState(enum.Enum):
    """What the posted card's button does."""

    OPEN = "open"
    CLOSED = "closed"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Card:
    """The posted Apply card: title, description and one button ``apply_<configId>``."""

    config_id: ConfigId
    title: str
    description: str
    style: ButtonStyle
    state: CardState

    @property
    def label(self) -> str:
        """Return the button's label."""
        return DELETED_LABEL if self.state is CardState.DELETED else OPEN_LABEL

    @property
    def enabled(self) -> bool:
        """Return whether the button can be clicked."""
        return self.state is CardState.OPEN


def card_of(config: AppsConfig, *, deleted: bool = False) -> Card:
    """Return the card a config shows (open, closed, or deleted)."""
    state = CardState.OPEN if config.is_open else CardState.CLOSED
    if deleted:
        state = CardState.DELETED
    return Card(config.config_id, config.title, config.description, config.button_style, state)
