"""Message bodies: checks Discord applies, component ids, and gateway MESSAGE_* events."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Final, cast

from castbot_hikari.testing.emulator import errors, mentions, payloads
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.routing import Upload
from castbot_hikari.testing.emulator.state import JSONObject, MessageState, UserState, iso_now, iter_components

EPHEMERAL: Final = 1 << 6
LOADING: Final = 1 << 7
SUPPRESS_EMBEDS: Final = 1 << 2
SUPPRESS_NOTIFICATIONS: Final = 1 << 12
IS_COMPONENTS_V2: Final = 1 << 15
SENDABLE_FLAGS: Final = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
ACTION_ROW: Final = 1
SELECTS: Final = frozenset({3, 5, 6, 7, 8})
"""String, user, role, mentionable and channel selects."""
_CONTENT_FIELDS: Final = ("content", "embeds", "components", "attachments", "sticker_ids", "poll")


def check_body(body: JSONObject, *, create: bool, layout: bool = True) -> None:
    """Reject message bodies Discord would reject.

    Args:
        body: The message body (or an interaction response's ``data``).
        create: Whether it creates a message (which must not be empty).
        layout: Enforce the component layout rules (unique custom ids, a select alone in its row).

    Raises:
        ApiError: 50035 for over-long content, too many embeds/components, bad flags, a custom id
            used twice, a select sharing its row, or ``allowed_mentions`` listing ids it also parses
            wholesale; 50006 for an empty new message.
    """
    content = body.get("content")
    if isinstance(content, str) and len(content) > 2000:
        raise errors.form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if len(body.get("embeds") or ()) > 10:
        raise errors.form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    flags = int(body.get("flags") or 0)
    if flags & ~SENDABLE_FLAGS:
        raise errors.form_error("flags", "MESSAGE_FLAGS_INVALID", "Invalid message flags.")
    _check_components(body, flags)
    if layout:
        _check_layout(body.get("components") or [])
    mentions.check(body.get("allowed_mentions"))
    if create and not any(body.get(name) for name in _CONTENT_FIELDS):
        raise errors.api_error(errors.EMPTY_MESSAGE)


def _check_components(body: JSONObject, flags: int) -> None:
    components: list[JSONObject] = body.get("components") or []
    if flags & IS_COMPONENTS_V2:
        if body.get("content") or body.get("embeds"):
            raise errors.form_error("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Not allowed.")
        if sum(1 for _ in walk(components)) > 40:
            raise errors.form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        return
    if len(components) > 5:
        raise errors.form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for index, row in enumerate(components):
        if len(row.get("components") or ()) > 5:
            raise errors.form_error(
                f"components.{index}.components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
            )


def _check_layout(components: list[JSONObject]) -> None:
    """Custom ids are unique within a message; a select fills its action row alone."""
    seen: set[str] = set()
    for path, component in _walk_paths(components, "components"):
        custom_id = component.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                raise errors.form_error(
                    f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)
        if component.get("type") == ACTION_ROW:
            children: list[JSONObject] = component.get("components") or []
            if len(children) > 1 and any(child.get("type") in SELECTS for child in children):
                raise errors.form_error(
                    f"{path}.components.1",
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )


def _walk_paths(components: list[JSONObject], prefix: str) -> Iterator[tuple[str, JSONObject]]:
    """Yield ``(form path, component)`` depth-first, paths as Discord names them in 50035 errors."""
    for index, component in enumerate(components):
        path = f"{prefix}.{index}"
        yield path, component
        yield from _walk_paths(component.get("components") or [], f"{path}.components")
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, dict):
                yield f"{path}.{key}", cast("JSONObject", child)


def walk(components: list[JSONObject]) -> Iterator[JSONObject]:
    """Yield every component depth-first (rows, their children, labels' components, accessories)."""
    return iter_components(components)


def with_component_ids(components: list[JSONObject]) -> list[JSONObject]:
    """Return a copy of ``components`` with Discord's numeric ``id`` on every component.

    Ids already present are kept; the others are numbered depth-first from 1, skipping used ones.
    """
    result = copy.deepcopy(components)
    used = {c["id"] for c in walk(result) if isinstance(c.get("id"), int)}
    next_id = 1
    for component in walk(result):
        if isinstance(component.get("id"), int):
            continue
        while next_id in used:
            next_id += 1
        component["id"] = next_id
        used.add(next_id)
    return result


def _attach(core: Core, message: MessageState, body: JSONObject, files: Mapping[str, Upload]) -> None:
    """Set the message's attachments from ``body["attachments"]``: kept ones by id, new ones from ``files[n]``.

    Raises:
        ApiError: 50035 when an attachment names an upload the request did not carry.
    """
    if "attachments" not in body and not files:
        return
    entries: list[JSONObject] = body.get("attachments") or []
    if "attachments" not in body:  # uploads without metadata: Discord attaches them all
        entries = [{"id": int(name[6:-1])} for name in files if name[6:-1].isdigit()]
    kept = {str(a["id"]): a for a in message.attachments}
    result: list[JSONObject] = []
    names: dict[str, bytes] = {}
    for entry in entries:
        ident = str(entry.get("id"))
        if ident in kept:
            result.append(kept[ident])
            names[kept[ident]["filename"]] = message.files.get(kept[ident]["filename"], b"")
            continue
        upload = files.get(f"files[{ident}]")
        if upload is None:
            raise errors.form_error("attachments", "ATTACHMENT_NOT_FOUND", f"No upload files[{ident}].")
        filename = str(entry.get("filename") or upload.filename)
        snowflake = core.ids.snowflake()
        url = f"https://cdn.discordapp.com/attachments/{message.channel_id}/{snowflake}/{filename}"
        result.append(
            {
                "id": str(snowflake),
                "filename": filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.content_type,
            }
        )
        names[filename] = upload.data
    message.attachments, message.files = result, names


def new_message(
    core: Core,
    channel_id: int,
    guild_id: int | None,
    author: UserState,
    body: JSONObject,
    *,
    flags: int,
    webhook: bool = False,
    files: Mapping[str, Upload] | None = None,
) -> MessageState:
    """Build a message from a request body (not yet stored anywhere), with whom it pings.

    ``webhook`` marks a message sent through the application's webhook (interaction responses and
    follow-ups).
    """
    message = MessageState(
        id=core.ids.snowflake(),
        channel_id=channel_id,
        guild_id=guild_id,
        author=author,
        content=body.get("content") or "",
        flags=flags,
        components=with_component_ids(body.get("components") or []),
        embeds=list(body.get("embeds") or []),
        allowed_mentions=body.get("allowed_mentions"),
    )
    if webhook:
        message.webhook_id = message.application_id = core.state.bot.id
    _attach(core, message, body, files or {})
    _update_mentions(core, message)
    return message


def apply_edit(core: Core, message: MessageState, body: JSONObject, files: Mapping[str, Upload] | None = None) -> None:
    """Apply a PATCH body to a message (only the fields present change) and clear LOADING.

    Mentions are computed again from the new content, with the edit's ``allowed_mentions`` if it
    has some, else the message's.
    """
    if "content" in body:
        message.content = body["content"] or ""
    if "components" in body:
        message.components = with_component_ids(body["components"] or [])
    if "embeds" in body:
        message.embeds = list(body["embeds"] or [])
    if "allowed_mentions" in body:
        message.allowed_mentions = body["allowed_mentions"]
    _attach(core, message, body, files or {})
    if body.get("flags") is not None:
        keep = message.flags & (EPHEMERAL | IS_COMPONENTS_V2)  # ephemerality cannot change
        message.flags = keep | (int(body["flags"]) & (SUPPRESS_EMBEDS | IS_COMPONENTS_V2))
    message.flags &= ~LOADING
    message.edited_timestamp = iso_now()
    _update_mentions(core, message)


def _update_mentions(core: Core, message: MessageState) -> None:
    found = mentions.resolve(core.state, message)
    message.mentions = list(found.users)
    message.mention_roles = list(found.roles)
    message.mention_everyone = found.everyone


def store(core: Core, message: MessageState) -> None:
    """Store a channel message and dispatch MESSAGE_CREATE."""
    core.state.add_message(message)
    channel = core.state.channels.get(message.channel_id)
    if channel is not None:
        channel.last_message_id = message.id
    publish(core, "MESSAGE_CREATE", message)


def publish(core: Core, event: str, message: MessageState) -> None:
    """Dispatch MESSAGE_CREATE / MESSAGE_UPDATE for a (non-ephemeral) message."""
    author_member = None
    if message.guild_id is not None and message.webhook_id is None:
        author_member = core.state.guilds[message.guild_id].members.get(message.author.id)
    data = payloads.message(message, gateway=True, author_member=author_member)
    core.dispatcher.dispatch(message.guild_id, event, data)


def publish_delete(core: Core, message: MessageState) -> None:
    """Dispatch MESSAGE_DELETE."""
    data: JSONObject = {"id": str(message.id), "channel_id": str(message.channel_id)}
    if message.guild_id is not None:
        data["guild_id"] = str(message.guild_id)
    core.dispatcher.dispatch(message.guild_id, "MESSAGE_DELETE", data)
