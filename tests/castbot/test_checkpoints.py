"""Checkpoints: playerData.json stays current, never blocks saves, and a crash in one replays idempotently."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.castbot.journal import DataFiles, JournaledDocument, load, set_op
from castbot_hikari.core.errors import StorageError
from tests.apply.fakes import KEY, FakeClock
from tests.conftest import write_player_data


class Moment:
    """A monotonic clock the test moves; ``sleep`` waits until the test has moved it far enough."""

    def __init__(self) -> None:
        self.now = 0.0
        self._moved = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until:
            self._moved.clear()
            await self._moved.wait()

    async def advance(self, seconds: float) -> None:
        """Move time on and let everything that waits on it run."""
        self.now += seconds
        self._moved.set()
        for _ in range(20):
            await asyncio.sleep(0)


async def inline(func: Callable[[Any], Any], payload: Any, /) -> Any:
    return func(payload)


def on_disk(path: Path) -> dict[str, Any]:
    return orjson.loads(path.read_bytes())


def document(path: Path, moment: Moment, **options: Any) -> JournaledDocument:
    loaded = load(DataFiles(path, fsync=False), {}, (META, "journalSeq"))
    return JournaledDocument(
        DataFiles(path, fsync=False),
        loaded.doc,
        seq=loaded.seq,
        seq_path=(META, "journalSeq"),
        offload=inline,
        monotonic=moment,
        sleep=moment.sleep,
        **options,
    )


@pytest.mark.asyncio
async def test_the_data_file_holds_a_change_once_writes_go_quiet(data_dir: Path) -> None:
    path, moment = data_dir / DATA_FILE, Moment()
    doc = document(path, moment, quiet_s=2.0, max_lag_s=30.0)
    await doc.change([set_op("x", value=1)])
    await moment.advance(1.9)
    assert "x" not in on_disk(path)  # in the journal only, for now
    await moment.advance(0.1)
    assert on_disk(path)["x"] == 1  # 2 s after the last change
    assert not doc.files.rotated()  # what the snapshot holds is gone from the journals
    assert not doc.files.journal.exists() or doc.files.journal.read_bytes() == b""


@pytest.mark.asyncio
async def test_under_steady_load_the_data_file_lags_at_most_max_lag(data_dir: Path) -> None:
    path, moment = data_dir / DATA_FILE, Moment()
    doc = document(path, moment, quiet_s=2.0, max_lag_s=30.0)
    for n in range(29):  # a change every second: never quiet
        await doc.change([set_op("n", value=n)])
        await moment.advance(1.0)
    assert "n" not in on_disk(path)
    await doc.change([set_op("n", value=29)])
    await moment.advance(1.0)
    assert on_disk(path)["n"] >= 29  # 30 s after the first change not on disk yet


@pytest.mark.asyncio
async def test_an_abandoned_document_writes_nothing_more_and_its_journal_replays(data_dir: Path) -> None:
    path, moment = data_dir / DATA_FILE, Moment()
    doc = document(path, moment, quiet_s=2.0, max_lag_s=30.0)
    await doc.change([set_op("x", value=1)])
    await doc.abandon()  # as if killed: the quiet-time checkpoint must not follow
    await moment.advance(60.0)
    assert "x" not in on_disk(path)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("castbot-")]
    assert document(path, moment).doc["x"] == 1  # the journal holds it


class Gate(DataFiles):
    """Holds the snapshot's temp file write until released: saves must go on meanwhile."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, fsync=False)
        self.release = asyncio.Event()
        self.started = asyncio.Event()


@pytest.mark.asyncio
async def test_saves_go_on_while_a_snapshot_is_written(data_dir: Path) -> None:
    path, moment = data_dir / DATA_FILE, Moment()
    files = Gate(path)
    loop = asyncio.get_running_loop()

    async def offload(func: Callable[[Any], Any], payload: Any, /) -> Any:
        if func == files.write_temp:
            files.started.set()
            await files.release.wait()
        return await loop.run_in_executor(None, func, payload)

    doc = JournaledDocument(files, {}, seq_path=(META, "journalSeq"), offload=offload, monotonic=moment)
    await doc.change([set_op("a", value=1)])
    checkpoint = asyncio.create_task(doc.checkpoint())
    await files.started.wait()
    await asyncio.wait_for(doc.change([set_op("b", value=2)]), timeout=10)  # not stuck behind the snapshot
    assert not checkpoint.done()
    files.release.set()
    await checkpoint
    held = on_disk(path)
    assert held["a"] == 1
    assert "b" not in held  # taken after the snapshot's instant: still in the journal
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert reopened.document.doc["b"] == 2


class DiesBeforeCleanup(DataFiles):
    """The process is killed after the snapshot's rename and before the journals are deleted: the disk is
    left exactly as a kill -9 at that instant leaves it."""

    def discard(self, paths: Any) -> None:
        raise OSError("killed")


