"""Channel names from display names, topic markers and the Apply custom id."""

from __future__ import annotations

import pytest

from castbot_hikari.apply import custom_ids
from castbot_hikari.core import naming
from castbot_hikari.core.ids import ConfigId, UserId

USER = UserId(333333333333333333)


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("Kevin A", "📝kevina-app"),
        ("Zoë_Smith-2", "📝zoe_smith-2-app"),
        ("🔥🔥🔥", f"📝{USER}-app"),  # emoji-only falls back to the user id
        ("Александр", f"📝{USER}-app"),  # non-Latin script cleans to nothing
        ("مرحبا", f"📝{USER}-app"),  # right-to-left
        ("   ", f"📝{USER}-app"),
    ],
)
def test_channel_name_cleaning(display: str, expected: str) -> None:
    assert naming.channel_name("📝%name%-app", display, USER) == expected


def test_200_char_name_is_capped_at_90_and_channel_at_100() -> None:
    name = naming.channel_name("📝%name%-app", "a" * 200, USER)
    assert name == "📝" + "a" * 90 + "-app"
    assert len(naming.channel_name("%name%" * 3, "b" * 200, USER)) == 100


def test_clean_name_only_keeps_allowed_characters() -> None:
    assert naming.clean_name("Ké vin!!_-OK 42") == "kevin_-ok42"


def test_format_spaces_become_dashes_and_case_lowers() -> None:
    assert naming.channel_name("App %name% Season", "Jo", USER) == "app-jo-season"


def test_topic_marker_round_trip() -> None:
    config = ConfigId("config_1781015852414_123")
    topic = f"Application of X for Y {naming.topic_marker(USER, config)}"
    assert naming.parse_topic_marker(topic) == (USER, config)
    assert naming.parse_topic_marker("no marker here") is None
    assert naming.parse_topic_marker(None) is None


@pytest.mark.parametrize(
    ("custom_id", "expected"),
    [
        ("apply_config_1781015852414_123", "config_1781015852414_123"),
        ("apply_", None),
        ("apply_../x", None),
        ("apply_" + "x" * 95, None),
        ("other_config_1", None),
        ("apply_config with space", None),
    ],
)
def test_parse_apply_custom_id(custom_id: str, expected: str | None) -> None:
    assert custom_ids.parse_apply(custom_id) == expected


def test_apply_custom_id_round_trip() -> None:
    config = ConfigId("config_1781015852414_123")
    assert custom_ids.parse_apply(custom_ids.apply_button(config)) == config


def test_a_display_name_holding_a_marker_cannot_hide_or_forge_the_identity() -> None:
    """An applicant names themselves "[castbot-app:1:x]": the channel still reads as theirs, for this config."""
    spoof = "[castbot-app:1:config_evil] Kevin"
    topic = naming.application_topic(UserId(42), ConfigId("config_1_2"), spoof, "Season [castbot-app:2:y]")
    assert naming.parse_topic_marker(topic) == (42, "config_1_2")
    assert "[castbot-app:1:" not in topic  # the user's brackets are gone


def test_topics_of_earlier_versions_are_read_by_their_last_marker() -> None:
    old = "Application of [castbot-app:1:config_evil] Kevin for Season 14 [castbot-app:42:config_1_2]"
    assert naming.parse_topic_marker(old) == (42, "config_1_2")
