"""The custom-id codec: every custom id the bot reads or writes is built and parsed here.

The Apply button keeps CastBot's ``apply_<configId>`` so buttons CastBot already posted keep working.
"""

from __future__ import annotations

import re
from typing import Final

from castbot_hikari.core.ids import ConfigId

APPLY_PREFIX: Final = "apply_"
# Config ids are ``config_<epoch ms>_<creator id>`` in CastBot; accept any id of that alphabet so older
# or hand-edited configs still resolve, but nothing that could reach a path or a log line unescaped.
_CONFIG_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,90}")


def apply_button(config_id: ConfigId) -> str:
    """Return the Apply button's custom id for a config."""
    return f"{APPLY_PREFIX}{config_id}"


def parse_apply(custom_id: str) -> ConfigId | None:
    """Return the config id of an Apply button's custom id, or ``None`` if it is not one (or malformed)."""
    if not custom_id.startswith(APPLY_PREFIX):
        return None
    config_id = custom_id[len(APPLY_PREFIX) :]
    return ConfigId(config_id) if _CONFIG_ID.fullmatch(config_id) else None