@pytest.mark.asyncio
async def test_kill_between_snapshot_and_cleanup_replays_nothing_twice(data_dir: Path) -> None:
    """A finished apply's reservation must not come back from the old journal (issue: false "interrupted")."""
    write_player_data(data_dir, {})
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    clock = FakeClock()
    await repo.reserve(KEY, owner="a", now_ms=clock.now_ms(), stale_after_ms=60_000)
    await repo.release(KEY)
    repo.document.files = DiesBeforeCleanup(repo.document.files.path, fsync=False)
    with pytest.raises(StorageError, match="killed"):
        await repo.document.checkpoint()
    assert repo.document.files.rotated()  # the journal with the reserve and the release is still there
    # The journal alone, replayed over a snapshot that already holds it, used to bring the reservation
    # back half-made; keep only the reserve line to prove it is skipped.
    (rotated,) = repo.document.files.rotated()
    rotated.write_bytes(rotated.read_bytes().split(b"\n")[0] + b"\n")
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert await reopened.list_pending() == []
    assert await reopened.get_pending(KEY) is None


class FailsLater(DataFiles):
    """Appends fail while ``broken``."""

    broken = False

    def append_journal(self, lines: bytes) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        super().append_journal(lines)


@pytest.mark.asyncio
async def test_a_snapshot_holding_a_change_that_then_fails_is_abandoned(data_dir: Path) -> None:
    path = data_dir / DATA_FILE
    files = FailsLater(path, fsync=False)
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def offload(func: Callable[[Any], Any], payload: Any, /) -> Any:
        if func == files.append_journal:
            await gate.wait()  # the append is in flight while the snapshot is cut
        return await loop.run_in_executor(None, func, payload)

    doc = JournaledDocument(files, {}, seq_path=(META, "journalSeq"), offload=offload)
    files.broken = True
    saving = asyncio.ensure_future(doc.change([set_op("doomed", value=1)]))
    await asyncio.sleep(0)
    checkpoint = asyncio.create_task(doc.checkpoint())  # its snapshot holds "doomed"
    await asyncio.sleep(0.05)
    gate.set()
    with pytest.raises(Exception, match="No space left"):
        await saving
    with pytest.raises(Exception, match="failed while the snapshot"):
        await checkpoint
    assert "doomed" not in doc.doc
    assert not path.exists() or "doomed" not in on_disk(path)


def test_journal_lines_of_earlier_versions_are_still_replayed(data_dir: Path) -> None:
    """Lines without a sequence number (written before this version) replay as they always did."""
    (data_dir / f"{DATA_FILE}.journal").write_bytes(b'[["set",["legacy"],1]]\n')
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    assert reopened.document.doc["legacy"] == 1


@pytest.mark.asyncio
async def test_an_interaction_token_leaves_the_disk_with_the_first_snapshot_after_its_apply(data_dir: Path) -> None:
    """The token is kept with the reservation while the apply may need it, and in no file after that."""
    from castbot_hikari.apply.model import Application, ReplyHandle

    secret = "aW50ZXJhY3Rpb246c2VjcmV0LXRva2Vu"
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    clock = FakeClock()
    await repo.reserve(
        KEY, owner="a", now_ms=clock.now_ms(), stale_after_ms=60_000, reply=ReplyHandle(1, secret, clock.now_ms())
    )
    files = [p for p in data_dir.iterdir() if p.is_file()]
    assert any(secret.encode() in p.read_bytes() for p in files)  # durable while the apply runs
    await repo.commit(Application(KEY.guild_id, 42, KEY.user_id, KEY.config_id))  # type: ignore[arg-type]
    await repo.document.checkpoint()  # what the quiet-period schedule does 2 s later
    assert not any(secret.encode() in p.read_bytes() for p in data_dir.iterdir() if p.is_file())


@pytest.mark.asyncio
async def test_the_first_checkpoint_after_open_serializes_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loop stall at 20 MB came from the first checkpoint serializing the whole file: open serializes it
    # before the bot serves anyone, so a checkpoint costs what changed since.
    path = tmp_path / DATA_FILE
    servers = {str(1000 + n): {"applications": {str(n): {"userId": str(n), "note": "x" * 2000}}} for n in range(50)}
    path.write_bytes(orjson.dumps({META: {"schemaVersion": 1}, **servers}))
    opened = JournaledDocument.open(path, seq_path=(META, "journalSeq"), fsync=False, offload=inline)
    serialized: list[int] = []
    real_dumps = orjson.dumps

    def counting_dumps(value: Any, *args: Any) -> bytes:
        out = real_dumps(value, *args)
        serialized.append(len(out))
        return out

    monkeypatch.setattr("castbot_hikari.castbot.journal.orjson.dumps", counting_dumps)
    await opened.change([set_op("1003", "applications", "3", "note", value="changed")])
    serialized.clear()
    await opened.checkpoint()
    assert sum(serialized) < 3 * 2100  # the one changed server (and the sequence number), not 50 of them
    await opened.close()
    assert on_disk(path)["1003"]["applications"]["3"]["note"] == "changed"
    assert on_disk(path)["1049"] == servers["1049"]
