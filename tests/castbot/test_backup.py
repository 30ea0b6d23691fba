"""``castbot-hikari backup``: a consistent copy of the data folder, also while the bot writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot import backup as backups
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.castbot.journal import DataFiles, set_op
from tests.conftest import write_player_data


def without_seq(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without the snapshot bookkeeping (which a copy records and memory may not yet)."""
    copy = orjson.loads(orjson.dumps(doc))
    copy.get(META, {}).pop("journalSeq", None)
    if copy.get(META) == {}:
        del copy[META]
    return copy


@pytest.mark.asyncio
async def test_a_backup_while_changes_are_in_the_journals_holds_them_all(data_dir: Path) -> None:
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    for n in range(50):
        await repo.document.change([set_op("1", "applications", str(n), value={"userId": str(n)})])
    copy = backups.consistent_copy(data_dir)  # playerData.json alone is behind: the journal holds these
    assert "1" not in orjson.loads((data_dir / DATA_FILE).read_bytes())
    assert without_seq(copy.doc) == without_seq(repo.document.doc)
    assert copy.applications == 50
    await repo.close()


@pytest.mark.asyncio
async def test_a_checkpoint_between_the_reads_is_noticed_and_read_again(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot is read, then the bot snapshots and deletes the journals before they are read."""
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    await repo.document.change([set_op("1", "applications", "7", value={"userId": "7"})])
    listings = 0
    journals = DataFiles.journals

    def checkpoint_first(files: DataFiles) -> list[Path]:
        nonlocal listings
        listings += 1
        if listings == 1:
            repo.document.snapshot_now()  # the change moves from the journal into a new snapshot
        return journals(files)

    monkeypatch.setattr(DataFiles, "journals", checkpoint_first)
    copy = backups.consistent_copy(data_dir, pause=lambda: None)
    assert listings == 2  # read again
    assert copy.doc["1"]["applications"]["7"] == {"userId": "7"}  # a one-pass copy would have lost it


def test_the_command_writes_one_complete_file_and_never_overwrites(data_dir: Path, tmp_path: Path) -> None:
    write_player_data(data_dir, {"1": {"applications": {"5": {"userId": "5"}}}})
    (data_dir / f"{DATA_FILE}.journal").write_bytes(b'{"s":1,"o":[["set",["1","applications","6"],{"userId":"6"}]]}\n')
    dest = tmp_path / "backup.json"
    command = [sys.executable, "-m", "castbot_hikari", "backup", str(dest), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "2 applications" in done.stdout
    assert set(orjson.loads(dest.read_bytes())["1"]["applications"]) == {"5", "6"}
    again = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    assert again.returncode == 3
    assert "already exists" in again.stderr
    assert again.stderr.count("\n") == 1  # one line


def test_a_backup_can_be_imported_back(data_dir: Path, tmp_path: Path) -> None:
    write_player_data(
        data_dir, {"1": {"applicationConfigs": {}, "applications": {"5": {"userId": "5", "configId": "c"}}}}
    )
    target = backups.write_backup(backups.consistent_copy(data_dir), tmp_path / "copy.json")
    restored = tmp_path / "restored"
    done = subprocess.run(
        [sys.executable, "-m", "castbot_hikari", "import", str(target), "--data-dir", str(restored)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads((restored / DATA_FILE).read_bytes())["1"]["applications"]["5"]["userId"] == "5"


def test_no_data_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(backups.BackupError, match="there is no data file"):
        backups.consistent_copy(tmp_path)
