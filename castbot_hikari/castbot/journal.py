"""A JSON document kept durable by a write-ahead journal and atomic snapshots.

Why a journal: CastBot's ``playerData.json`` reached 5 MB, and rewriting the whole file on every apply
makes each save cost grow with the file. Here a change is a short list of path operations appended to
``<file>.journal`` (one line, fsynced) and many concurrent changes share one write and one fsync (group
commit). Every ``compact_every`` entries, at start-up and at close, the whole document is written as a
snapshot (temp file in the same folder, fsync, ``os.replace``, fsync the folder) and the journal is
emptied, so ``playerData.json`` stays a complete CastBot file that other tools can read.

Changes apply to memory at once (so a check-and-set made without an ``await`` is atomic on the event
loop) and are awaited until durable. If the write fails they are undone in memory, so memory never
claims what the disk does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol, cast

import orjson

from castbot_hikari.core.errors import CorruptDataError, StorageError

logger = logging.getLogger(__name__)

_MISSING: Final[Any] = object()


class Offload(Protocol):
    """Runs a blocking file write (``asyncio.to_thread`` by default)."""

    def __call__(self, func: Callable[[bytes], None], payload: bytes, /) -> Awaitable[None]:
        """Run ``func(payload)``."""
        ...


async def in_thread(func: Callable[[bytes], None], payload: bytes, /) -> None:
    """Run a blocking write in the default thread pool, off the event loop."""
    await asyncio.to_thread(func, payload)


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


class DataFiles:
    """The file operations of a journaled document; a seam for tests that inject disk faults."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self._fsync = fsync

    def write_snapshot(self, payload: bytes) -> None:
        """Replace the data file atomically and durably with ``payload``, then empty the journal."""
        tmp = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with tmp.open("wb") as handle:
                handle.write(payload)
                self._sync(handle.fileno())
            self.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._sync_dir()
        with self.journal.open("wb") as handle:
            self._sync(handle.fileno())

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


