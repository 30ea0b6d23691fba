"""What a user can do with message components and modals, and the ``data`` Discord sends for it.

Everything the Discord client would not let a user do (click a disabled button, pick too many
values, submit an over-long text input) raises :class:`ValueError` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, cast

from castbot_hikari.testing.emulator import invocation, payloads, permissions
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.state import ChannelState, GuildState, JSONObject, MessageState

ACTION_ROW: Final = 1
BUTTON: Final = 2
STRING_SELECT: Final = 3
TEXT_INPUT: Final = 4
USER_SELECT: Final = 5
ROLE_SELECT: Final = 6
MENTIONABLE_SELECT: Final = 7
CHANNEL_SELECT: Final = 8
TEXT_DISPLAY: Final = 10
LABEL: Final = 18
SELECTS: Final = frozenset({STRING_SELECT, USER_SELECT, ROLE_SELECT, MENTIONABLE_SELECT, CHANNEL_SELECT})
TEXT_INPUT_MAX_LENGTH: Final = 4000


def require(message: MessageState, custom_id: str, types: frozenset[int], what: str) -> JSONObject:
    """Return the enabled component ``custom_id`` of ``message`` if its type is one of ``types``.

    Raises:
        ValueError: If it is missing, of another type, or disabled.
    """
    component = message.find_component(custom_id)
    if component is None:
        msg = f"message {message.id} has no component with custom_id {custom_id!r}"
        raise ValueError(msg)
    if component.get("type") not in types:
        msg = f"component {custom_id!r} of message {message.id} is not a {what} (type {component.get('type')})"
        raise ValueError(msg)
    if component.get("disabled", False):
        msg = f"{what} {custom_id!r} of message {message.id} is disabled: Discord's client cannot use it"
        raise ValueError(msg)
    return component


def button_data(message: MessageState, custom_id: str) -> JSONObject:
    """Return the ``data`` of a click on the enabled button ``custom_id``.

    Raises:
        ValueError: If the message has no such enabled button.
    """
    button = require(message, custom_id, frozenset({BUTTON}), "button")
    return {"custom_id": custom_id, "component_type": BUTTON, "id": button["id"]}


def select_data(
    core: Core,
    actor: invocation.Actor,
    message: MessageState,
    custom_id: str,
    values: Sequence[str | int],
) -> JSONObject:
    """Return the ``data`` of picking ``values`` in the select ``custom_id`` (with ``resolved``).

    ``actor.channel`` is where the message is (resolved members carry their permissions there).

    Raises:
        ValueError: If the select is missing or disabled, the number of values is outside
            ``min_values``..``max_values``, or a value is not one the user could pick.
    """
    select = require(message, custom_id, SELECTS, "select menu")
    picked = [str(v) for v in values]
    _check_count(select, picked)
    type_ = int(select["type"])
    data: JSONObject = {"custom_id": custom_id, "component_type": type_, "id": select["id"], "values": picked}
    if type_ == STRING_SELECT:
        options = cast("list[JSONObject]", select.get("options") or [])
        allowed = {str(o["value"]) for o in options}
        for value in picked:
            if value not in allowed:
                msg = f"{value!r} is not an option of select {custom_id!r} (options: {sorted(allowed)})"
                raise ValueError(msg)
        return data
    data["resolved"] = _resolved(core, actor, select, picked)
    return data


def _check_count(select: JSONObject, picked: list[str]) -> None:
    low = int(select.get("min_values", 1))
    high = int(select.get("max_values", 1))
    if not low <= len(picked) <= high:
        msg = f"select {select.get('custom_id')!r} takes {low} to {high} values, not {len(picked)}"
        raise ValueError(msg)
    if len(set(picked)) != len(picked):
        msg = f"select {select.get('custom_id')!r}: a value can be picked only once ({picked})"
        raise ValueError(msg)


def _resolved(core: Core, actor: invocation.Actor, select: JSONObject, picked: list[str]) -> JSONObject:
    guild, user_id, channel = actor.guild, actor.user_id, actor.channel
    type_ = int(select["type"])
    resolved: dict[str, JSONObject] = {}
    for value in picked:
        ident = int(value) if value.isdigit() else -1
        if type_ in (ROLE_SELECT, MENTIONABLE_SELECT) and ident in guild.roles:
            resolved.setdefault("roles", {})[value] = payloads.role(guild.roles[ident])
        elif type_ in (USER_SELECT, MENTIONABLE_SELECT) and ident in guild.members:
            resolved.setdefault("users", {})[value] = payloads.user(core.state.users[ident])
            member = invocation.member_with_permissions(core, guild, ident, channel, with_user=False)
            resolved.setdefault("members", {})[value] = member
        elif type_ == CHANNEL_SELECT:
            target = _pickable_channel(core, guild, user_id, select, ident)
            perms = permissions.channel_permissions(guild, user_id, target)
            resolved.setdefault("channels", {})[value] = payloads.channel_with_permissions(target, perms)
        else:
            msg = f"{value!r} cannot be picked in select {select.get('custom_id')!r} (type {type_}) of this guild"
            raise ValueError(msg)
    return resolved


def _pickable_channel(core: Core, guild: GuildState, user_id: int, select: JSONObject, ident: int) -> ChannelState:
    target = core.state.channels.get(ident)
    if target is None or target.guild_id != guild.id:
        msg = f"unknown channel {ident} in guild {guild.id}"
        raise ValueError(msg)
    channel_types = select.get("channel_types")
    if channel_types is not None and target.type not in channel_types:
        msg = f"channel {target.name!r} (type {target.type}) is not one of channel_types {channel_types}"
        raise ValueError(msg)
    if not permissions.channel_permissions(guild, user_id, target) & permissions.VIEW_CHANNEL:
        msg = f"user {user_id} cannot see channel {target.name!r}, so the select does not offer it"
        raise ValueError(msg)
    return target


# ---- modals ---------------------------------------------------------------------------------


def modal_submission(modal: JSONObject, values: Mapping[str, str]) -> list[JSONObject]:
    """Return the ``data.components`` of submitting ``modal`` with ``values`` by text-input custom id.

    The shape mirrors the modal: action rows of text inputs (``{type 1, id, components: [{type 4,
    id, custom_id, value}]}``), or labels (``{type 18, id, component: {...}}``). An input missing
    from ``values`` keeps its pre-filled ``value`` (or is empty), as in Discord's client.

    Raises:
        ValueError: For an unknown custom id, an empty required input, or a value outside the
            input's ``min_length``..``max_length``.
    """
    rows = cast("list[JSONObject]", modal.get("components") or [])
    known = {c["custom_id"] for row in rows for c in _children(row) if c.get("type") == TEXT_INPUT}
    unknown = sorted(set(values) - known)
    if unknown:
        msg = f"modal {modal.get('custom_id')!r} has no text input {unknown} (inputs: {sorted(known)})"
        raise ValueError(msg)
    return [_submitted(row, values) for row in rows]


def _children(top: JSONObject) -> list[JSONObject]:
    if top.get("type") == LABEL:
        return [cast("JSONObject", top["component"])]
    return cast("list[JSONObject]", top.get("components") or [])


def _submitted(top: JSONObject, values: Mapping[str, str]) -> JSONObject:
    type_ = top.get("type")
    if type_ == ACTION_ROW:
        return {"type": ACTION_ROW, "id": top["id"], "components": [_input_value(c, values) for c in _children(top)]}
    if type_ == LABEL and top["component"].get("type") == TEXT_INPUT:
        return {"type": LABEL, "id": top["id"], "component": _input_value(top["component"], values)}
    if type_ == TEXT_DISPLAY:
        return {"type": TEXT_DISPLAY, "id": top["id"]}
    msg = f"submit_modal supports text inputs (in rows or labels) and text displays, not {top}"
    raise ValueError(msg)


def _input_value(text_input: JSONObject, values: Mapping[str, str]) -> JSONObject:
    if text_input.get("type") != TEXT_INPUT:
        msg = f"submit_modal supports text inputs only, not {text_input}"
        raise ValueError(msg)
    custom_id = str(text_input["custom_id"])
    value = values.get(custom_id, text_input.get("value") or "")
    required = bool(text_input.get("required", True))
    low = int(text_input.get("min_length") or 0)
    high = int(text_input.get("max_length") or TEXT_INPUT_MAX_LENGTH)
    if required and not value:
        msg = f"text input {custom_id!r} is required: Discord's client would not submit the modal"
        raise ValueError(msg)
    if value and not low <= len(value) <= high:
        msg = f"text input {custom_id!r} takes {low} to {high} characters, not {len(value)}"
        raise ValueError(msg)
    return {"type": TEXT_INPUT, "id": text_input["id"], "custom_id": custom_id, "value": value}
