"""Who a message pings: ``mentions``, ``mention_roles`` and ``mention_everyone`` as Discord computes them.

Discord parses ``<@id>``/``<@!id>``, ``<@&id>``, ``@everyone`` and ``@here`` in the content and keeps
only what ``allowed_mentions`` allows: ``parse`` lists the kinds parsed wholesale (``"users"``,
``"roles"``, ``"everyone"``), ``users``/``roles`` list single ids; without ``allowed_mentions``
everything is parsed. A role that is not mentionable and @everyone/@here also need MENTION_EVERYONE
in the channel, except in webhook messages (interaction responses and follow-ups are webhook
messages, and webhooks may ping anyone, so the emulator errs on the side of reporting pings).
Mentions of unknown users or roles are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, cast

from castbot_hikari.testing.emulator import errors
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.state import EmulatorState, JSONObject, MessageState, UserState

PARSE_TYPES: Final = frozenset({"users", "roles", "everyone"})
_USER: Final = re.compile(r"<@!?(\d+)>")
_ROLE: Final = re.compile(r"<@&(\d+)>")
_EVERYONE: Final = re.compile(r"@(?:everyone|here)\b")
_EVERYTHING: Final[JSONObject] = {"parse": sorted(PARSE_TYPES)}


@dataclass(frozen=True, slots=True)
class Mentions:
    """What a message pings."""

    users: tuple[UserState, ...] = ()
    roles: tuple[int, ...] = ()
    everyone: bool = False


def check(raw: object) -> None:
    """Reject an ``allowed_mentions`` object Discord would reject.

    Raises:
        ApiError: 50035 ``MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE`` when ``parse`` has ``"users"``
            (``"roles"``) and ``users`` (``roles``) lists ids too.
    """
    if not isinstance(raw, dict):
        return
    allowed = cast("JSONObject", raw)
    parse = _parse(allowed)
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            message = f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.'
            raise errors.form_error("allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", message)


def resolve(state: EmulatorState, message: MessageState) -> Mentions:
    """Return whom ``message`` pings, given its content, ``allowed_mentions``, author and channel."""
    allowed = message.allowed_mentions if message.allowed_mentions is not None else _EVERYTHING
    parse = _parse(allowed)
    content = message.content
    users = _picked(_USER.findall(content), "users" in parse, allowed.get("users"))
    roles = _picked(_ROLE.findall(content), "roles" in parse, allowed.get("roles"))
    guild = state.guilds.get(message.guild_id) if message.guild_id is not None else None
    may_ping_all = message.webhook_id is not None or _has_mention_everyone(state, message)
    role_ids = tuple(
        r
        for r in roles
        if guild is not None and r in guild.roles and r != guild.id and (guild.roles[r].mentionable or may_ping_all)
    )
    everyone = "everyone" in parse and may_ping_all and _EVERYONE.search(content) is not None
    return Mentions(tuple(state.users[u] for u in users if u in state.users), role_ids, everyone)


def _parse(allowed: JSONObject) -> set[str]:
    return {str(kind) for kind in cast("list[object]", allowed.get("parse") or [])}


def _picked(found: Sequence[str], parse_all: bool, listed: object) -> list[int]:
    allowed = {str(i) for i in cast("list[object]", listed or [])}
    picked: list[int] = []
    for ident in found:
        if (parse_all or ident in allowed) and int(ident) not in picked:
            picked.append(int(ident))
    return picked


def _has_mention_everyone(state: EmulatorState, message: MessageState) -> bool:
    channel = state.channels.get(message.channel_id)
    if channel is None or message.guild_id is None:
        return False
    guild = state.guilds[message.guild_id]
    return bool(perms.channel_permissions(guild, message.author.id, channel) & perms.MENTION_EVERYONE)
