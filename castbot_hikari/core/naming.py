"""Channel names and topic markers for application channels.

CastBot cleans the applicant's display name to ``[a-z0-9_-]`` and substitutes it for ``%name%`` in the
config's ``channelFormat``. Names are only decoration: identity is (guild, user, config), carried by the
topic marker, never by the name (admins rename channels).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from castbot_hikari.core.ids import CONFIG_ID_CHARS, ConfigId, UserId

NAME_PLACEHOLDER: Final = "%name%"
MAX_CLEAN_NAME: Final = 90
MAX_CHANNEL_NAME: Final = 100
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_MARKER = re.compile(rf"\[castbot-app:(\d+):({CONFIG_ID_CHARS})\]")


def clean_name(display_name: str) -> str:
    """Clean a display name to lowercase ``[a-z0-9_-]``, at most 90 characters.

    Accents are folded first (``Zoë`` -> ``zoe``) so Latin names survive; everything else (emoji,
    non-Latin scripts, spaces) is dropped. The result may be empty: callers need a fallback.
    """
    folded = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode("ascii")
    return _NOT_ALLOWED.sub("", folded.lower())[:MAX_CLEAN_NAME]


def channel_name(channel_format: str, display_name: str, user_id: UserId) -> str:
    """Build the application channel's name from the config's format.

    Args:
        channel_format: The config's ``channelFormat``; ``%name%`` is replaced.
        display_name: The applicant's display name as Discord shows it.
        user_id: Fallback for a name that cleans to nothing (emoji-only, non-Latin).

    Returns:
        A lowercase name of 1-100 characters without spaces, as Discord stores text channel names.
    """
    name = clean_name(display_name) or str(user_id)
    full = channel_format.replace(NAME_PLACEHOLDER, name).lower()
    full = re.sub(r"\s+", "-", full).strip("-")[:MAX_CHANNEL_NAME]
    return full or str(user_id)


def fallback_channel_name(user_id: UserId) -> str:
    """Return the neutral name used when Discord's word filter rejects a name."""
    return f"app-{user_id}"


def topic_marker(user_id: UserId, config_id: ConfigId) -> str:
    """Return the marker carried in the channel topic that identifies the application."""
    return f"[castbot-app:{user_id}:{config_id}]"


def topic_text(text: str) -> str:
    """Return user or admin text fit for a topic beside the marker: no brackets, so it can never hold one."""
    return text.replace("[", "(").replace("]", ")")


def application_topic(user_id: UserId, config_id: ConfigId, display_name: str, title: str) -> str:
    """Return an application channel's topic: the identity marker first, then words for humans."""
    words = f"Application of {topic_text(display_name)[:100]} for {topic_text(title)[:80]}"
    return f"{topic_marker(user_id, config_id)} {words}"


def parse_topic_marker(topic: str | None) -> tuple[UserId, ConfigId] | None:
    """Find the application identity in a channel topic, or ``None`` when it carries no marker.

    The marker this bot writes opens the topic; topics of earlier versions carried it last, after the
    applicant's name. So the marker at the start wins, else the last one: a display name holding a
    marker-like text can never hide or forge an application's identity.
    """
    if not topic:
        return None
    found = _MARKER.match(topic)
    if found is None:
        markers = list(_MARKER.finditer(topic))
        if not markers:
            return None
        found = markers[-1]
    return UserId(int(found.group(1))), ConfigId(found.group(2))
