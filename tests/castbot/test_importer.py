"""`castbot-hikari import`: checks, atomic copy, --force with backup, one-line errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from castbot_hikari import cli
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.settings import configured_data_dir
from tests.apply.fakes import CONFIG, GUILD, castbot_config

CASTBOT: dict[str, object] = {
    str(GUILD): {
        "players": {"1": {"age": 24}},
        "applicationConfigs": {CONFIG: castbot_config()},
        "applications": {"10": {"userId": "1", "configId": CONFIG}, "11": {"userId": "2", "configId": CONFIG}},
    },
    "222222222222222222": {"players": {}},
    "environmentConfig": {"liveDiscordLogging": True},
}


def write(path: Path, doc: object) -> Path:
    path.write_bytes(orjson.dumps(doc))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["import", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_import_checks_copies_and_prints_what_it_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "castbot.json", CASTBOT)
    data = tmp_path / "data"
    code, out, err = run(capsys, str(source), "--data-dir", str(data))
    assert (code, err) == (0, "")
    assert "2 servers, 1 Apply config, 2 applications" in out
    assert f"server {GUILD}: 1 config, 2 applications" in out
    assert "server 222222222222222222: 0 configs, 0 applications" in out
    assert (data / DATA_FILE).read_bytes() == source.read_bytes()  # a byte-for-byte copy
    repo = JsonApplicationRepository.open(data, fsync=False)
    assert repo.document.doc["environmentConfig"] == {"liveDiscordLogging": True}
    assert list(data.glob("*.tmp")) == []


def test_existing_data_is_kept_without_force_and_backed_up_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    old = write(data / DATA_FILE, {"_castbotHikari": {"schemaVersion": 1}, "1": {}})
    journal = data / f"{DATA_FILE}.journal"
    journal.write_bytes(b'[["set",["1","x"],1]]\n')
    source = write(tmp_path / "castbot.json", CASTBOT)
    code, out, err = run(capsys, str(source), "--data-dir", str(data))
    assert code == cli.ExitCode.DATA
    assert out == ""
    assert err.count("\n") == 1
    assert "already exists; use --force" in err
    assert orjson.loads(old.read_bytes())["1"] == {}
    code, out, err = run(capsys, str(source), "--data-dir", str(data), "--force")
    assert code == 0
    assert "previous file is kept as" in out
    assert (data / DATA_FILE).read_bytes() == source.read_bytes()
    (backup,) = (p for p in data.glob(f"{DATA_FILE}.*.bak") if ".journal." not in p.name)
    assert orjson.loads(backup.read_bytes())["1"] == {}
    assert not journal.exists()  # never replayed onto the imported file
    assert len(list(data.glob(f"{DATA_FILE}.journal.*.bak"))) == 1
    reopened = JsonApplicationRepository.open(data, fsync=False)
    assert "x" not in reopened.document.doc.get("1", {})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "must hold a JSON object"),
        (b'{"environmentConfig": {}}', "holds no server entries"),
        (b'{"123": []}', "server 123 must be a JSON object"),
        (b'{"123": {"applicationConfigs": []}}', "applicationConfigs must be a JSON object"),
        (b'{"123": {"applications": {"5": "x"}}}', "applications entry '5' must be a JSON object"),
        (b'{"_castbotHikari": {"schemaVersion": 9}, "1": {}}', "newer castbot-hikari"),
    ],
)
def test_invalid_files_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    source = tmp_path / "bad.json"
    source.write_bytes(content)
    code, out, err = run(capsys, str(source), "--data-dir", str(tmp_path / "data"))
    assert code == cli.ExitCode.DATA
    assert out == ""
    assert message in err
    assert err.startswith("castbot-hikari: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert not (tmp_path / "data" / DATA_FILE).exists()


def test_a_missing_file_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.json"), "--data-dir", str(tmp_path))
    assert code == cli.ExitCode.DATA
    assert "cannot read" in err
    assert err.count("\n") == 1


def test_odd_config_ids_are_imported_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = write(tmp_path / "c.json", {"1": {"applicationConfigs": {"config id/with spaces": {}}}})
    code, out, _ = run(capsys, str(source), "--data-dir", str(tmp_path / "d"))
    assert code == 0
    assert "warning: server 1: config id 'config id/with spaces'" in out


def test_the_data_dir_defaults_to_the_bots_setting(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("CASTBOT_DATA_DIR=/srv/from-env-file\n")
    assert configured_data_dir({}, env_file) == Path("/srv/from-env-file")
    assert configured_data_dir({"CASTBOT_DATA_DIR": "/srv/env"}, env_file) == Path("/srv/env")
    assert configured_data_dir({}, tmp_path / "missing.env") == Path("data")
