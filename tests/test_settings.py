"""Settings: environment and .env, with one clear message per bad setting."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from castbot_hikari.settings import DISCORD_API_URL, Settings, SettingsError, bot_id_from_token

BOT_ID = 444444444444444444
TOKEN = base64.b64encode(str(BOT_ID).encode()).decode().rstrip("=") + ".GabcDe.secretsecretsecret"


def test_defaults_and_bot_id_from_token(tmp_path: Path) -> None:
    settings = Settings.from_env({"CASTBOT_TOKEN": TOKEN}, env_file=tmp_path / "none")
    assert settings.api_url == DISCORD_API_URL
    assert settings.data_dir == Path("data")
    assert settings.log_level == "INFO"
    assert settings.apply_timeout == 600
    assert settings.bot_user_id == BOT_ID == bot_id_from_token(TOKEN)
    assert TOKEN not in repr(settings)


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(f"CASTBOT_TOKEN={TOKEN}\nCASTBOT_DATA_DIR=/srv/castbot\nCASTBOT_LOG_LEVEL=debug\n")
    settings = Settings.from_env({"CASTBOT_LOG_LEVEL": "warning"}, env_file=env)
    assert settings.data_dir == Path("/srv/castbot")
    assert settings.log_level == "WARNING"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "CASTBOT_TOKEN"),
        ({"CASTBOT_TOKEN": "not-a-token"}, "CASTBOT_TOKEN"),
        ({"CASTBOT_TOKEN": "aGVsbG8.x.y"}, "CASTBOT_TOKEN"),  # first part decodes, but not to an id
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_API_URL": "127.0.0.1:8080"}, "CASTBOT_API_URL"),
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_LOG_LEVEL": "LOUD"}, "CASTBOT_LOG_LEVEL"),
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_APPLY_TIMEOUT": "soon"}, "CASTBOT_APPLY_TIMEOUT"),
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_APPLY_TIMEOUT": "-1"}, "CASTBOT_APPLY_TIMEOUT"),
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_MAX_CONCURRENT_APPLIES": "0"}, "CASTBOT_MAX_CONCURRENT_APPLIES"),
        ({"CASTBOT_TOKEN": TOKEN, "CASTBOT_MAX_CONCURRENT_APPLIES": "many"}, "CASTBOT_MAX_CONCURRENT_APPLIES"),
    ],
)
def test_bad_setting_is_named(tmp_path: Path, environ: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        Settings.from_env(environ, env_file=tmp_path / "none")
    assert "\n" not in str(caught.value)
    assert "secret" not in str(caught.value)


def test_api_url_trailing_slash_is_dropped(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CASTBOT_TOKEN": TOKEN, "CASTBOT_API_URL": "http://127.0.0.1:9/api/v10/"}, env_file=tmp_path / "none"
    )
    assert settings.api_url == "http://127.0.0.1:9/api/v10"
