"""Guild channel rules: create, edit and delete with Discord's limits and permission checks."""

from __future__ import annotations

from typing import Final, cast

from castbot_hikari.testing.emulator import errors, payloads
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.state import (
    GUILD_CATEGORY,
    SUPPORTED_CHANNEL_TYPES,
    ChannelState,
    GuildState,
    JSONObject,
    Overwrite,
    normalise_name,
)

MAX_GUILD_CHANNELS: Final = 500
MAX_CATEGORY_CHANNELS: Final = 50
RENAME_LIMIT: Final = 2
RENAME_WINDOW: Final = 600.0


def create(core: Core, guild: GuildState, body: JSONObject) -> ChannelState:
    """Create a channel as ``POST /guilds/{guild_id}/channels`` does, and dispatch CHANNEL_CREATE.

    Raises:
        ApiError: 50013 without VIEW_CHANNEL and MANAGE_CHANNELS where the channel goes (in its
            category, with the category's overwrites) or for overwrites beyond the bot's permissions
            there; 50035 for a bad name/type/parent, a full category or an overwrite id given twice;
            30013 for a full guild.
    """
    type_ = int(body.get("type") or 0)
    if type_ not in SUPPORTED_CHANNEL_TYPES:
        raise errors.form_error("type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(SUPPORTED_CHANNEL_TYPES)}.")
    name = _checked_name(body.get("name"), type_)
    parent = _checked_parent(core, guild, body.get("parent_id"), type_)
    have = _creator_permissions(core, guild, parent)
    needs = perms.MANAGE_CHANNELS | (perms.VIEW_CHANNEL if parent is not None else 0)
    if have & needs != needs:
        raise errors.api_error(errors.MISSING_PERMISSIONS)
    if len(guild.channel_ids) >= MAX_GUILD_CHANNELS:
        raise errors.api_error(errors.MAX_GUILD_CHANNELS)
    _check_category_room(core, guild, parent)
    overwrites = _checked_overwrites(core, guild, body.get("permission_overwrites"), have)
    if overwrites is None:
        # Discord syncs a new channel with its category when no overwrites are given.
        overwrites = [o.copy() for o in parent.permission_overwrites] if parent else []
    channel = core.state.add_channel(
        guild.id,
        type_,
        name,
        parent_id=parent.id if parent else None,
        topic=_checked_topic(body.get("topic")),
        permission_overwrites=overwrites,
        nsfw=bool(body.get("nsfw") or False),
        rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
        position=body.get("position"),
    )
    core.dispatcher.dispatch(guild.id, "CHANNEL_CREATE", payloads.channel(channel))
    return channel


def _creator_permissions(core: Core, guild: GuildState, parent: ChannelState | None) -> int:
    """Return the bot's permissions where a new channel goes: in its category, or in the guild."""
    bot = core.state.bot.id
    if parent is None or not core.settings.enforces("category_permissions"):
        return perms.base_permissions(guild, bot)
    return perms.channel_permissions(guild, bot, parent)


def edit(core: Core, channel: ChannelState, body: JSONObject) -> ChannelState:
    """Apply ``PATCH /channels/{channel_id}`` and dispatch CHANNEL_UPDATE.

    Every field is checked before anything changes, so a refused edit changes nothing.

    Raises:
        ApiError: 50001/50013 for missing permissions, 50035 for bad fields, 429 after two renames
            within ten minutes.
    """
    guild = core.state.guilds[channel.guild_id]
    have = require_manage(core, channel)
    name = _checked_name(body["name"], channel.type) if "name" in body else channel.name
    overwrites = channel.permission_overwrites
    if "permission_overwrites" in body:
        if not have & (perms.MANAGE_ROLES | perms.ADMINISTRATOR):
            raise errors.api_error(errors.MISSING_PERMISSIONS)
        overwrites = _checked_overwrites(core, guild, body["permission_overwrites"], have) or []
    parent_id = channel.parent_id
    if "parent_id" in body:
        parent = _checked_parent(core, guild, body["parent_id"], channel.type)
        if parent is not None and parent.id != channel.parent_id:
            _check_category_room(core, guild, parent)
        parent_id = parent.id if parent else None
    topic = _checked_topic(body["topic"]) if "topic" in body else channel.topic
    if name != channel.name:
        _count_rename(core, channel)  # last: a refused edit must not use up a rename
    channel.name, channel.permission_overwrites, channel.parent_id, channel.topic = name, overwrites, parent_id, topic
    for field in ("position", "nsfw", "rate_limit_per_user"):
        if body.get(field) is not None:
            setattr(channel, field, body[field])
    core.dispatcher.dispatch(guild.id, "CHANNEL_UPDATE", payloads.channel(channel))
    return channel


