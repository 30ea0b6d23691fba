"""Discord permission arithmetic: guild base permissions and channel overwrites."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from castbot_hikari.testing.emulator.state import ChannelState, GuildState

CREATE_INSTANT_INVITE: Final = 1 << 0
KICK_MEMBERS: Final = 1 << 1
BAN_MEMBERS: Final = 1 << 2
ADMINISTRATOR: Final = 1 << 3
MANAGE_CHANNELS: Final = 1 << 4
MANAGE_GUILD: Final = 1 << 5
ADD_REACTIONS: Final = 1 << 6
VIEW_CHANNEL: Final = 1 << 10
SEND_MESSAGES: Final = 1 << 11
MANAGE_MESSAGES: Final = 1 << 13
EMBED_LINKS: Final = 1 << 14
ATTACH_FILES: Final = 1 << 15
READ_MESSAGE_HISTORY: Final = 1 << 16
MENTION_EVERYONE: Final = 1 << 17
USE_EXTERNAL_EMOJIS: Final = 1 << 18
CONNECT: Final = 1 << 20
SPEAK: Final = 1 << 21
CHANGE_NICKNAME: Final = 1 << 26
MANAGE_ROLES: Final = 1 << 28
USE_APPLICATION_COMMANDS: Final = 1 << 31
SEND_MESSAGES_IN_THREADS: Final = 1 << 38
ALL: Final = (1 << 51) - 1
"""Every permission bit Discord currently defines (bits 0-50)."""

DEFAULT_EVERYONE: Final = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | CONNECT
    | SPEAK
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | SEND_MESSAGES_IN_THREADS
)
"""What Discord gives @everyone in a new server (the parts that matter here)."""

DEFAULT_BOT: Final = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY | MANAGE_CHANNELS | MANAGE_ROLES
"""A typical invite for this bot: manage channels and overwrites, read and send messages."""

ROLE_OVERWRITE: Final = 0
MEMBER_OVERWRITE: Final = 1


def base_permissions(guild: GuildState, user_id: int) -> int:
    """Return a member's guild-level permissions (@everyone plus their roles).

    The owner and administrators get every permission.
    """
    if user_id == guild.owner_id:
        return ALL
    member = guild.members.get(user_id)
    everyone = guild.roles.get(guild.id)
    perms = everyone.permissions if everyone else 0
    for role_id in member.roles if member else ():
        role = guild.roles.get(role_id)
        if role is not None:
            perms |= role.permissions
    return ALL if perms & ADMINISTRATOR else perms


def channel_permissions(guild: GuildState, user_id: int, channel: ChannelState) -> int:
    """Return a member's permissions in a channel, applying overwrites in Discord's order.

    Order: @everyone overwrite, then all role overwrites together (deny, then allow), then the
    member overwrite. Without VIEW_CHANNEL in the result a member has no permission in the channel.
    """
    perms = base_permissions(guild, user_id)
    if perms & ADMINISTRATOR:
        return ALL
    overwrites = {ow["id"]: ow for ow in channel.permission_overwrites}
    everyone = overwrites.get(guild.id)
    if everyone is not None:
        perms = (perms & ~everyone["deny"]) | everyone["allow"]
    member = guild.members.get(user_id)
    allow = deny = 0
    for role_id in member.roles if member else ():
        ow = overwrites.get(role_id)
        if ow is not None and ow["type"] == ROLE_OVERWRITE:
            allow |= ow["allow"]
            deny |= ow["deny"]
    perms = (perms & ~deny) | allow
    own = overwrites.get(user_id)
    if own is not None and own["type"] == MEMBER_OVERWRITE:
        perms = (perms & ~own["deny"]) | own["allow"]
    return perms if perms & VIEW_CHANNEL else 0


def missing(have: int, need: Iterable[int]) -> int:
    """Return the bits of ``need`` that ``have`` lacks."""
    wanted = 0
    for bit in need:
        wanted |= bit
    return wanted & ~have
