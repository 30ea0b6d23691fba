"""The journaled JSON store: CastBot compatibility, atomic snapshots, journal replay, disk faults."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest

from castbot_hikari.apply.model import Application, Pending, PendingState, Won
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot import journal
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.castbot.folder import LOCK_FILE
from castbot_hikari.castbot.journal import DataFiles, JournaledDocument, set_op
from castbot_hikari.core.errors import CorruptDataError, StorageError
from castbot_hikari.core.ids import ChannelId
from tests.apply.fakes import CONFIG, GUILD, KEY, USER, applicant
from tests.conftest import write_player_data


async def record(repo: JsonApplicationRepository, channel: int = 42) -> Application:
    config = await repo.get_config(GUILD, CONFIG)
    assert config is not None
    app = Application.new(config, applicant(), ChannelId(channel), "📝kevina-app", 1_790_000_000_000)
    await repo.commit(app)
    return app


@pytest.mark.asyncio
async def test_round_trip_keeps_unknown_keys_and_castbot_shape(data_dir: Path) -> None:
    before = orjson.loads((data_dir / DATA_FILE).read_bytes())
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    await record(repo)
    await repo.close()
    after = orjson.loads((data_dir / DATA_FILE).read_bytes())
    guild = after[str(GUILD)]
    assert guild["players"] == before[str(GUILD)]["players"]
    assert guild["tribes"] == before[str(GUILD)]["tribes"]
    assert after["environmentConfig"] == {"liveDiscordLogging": True}
    assert guild["applicationConfigs"] == before[str(GUILD)]["applicationConfigs"]
    assert guild["applications"]["42"] == {
        "userId": str(USER),
        "channelId": "42",
        "configId": CONFIG,
        "username": "kevin_a",
        "displayName": "Kevin A",
        "avatarURL": f"https://cdn.example/avatars/{USER}.png",
        "channelName": "📝kevina-app",
        "createdAt": "2026-09-21T14:13:20.000Z",
    }


@pytest.mark.asyncio
async def test_castbot_extra_application_fields_survive(data_dir: Path) -> None:
    doc = orjson.loads((data_dir / DATA_FILE).read_bytes())
    doc[str(GUILD)]["applications"]["42"] = {
        "userId": str(USER),
        "channelId": "42",
        "configId": CONFIG,
        "currentQuestion": 3,
        "rankings": {"9": 4},
        "castingStatus": "cast",
        "dncEntries": [{"name": "x"}],
    }
    write_player_data(data_dir, doc)
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    found = await repo.find_application(KEY)
    assert found is not None
    assert found.extra["rankings"] == {"9": 4}
    await repo.remove_application(GUILD, ChannelId(99))  # an unrelated change forces a write
    await repo.close()
    again = orjson.loads((data_dir / DATA_FILE).read_bytes())
    assert again[str(GUILD)]["applications"]["42"]["dncEntries"] == [{"name": "x"}]


@pytest.mark.asyncio
async def test_changes_survive_a_crash_through_the_journal(data_dir: Path) -> None:
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    await record(repo)
    # No close(): the process "dies". The snapshot is old; the journal holds the change.
    assert str(42) not in orjson.loads((data_dir / DATA_FILE).read_bytes())[str(GUILD)]["applications"]
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert await reopened.find_application(KEY) is not None
    # Opening compacted: the data file alone is complete again, and the journal is empty.
    assert "42" in orjson.loads((data_dir / DATA_FILE).read_bytes())[str(GUILD)]["applications"]
    assert (data_dir / f"{DATA_FILE}.journal").read_bytes() == b""


@pytest.mark.asyncio
async def test_torn_last_journal_line_is_ignored(data_dir: Path) -> None:
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    await record(repo)
    journal = data_dir / f"{DATA_FILE}.journal"
    journal.write_bytes(journal.read_bytes() + b'[["set",["x"],{"half')
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert await reopened.find_application(KEY) is not None
    assert "x" not in reopened.document.doc


def test_damaged_journal_in_the_middle_refuses_to_start(data_dir: Path) -> None:
    journal = data_dir / f"{DATA_FILE}.journal"
    journal.write_bytes(b'garbage\n[["set",["x"],1]]\n')
    before = (data_dir / DATA_FILE).read_bytes()
    with pytest.raises(CorruptDataError, match="line 1"):
        JsonApplicationRepository.open(data_dir, fsync=False)
    assert (data_dir / DATA_FILE).read_bytes() == before


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b""])
def test_corrupt_data_file_refuses_to_start_and_is_not_touched(tmp_path: Path, content: bytes) -> None:
    (tmp_path / DATA_FILE).write_bytes(content)
    with pytest.raises(CorruptDataError, match=DATA_FILE):
        JsonApplicationRepository.open(tmp_path, fsync=False)
    assert (tmp_path / DATA_FILE).read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE, DATA_FILE]  # only the lock file was added


def test_newer_schema_refuses_to_start(tmp_path: Path) -> None:
    write_player_data(tmp_path, {META: {"schemaVersion": 99}})
    with pytest.raises(CorruptDataError, match="newer"):
        JsonApplicationRepository.open(tmp_path, fsync=False)


def test_missing_file_is_created(tmp_path: Path) -> None:
    JsonApplicationRepository.open(tmp_path / "new", fsync=False)
    assert orjson.loads((tmp_path / "new" / DATA_FILE).read_bytes()) == {META: {"schemaVersion": 1, "journalSeq": 0}}


class ReplaceFails(DataFiles):
    """Disk trouble between writing the temp file and renaming it over the data file."""

    def replace(self, src: Path, dst: Path) -> None:
        raise OSError(28, "No space left on device")


@pytest.mark.asyncio
async def test_snapshot_failing_before_replace_leaves_old_file_intact(data_dir: Path) -> None:
    path = data_dir / DATA_FILE
    before = path.read_bytes()
    files = ReplaceFails(path, fsync=False)
    document = JournaledDocument(files, orjson.loads(before))
    await document.change([set_op(str(GUILD), "applications", "42", value={"userId": "1"})])  # in the journal
    with pytest.raises(StorageError, match="No space left"):
        await document.checkpoint()
    assert path.read_bytes() == before
    assert not list(data_dir.glob("*.tmp"))  # the temp file was removed
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)  # the journals still hold the change
    assert "42" in reopened.document.doc[str(GUILD)]["applications"]


class FlakyJournal(DataFiles):
    """Appends fail while ``broken`` (disk full), then work again."""

    broken = True

    def append_journal(self, lines: bytes) -> None:
        if self.broken:
            with self.journal.open("ab") as handle:
                handle.write(lines[: len(lines) // 2])  # a partial write, as a full disk leaves
            raise OSError(28, "No space left on device")
        super().append_journal(lines)


@pytest.mark.asyncio
async def test_failed_append_rolls_back_memory_and_next_save_succeeds(data_dir: Path) -> None:
    path = data_dir / DATA_FILE
    files = FlakyJournal(path, fsync=False)
    repo = JsonApplicationRepository(JournaledDocument(files, orjson.loads(path.read_bytes())))
    with pytest.raises(StorageError):
        await repo.reserve(KEY, owner="a", now_ms=1, stale_after_ms=10)
    assert await repo.get_pending(KEY) is None  # memory matches the disk
    files.broken = False
    assert await repo.reserve(KEY, owner="a", now_ms=1, stale_after_ms=10) == Won()
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)  # the partial write is not replayed
    pending = await reopened.get_pending(KEY)
    assert pending is not None
    assert pending.state is PendingState.RESERVED


@pytest.mark.asyncio
async def test_reserve_is_check_and_set(repo: JsonApplicationRepository) -> None:
    assert await repo.reserve(KEY, owner="a", now_ms=1000, stale_after_ms=10_000) == Won()
    held = await repo.reserve(KEY, owner="b", now_ms=2000, stale_after_ms=10_000)
    assert isinstance(held, Pending)
    assert held.owner == "a"
    taken = await repo.reserve(KEY, owner="b", now_ms=20_000, stale_after_ms=10_000)  # stale: taken over
    assert isinstance(taken, Won)
    assert taken.previous == held
    await repo.mark_channel(KEY, ChannelId(7))
    pending = await repo.get_pending(KEY)
    assert pending is not None
    assert pending.channel_id == 7
    assert pending.state is PendingState.CHANNEL_CREATED
    app = await record(repo, channel=7)
    assert await repo.get_pending(KEY) is None
    assert await repo.reserve(KEY, owner="c", now_ms=30_000, stale_after_ms=10_000) == app


@pytest.mark.asyncio
async def test_concurrent_reserves_of_one_key_have_one_winner(repo: JsonApplicationRepository) -> None:
    """The check and the set are one step: two reserves racing on one loop never both win."""
    first, second = await asyncio.gather(
        repo.reserve(KEY, owner="a", now_ms=1000, stale_after_ms=10_000),
        repo.reserve(KEY, owner="b", now_ms=1000, stale_after_ms=10_000),
    )
    assert first == Won()
    assert isinstance(second, Pending)
    assert second.owner == "a"


class SyncFails(DataFiles):
    """The write reaches the file, then fsync fails (EIO): the change was never durable."""

    broken = True

    def _sync(self, fd: int) -> None:
        if self.broken:
            raise OSError(5, "Input/output error")
        super()._sync(fd)


@pytest.mark.asyncio
async def test_a_change_whose_fsync_failed_is_cut_from_the_journal(data_dir: Path) -> None:
    path = data_dir / DATA_FILE
    files = SyncFails(path, fsync=False)
    repo = JsonApplicationRepository(JournaledDocument(files, orjson.loads(path.read_bytes())))
    with pytest.raises(StorageError, match="Input/output error"):
        await repo.reserve(KEY, owner="a", now_ms=1, stale_after_ms=10)
    assert await repo.get_pending(KEY) is None  # undone in memory ...
    assert files.journal.read_bytes() == b""  # ... and on disk: a restart must not bring it back
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert await reopened.get_pending(KEY) is None


class Synced:
    """Records the inode of every descriptor ``os.fsync`` is called on."""

    def __init__(self) -> None:
        self.inodes: list[int] = []
        self._fsync = os.fsync

    def __call__(self, fd: int) -> None:
        self.inodes.append(os.fstat(fd).st_ino)
        self._fsync(fd)


@pytest.mark.asyncio
async def test_a_save_is_fsynced_before_it_is_acknowledged(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With fsync on, the journal is synced before a change returns, and a snapshot (file and folder) before
    a checkpoint returns: otherwise a power cut can lose what the applicant was told is saved."""
    synced = Synced()
    monkeypatch.setattr(journal.os, "fsync", synced)
    path = data_dir / DATA_FILE
    document = JournaledDocument(DataFiles(path, fsync=True), orjson.loads(path.read_bytes()))
    await document.change([set_op("x", value=1)])
    assert path.with_name(DATA_FILE + ".journal").stat().st_ino in synced.inodes
    synced.inodes.clear()
    await document.checkpoint()
    assert path.stat().st_ino in synced.inodes  # the snapshot's temp file, now renamed over the data file
    assert data_dir.stat().st_ino in synced.inodes  # the folder, so the rename itself survives
    await document.close()


@pytest.mark.asyncio
async def test_5mb_file_snapshot_is_atomic_and_complete(tmp_path: Path) -> None:
    """CastBot's real size: a snapshot replaces the whole file at once, and a failed one leaves it intact."""
    big = {
        str(10**18 + g): {"applications": {str(n): {"userId": "1", "pad": "x" * 300} for n in range(100)}}
        for g in range(160)
    }
    path = tmp_path / DATA_FILE
    path.write_bytes(orjson.dumps(big))
    assert path.stat().st_size > 5_000_000
    before = path.read_bytes()
    failing = JournaledDocument(ReplaceFails(path, fsync=False), orjson.loads(before))
    await failing.change([set_op("x", value=1)])
    with pytest.raises(StorageError):
        await failing.checkpoint()
    assert path.read_bytes() == before
    document = JournaledDocument(DataFiles(path, fsync=True), orjson.loads(before))
    await document.change([set_op("x", value=1)])
    await document.checkpoint()
    after = orjson.loads(path.read_bytes())
    assert after["x"] == 1
    assert set(big) <= set(after)  # every guild is there, plus the new key and the sequence number
