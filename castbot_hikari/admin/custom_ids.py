"""The custom-id codec of the ``/apps`` admin components: readable, versioned ``apps:v1:...`` ids.

Ids that must survive a restart carry what they act on (a config id, a guild id); setup ids carry the
setup's random id, so a click after the setup expired (or after a restart) is recognised and answered.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from castbot_hikari.core.ids import ConfigId, GuildId, parse_config_id

PREFIX: Final = "apps:v1:"
POST_MODAL: Final = f"{PREFIX}post"
DELETE_CANCEL: Final = f"{PREFIX}delete-cancel"
# Text inputs of the post and edit modals (unique within their modal only).
TITLE_INPUT: Final = "title"
DESCRIPTION_INPUT: Final = "description"
FORMAT_INPUT: Final = "format"
MAX_CUSTOM_ID: Final = 100
_SESSION_ID: Final = re.compile(r"[0-9a-f]{1,32}")


class SetupPart(enum.Enum):
    """The components of the ``/apps post`` setup message."""

    CHANNEL = "channel"
    CATEGORY = "category"
    STYLE = "style"
    ROLE = "role"
    POST = "post"
    CANCEL = "cancel"


class Kind(enum.Enum):
    """What an admin custom id is."""

    POST_MODAL = "post"
    EDIT_MODAL = "edit"
    SETUP = "setup"
    DELETE = "delete"
    DELETE_CANCEL = "delete-cancel"
    RETRY_STOP = "retry-stop"


@dataclass(frozen=True, slots=True)
class AdminId:
    """A parsed admin custom id; only the fields of its kind are set."""

    kind: Kind
    config_id: ConfigId | None = None
    session_id: str | None = None
    part: SetupPart | None = None
    guild_id: GuildId | None = None


def setup(session_id: str, part: SetupPart) -> str:
    """Return the custom id of one component of a setup message."""
    return f"{PREFIX}setup:{session_id}:{part.value}"


def edit_modal(config_id: ConfigId) -> str | None:
    """Return the edit modal's custom id, or ``None`` if the config id is too long to fit in one."""
    custom_id = f"{PREFIX}edit:{config_id}"
    return custom_id if len(custom_id) <= MAX_CUSTOM_ID else None


def delete_confirm(config_id: ConfigId) -> str | None:
    """Return the delete confirmation button's custom id, or ``None`` if the config id is too long."""
    custom_id = f"{PREFIX}delete:{config_id}"
    return custom_id if len(custom_id) <= MAX_CUSTOM_ID else None


def retry_stop(guild_id: GuildId) -> str:
    """Return the Stop button's custom id of a server's retry-pending batch."""
    return f"{PREFIX}retry-stop:{guild_id}"


def parse(custom_id: str) -> AdminId | None:
    """Return the admin id encoded in ``custom_id``, or ``None`` if it is not one of ours (or malformed)."""
    if not custom_id.startswith(PREFIX):
        return None
    kind_text, _, rest = custom_id[len(PREFIX) :].partition(":")
    try:
        kind = Kind(kind_text)
    except ValueError:
        return None
    match kind:
        case Kind.POST_MODAL | Kind.DELETE_CANCEL:
            return AdminId(kind) if not rest else None
        case Kind.EDIT_MODAL | Kind.DELETE:
            return AdminId(kind, config_id=config_id) if (config_id := parse_config_id(rest)) else None
        case Kind.SETUP:
            return _parse_setup(rest)
        case Kind.RETRY_STOP:
            return AdminId(kind, guild_id=GuildId(int(rest))) if rest.isdigit() else None


def _parse_setup(rest: str) -> AdminId | None:
    session_id, _, part_text = rest.partition(":")
    if not _SESSION_ID.fullmatch(session_id):
        return None
    try:
        part = SetupPart(part_text)
    except ValueError:
        return None
    return AdminId(Kind.SETUP, session_id=session_id, part=part)
