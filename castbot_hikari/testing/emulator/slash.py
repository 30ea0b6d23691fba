"""Slash commands as a guild member uses them: the registered command, its options and ``resolved``.

Only what the bot registered (``PUT .../commands``) can be invoked, with option values the Discord
client would accept; anything else raises :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, cast

from castbot_hikari.testing.emulator import invocation, payloads, permissions
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.state import ChannelState, GuildState, JSONObject

CHAT_INPUT: Final = 1
SUB_COMMAND: Final = 1
SUB_COMMAND_GROUP: Final = 2
STRING: Final = 3
INTEGER: Final = 4
BOOLEAN: Final = 5
USER: Final = 6
CHANNEL: Final = 7
ROLE: Final = 8
MENTIONABLE: Final = 9
NUMBER: Final = 10
_ID_TYPES: Final = frozenset({USER, CHANNEL, ROLE, MENTIONABLE})
_MAX_SAFE_INTEGER: Final = 2**53


def find_command(core: Core, guild_id: int, name: str) -> JSONObject:
    """Return the chat-input command ``name`` the bot registered for the guild or globally.

    Raises:
        ValueError: If the bot never registered it (the message lists what it did register).
    """
    for scope in (guild_id, None):
        for command in core.state.commands.get(scope, []):
            if command["name"] == name and command.get("type", CHAT_INPUT) == CHAT_INPUT:
                return command
    registered = sorted(c["name"] for scope in (guild_id, None) for c in core.state.commands.get(scope, []))
    msg = f"the bot never registered a slash command {name!r} for guild {guild_id} or globally; it has {registered}"
    raise ValueError(msg)


def check_can_use(
    command: JSONObject, guild: GuildState, user_id: int, channel: ChannelState, *, ignore_default_permissions: bool
) -> None:
    """Check that Discord's client offers ``command`` to the member in ``channel``.

    Raises:
        ValueError: If the member lacks USE_APPLICATION_COMMANDS there, the command is not usable
            in guilds, or the member lacks its ``default_member_permissions``.
    """
    if not permissions.channel_permissions(guild, user_id, channel) & permissions.USE_APPLICATION_COMMANDS:
        msg = f"user {user_id} cannot use application commands in #{channel.name}"
        raise ValueError(msg)
    contexts = command.get("contexts")
    if contexts is not None and 0 not in contexts:
        msg = f"command {command['name']!r} is not usable in guilds (contexts {contexts})"
        raise ValueError(msg)
    required = command.get("default_member_permissions")
    if required is None or ignore_default_permissions:
        return
    have = permissions.base_permissions(guild, user_id)
    if not have & permissions.ADMINISTRATOR and have & int(required) != int(required):
        msg = (
            f"user {user_id} lacks default_member_permissions={required} of {command['name']!r}: Discord's client "
            "does not offer the command (pass ignore_default_permissions=True to simulate an Integrations override)"
        )
        raise ValueError(msg)


def command_data(
    core: Core,
    command: JSONObject,
    actor: invocation.Actor,
    subcommand: str | None,
    options: Mapping[str, object],
) -> JSONObject:
    """Return the interaction ``data`` for ``actor`` invoking ``command``.

    ``subcommand`` is a subcommand name or ``"group subcommand"``; ``options`` maps option names to
    values (ids, as ints or strings, for user/channel/role options).

    Raises:
        ValueError: For an unknown subcommand or option, a missing required option, or a value the
            option's definition does not accept.
    """
    path = subcommand.split() if subcommand else []
    definitions = cast("list[JSONObject]", command.get("options") or [])
    resolved: JSONObject = {}
    leaf = _leaf(command["name"], definitions, path, options, _Resolver(core, actor, resolved))
    data: JSONObject = {"id": command["id"], "name": command["name"], "type": CHAT_INPUT, "options": leaf}
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    if resolved:
        data["resolved"] = resolved
    return data


def _leaf(
    where: str, definitions: list[JSONObject], path: list[str], options: Mapping[str, object], resolver: _Resolver
) -> list[JSONObject]:
    nested = [d for d in definitions if d["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
    if not path:
        if nested:
            msg = f"{where!r} needs a subcommand, one of {[d['name'] for d in nested]}"
            raise ValueError(msg)
        return _values(where, definitions, options, resolver)
    chosen = next((d for d in nested if d["name"] == path[0]), None)
    if chosen is None:
        msg = f"{where!r} has no subcommand {path[0]!r}; it has {[d['name'] for d in nested]}"
        raise ValueError(msg)
    inner = _leaf(f"{where} {path[0]}", chosen.get("options") or [], path[1:], options, resolver)
    return [{"type": chosen["type"], "name": chosen["name"], "options": inner}]


def _values(
    where: str, definitions: list[JSONObject], options: Mapping[str, object], resolver: _Resolver
) -> list[JSONObject]:
    by_name = {d["name"]: d for d in definitions}
    unknown = sorted(set(options) - set(by_name))
    if unknown:
        msg = f"{where!r} has no option {unknown}; it has {sorted(by_name)}"
        raise ValueError(msg)
    result: list[JSONObject] = []
    for definition in definitions:
        name = definition["name"]
        if name not in options:
            if definition.get("required"):
                msg = f"option {name!r} of {where!r} is required"
                raise ValueError(msg)
            continue
        value = _converted(definition, options[name], resolver)
        result.append({"type": definition["type"], "name": name, "value": value})
    return result


def _converted(definition: JSONObject, value: object, resolver: _Resolver) -> object:
    type_ = int(definition["type"])
    name = definition["name"]
    if type_ in _ID_TYPES:
        return resolver.resolve(definition, value)
    if type_ == BOOLEAN and isinstance(value, bool):
        return value
    if type_ == STRING and isinstance(value, str):
        _check_length(name, value, definition)
    elif type_ in (INTEGER, NUMBER) and isinstance(value, int | float) and not isinstance(value, bool):
        if type_ == INTEGER and not isinstance(value, int):
            msg = f"option {name!r} takes an integer, not {value!r}"
            raise ValueError(msg)
        _check_range(name, value, definition)
    else:
        msg = f"option {name!r} (type {type_}) cannot take {value!r}"
        raise ValueError(msg)
    choices = definition.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        msg = f"option {name!r} takes one of {[c['value'] for c in choices]}, not {value!r}"
        raise ValueError(msg)
    return value


def _check_length(name: str, value: str, definition: JSONObject) -> None:
    low = int(definition.get("min_length") or 0)
    high = int(definition.get("max_length") or 6000)
    if not low <= len(value) <= high or not value:
        msg = f"option {name!r} takes {max(low, 1)} to {high} characters, not {len(value)}"
        raise ValueError(msg)


def _check_range(name: str, value: float, definition: JSONObject) -> None:
    low = definition.get("min_value", -_MAX_SAFE_INTEGER)
    high = definition.get("max_value", _MAX_SAFE_INTEGER)
    if not low <= value <= high:
        msg = f"option {name!r} takes {low} to {high}, not {value}"
        raise ValueError(msg)


class _Resolver:
    """Turns user/channel/role ids into option values and fills ``data.resolved``."""

    def __init__(self, core: Core, actor: invocation.Actor, resolved: JSONObject) -> None:
        self._core = core
        self._guild = actor.guild
        self._user_id = actor.user_id
        self._channel = actor.channel
        self._resolved = resolved

    def resolve(self, definition: JSONObject, value: object) -> str:
        type_ = int(definition["type"])
        ident = int(value) if isinstance(value, int | str) and str(value).isdigit() else -1
        guild = self._guild
        if type_ in (ROLE, MENTIONABLE) and ident in guild.roles:
            self._add("roles", ident, payloads.role(guild.roles[ident]))
        elif type_ in (USER, MENTIONABLE) and ident in guild.members:
            self._add("users", ident, payloads.user(self._core.state.users[ident]))
            member = invocation.member_with_permissions(self._core, guild, ident, self._channel, with_user=False)
            self._add("members", ident, member)
        elif type_ == CHANNEL and (target := self._core.state.channels.get(ident)) is not None:
            self._channel_option(definition, target)
        else:
            msg = f"option {definition['name']!r} (type {type_}) cannot take {value!r} in guild {guild.id}"
            raise ValueError(msg)
        return str(ident)

    def _channel_option(self, definition: JSONObject, target: ChannelState) -> None:
        channel_types = definition.get("channel_types")
        if target.guild_id != self._guild.id or (channel_types is not None and target.type not in channel_types):
            msg = f"option {definition['name']!r} cannot take channel {target.name!r} (type {target.type})"
            raise ValueError(msg)
        perms = permissions.channel_permissions(self._guild, self._user_id, target)
        if not perms & permissions.VIEW_CHANNEL:
            msg = f"user {self._user_id} cannot see channel {target.name!r}, so the client does not offer it"
            raise ValueError(msg)
        self._add("channels", target.id, payloads.channel_with_permissions(target, perms))

    def _add(self, kind: str, ident: int, payload: JSONObject) -> None:
        self._resolved.setdefault(kind, {})[str(ident)] = payload
