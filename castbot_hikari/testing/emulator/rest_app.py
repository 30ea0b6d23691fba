"""REST routes about the bot itself: user, gateway, application and application commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

from castbot_hikari.testing.emulator import errors, payloads
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.routing import Call, Reply, Router
from castbot_hikari.testing.emulator.state import JSONObject

_SESSION_START_LIMIT: Final = {"total": 1000, "remaining": 1000, "reset_after": 86_400_000}
_CHAT_INPUT: Final = 1


class AppRoutes:
    """``/users/@me``, ``/gateway[/bot]``, ``/oauth2/applications/@me`` and command routes."""

    def __init__(self, core: Core, gateway_url: Callable[[], str]) -> None:
        self._core = core
        self._gateway_url = gateway_url

    def register(self, router: Router) -> None:
        """Add this module's routes to ``router``."""
        router.add("GET", "/users/@me", self.me)
        router.add("GET", "/gateway", self.gateway, bot_auth=False)
        router.add("GET", "/gateway/bot", self.gateway_bot)
        router.add("GET", "/oauth2/applications/@me", self.application)
        for template in (
            "/applications/{application_id}/commands",
            "/applications/{application_id}/guilds/{guild_id}/commands",
        ):
            router.add("GET", template, self.get_commands)
            router.add("PUT", template, self.put_commands)

    def me(self, _: Call) -> Reply:
        """GET /users/@me."""
        return 200, payloads.my_user(self._core.state.bot)

    def gateway(self, _: Call) -> Reply:
        """GET /gateway."""
        return 200, {"url": self._gateway_url()}

    def gateway_bot(self, _: Call) -> Reply:
        """GET /gateway/bot: the recommended shard count and ``max_concurrency``, plenty of session starts."""
        settings = self._core.settings
        limit = {**_SESSION_START_LIMIT, "max_concurrency": settings.max_concurrency}
        return 200, {"url": self._gateway_url(), "shards": settings.shards, "session_start_limit": limit}

    def application(self, _: Call) -> Reply:
        """GET /oauth2/applications/@me."""
        return 200, payloads.application(self._core.state)

    def _scope(self, call: Call) -> int | None:
        if call.snowflake("application_id") != self._core.state.bot.id:
            raise errors.ApiError(403, 50001, "Missing Access")
        if "guild_id" not in call.params:
            return None
        guild_id = call.snowflake("guild_id")
        if guild_id not in self._core.state.guilds:
            raise errors.ApiError(403, 50001, "Missing Access")
        return guild_id

    def get_commands(self, call: Call) -> Reply:
        """GET the global or a guild's commands."""
        return 200, list(self._core.state.commands.get(self._scope(call), []))

    def put_commands(self, call: Call) -> Reply:
        """PUT (bulk overwrite) the global or a guild's commands; names keep their ids."""
        guild_id = self._scope(call)
        body = call.body
        if not isinstance(body, list):
            raise errors.ApiError(400, 50109, "The request body contains invalid JSON.")
        existing = {(c["type"], c["name"]): c for c in self._core.state.commands.get(guild_id, [])}
        stored: list[JSONObject] = []
        seen: set[tuple[int, str]] = set()
        for index, raw in enumerate(cast("list[object]", body)):
            command = self._command(index, raw, guild_id, existing, seen)
            stored.append(command)
        self._core.state.commands[guild_id] = stored
        return 200, stored

    def _command(
        self,
        index: int,
        raw: object,
        guild_id: int | None,
        existing: dict[tuple[int, str], JSONObject],
        seen: set[tuple[int, str]],
    ) -> JSONObject:
        body, type_, name, description = _checked_command(index, raw)
        if (type_, name) in seen:
            raise errors.form_error(
                f"{index}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Command name {name} is already used."
            )
        seen.add((type_, name))
        previous = existing.get((type_, name))
        command: JSONObject = {
            "id": previous["id"] if previous else str(self._core.ids.snowflake()),
            "application_id": str(self._core.state.bot.id),
            "version": str(self._core.ids.snowflake()),
            "default_member_permissions": body.get("default_member_permissions"),
            "type": type_,
            "name": name,
            "name_localizations": body.get("name_localizations"),
            "description": description,
            "description_localizations": body.get("description_localizations"),
            "dm_permission": body.get("dm_permission", True),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "nsfw": bool(body.get("nsfw") or False),
            "options": body.get("options") or [],
        }
        if guild_id is not None:
            command["guild_id"] = str(guild_id)
        return command


def _checked_command(index: int, raw: object) -> tuple[JSONObject, int, str, str]:
    """Return ``(body, type, name, description)`` of one command, or raise 50035."""
    if not isinstance(raw, dict):
        raise errors.form_error(str(index), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
    body = cast("JSONObject", raw)
    type_ = int(body.get("type") or _CHAT_INPUT)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        raise errors.form_error(f"{index}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    description = str(body.get("description") or "")
    if type_ == _CHAT_INPUT and not 1 <= len(description) <= 100:
        raise errors.form_error(f"{index}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    return body, type_, name, description
