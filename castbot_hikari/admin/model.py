"""Admin values: validation of what admins type, config changes, the posted card, and why a change is refused.

No hikari, no I/O. Configs themselves are CastBot's (``castbot.config.ApplicationConfig``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, Final

from castbot_hikari.castbot.config import DEFAULT_CHANNEL_FORMAT, ApplicationConfig, ButtonStyle, id_str
from castbot_hikari.core import naming
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, RoleId, UserId
from castbot_hikari.core.permissions import Permission

MAX_TITLE: Final = 80
MAX_DESCRIPTION: Final = 2000
MAX_FORMAT: Final = 100
# The fixed part of a format must leave room in Discord's 100-character channel names for the name itself.
MAX_FORMAT_FIXED: Final = 80
CATEGORY_LIMIT: Final = 50
OPEN_LABEL: Final = "📝 Open Application"
DELETED_LABEL: Final = "Applications closed"
# What the bot needs in the channel where the card is posted (the card is an embed).
CARD_REQUIRED: Final = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.EMBED_LINKS
# What an admin needs: Manage Server (Administrator implies it).
ADMIN_REQUIRED: Final = Permission.MANAGE_GUILD
_SPACES: Final = re.compile(r"\s+")


def new_config_id(now_ms: int, creator: UserId) -> ConfigId:
    """Return a config id in CastBot's form ``config_<epoch ms>_<creator id>``."""
    return ConfigId(f"config_{now_ms}_{creator}")


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
    ROLE_EVERYONE = "role_everyone"
    ROLE_MANAGED = "role_managed"
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


def castbot_fields(config: ApplicationConfig, changes: ConfigChanges, now_ms: int) -> dict[str, Any]:
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
        fields["categoryId"] = id_str(config.category_id)
    if changes.production_role is not None or changes.remove_role:
        fields["productionRole"] = id_str(config.production_role)
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


def card_of(config: ApplicationConfig, *, deleted: bool = False) -> Card:
    """Return the card a config shows (open, closed, or deleted)."""
    state = CardState.OPEN if config.is_open else CardState.CLOSED
    if deleted:
        state = CardState.DELETED
    return Card(config.config_id, config.title, config.description, config.button_style, state)


class ChannelKind(enum.Enum):
    """The kinds of guild channel the admin commands care about."""

    TEXT = "text"
    CATEGORY = "category"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A guild channel as the admin checks need it.

    Attributes:
        bot_permissions: The bot's effective permissions in it (0 when the bot cannot see it).
    """

    id: ChannelId
    guild_id: GuildId
    name: str
    kind: ChannelKind
    bot_permissions: int


@dataclass(frozen=True, slots=True)
class CategoryUse:
    """A category and how many channels it holds (Discord allows 50)."""

    id: ChannelId
    name: str
    used: int


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A guild role as the production-role check needs it."""

    id: RoleId
    managed: bool


def check_production_role(guild_id: GuildId, role_id: RoleId, info: RoleInfo | None) -> Refusal | None:
    """Return why ``role_id`` cannot be the production role (``None`` if it can).

    @everyone (whose id is the guild's) would let every member see every application channel, and would
    give the channel two overwrites for one id; a managed role belongs to a bot or an integration.
    """
    if role_id == guild_id:
        return Refusal(Reason.ROLE_EVERYONE)
    if info is None:
        return Refusal(Reason.ROLE_MISSING, f"<@&{role_id}>")
    if info.managed:
        return Refusal(Reason.ROLE_MANAGED, f"<@&{role_id}>")
    return None
