"""The data folder: one writing process at a time, write checks at open, one validator, honest close logs."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from castbot_hikari.castbot import folder
from castbot_hikari.castbot.document import DATA_FILE, NoDataFileError, check_data, open_document
from castbot_hikari.castbot.folder import (
    LOCK_FILE,
    FolderInUseError,
    FolderNotWritableError,
    check_writable,
    lock_folder,
    lock_holder,
    probe_journal,
)
from castbot_hikari.castbot.journal import set_op
from castbot_hikari.core.errors import CorruptDataError

HOLDER = """
import sys
from pathlib import Path
from castbot_hikari.castbot.folder import lock_folder
lock_folder(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``tmp_path``'s lock until it is killed."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_a_second_process_is_refused_naming_the_folder_and_the_pid(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(FolderInUseError) as caught:
        lock_folder(tmp_path)
    assert caught.value.pid == holder.pid
    assert str(tmp_path) in str(caught.value)
    assert f"PID {holder.pid}" in str(caught.value)
    assert lock_holder(tmp_path) == holder.pid


def test_the_store_takes_the_lock_too(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    with pytest.raises(FolderInUseError):
        open_document(tmp_path, fsync=False)
    assert not (tmp_path / DATA_FILE).exists()


@pytest.mark.asyncio
async def test_a_closed_store_gives_the_folder_back(tmp_path: Path) -> None:
    """A process that opens folders one after another (tests, tools) keeps no lock or descriptor of a closed one."""
    document = open_document(tmp_path, fsync=False)
    assert lock_holder(tmp_path) == os.getpid()
    await document.close()
    assert lock_holder(tmp_path) is None
    info = os.stat(tmp_path / LOCK_FILE)
    assert (info.st_dev, info.st_ino) not in folder._held  # its descriptor is closed  # pyright: ignore[reportPrivateUsage]


def test_a_store_that_fails_to_open_gives_the_folder_back(tmp_path: Path) -> None:
    (tmp_path / DATA_FILE).write_bytes(b"{not json")
    with pytest.raises(CorruptDataError):
        open_document(tmp_path, fsync=False)
    assert lock_holder(tmp_path) is None


def test_a_killed_holder_never_blocks_a_restart(tmp_path: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)  # no clean-up code runs: the kernel drops the lock
    holder.wait(timeout=30)
    assert (tmp_path / LOCK_FILE).exists()  # the file stays; only the lock matters
    assert lock_holder(tmp_path) is None
    with lock_folder(tmp_path):
        assert lock_holder(tmp_path) == os.getpid()
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())


def test_the_lock_is_reentrant_in_one_process_and_dropped_with_the_last_hold(tmp_path: Path) -> None:
    first = lock_folder(tmp_path)
    second = lock_folder(tmp_path)  # the CLI holds it, then the store it opens takes it again
    first.release()
    probe = [
        sys.executable,
        "-c",
        "import sys; from pathlib import Path; from castbot_hikari.castbot.folder import "
        "lock_folder; lock_folder(Path(sys.argv[1]))",
        str(tmp_path),
    ]
    refused = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode != 0
    assert "FolderInUseError" in refused.stderr
    second.release()
    second.release()  # a second release does nothing
    assert subprocess.run(probe, capture_output=True, timeout=60, check=False).returncode == 0


def test_check_writable_fails_when_fsync_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(folder.os, "fsync", broken)
    with pytest.raises(FolderNotWritableError, match=r"cannot write in the data folder .*Input/output error"):
        check_writable(tmp_path)
    assert list(tmp_path.iterdir()) == []  # the probe file is gone


def test_probe_journal_writes_a_line_then_leaves_the_journal_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / f"{DATA_FILE}.journal"
    journal.write_bytes(b'[["set",["x"],1]]\n')
    synced: list[bytes] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(journal.read_bytes())
        real_fsync(fd)

    monkeypatch.setattr(folder.os, "fsync", recording)
    probe_journal(journal)
    assert synced[0] == b'[["set",["x"],1]]\n[]\n'  # a real line reached the disk
    assert journal.read_bytes() == b'[["set",["x"],1]]\n'


def test_open_refuses_a_folder_whose_journal_cannot_be_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / DATA_FILE).write_bytes(b'{"1": {}}')

    def no_journal(journal: Path, *, fsync: bool = True) -> None:
        raise FolderNotWritableError(f"cannot write the journal {journal}: Read-only file system")

    monkeypatch.setattr("castbot_hikari.castbot.document.probe_journal", no_journal)
    with pytest.raises(FolderNotWritableError, match="Read-only"):
        open_document(tmp_path, fsync=False)


