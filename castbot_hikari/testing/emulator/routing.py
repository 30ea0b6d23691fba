"""Route table for the REST API: templates as in Discord's OpenAPI spec, matched by regex."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

from castbot_hikari.testing.emulator import errors
from castbot_hikari.testing.emulator.state import JSONObject

Reply = tuple[int, object]
"""HTTP status and JSON-serialisable body (``None`` for no body)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """One file of a multipart request: its name, type and bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One request as handlers see it.

    Attributes:
        method: HTTP method, upper case.
        path: Path after ``/api/v10``.
        params: Path parameters by template name.
        query: Query parameters.
        body: Parsed JSON body (``payload_json`` for multipart) or ``None``.
        files: The multipart ``files[n]`` uploads by part name (``"files[0]"``).
    """

    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: object
    files: Mapping[str, Upload] = field(default_factory=dict[str, "Upload"])

    def snowflake(self, name: str) -> int:
        """Return a path parameter as a snowflake (a non-numeric one is answered 404 like Discord)."""
        value = self.params[name]
        if not value.isdigit():
            raise errors.http_error(404, "404: Not Found")
        return int(value)

    def json(self) -> JSONObject:
        """Return the body as a JSON object (``{}`` when absent).

        Raises:
            ApiError: 50109 if the body is not a JSON object.
        """
        body = self.body
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise errors.ApiError(400, 50109, "The request body contains invalid JSON.")
        return cast("JSONObject", body)

    def flag(self, name: str) -> bool:
        """Return a boolean query parameter (``"true"``/``"1"``)."""
        return self.query.get(name, "").lower() in ("true", "1")


Handler = Callable[[Call], Reply]


@dataclass(frozen=True, slots=True)
class Route:
    """One served route.

    Attributes:
        method: HTTP method.
        template: Path template, e.g. ``"/guilds/{guild_id}/channels"``.
        handler: Sync function answering the call.
        bot_auth: Whether ``Authorization: Bot <token>`` is required (webhook/interaction routes: no).
        rate_limited: Whether the route has a bucket (the interaction callback has none).
        global_scope: Whether the route counts towards the global limit.
    """

    method: str
    template: str
    handler: Handler
    bot_auth: bool
    rate_limited: bool
    global_scope: bool
    pattern: re.Pattern[str]

    @property
    def key(self) -> str:
        """``"METHOD /template"``, the key for latency, rate limits and faults."""
        return f"{self.method} {self.template}"


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    for segment in template.strip("/").split("/"):
        match = re.fullmatch(r"\{(\w+)\}", segment)
        parts.append(f"(?P<{match.group(1)}>[^/]+)" if match else re.escape(segment))
    return re.compile("/" + "/".join(parts))


class Router:
    """Routes by method, then by template in registration order (register literals first)."""

    def __init__(self) -> None:
        self._by_method: dict[str, list[Route]] = {}
        self.keys: set[str] = set()

    def add(
        self,
        method: str,
        template: str,
        handler: Handler,
        *,
        bot_auth: bool = True,
        rate_limited: bool = True,
        global_scope: bool = True,
    ) -> None:
        """Register a route."""
        route = Route(method, template, handler, bot_auth, rate_limited, global_scope, _compile(template))
        self._by_method.setdefault(method, []).append(route)
        self.keys.add(route.key)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """Return the route serving ``method path`` and its path parameters, if any."""
        for route in self._by_method.get(method, ()):
            found = route.pattern.fullmatch(path)
            if found is not None:
                return route, found.groupdict()
        return None