def _load(files: DataFiles, empty: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Read the snapshot and replay the journal; return the document and the number of entries replayed."""
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
    return document, _replay(files.journal, document)


def _replay(journal: Path, doc: dict[str, Any]) -> int:
    try:
        lines = journal.read_bytes().split(b"\n")
    except FileNotFoundError:
        return 0
    except OSError as exc:
        raise CorruptDataError(f"cannot read {journal}: {exc.strerror or exc}") from exc
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            ops = _decode(line)
        except ValueError as exc:
            if number == len(lines):  # a write torn by a crash: it was never acknowledged
                logger.warning("ignoring torn last journal line file=%s", journal)
                break
            raise CorruptDataError(f"{journal} line {number} is damaged ({exc})") from exc
        for op in ops:
            _apply(doc, op)
        count += 1
    return count


def _decode(line: bytes) -> list[Op]:
    entry: Any = orjson.loads(line)
    if not isinstance(entry, list):
        raise ValueError("journal entry is not a list")
    ops: list[Op] = []
    for item in cast("list[Any]", entry):
        if not isinstance(item, list) or len(item) not in (2, 3):  # pyright: ignore[reportUnknownArgumentType]
            raise ValueError(f"unknown journal operation {item!r}")
        fields = cast("list[Any]", item)
        if not isinstance(fields[1], list) or not fields[1]:
            raise ValueError(f"journal operation without a path: {item!r}")
        verb, path = fields[0], tuple(str(part) for part in cast("list[Any]", fields[1]))
        if verb == "set" and len(fields) == 3:
            ops.append(Op(path, fields[2]))
        elif verb == "del" and len(fields) == 2:
            ops.append(Op(path, delete=True))
        else:
            raise ValueError(f"unknown journal operation {item!r}")
    return ops


@dataclass(slots=True)
class _Change:
    ops: Sequence[Op]
    previous: list[Any]
    done: asyncio.Future[None]


class JournaledDocument:
    """A JSON object in memory, made durable through a journal with group commit.

    Args:
        files: Where the snapshot and journal live (see ``DataFiles``).
        compact_every: Journal entries after which the next write is a full snapshot instead.
        offload: Runs blocking file I/O off the event loop (``asyncio.to_thread``); tests may run it inline.
    """

    def __init__(
        self, files: DataFiles, doc: dict[str, Any], *, compact_every: int = 5000, offload: Offload = in_thread
    ) -> None:
        self.files = files
        self.doc = doc
        self._compact_every = compact_every
        self._offload = offload
        self._entries = 0
        self._queue: list[_Change] = []
        self._writer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        empty: dict[str, Any] | None = None,
        fsync: bool = True,
        compact_every: int = 5000,
        offload: Offload = in_thread,
    ) -> JournaledDocument:
        """Load ``path`` (and replay its journal), then write a fresh snapshot if anything was replayed.

        Raises:
            CorruptDataError: The file or journal cannot be read; nothing was written.
        """
        files = DataFiles(path, fsync=fsync)
        doc, replayed = _load(files, empty or {})
        document = cls(files, doc, compact_every=compact_every, offload=offload)
        if replayed or not path.exists():
            files.write_snapshot(orjson.dumps(doc))
            logger.info("data file written path=%s journal_entries_replayed=%d", path, replayed)
        return document

    def submit(self, ops: Sequence[Op]) -> asyncio.Future[None]:
        """Apply ``ops`` to memory now and return a future that resolves once they are durable.

        The future raises ``StorageError`` if the write failed; the ops were then undone in memory.
        """
        if self._closed:
            raise StorageError("the data store is closed")
        previous = [_apply(self.doc, op) for op in ops]
        change = _Change(ops, previous, asyncio.get_running_loop().create_future())
        self._queue.append(change)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="castbot-data-writer")
        return change.done

    async def change(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` and wait until they are durable (see ``submit``)."""
        await self.submit(ops)

    async def close(self) -> None:
        """Wait for queued writes, then write a final snapshot so the data file is complete."""
        self._closed = True
        if self._writer is not None:
            await asyncio.shield(self._writer)
        try:
            await self._offload(self.files.write_snapshot, orjson.dumps(self.doc))
        except OSError as exc:
            logger.debug("final snapshot failed path=%s", self.files.path, exc_info=True)
            reason = exc.strerror or str(exc)
            if self.files.path.exists() and self.files.journal.exists():
                logger.error(
                    "final snapshot failed path=%s error=%s; the changes saved since the last snapshot are in %s "
                    "and are replayed at the next start",
                    self.files.path,
                    reason,
                    self.files.journal.name,
                )
            else:
                logger.error(
                    "final snapshot failed path=%s error=%s; the data file or its journal is gone: the data folder "
                    "was moved, deleted or unmounted while the bot ran, so this run's changes are only wherever "
                    "its files went, if anywhere",
                    self.files.path,
                    reason,
                )

    async def _write_loop(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._write(batch)
            except Exception as exc:  # any failure of the write fails exactly this batch, never the loop
                self._undo(batch)
                # If the journal could not be cut back, only a full snapshot is trustworthy: force one.
                self._entries = self._compact_every
                logger.error("save failed path=%s changes=%d error=%s", self.files.path, len(batch), exc)
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                failure = StorageError(f"could not save {self.files.path.name}: {reason}")
                for change in batch:
                    if not change.done.done():
                        change.done.set_exception(failure)
            else:
                for change in batch:
                    if not change.done.done():
                        change.done.set_result(None)

    async def _write(self, batch: list[_Change]) -> None:
        if self._entries + len(batch) >= self._compact_every:
            # Serialised here, with no await since the batch was taken: the snapshot holds exactly this
            # batch and what came before it, so a failure can be undone precisely.
            payload = orjson.dumps(self.doc)
            await self._offload(self.files.write_snapshot, payload)
            self._entries = 0
            return
        lines = b"".join(orjson.dumps([op.encode() for op in change.ops]) + b"\n" for change in batch)
        await self._offload(self.files.append_journal, lines)
        self._entries += len(batch)

    def _undo(self, batch: list[_Change]) -> None:
        for change in reversed(batch):
            for op, previous in zip(reversed(change.ops), reversed(change.previous), strict=True):
                _restore(self.doc, op.path, previous)
