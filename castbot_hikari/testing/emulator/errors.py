"""Discord's JSON error responses, raised by handlers as :class:`ApiError`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from castbot_hikari.testing.emulator.state import JSONObject


class ApiError(Exception):
    """An error response: HTTP status plus Discord's ``{code, message, errors?}`` body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: JSONObject | None = None,
        *,
        extra: JSONObject | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.extra = extra
        self.headers: Mapping[str, str] = headers or {}

    def body(self) -> JSONObject:
        """Return the JSON body Discord would send."""
        payload: JSONObject = {"message": self.message, "code": self.code}
        if self.errors is not None:
            payload["errors"] = self.errors
        if self.extra is not None:
            payload.update(self.extra)
        return payload


UNKNOWN_CHANNEL: Final = (404, 10003, "Unknown Channel")
UNKNOWN_GUILD: Final = (404, 10004, "Unknown Guild")
UNKNOWN_MEMBER: Final = (404, 10007, "Unknown Member")
UNKNOWN_MESSAGE: Final = (404, 10008, "Unknown Message")
UNKNOWN_WEBHOOK: Final = (404, 10015, "Unknown Webhook")
UNKNOWN_INTERACTION: Final = (404, 10062, "Unknown interaction")
MAX_GUILD_CHANNELS: Final = (400, 30013, "Maximum number of guild channels reached (500)")
ALREADY_ACKNOWLEDGED: Final = (400, 40060, "Interaction has already been acknowledged.")
MISSING_ACCESS: Final = (403, 50001, "Missing Access")
NOT_AUTHOR: Final = (403, 50005, "Cannot edit a message authored by another user")
EMPTY_MESSAGE: Final = (400, 50006, "Cannot send an empty message")
MISSING_PERMISSIONS: Final = (403, 50013, "Missing Permissions")
INVALID_WEBHOOK_TOKEN: Final = (401, 50027, "Invalid Webhook Token")


def api_error(spec: tuple[int, int, str]) -> ApiError:
    """Build an :class:`ApiError` from one of this module's ``(status, code, message)`` constants."""
    return ApiError(*spec)


def form_error(field_path: str, code: str, message: str) -> ApiError:
    """Build a 400 50035 Invalid Form Body error for one field.

    Args:
        field_path: Dotted path of the failing field, e.g. ``"parent_id"`` or ``"data.flags"``.
        code: Discord's string error code, e.g. ``"CHANNEL_PARENT_MAX_CHANNELS"``.
        message: Human-readable message.
    """
    errors: JSONObject = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(field_path.split(".")):
        errors = {part: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def http_error(status: int, message: str) -> ApiError:
    """Build an error with code 0, as Discord sends for plain HTTP errors (e.g. ``"404: Not Found"``)."""
    return ApiError(status, 0, message)


def shared_rate_limit(retry_after: float, message: str, *, code: int = 0) -> ApiError:
    """Build a 429 for a per-resource limit outside the route buckets (renames, channel writes).

    Scope ``shared`` with a body ``retry_after``: hikari sleeps that long, or raises
    ``RateLimitTooLongError`` at once when it exceeds its ``max_rate_limit``. Such 429s do not count
    towards the invalid-request ban.
    """
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Global": "false",
        "X-RateLimit-Scope": "shared",
    }
    extra: JSONObject = {"retry_after": round(retry_after, 3), "global": False}
    return ApiError(429, code, message, extra=extra, headers=headers)
