"""Translating hikari's REST failures into ``DiscordError``: the one place that reads Discord's error codes."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping
from typing import Any, Final, cast

import hikari

from castbot_hikari.core.errors import DiscordError, DiscordErrorKind

UNKNOWN_CHANNEL: Final = 10003
MISSING_ACCESS: Final = 50001
MISSING_PERMISSIONS: Final = 50013
GUILD_CHANNEL_LIMIT: Final = 30013
WORD_FILTER: Final = 20031
INVALID_FORM_BODY: Final = 50035


def _form_error_codes(errors: Mapping[str, Any] | None, field: str) -> list[str]:
    """Return the inner ``code``s of a 50035 error for one top-level field."""
    entry: Any = (errors or {}).get(field)
    items: Any = cast("Mapping[str, Any]", entry).get("_errors") if isinstance(entry, Mapping) else None
    if not isinstance(items, list):
        return []
    return [
        str(cast("Mapping[str, Any]", item).get("code"))
        for item in cast("list[Any]", items)
        if isinstance(item, Mapping)
    ]


def classify(exc: hikari.HTTPError) -> DiscordError:
    """Translate a hikari REST failure (after hikari's own retries) into a ``DiscordError``."""
    if isinstance(exc, hikari.BadRequestError):
        return _bad_request(exc)
    if isinstance(exc, hikari.ForbiddenError):
        return DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, exc.message, code=exc.code, status=403)
    if isinstance(exc, hikari.NotFoundError):
        return DiscordError(DiscordErrorKind.NOT_FOUND, exc.message, code=exc.code, status=404)
    if isinstance(exc, hikari.HTTPResponseError):
        kind = DiscordErrorKind.UNAVAILABLE if int(exc.status) >= 500 else DiscordErrorKind.BAD_REQUEST
        return DiscordError(kind, exc.message, code=exc.code, status=int(exc.status))
    # Connection errors after hikari's retries and rate limits too long to wait out: never the text, which
    # holds the request URL (and so, for interaction routes, the token).
    return DiscordError(DiscordErrorKind.UNAVAILABLE, type(exc).__name__)


def _bad_request(exc: hikari.BadRequestError) -> DiscordError:
    if exc.code == GUILD_CHANNEL_LIMIT:
        return DiscordError(DiscordErrorKind.GUILD_FULL, exc.message, code=exc.code, status=400)
    if exc.code == WORD_FILTER:
        return DiscordError(DiscordErrorKind.NAME_REJECTED, exc.message, code=exc.code, status=400)
    if exc.code == INVALID_FORM_BODY:
        parent = _form_error_codes(exc.errors, "parent_id")
        if "CHANNEL_PARENT_MAX_CHANNELS" in parent:
            return DiscordError(DiscordErrorKind.CATEGORY_FULL, exc.message, code=exc.code, status=400)
        if parent:  # the category was deleted or is not a category
            return DiscordError(DiscordErrorKind.NOT_FOUND, exc.message, code=exc.code, status=400)
        if exc.errors and "permission_overwrites" in exc.errors:  # a role of the overwrites was deleted
            return DiscordError(DiscordErrorKind.ROLE_MISSING, exc.message, code=exc.code, status=400)
        if _form_error_codes(exc.errors, "name"):
            return DiscordError(DiscordErrorKind.NAME_REJECTED, exc.message, code=exc.code, status=400)
    return DiscordError(DiscordErrorKind.BAD_REQUEST, exc.message, code=exc.code, status=400)


@contextlib.contextmanager
def translated() -> Generator[None]:
    """Raise a hikari REST failure inside the block as the ``DiscordError`` it means."""
    try:
        yield
    except hikari.HTTPError as exc:
        raise classify(exc) from exc


@contextlib.contextmanager
def translated_once() -> Generator[None]:
    """Like ``translated``, for a request that changes something and is sent once (``max_retries=0``).

    Any failure after which Discord may have carried it out becomes ``UNCONFIRMED``: a 5xx, a connection
    error or timeout, and a success whose body hikari could not read (JSON or fields).
    """
    try:
        yield
    except hikari.RateLimitTooLongError as exc:  # refused before sending: nothing happened
        raise classify(exc) from exc
    except hikari.InternalServerError as exc:
        raise DiscordError(
            DiscordErrorKind.UNCONFIRMED, f"status {int(exc.status)}", code=exc.code, status=int(exc.status)
        ) from exc
    except hikari.HTTPResponseError as exc:  # 4xx: Discord refused, nothing was done
        raise classify(exc) from exc
    except hikari.HTTPError as exc:  # a connection error or timeout, or a 2xx that was not JSON
        raise DiscordError(DiscordErrorKind.UNCONFIRMED, type(exc).__name__) from exc
    except (KeyError, TypeError, ValueError) as exc:  # a 2xx whose body hikari could not deserialize
        raise DiscordError(DiscordErrorKind.UNCONFIRMED, f"malformed response ({type(exc).__name__})") from exc
