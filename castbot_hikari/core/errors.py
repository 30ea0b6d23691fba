"""Errors that adapters raise in domain terms, so services never see transport exceptions."""

from __future__ import annotations

import enum


class DiscordErrorKind(enum.Enum):
    """What went wrong on Discord's side, as far as the apply flow cares."""

    MISSING_PERMISSIONS = "missing_permissions"
    NOT_FOUND = "not_found"
    CATEGORY_FULL = "category_full"
    GUILD_FULL = "guild_full"
    NAME_REJECTED = "name_rejected"
    ROLE_MISSING = "role_missing"
    UNAVAILABLE = "unavailable"
    UNCONFIRMED = "unconfirmed"
    """A request that changes something failed in a way that Discord may have carried it out anyway (a 5xx,
    a timeout or dropped connection, a malformed success): look before trying again."""
    BAD_REQUEST = "bad_request"


class DiscordError(Exception):
    """A Discord call failed for good (after the transport's own retries)."""

    def __init__(self, kind: DiscordErrorKind, message: str, *, code: int = 0, status: int = 0) -> None:
        super().__init__(f"{kind.value}: {message} (status={status} code={code})")
        self.kind = kind
        self.code = code
        self.status = status


class StorageError(Exception):
    """The store could not make a change durable (data file or database); nothing was changed."""


class LeaseLostError(StorageError):
    """This process's reservation was taken over by another process (its lease had run out): the apply
    is that process's now, and nothing this one made may be undone (the other adopts it)."""


class CorruptDataError(Exception):
    """The data file exists but cannot be read as CastBot data; it was left untouched."""
