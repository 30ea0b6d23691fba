"""Settings: environment and .env, with one clear message per bad setting."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from castbot_hikari.settings import (
    DISCORD_API_URL,
    OpsSettings,
    Settings,
    SettingsError,
    StoreSettings,
    bot_id_from_token,
    redact_url,
)

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


def test_ops_defaults_run_every_shard_without_metrics(tmp_path: Path) -> None:
    ops = Settings.from_env({"CASTBOT_TOKEN": TOKEN}, env_file=tmp_path / "none").ops
    assert ops == OpsSettings()
    assert (ops.shard_ids, ops.shard_count, ops.metrics_port) == (None, None, None)
    assert (ops.metrics_host, ops.log_format) == ("127.0.0.1", "text")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0-3", (0, 1, 2, 3)), ("0,2", (0, 2)), (" 2 , 0-1 ", (0, 1, 2)), ("3", (3,)), ("1-1,1", (1,))],
)
def test_shard_ids_are_ranges_and_lists(tmp_path: Path, raw: str, expected: tuple[int, ...]) -> None:
    environ = {"CASTBOT_TOKEN": TOKEN, "CASTBOT_SHARD_IDS": raw, "CASTBOT_SHARD_COUNT": "4"}
    ops = Settings.from_env(environ, env_file=tmp_path / "none").ops
    assert (ops.shard_ids, ops.shard_count) == (expected, 4)


def test_ops_settings_are_read(tmp_path: Path) -> None:
    environ = {
        "CASTBOT_TOKEN": TOKEN,
        "CASTBOT_SHARD_COUNT": "8",
        "CASTBOT_METRICS_PORT": "9464",
        "CASTBOT_METRICS_HOST": "0.0.0.0",
        "CASTBOT_LOG_FORMAT": "JSON",
    }
    ops = Settings.from_env(environ, env_file=tmp_path / "none").ops
    assert ops == OpsSettings(None, 8, "0.0.0.0", 9464, "json")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"CASTBOT_SHARD_IDS": "0-3"}, "CASTBOT_SHARD_COUNT"),
        ({"CASTBOT_SHARD_IDS": "a-b", "CASTBOT_SHARD_COUNT": "4"}, "CASTBOT_SHARD_IDS"),
        ({"CASTBOT_SHARD_IDS": "3-1", "CASTBOT_SHARD_COUNT": "4"}, "CASTBOT_SHARD_IDS"),
        ({"CASTBOT_SHARD_IDS": "0,,1", "CASTBOT_SHARD_COUNT": "4"}, "CASTBOT_SHARD_IDS"),
        ({"CASTBOT_SHARD_IDS": "-1", "CASTBOT_SHARD_COUNT": "4"}, "CASTBOT_SHARD_IDS"),
        ({"CASTBOT_SHARD_IDS": "2-4", "CASTBOT_SHARD_COUNT": "4"}, "CASTBOT_SHARD_IDS"),
        ({"CASTBOT_SHARD_COUNT": "0"}, "CASTBOT_SHARD_COUNT"),
        ({"CASTBOT_SHARD_COUNT": "four"}, "CASTBOT_SHARD_COUNT"),
        ({"CASTBOT_METRICS_PORT": "http"}, "CASTBOT_METRICS_PORT"),
        ({"CASTBOT_METRICS_PORT": "70000"}, "CASTBOT_METRICS_PORT"),
        ({"CASTBOT_METRICS_HOST": "http://127.0.0.1"}, "CASTBOT_METRICS_HOST"),
        ({"CASTBOT_LOG_FORMAT": "xml"}, "CASTBOT_LOG_FORMAT"),
    ],
)
def test_bad_ops_setting_is_one_line_naming_it(tmp_path: Path, extra: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        Settings.from_env({"CASTBOT_TOKEN": TOKEN, **extra}, env_file=tmp_path / "none")
    assert "\n" not in str(caught.value)


def test_store_defaults_to_the_json_file_and_postgres_is_read(tmp_path: Path) -> None:
    assert Settings.from_env({"CASTBOT_TOKEN": TOKEN}, env_file=tmp_path / "none").store == StoreSettings()
    url = "postgresql://castbot:hunter2@db.internal:5432/castbot"
    environ = {"CASTBOT_TOKEN": TOKEN, "CASTBOT_STORE": "postgres", "CASTBOT_DATABASE_URL": url}
    store = Settings.from_env({**environ, "CASTBOT_LEASE_SECONDS": "5"}, env_file=tmp_path / "none").store
    assert store == StoreSettings("postgres", url, 5.0)
    assert "hunter2" not in repr(store)
    assert redact_url(url) == "postgresql://castbot:***@db.internal:5432/castbot"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"CASTBOT_STORE": "mysql"}, "CASTBOT_STORE must be one of json, postgres"),
        ({"CASTBOT_STORE": "postgres"}, "CASTBOT_STORE=postgres needs CASTBOT_DATABASE_URL"),
        (
            {"CASTBOT_STORE": "postgres", "CASTBOT_DATABASE_URL": "mysql://u:secret@h/db"},
            "CASTBOT_DATABASE_URL must start with postgresql://",
        ),
        ({"CASTBOT_LEASE_SECONDS": "0"}, "CASTBOT_LEASE_SECONDS"),
    ],
)
def test_bad_store_setting_is_one_line_naming_it(tmp_path: Path, extra: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        Settings.from_env({"CASTBOT_TOKEN": TOKEN, **extra}, env_file=tmp_path / "none")
    assert "\n" not in str(caught.value)
    assert "secret" not in str(caught.value)
