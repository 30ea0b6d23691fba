"""Serialise emulator state into the JSON shapes Discord sends (and hikari deserialises)."""

from __future__ import annotations

from typing import Final

from castbot_hikari.testing.emulator.state import (
    GUILD_CATEGORY,
    GUILD_VOICE,
    ChannelState,
    EmulatorState,
    GuildState,
    JSONObject,
    MemberState,
    MessageState,
    RoleState,
    UserState,
)

APPLICATION_FLAGS: Final = (1 << 13) | (1 << 15) | (1 << 19)
"""GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED | APPLICATION_COMMAND_BADGE."""


def user(u: UserState) -> JSONObject:
    """Return a user object."""
    payload: JSONObject = {
        "id": str(u.id),
        "username": u.username,
        "avatar": u.avatar,
        "discriminator": "0",
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "global_name": u.global_name,
        "avatar_decoration_data": None,
        "primary_guild": None,
    }
    if u.bot:
        payload["bot"] = True
    return payload


def my_user(u: UserState) -> JSONObject:
    """Return the bot's own user object (``/users/@me`` and READY)."""
    return {**user(u), "mfa_enabled": False, "verified": True, "email": None, "locale": "en-US", "bot": True}


def role(r: RoleState) -> JSONObject:
    """Return a role object."""
    payload: JSONObject = {
        "id": str(r.id),
        "name": r.name,
        "description": None,
        "color": r.color,
        "hoist": r.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.managed,
        "mentionable": r.mentionable,
        "flags": 0,
    }
    if r.bot_id is not None:
        payload["tags"] = {"bot_id": str(r.bot_id)}
    return payload


def member(m: MemberState, u: UserState, *, with_user: bool = True) -> JSONObject:
    """Return a guild member object."""
    payload: JSONObject = {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "flags": 0,
        "joined_at": m.joined_at,
        "nick": m.nick,
        "pending": False,
        "premium_since": None,
        "roles": [str(r) for r in m.roles],
        "deaf": False,
        "mute": False,
    }
    if with_user:
        payload["user"] = user(u)
    return payload


def channel(c: ChannelState) -> JSONObject:
    """Return a guild channel object."""
    payload: JSONObject = {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "flags": 0,
        "parent_id": str(c.parent_id) if c.parent_id is not None else None,
        "permission_overwrites": [
            {"id": str(o["id"]), "type": o["type"], "allow": str(o["allow"]), "deny": str(o["deny"])}
            for o in c.permission_overwrites
        ],
        "nsfw": c.nsfw,
    }
    if c.type == GUILD_CATEGORY:
        return payload
    payload["last_message_id"] = str(c.last_message_id) if c.last_message_id is not None else None
    payload["rate_limit_per_user"] = c.rate_limit_per_user
    if c.type == GUILD_VOICE:
        payload.update(bitrate=64000, user_limit=0, rtc_region=None, video_quality_mode=1)
    else:
        payload["topic"] = c.topic
    return payload


def message(m: MessageState, *, gateway: bool = False, author_member: MemberState | None = None) -> JSONObject:
    """Return a message object; gateway events also carry ``guild_id`` and the author's member."""
    payload: JSONObject = {
        "type": m.type,
        "content": m.content,
        "mentions": [user(u) for u in m.mentions],
        "mention_roles": [str(r) for r in m.mention_roles],
        "attachments": m.attachments,
        "embeds": m.embeds,
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "flags": m.flags,
        "components": m.components,
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "author": user(m.author),
        "pinned": False,
        "mention_everyone": m.mention_everyone,
        "tts": False,
    }
    if m.webhook_id is not None:
        payload["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        payload["application_id"] = str(m.application_id)
    if gateway and m.guild_id is not None:
        payload["guild_id"] = str(m.guild_id)
        if author_member is not None:
            payload["member"] = member(author_member, m.author, with_user=False)
    return payload


def _guild_fields(g: GuildState) -> JSONObject:
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "description": None,
        "home_header": None,
        "splash": None,
        "discovery_splash": None,
        "features": list(g.features),
        "banner": None,
        "owner_id": str(g.owner_id),
        "application_id": None,
        "region": "deprecated",
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "mfa_level": 0,
        "explicit_content_filter": 0,
        "max_presences": None,
        "max_members": 500000,
        "max_stage_video_channel_users": 50,
        "max_video_channel_users": 25,
        "vanity_url_code": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": g.locale,
        "rules_channel_id": None,
        "safety_alerts_channel_id": None,
        "public_updates_channel_id": None,
        "premium_progress_bar_enabled": False,
        "nsfw": False,
        "nsfw_level": 0,
        "incidents_data": None,
        "emojis": [],
        "stickers": [],
        "roles": [role(r) for r in g.roles.values()],
    }


def rest_guild(g: GuildState, *, with_counts: bool = False) -> JSONObject:
    """Return a guild as ``GET /guilds/{guild_id}`` does."""
    payload = _guild_fields(g)
    if with_counts:
        payload["approximate_member_count"] = len(g.members)
        payload["approximate_presence_count"] = 0
    return payload


def gateway_guild(state: EmulatorState, g: GuildState, *, members: list[JSONObject], initial: bool) -> JSONObject:
    """Return a GUILD_CREATE payload.

    ``initial`` marks the guilds announced as unavailable in READY: their GUILD_CREATE carries
    ``"unavailable": false`` (hikari: GuildAvailableEvent). A guild joined later has no such key
    (hikari: GuildJoinEvent).
    """
    payload = _guild_fields(g)
    payload.update(
        channels=[channel(c) for c in state.guild_channels(g.id)],
        members=members,
        member_count=len(g.members),
        joined_at=g.joined_at,
        large=False,
        lazy=True,
        threads=[],
        presences=[],
        voice_states=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        embedded_activities=[],
    )
    if initial:
        payload["unavailable"] = False
    return payload


def application(state: EmulatorState) -> JSONObject:
    """Return the bot's application object (``/oauth2/applications/@me``)."""
    bot = state.bot
    install = {"scopes": ["applications.commands", "bot"], "permissions": "0"}
    return {
        "id": str(bot.id),
        "name": bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": state.verify_key,
        "flags": APPLICATION_FLAGS,
        "owner": user(state.app_owner),
        "team": None,
        "bot": user(bot),
        "approximate_guild_count": len(state.guilds),
        "approximate_user_install_count": 0,
        "integration_types_config": {"0": {"oauth2_install_params": install}, "1": {}},
        "redirect_uris": [],
        "interactions_endpoint_url": state.interactions_endpoint_url,
        "tags": [],
    }


def channel_with_permissions(c: ChannelState, perms: int) -> JSONObject:
    """Return the partial channel an interaction carries (with the invoker's ``permissions``)."""
    payload = channel(c)
    payload["permissions"] = str(perms)
    return payload
