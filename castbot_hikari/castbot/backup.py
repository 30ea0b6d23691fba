"""``castbot-hikari backup DEST``: a consistent copy of the data folder, also while the bot runs.

The folder holds a snapshot and the journals of the changes since (see ``journal``). Copying the files one
by one while the bot writes can mix states: a checkpoint may replace the snapshot and delete the journals
it holds between two copies. So the files are read, then checked unchanged (the snapshot and the rotated
journals must be the same files of the same size; the current journal may only have grown), and read again
if a checkpoint came between. The result is one complete CastBot file: what the bot would load at that
instant, written atomically to ``DEST``. The lock is not taken: a backup never stops a running bot.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

import orjson

from castbot_hikari.castbot.document import APPLICATIONS, DATA_FILE, META, as_object
from castbot_hikari.castbot.journal import DataFiles, replay_bytes
from castbot_hikari.core.errors import CorruptDataError

ATTEMPTS: Final = 20
SEQ_PATH: Final = (META, "journalSeq")


class BackupError(Exception):
    """The backup could not be made; nothing was written to the destination."""


@dataclass(frozen=True, slots=True)
class Backup:
    """What a backup holds."""

    doc: dict[str, Any]
    seq: int
    journals: int

    @property
    def servers(self) -> int:
        """Return how many servers the copy holds."""
        return sum(1 for key in self.doc if key.isdigit())

    @property
    def applications(self) -> int:
        """Return how many applications the copy records."""
        return sum(len(as_object(as_object(self.doc.get(key)).get(APPLICATIONS))) for key in self.doc if key.isdigit())


Signature = tuple[tuple[int, int, int], tuple[tuple[str, int, int], ...], int]


def _signature(files: DataFiles) -> Signature:
    snapshot = files.path.stat()
    rotated = tuple((p.name, p.stat().st_ino, p.stat().st_size) for p in files.rotated())
    try:
        current = files.journal.stat().st_ino
    except FileNotFoundError:
        current = 0
    return (snapshot.st_ino, snapshot.st_mtime_ns, snapshot.st_size), rotated, current


def _read(files: DataFiles) -> Backup:
    raw = files.path.read_bytes()
    journals: list[tuple[Path, bytes]] = []
    for path in files.journals():
        with contextlib.suppress(FileNotFoundError):
            journals.append((path, path.read_bytes()))
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptDataError(f"{files.path} is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CorruptDataError(f"{files.path} must hold a JSON object at the top level")
    document = cast("dict[str, Any]", doc)
    held = document.get(META, {}).get("journalSeq") if isinstance(document.get(META), dict) else None
    seq = held if isinstance(held, int) else 0
    for path, data in journals:
        seq, _ = replay_bytes(data, document, seq, path)
    meta = document.setdefault(META, {})
    if isinstance(meta, dict):
        cast("dict[str, Any]", meta)["journalSeq"] = seq
    return Backup(document, seq, len(journals))


def consistent_copy(data_dir: Path, *, pause: Callable[[], None] = lambda: time.sleep(0.05)) -> Backup:
    """Return the data folder's content as the bot would load it now (snapshot plus journals).

    Raises:
        BackupError: There is no data file, or the folder kept changing under every attempt.
        CorruptDataError: The data file or a journal is damaged.
    """
    files = DataFiles(data_dir / DATA_FILE, fsync=False)
    for _ in range(ATTEMPTS):
        try:
            before = _signature(files)
            backup = _read(files)
            after = _signature(files)
        except FileNotFoundError as exc:
            if not files.path.exists():
                raise BackupError(f"there is no data file in {data_dir}") from exc
            pause()  # a checkpoint renamed a journal between listing and reading it
            continue
        if before == after:
            return backup
        pause()  # a checkpoint replaced the snapshot meanwhile: read again
    raise BackupError(f"the data folder {data_dir} kept changing during {ATTEMPTS} attempts; try again")


def write_backup(backup: Backup, dest: Path, *, force: bool = False) -> Path:
    """Write ``backup`` as one complete CastBot file to ``dest`` (a file, or a folder to hold playerData.json).

    Raises:
        BackupError: ``dest`` exists (without ``force``) or cannot be written; nothing was changed.
    """
    target = dest / DATA_FILE if dest.is_dir() else dest
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: choose another destination, or pass --force to replace it")
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(orjson.dumps(backup.doc))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