def test_without_create_a_missing_data_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NoDataFileError, match="castbot-hikari init"):
        open_document(tmp_path / "data", create=False)
    assert not (tmp_path / "data").exists()  # nothing is created on the way
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / f"{DATA_FILE}.journal").write_bytes(b"")
    with pytest.raises(NoDataFileError, match="moved or deleted"):
        open_document(tmp_path / "data", create=False)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [f"{DATA_FILE}.journal"]


def test_a_data_folder_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("oops")
    with pytest.raises(folder.DataFolderError, match="is a file, not a folder"):
        open_document(tmp_path / "data")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"123": []}, "server 123 must be a JSON object"),
        ({"123": {"applications": []}}, "applications must be a JSON object"),
        ({"123": {"applicationConfigs": {"c": 1}}}, "applicationConfigs entry 'c' must be a JSON object"),
        ({"_castbotHikari": []}, "_castbotHikari must be a JSON object"),
    ],
)
def test_the_store_refuses_what_import_refuses(tmp_path: Path, doc: dict[str, object], message: str) -> None:
    raw = orjson.dumps(doc)
    (tmp_path / DATA_FILE).write_bytes(raw)
    with pytest.raises(CorruptDataError, match=message):
        open_document(tmp_path, fsync=False)
    with pytest.raises(CorruptDataError, match=message):
        check_data(doc, "x")
    assert (tmp_path / DATA_FILE).read_bytes() == raw


@pytest.mark.asyncio
async def test_a_torn_journal_tail_is_dropped_so_the_next_change_is_not_glued_to_it(tmp_path: Path) -> None:
    (tmp_path / DATA_FILE).write_bytes(b'{"1": {}}')
    (tmp_path / f"{DATA_FILE}.journal").write_bytes(b'[["set",["1","torn"')  # a crash mid-append
    document = open_document(tmp_path, fsync=False)
    await document.change([set_op("1", "kept", value=True)])
    reopened = open_document(tmp_path, fsync=False)  # same process: the lock is re-entrant
    assert reopened.doc["1"] == {"kept": True}


@pytest.mark.asyncio
async def test_close_says_the_journal_holds_the_changes_only_when_it_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    document = open_document(tmp_path, fsync=False)
    await document.change([set_op("1", "x", value=1)])

    def disk_full(_: object) -> Path:
        raise OSError(28, "No space left on device")

    document.files.write_temp = disk_full  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        await document.close()
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "No space left on device" in line
    assert f"{DATA_FILE}.journal" in line
    assert "are replayed at the next start" in line
    assert sum(p.read_bytes().count(b"\n") for p in document.files.journals() if p.exists()) == 1


@pytest.mark.asyncio
async def test_close_says_the_folder_went_away_when_the_journal_is_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "data"
    document = open_document(data_dir, fsync=False)
    await document.change([set_op("1", "x", value=1)])
    shutil.rmtree(data_dir)  # unmounted or deleted while the bot runs
    with caplog.at_level(logging.ERROR):
        await document.close()
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert "journal still holds" not in line
    assert "moved, deleted or unmounted" in line
    assert "Traceback" not in caplog.text
