"""A JSON document kept durable by a write-ahead journal and atomic snapshots ("checkpoints").

Why a journal: CastBot's ``playerData.json`` reached 5 MB, and rewriting the whole file on every apply
makes each save cost grow with the file. Here a change is a short list of path operations appended to
``<file>.journal`` (one line, fsynced) and many concurrent changes share one write and one fsync (group
commit). Every change carries a sequence number.

Checkpoints keep ``playerData.json`` a complete, current CastBot file that operators and other tools can
read: one is written once changes go quiet (``quiet_s``), at the latest ``max_lag_s`` after the first
change it does not hold yet, after ``compact_every`` changes, at start-up and at close. A checkpoint
never blocks saves:
1. on the event loop, at one instant: the journal is *rotated* (renamed ``<file>.journal.r<n>``, new
   changes go to a fresh journal) and the document is cut into per-key chunks (only keys changed since
   the last checkpoint are serialized again, so the cost does not grow with the file);
2. in a thread: the chunks are written to a temp file, fsynced, renamed over the data file, the folder
   fsynced; the data file records the sequence number it holds (``seq_path``);
3. the rotated journals are deleted.
A crash at any point leaves a snapshot and journals whose replay is idempotent: entries with a sequence
number the snapshot already holds are skipped.

Changes apply to memory at once (so a check-and-set made without an ``await`` is atomic on the event
loop) and are awaited until durable. If the write fails they are undone in memory, so memory never
claims what the disk does not hold; a checkpoint taken while such a change was still being written is
abandoned if the change fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import orjson

from castbot_hikari.core.clock import Sleep
from castbot_hikari.core.errors import CorruptDataError, StorageError

logger = logging.getLogger(__name__)

_MISSING: Final[Any] = object()
_ROTATED: Final = re.compile(r"\.journal\.r(\d+)$")


class Offload(Protocol):
    """Runs a blocking file operation off the event loop (``asyncio.to_thread`` by default)."""

    def __call__(self, func: Callable[[Any], Any], payload: Any, /) -> Awaitable[Any]:
        """Run ``func(payload)`` and return its result."""
        ...


async def in_thread(func: Callable[[Any], Any], payload: Any, /) -> Any:
    """Run a blocking file operation in the default thread pool, off the event loop."""
    return await asyncio.to_thread(func, payload)


Path_ = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Op:
    """Set (``value`` given) or delete (``delete=True``) the value at ``path``."""

    path: Path_
    value: Any = None
    delete: bool = False

    def encode(self) -> list[Any]:
        """Return the journal form of this operation."""
        return ["del", list(self.path)] if self.delete else ["set", list(self.path), self.value]


def set_op(*path: str, value: Any) -> Op:
    """Return an operation that sets ``path`` to ``value`` (creating parents)."""
    return Op(path, value)


def del_op(*path: str) -> Op:
    """Return an operation that deletes ``path`` (a missing path is fine)."""
    return Op(path, delete=True)


def _apply(doc: dict[str, Any], op: Op) -> Any:
    """Apply one op to ``doc``; return the previous value at its path (or ``_MISSING``)."""
    node = doc
    for part in op.path[:-1]:
        child: object = node.get(part)
        if not isinstance(child, dict):
            if op.delete:
                return _MISSING
            child = {}
            node[part] = child
        node = cast("dict[str, Any]", child)
    last = op.path[-1]
    previous = node.get(last, _MISSING)
    if op.delete:
        node.pop(last, None)
    else:
        node[last] = op.value
    return previous


def _restore(doc: dict[str, Any], path: Path_, previous: Any) -> None:
    """Put back a value replaced by ``_apply`` (empty parents it created are left; they are harmless)."""
    _apply(doc, del_op(*path) if previous is _MISSING else Op(path, previous))


def _get(doc: dict[str, Any], path: Path_) -> Any:
    node: Any = doc
    for part in path:
        if not isinstance(node, dict):
            return None
        node = cast("dict[str, Any]", node).get(part)
    return node


class DataFiles:
    """The file operations of a journaled document; a seam for tests that inject disk faults."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self._fsync = fsync

    def rotated(self) -> list[Path]:
        """Return the rotated journals, oldest first (each holds changes older than the next)."""
        found = [
            (int(m.group(1)), p)
            for p in self.path.parent.glob(self.journal.name + ".r*")
            if (m := _ROTATED.search(p.name))
        ]
        return [p for _, p in sorted(found)]

    def journals(self) -> list[Path]:
        """Return every journal to replay, oldest first: the rotated ones, then the current one."""
        return [*self.rotated(), self.journal]

    def rotate(self, number: int) -> Path | None:
        """Rename the current journal aside (``.r<number>``) so new changes start a new one; ``None`` if empty."""
        try:
            if self.journal.stat().st_size == 0:
                return None
        except FileNotFoundError:
            return None
        target = self.journal.with_name(f"{self.journal.name}.r{number}")
        os.replace(self.journal, target)
        return target

    def write_snapshot(self, parts: Sequence[bytes]) -> None:
        """Replace the data file atomically and durably with the concatenation of ``parts``."""
        self.install(self.write_temp(parts))

    def write_temp(self, parts: Sequence[bytes]) -> Path:
        """Write ``parts`` to a new temp file beside the data file, durably; return its path."""
        tmp = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with tmp.open("wb") as handle:
                handle.writelines(parts)
                handle.flush()
                self._sync(handle.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return tmp

    def install(self, tmp: Path) -> None:
        """Rename a temp file from ``write_temp`` over the data file and make the rename durable."""
        try:
            self.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._sync_dir()

    def drop_temp(self, tmp: Path) -> None:
        """Delete a temp file that will not be installed."""
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

    def empty_journals(self) -> None:
        """Delete the rotated journals and empty the current one (after a snapshot that holds them all)."""
        self.discard(self.rotated())
        with self.journal.open("wb") as handle:
            self._sync(handle.fileno())

    def discard(self, paths: Sequence[Path]) -> None:
        """Delete journals a durable snapshot holds."""
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if paths:
            self._sync_dir()

    def append_journal(self, lines: bytes) -> None:
        """Append journal lines and make them durable."""
        with self.journal.open("ab") as handle:
            size = handle.tell()
            try:
                handle.write(lines)
                handle.flush()
                self._sync(handle.fileno())
            except BaseException:
                # Cut a partial write off so the journal never holds a change memory has undone.
                with contextlib.suppress(OSError):
                    handle.truncate(size)
                raise

    def replace(self, src: Path, dst: Path) -> None:
        """Rename ``src`` over ``dst`` (atomic on POSIX)."""
        os.replace(src, dst)

    def _sync(self, fd: int) -> None:
        if self._fsync:
            os.fsync(fd)

    def _sync_dir(self) -> None:
        if not self._fsync:
            return
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A document read from disk: its snapshot plus the journal entries it did not hold yet."""

    doc: dict[str, Any]
    seq: int
    replayed: int


def load(files: DataFiles, empty: dict[str, Any], seq_path: Path_) -> Loaded:
    """Read the snapshot and replay the journals (skipping what the snapshot holds).

    Raises:
        CorruptDataError: The file or a journal cannot be read.
    """
    try:
        raw = files.path.read_bytes()
    except FileNotFoundError:
        doc: Any = dict(empty)
    except OSError as exc:
        raise CorruptDataError(f"cannot read {files.path}: {exc.strerror or exc}") from exc
    else:
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CorruptDataError(f"{files.path} is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptDataError(f"{files.path} must hold a JSON object at the top level")
    document = cast("dict[str, Any]", doc)
    held = _get(document, seq_path)
    seq = held if isinstance(held, int) else 0
    replayed = 0
    journals = files.journals()
    for journal in journals:
        seq, count = _replay(journal, document, seq)
        replayed += count
    return Loaded(document, seq, replayed)


def _replay(journal: Path, doc: dict[str, Any], seq: int) -> tuple[int, int]:
    """Apply a journal's entries newer than ``seq``; return the newest sequence number and the count."""
    try:
        raw = journal.read_bytes()
    except FileNotFoundError:
        return seq, 0
    except OSError as exc:
        raise CorruptDataError(f"cannot read {journal}: {exc.strerror or exc}") from exc
    return replay_bytes(raw, doc, seq, journal)


def replay_bytes(raw: bytes, doc: dict[str, Any], seq: int, source: Path) -> tuple[int, int]:
    """Apply the entries of a journal's bytes newer than ``seq``; return the newest sequence number and count.

    Raises:
        CorruptDataError: A line other than the last one is damaged (``source`` names the file).
    """
    journal = source
    lines = raw.split(b"\n")
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry_seq, ops = _decode(line)
        except ValueError as exc:
            if number == len(lines):  # a write torn by a crash or a full disk: it was never acknowledged
                logger.warning("ignoring torn last journal line file=%s", journal)
                break
            raise CorruptDataError(f"{journal} line {number} is damaged ({exc})") from exc
        if entry_seq is not None and entry_seq <= seq:
            continue  # the snapshot holds it already (a crash between a checkpoint's rename and cleanup)
        for op in ops:
            _apply(doc, op)
        seq = max(seq, entry_seq or 0)
        count += 1
    return seq, count


def _decode(line: bytes) -> tuple[int | None, list[Op]]:
    """Return a journal line's sequence number (``None`` for lines of earlier versions) and operations."""
    entry: Any = orjson.loads(line)
    seq: int | None = None
    if isinstance(entry, dict):
        fields = cast("dict[str, Any]", entry)
        number, entry = fields.get("s"), fields.get("o")
        if not isinstance(number, int) or isinstance(number, bool):
            raise ValueError("journal entry without a sequence number")
        seq = number
    if not isinstance(entry, list):
        raise ValueError("journal entry is not a list")
    ops: list[Op] = []
    for item in cast("list[Any]", entry):
        if not isinstance(item, list) or len(item) not in (2, 3):  # pyright: ignore[reportUnknownArgumentType]
            raise ValueError(f"unknown journal operation {item!r}")
        parts = cast("list[Any]", item)
        if not isinstance(parts[1], list) or not parts[1]:
            raise ValueError(f"journal operation without a path: {item!r}")
        verb, path = parts[0], tuple(str(part) for part in cast("list[Any]", parts[1]))
        if verb == "set" and len(parts) == 3:
            ops.append(Op(path, parts[2]))
        elif verb == "del" and len(parts) == 2:
            ops.append(Op(path, delete=True))
        else:
            raise ValueError(f"unknown journal operation {item!r}")
    return seq, ops


@dataclass(slots=True)
class _Change:
    seq: int
    ops: Sequence[Op]
    previous: list[Any]
    done: asyncio.Future[None]


class JournaledDocument:
    """A JSON object in memory, made durable through a journal with group commit and checkpoints.

    Args:
        files: Where the snapshot and journals live (see ``DataFiles``).
        doc: The document as loaded.
        seq: The newest sequence number the document holds (``Loaded.seq``).
        seq_path: Where in the document a snapshot records its sequence number.
        compact_every: Changes after which a checkpoint is taken at once.
        quiet_s: Seconds without changes after which a checkpoint is taken.
        max_lag_s: Most seconds a change waits for a checkpoint while changes keep coming.
        offload: Runs blocking file I/O off the event loop (``asyncio.to_thread``); tests may run it inline.
        monotonic: Time source for the checkpoint schedule; ``sleep`` waits on it (tests inject both).
    """

    def __init__(
        self,
        files: DataFiles,
        doc: dict[str, Any],
        *,
        seq: int = 0,
        seq_path: Path_ = ("_journalSeq",),
        compact_every: int = 5000,
        quiet_s: float = 2.0,
        max_lag_s: float = 30.0,
        offload: Offload = in_thread,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.files = files
        self.doc = doc
        self._seq = seq
        self._seq_path = seq_path
        self._compact_every = compact_every
        self._quiet_s = quiet_s
        self._max_lag_s = max_lag_s
        self._offload = offload
        self._monotonic = monotonic
        self._sleep = sleep
        self._queue: list[_Change] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._chunks: dict[str, bytes] = {}
        self._dirty: set[str] = set(doc)
        self._pending_since: float | None = None  # first change no snapshot holds yet
        self._last_change = 0.0
        self._since_checkpoint = 0
        self._settled_seq = seq  # every change up to here is durable or undone
        self._failures = 0
        self._isolate_tail = False
        self._settled = asyncio.Condition()  # binds to the running loop on first use
        self._rotations = max((int(m.group(1)) for p in files.rotated() if (m := _ROTATED.search(p.name))), default=0)
        self._scheduler: asyncio.Task[None] | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._on_closed: list[Callable[[], None]] = []

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        empty: dict[str, Any] | None = None,
        seq_path: Path_ = ("_journalSeq",),
        fsync: bool = True,
        compact_every: int = 5000,
        quiet_s: float = 2.0,
        max_lag_s: float = 30.0,
        offload: Offload = in_thread,
    ) -> JournaledDocument:
        """Load ``path`` (and replay its journals), then write a fresh snapshot if anything was replayed.

        Raises:
            CorruptDataError: The file or a journal cannot be read; nothing was written.
        """
        files = DataFiles(path, fsync=fsync)
        loaded = load(files, empty or {}, seq_path)
        document = cls(
            files,
            loaded.doc,
            seq=loaded.seq,
            seq_path=seq_path,
            compact_every=compact_every,
            quiet_s=quiet_s,
            max_lag_s=max_lag_s,
            offload=offload,
        )
        # Also when a journal holds only a torn line: left there, the next change would be glued to it.
        if loaded.replayed or files.rotated() or not path.exists() or _has_bytes(files.journal):
            document.snapshot_now()
            logger.info("data file written path=%s journal_entries_replayed=%d", path, loaded.replayed)
        else:
            # Serialize every part now, before the bot serves anyone: the first checkpoint then serializes
            # only what changed, instead of stalling the loop for the whole file (33 ms at 20 MB).
            document.prime()
        return document

    @property
    def seq(self) -> int:
        """Return the newest sequence number given to a change."""
        return self._seq

    def snapshot_now(self) -> None:
        """Write a snapshot and empty the journals, blocking (only when nothing else writes: at open)."""
        self.files.write_snapshot(self._snapshot_parts())
        self.files.empty_journals()
        self._pending_since = None
        self._since_checkpoint = 0

    def submit(self, ops: Sequence[Op]) -> asyncio.Future[None]:
        """Apply ``ops`` to memory now and return a future that resolves once they are durable.

        The future raises ``StorageError`` if the write failed; the ops were then undone in memory.
        """
        if self._closed:
            raise StorageError("the data store is closed")
        previous = [_apply(self.doc, op) for op in ops]
        self._dirty.update(op.path[0] for op in ops)
        self._seq += 1
        change = _Change(self._seq, ops, previous, asyncio.get_running_loop().create_future())
        self._queue.append(change)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="castbot-data-writer")
        return change.done

    async def change(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` and wait until they are durable (see ``submit``)."""
        await self.submit(ops)

    async def checkpoint(self) -> None:
        """Write a snapshot of everything changed so far and wait until it is durable.

        Raises:
            StorageError: The snapshot could not be written (the journals still hold every change).
        """
        while self._checkpointing is not None and not self._checkpointing.done():
            await asyncio.wait([self._checkpointing])
        task = self._start_checkpoint()
        await asyncio.wait([task])
        if (failure := task.exception()) is not None:
            reason = failure.strerror if isinstance(failure, OSError) and failure.strerror else str(failure)
            raise StorageError(f"could not write {self.files.path.name}: {reason}")

    def release_on_close(self, release: Callable[[], None]) -> None:
        """Call ``release`` once ``close`` is done with the files (a folder lock, for one)."""
        self._on_closed.append(release)

    async def close(self) -> None:
        """Wait for queued writes, then write a final snapshot so the data file is complete."""
        try:
            await self._close()
        finally:
            releases, self._on_closed = self._on_closed, []
            for release in releases:
                release()

    async def abandon(self) -> None:
        """Stop as a killed process would: queued writes finish, no snapshot follows; the next open replays.

        For benchmarks and crash tests (the bot closes): nothing of this document runs after it returns.
        """
        await self._stop_background()
        if self._checkpointing is not None:
            await asyncio.wait([self._checkpointing])

    async def _stop_background(self) -> None:
        self._closed = True
        if self._writer is not None:
            await asyncio.shield(self._writer)
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler

    async def _close(self) -> None:
        await self._stop_background()
        try:
            await self.checkpoint()
        except StorageError as exc:
            logger.debug("final snapshot failed path=%s", self.files.path, exc_info=True)
            kept = [p.name for p in self.files.journals() if p.exists()]
            if self.files.path.exists() and kept:
                logger.error(
                    "final snapshot failed path=%s error=%s; the changes saved since the last snapshot are in %s "
                    "and are replayed at the next start",
                    self.files.path,
                    exc,
                    ", ".join(kept),
                )
            else:
                logger.error(
                    "final snapshot failed path=%s error=%s; the data file or its journal is gone: the data folder "
                    "was moved, deleted or unmounted while the bot ran, so this run's changes are only wherever "
                    "its files went, if anywhere",
                    self.files.path,
                    exc,
                )

    # ---- writing ---------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                if self._isolate_tail:
                    # The last append failed and may have left a partial line: new lines go to a new journal.
                    self._rotate()
                    self._isolate_tail = False
                lines = b"".join(orjson.dumps({"s": c.seq, "o": [op.encode() for op in c.ops]}) + b"\n" for c in batch)
                await self._offload(self.files.append_journal, lines)
            except Exception as exc:  # any failure of the write fails exactly this batch, never the loop
                self._fail(batch, exc)
            else:
                for change in batch:
                    if not change.done.done():
                        change.done.set_result(None)
                self._since_checkpoint += len(batch)
                self._last_change = self._monotonic()
                if self._pending_since is None:
                    self._pending_since = self._last_change
            await self._mark_settled(batch[-1].seq)
            self._schedule()

    def _fail(self, batch: list[_Change], exc: Exception) -> None:
        for change in reversed(batch):
            for op, previous in zip(reversed(change.ops), reversed(change.previous), strict=True):
                _restore(self.doc, op.path, previous)
            self._dirty.update(op.path[0] for op in change.ops)
        self._failures += 1
        self._isolate_tail = True
        self._since_checkpoint = self._compact_every  # only a snapshot makes the journals tidy again
        if self._pending_since is None:
            self._pending_since = self._monotonic()
        logger.error("save failed path=%s changes=%d error=%s", self.files.path, len(batch), exc)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        failure = StorageError(f"could not save {self.files.path.name}: {reason}")
        for change in batch:
            if not change.done.done():
                change.done.set_exception(failure)

    async def _mark_settled(self, seq: int) -> None:
        self._settled_seq = seq
        async with self._settled:
            self._settled.notify_all()

    # ---- checkpoints -----------------------------------------------------------------------------

    def _schedule(self) -> None:
        """Make sure a checkpoint follows: at once after ``compact_every`` changes, else when quiet or late."""
        if self._closed or self._pending_since is None:
            return
        if self._since_checkpoint >= self._compact_every:
            self._start_checkpoint()
        elif self._scheduler is None or self._scheduler.done():
            self._scheduler = asyncio.create_task(self._checkpoint_when_due(), name="castbot-data-checkpoint")

    async def _checkpoint_when_due(self) -> None:
        while not self._closed and self._pending_since is not None:
            due = min(self._last_change + self._quiet_s, self._pending_since + self._max_lag_s)
            wait = due - self._monotonic()
            if wait > 0:
                await self._sleep(wait)
                continue
            task = self._start_checkpoint()
            await asyncio.wait([task])
            if task.exception() is not None:
                await self._sleep(self._quiet_s)  # disk trouble: try again later, the journal holds all

    def _start_checkpoint(self) -> asyncio.Task[None]:
        if self._checkpointing is not None and not self._checkpointing.done():
            return self._checkpointing
        task = asyncio.create_task(self._write_checkpoint(), name="castbot-snapshot")
        task.add_done_callback(_retrieve)  # failures are logged where they happen
        self._checkpointing = task
        return task

    def _rotate(self) -> None:
        self._rotations += 1
        self.files.rotate(self._rotations)

    def prime(self) -> None:
        """Serialize every part that a snapshot would serialize now (blocking: at open, before serving)."""
        self._serialize_dirty()

    def _serialize_dirty(self) -> None:
        for key in self._dirty:
            if key in self.doc:
                self._chunks[key] = orjson.dumps(self.doc[key])
            else:
                self._chunks.pop(key, None)
        self._dirty.clear()

    def _snapshot_parts(self) -> list[bytes]:
        """Return the document as byte chunks; only keys changed since the last snapshot are serialized."""
        _apply(self.doc, Op(self._seq_path, self._seq))
        self._dirty.add(self._seq_path[0])
        self._serialize_dirty()
        parts: list[bytes] = [b"{"]
        for index, (key, chunk) in enumerate(self._chunks.items()):
            parts.extend((b"," if index else b"", orjson.dumps(key), b":", chunk))
        parts.append(b"}")
        return parts

    async def _write_checkpoint(self) -> None:
        try:
            # One instant on the loop (no await): what the snapshot holds, and the journals it makes
            # redundant (every rotated one, including one set aside after a failed append).
            self._rotate()
            rotated = self.files.rotated()
            parts = self._snapshot_parts()
            seq, failures = self._seq, self._failures
            self._pending_since = None
            self._since_checkpoint = 0
            tmp: Path = await self._offload(self.files.write_temp, parts)
            await self._wait_settled(seq)
            if self._failures != failures:
                # A change the snapshot holds failed to save meanwhile and was undone in memory: this snapshot
                # must not outlive it. Nothing was replaced yet; the next checkpoint writes a new one.
                await self._offload(self.files.drop_temp, tmp)
                raise StorageError("a change failed while the snapshot was being written")
            await self._offload(self.files.install, tmp)
            await self._offload(self.files.discard, rotated)
        except Exception as exc:
            self._pending_since = self._pending_since or self._monotonic()
            kept = [p.name for p in self.files.journals() if p.exists()]
            logger.warning(
                "snapshot failed path=%s error=%s; saved changes stay in %s until a snapshot succeeds",
                self.files.path,
                exc,
                ", ".join(kept) or "no journal: the data folder is gone",
            )
            raise

    async def _wait_settled(self, seq: int) -> None:
        async with self._settled:
            await self._settled.wait_for(lambda: self._settled_seq >= seq or not self._pending_writes())

    def _pending_writes(self) -> bool:
        return bool(self._queue) or (self._writer is not None and not self._writer.done())


def _has_bytes(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
