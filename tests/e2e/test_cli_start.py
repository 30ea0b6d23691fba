"""``castbot-hikari run``/``init`` at start-up, as an operator meets them: one line and an exit code per failure.

Every command runs in its own process, with settings from the environment only. The API URL is a
closed port on 127.0.0.1, so a start that gets past the data checks fails at the Discord check.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.castbot.folder import LOCK_FILE
from castbot_hikari.cli import ExitCode
from castbot_hikari.settings import VARIABLES
from tests.e2e.commands import TOKEN, as_ordinary_user, castbot, closed_port_url, environment

CASTBOT_FILE: dict[str, object] = {"123": {"applicationConfigs": {}, "applications": {}}}


def bot_env(data_dir: Path | str | None = None, **more: str) -> dict[str, str]:
    """Return the environment of a bot whose Discord API refuses connections."""
    settings = {"CASTBOT_TOKEN": TOKEN, "CASTBOT_API_URL": closed_port_url(), **more}
    if data_dir is not None:
        settings["CASTBOT_DATA_DIR"] = str(data_dir)
    return environment(**settings)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder the bot cannot write in (restored afterwards so pytest can clean up)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)


def test_run_without_a_data_file_stops_in_one_line_and_creates_nothing(tmp_path: Path) -> None:
    result = castbot("run", cwd=tmp_path, env=bot_env())  # the default ./data of a new folder
    assert result.code == ExitCode.DATA
    (line,) = result.err_lines
    assert line.startswith("castbot-hikari: error: refusing to start: there is no data file ")
    assert str(tmp_path / "data" / DATA_FILE) in line
    assert "castbot-hikari init" in line
    assert "volume is not mounted" in line
    assert result.out == ""
    assert list(tmp_path.iterdir()) == []  # no empty ./data/playerData.json left behind


def test_init_makes_a_new_install_that_run_accepts(tmp_path: Path) -> None:
    created = castbot("init", cwd=tmp_path, env=bot_env())
    assert (created.code, created.err) == (0, "")
    assert f"created {Path('data') / DATA_FILE}" in created.out
    assert orjson.loads((tmp_path / "data" / DATA_FILE).read_bytes()) == {META: {"schemaVersion": 1, "journalSeq": 0}}
    again = castbot("init", cwd=tmp_path, env=bot_env())
    assert again.code == ExitCode.DATA
    assert "already holds data; nothing was changed" in again.err
    started = castbot("run", cwd=tmp_path, env=bot_env())  # past the data checks, on to Discord
    assert started.code == ExitCode.DISCORD_UNREACHABLE


def test_an_unreachable_api_is_one_line_without_retries(tmp_path: Path) -> None:
    castbot("init", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=bot_env())
    env = bot_env(tmp_path / "d")
    result = castbot("run", cwd=tmp_path, env=env)
    assert result.code == ExitCode.DISCORD_UNREACHABLE
    (line,) = result.err_lines  # before: 87 lines of hikari retries and tracebacks over 19 s
    assert line.startswith(f"castbot-hikari: error: could not reach the Discord API at {env['CASTBOT_API_URL']}: ")
    assert "Retries remaining" not in result.err
    assert result.out == ""


def test_the_details_of_a_failed_start_are_at_debug(tmp_path: Path) -> None:
    castbot("init", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=bot_env())
    result = castbot("run", cwd=tmp_path, env=bot_env(tmp_path / "d", CASTBOT_LOG_LEVEL="DEBUG"))
    assert result.code == ExitCode.DISCORD_UNREACHABLE
    assert "token check failed" in result.err
    assert "Traceback" in result.err
    assert TOKEN not in result.err


@pytest.mark.parametrize("command", ["run", "sandbox"])
def test_a_data_folder_that_is_a_file_is_one_line(tmp_path: Path, command: str) -> None:
    (tmp_path / "data").write_text("not a folder")
    args = [command] if command == "run" else [command, "--data-dir", "data"]
    result = castbot(*args, cwd=tmp_path, env=bot_env("data"))
    assert result.code == ExitCode.DATA
    (line,) = result.err_lines  # before: a FileExistsError traceback
    assert "data is a file, not a folder" in line
    assert (tmp_path / "data").read_text() == "not a folder"


@pytest.mark.parametrize("ran_before", [False, True])
def test_a_read_only_folder_with_data_is_refused_at_start(read_only: Path, tmp_path: Path, ran_before: bool) -> None:
    (read_only / DATA_FILE).write_bytes(orjson.dumps(CASTBOT_FILE))
    if ran_before:  # the lock file of an earlier run is there, and writable: the folder itself is not
        (read_only / LOCK_FILE).write_text("1\n")
    read_only.chmod(0o555)
    result = castbot("run", cwd=tmp_path, env=bot_env(read_only), prefix=as_ordinary_user())
    # before: the bot started, every applicant got "could not be saved", and the logs said the journal
    # still held every change
    assert result.code == ExitCode.DATA
    (line,) = result.err_lines
    assert f"cannot write in the data folder {read_only}" in line
    assert "Permission denied" in line


def test_a_read_only_journal_is_refused_at_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    (data_dir / DATA_FILE).write_bytes(orjson.dumps(CASTBOT_FILE))
    journal = data_dir / f"{DATA_FILE}.journal"
    journal.write_bytes(b"")
    journal.chmod(0o444)  # the folder is writable, the file every change is appended to is not
    result = castbot("run", cwd=tmp_path, env=bot_env(data_dir), prefix=as_ordinary_user())
    assert result.code == ExitCode.DATA
    (line,) = result.err_lines
    assert f"cannot write the journal {journal}" in line


def test_a_read_only_empty_folder_is_one_line_for_run_and_for_init(read_only: Path, tmp_path: Path) -> None:
    read_only.chmod(0o555)
    run = castbot("run", cwd=tmp_path, env=bot_env(read_only), prefix=as_ordinary_user())
    assert run.code == ExitCode.DATA
    assert len(run.err_lines) == 1
    assert "there is no data file" in run.err
    init = castbot("init", cwd=tmp_path, env=bot_env(read_only), prefix=as_ordinary_user())
    assert init.code == ExitCode.DATA
    (line,) = init.err_lines  # before: an OSError traceback
    assert f"cannot write in the data folder {read_only}" in line
    assert os.listdir(read_only) == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"123": []}, "server 123 must be a JSON object"),
        ({"123": {"applications": []}}, "server 123: applications must be a JSON object"),
    ],
)
def test_run_refuses_what_import_refuses(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    data_dir = tmp_path / "d"
    data_dir.mkdir()
    raw = orjson.dumps(doc)
    (data_dir / DATA_FILE).write_bytes(raw)
    run = castbot("run", cwd=tmp_path, env=bot_env(data_dir))
    assert run.code == ExitCode.DATA
    (line,) = run.err_lines
    assert message in line
    assert line.startswith("castbot-hikari: error: refusing to start: ")
    (tmp_path / "castbot.json").write_bytes(raw)
    imported = castbot("import", "castbot.json", "--data-dir", str(tmp_path / "new"), cwd=tmp_path, env=bot_env())
    assert imported.code == ExitCode.DATA
    assert message in imported.err
    assert (data_dir / DATA_FILE).read_bytes() == raw


def test_a_token_with_the_bot_prefix_gets_a_hint(tmp_path: Path) -> None:
    result = castbot("run", cwd=tmp_path, env=bot_env(CASTBOT_TOKEN=f"Bot {TOKEN}"))
    assert result.code == ExitCode.USAGE
    (line,) = result.err_lines
    assert "without the 'Bot ' prefix" in line
    assert TOKEN not in line


def test_version(tmp_path: Path) -> None:
    result = castbot("--version", cwd=tmp_path)
    assert result.code == 0
    assert result.out.startswith("castbot-hikari 0.1.0 (hikari 2.6.0, hikari-lightbulb 3.2.6, Python 3.")


def test_run_help_lists_every_environment_variable_and_the_exit_codes(tmp_path: Path) -> None:
    result = castbot("run", "--help", cwd=tmp_path)
    assert result.code == 0
    for name, default, _ in VARIABLES:
        assert name in result.out
        assert default in result.out
    for code in ExitCode:
        assert f"{int(code)} {code.name.lower().replace('_', ' ')}" in " ".join(result.out.split())
