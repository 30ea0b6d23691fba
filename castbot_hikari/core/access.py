"""A member's effective permissions in a channel, computed the way Discord documents it.

Used to check, before posting a card or saving a config, that the bot can send in the target channel and
manage channels in the category: a request Discord refuses with 403 counts towards its invalid-request ban.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from castbot_hikari.core.permissions import Permission

ALL: Final = (1 << 53) - 1
"""Every permission bit (what the owner and administrators have)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission overwrite of a channel: a role's (``member=False``) or a member's."""

    target_id: int
    member: bool
    allow: int
    deny: int


def is_admin(member_permissions: int) -> bool:
    """Return whether a member's permissions make them a server admin here (Manage Server or Administrator).

    The ``/apps`` commands and the questions flow's "only the applicant or an admin" rule both use it.
    """
    return bool(member_permissions & (Permission.MANAGE_GUILD | Permission.ADMINISTRATOR))


def effective_permissions(
    *,
    guild_id: int,
    owner_id: int | None,
    member_id: int,
    member_roles: Iterable[int],
    role_permissions: Mapping[int, int],
    overwrites: Iterable[Grant],
) -> int:
    """Return a member's permissions in a channel.

    Args:
        guild_id: The guild (its id is also the @everyone role's id).
        owner_id: The guild owner, who has every permission (``None`` if unknown).
        member_id: The member.
        member_roles: The member's role ids (with or without @everyone).
        role_permissions: Guild-level permissions by role id.
        overwrites: The channel's permission overwrites.
    """
    if owner_id is not None and member_id == owner_id:
        return ALL
    roles = set(member_roles) - {guild_id}
    base = role_permissions.get(guild_id, 0)
    for role in roles:
        base |= role_permissions.get(role, 0)
    if base & Permission.ADMINISTRATOR:
        return ALL
    by_target = {(grant.member, grant.target_id): grant for grant in overwrites}
    if (everyone := by_target.get((False, guild_id))) is not None:
        base = (base & ~everyone.deny) | everyone.allow
    allow = deny = 0
    for role in roles:
        if (grant := by_target.get((False, role))) is not None:
            allow |= grant.allow
            deny |= grant.deny
    base = (base & ~deny) | allow
    if (own := by_target.get((True, member_id))) is not None:
        base = (base & ~own.deny) | own.allow
    if not base & Permission.VIEW_CHANNEL:
        return 0  # Discord: without View Channel, no other permission applies in the channel
    return base