def delete(core: Core, channel: ChannelState) -> ChannelState:
    """Delete a channel (a category's children move to the top level) and dispatch events."""
    require_manage(core, channel)
    state = core.state
    state.remove_channel(channel.id)
    if channel.type == GUILD_CATEGORY:
        for child in state.guild_channels(channel.guild_id):
            if child.parent_id == channel.id:
                child.parent_id = None
                core.dispatcher.dispatch(child.guild_id, "CHANNEL_UPDATE", payloads.channel(child))
    core.dispatcher.dispatch(channel.guild_id, "CHANNEL_DELETE", payloads.channel(channel))
    return channel


def require_view(core: Core, channel: ChannelState) -> int:
    """Return the bot's permissions in a channel it can see.

    Raises:
        ApiError: 403 50001 Missing Access if the bot lacks VIEW_CHANNEL there.
    """
    have = perms.channel_permissions(core.state.guilds[channel.guild_id], core.state.bot.id, channel)
    if not have & perms.VIEW_CHANNEL:
        raise errors.api_error(errors.MISSING_ACCESS)
    return have


def require_manage(core: Core, channel: ChannelState) -> int:
    """Return the bot's channel permissions if it may manage the channel (else 50001/50013)."""
    have = require_view(core, channel)
    if not have & perms.MANAGE_CHANNELS:
        raise errors.api_error(errors.MISSING_PERMISSIONS)
    return have


def _checked_name(raw: object, type_: int) -> str:
    name = normalise_name(raw, type_) if isinstance(raw, str) else ""
    if not 1 <= len(name) <= 100 or not isinstance(raw, str) or len(raw) > 100:
        raise errors.form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    return name


def _checked_topic(raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 1024:
        raise errors.form_error("topic", "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length.")
    return raw


def _checked_parent(core: Core, guild: GuildState, raw: object, type_: int) -> ChannelState | None:
    if raw is None:
        return None
    parent = core.state.channels.get(int(str(raw))) if str(raw).isdigit() else None
    if parent is None or parent.guild_id != guild.id or parent.type != GUILD_CATEGORY or type_ == GUILD_CATEGORY:
        raise errors.form_error("parent_id", "CHANNEL_PARENT_INVALID", "Invalid parent channel.")
    return parent


def _check_category_room(core: Core, guild: GuildState, parent: ChannelState | None) -> None:
    if parent is None:
        return
    children = sum(1 for c in core.state.guild_channels(guild.id) if c.parent_id == parent.id)
    if children >= MAX_CATEGORY_CHANNELS:
        raise errors.form_error(
            "parent_id", "CHANNEL_PARENT_MAX_CHANNELS", "Maximum number of channels in category reached (50)"
        )


def _checked_overwrites(core: Core, guild: GuildState, raw: object, have: int) -> list[Overwrite] | None:
    """Parse overwrites; each id once, and the bot may only allow/deny bits it has, MANAGE_ROLES only as admin."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise errors.form_error("permission_overwrites", "BASE_TYPE_ARRAY", "Must be an array.")
    result = [_parse_overwrite(guild, item, index) for index, item in enumerate(cast("list[object]", raw))]
    if core.settings.enforces("duplicate_overwrites"):
        _check_unique_ids(result)
    for overwrite in result:
        bits = overwrite["allow"] | overwrite["deny"]
        if not have & perms.ADMINISTRATOR and (bits & perms.MANAGE_ROLES or bits & ~have):
            raise errors.api_error(errors.MISSING_PERMISSIONS)
    return result


def _check_unique_ids(overwrites: list[Overwrite]) -> None:
    seen: set[int] = set()
    for index, overwrite in enumerate(overwrites):
        if overwrite["id"] in seen:
            raise errors.form_error(
                f"permission_overwrites.{index}.id",
                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                "The set already contains this value",
            )
        seen.add(overwrite["id"])


def _parse_overwrite(guild: GuildState, item: object, index: int) -> Overwrite:
    where = f"permission_overwrites.{index}"
    if not isinstance(item, dict):
        raise errors.form_error(where, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
    ow = cast("JSONObject", item)
    try:
        overwrite = Overwrite(
            id=int(ow["id"]), type=int(ow["type"]), allow=int(ow.get("allow") or 0), deny=int(ow.get("deny") or 0)
        )
    except (KeyError, TypeError, ValueError):
        raise errors.form_error(
            where, "BASE_TYPE_REQUIRED", "id and type are required; allow/deny are integers."
        ) from None
    if overwrite["type"] not in (perms.ROLE_OVERWRITE, perms.MEMBER_OVERWRITE):
        raise errors.form_error(f"{where}.type", "BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
    if overwrite["type"] == perms.ROLE_OVERWRITE and overwrite["id"] not in guild.roles:
        raise errors.form_error(f"{where}.id", "UNKNOWN_ROLE", "Unknown role.")
    return overwrite


def _count_rename(core: Core, channel: ChannelState) -> None:
    now = core.clock()
    channel.renames[:] = [t for t in channel.renames if now - t < RENAME_WINDOW]
    if len(channel.renames) >= RENAME_LIMIT:
        retry_after = RENAME_WINDOW - (now - channel.renames[0])
        raise errors.shared_rate_limit(retry_after, "You are being rate limited.")
    channel.renames.append(now)
