"""The custom-id codec: every custom id the bot reads or writes is built and parsed here.

The Apply button keeps CastBot's ``apply_<configId>`` so buttons CastBot already posted keep working.
"""

from __future__ import annotations

from typing import Final

from castbot_hikari.core.ids import ConfigId, parse_config_id

APPLY_PREFIX: Final = "apply_"


def apply_button(config_id: ConfigId) -> str:
    """Return the Apply button's custom id for a config."""
    return f"{APPLY_PREFIX}{config_id}"


def parse_apply(custom_id: str) -> ConfigId | None:
    """Return the config id of an Apply button's custom id, or ``None`` if it is not one (or malformed)."""
    if not custom_id.startswith(APPLY_PREFIX):
        return None
    return parse_config_id(custom_id[len(APPLY_PREFIX) :])
