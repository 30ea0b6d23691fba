"""Discord permission bits and the overwrites of a private application channel."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from castbot_hikari.core.ids import GuildId, RoleId, UserId


class Permission(enum.IntFlag):
    """The Discord permission bits this bot uses (values from Discord's API)."""

    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28


NONE: Final = Permission(0)
APPLICANT_ALLOW: Final = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ATTACH_FILES
    | Permission.EMBED_LINKS
    | Permission.ADD_REACTIONS
)
PRODUCTION_ALLOW: Final = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.READ_MESSAGE_HISTORY
BOT_ALLOW: Final = (
    Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.READ_MESSAGE_HISTORY | Permission.MANAGE_CHANNELS
)
# What the bot must hold in the category to create an application channel: Discord only lets a bot
# grant in overwrites what it has itself, and the applicant's overwrite grants all of APPLICANT_ALLOW.
BOT_REQUIRED: Final = BOT_ALLOW | APPLICANT_ALLOW


class OverwriteTarget(enum.IntEnum):
    """Whom an overwrite applies to (Discord's overwrite ``type``)."""

    ROLE = 0
    MEMBER = 1


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A channel permission overwrite."""

    target_id: int
    target: OverwriteTarget
    allow: Permission = NONE
    deny: Permission = NONE


def application_overwrites(
    guild_id: GuildId, applicant: UserId, bot: UserId, production_role: RoleId | None
) -> tuple[Overwrite, ...]:
    """Return the overwrites of a private application channel.

    @everyone cannot see it; the applicant, the production role (if any) and the bot itself can. The
    bot's own overwrite keeps the channel manageable even where the category denies the bot.
    """
    overwrites = [
        # The @everyone role's id is the guild's id.
        Overwrite(guild_id, OverwriteTarget.ROLE, deny=Permission.VIEW_CHANNEL),
        Overwrite(applicant, OverwriteTarget.MEMBER, allow=APPLICANT_ALLOW),
        Overwrite(bot, OverwriteTarget.MEMBER, allow=BOT_ALLOW),
    ]
    # @everyone as production role (its id is the guild's, possible in CastBot data) would be a second
    # overwrite for one id, which Discord refuses, and would open the channel to everyone: left out.
    if production_role is not None and production_role != guild_id:
        overwrites.insert(2, Overwrite(production_role, OverwriteTarget.ROLE, allow=PRODUCTION_ALLOW))
    return tuple(overwrites)


def missing(have: int, need: Permission) -> Permission:
    """Return the bits of ``need`` that ``have`` lacks (none when ``have`` includes ADMINISTRATOR)."""
    if have & Permission.ADMINISTRATOR:
        return NONE
    return Permission(need & ~have)


def describe(perms: Permission) -> str:
    """Name permission bits the way Discord's UI does, e.g. ``Manage Channels, Send Messages``."""
    names = [flag.name.replace("_", " ").title() for flag in Permission if flag & perms and flag.name]
    return ", ".join(names)
