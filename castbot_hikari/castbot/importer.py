"""``castbot-hikari import PATH``: check a CastBot ``playerData.json`` and copy it into the data folder.

The file is checked first, by the validator ``run`` uses (``document.check_data``: a JSON object, server
entries keyed by id, configs and applications that are objects, not from a newer castbot-hikari), then
copied byte for byte and atomically: temp file in the data folder, fsync, rename, fsync the folder, all
under the folder's lock, so an import is refused while a bot runs there. An existing data file is replaced
only with ``--force``; it is kept as a ``.bak`` copy, and its journal is moved aside so it can never be
replayed onto the imported file.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

import orjson

from castbot_hikari.castbot.document import DATA_FILE, JOURNAL_SUFFIX, DataSummary, check_data
from castbot_hikari.castbot.folder import DataFolderError, check_writable, lock_folder
from castbot_hikari.core.errors import CorruptDataError


class ImportRefusedError(Exception):
    """The file cannot be imported, or would overwrite data without ``--force``; nothing was changed."""


def check(raw: bytes, source: str) -> DataSummary:
    """Check the bytes of a CastBot data file (with the validator ``run`` uses) and summarise it.

    On top of what ``run`` requires, an import must bring at least one server entry: an empty file is
    almost always the wrong file.

    Raises:
        ImportRefusedError: It is not valid CastBot data (the message says why, in one line).
    """
    try:
        doc: object = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ImportRefusedError(f"{source} is not valid JSON ({exc})") from None
    try:
        summary = check_data(doc, source)
    except CorruptDataError as exc:
        raise ImportRefusedError(str(exc)) from None
    if not summary.guilds:
        raise ImportRefusedError(f"{source} holds no server entries (CastBot keys them by server id)")
    return summary


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def import_file(source: Path, data_dir: Path, *, force: bool = False) -> tuple[DataSummary, Path | None]:
    """Check ``source`` and copy it to ``data_dir/playerData.json``; return the summary and the backup path.

    The data folder's lock is held throughout, so an import never races a running bot (whose shutdown
    snapshot would silently write the old data back).

    Raises:
        ImportRefusedError: The file is unreadable or invalid, or data exists and ``force`` is false.
        DataFolderError: The data folder is in use by a running bot, is a file, or cannot be written.
    """
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ImportRefusedError(f"cannot read {source}: {exc.strerror or exc}") from None
    summary = check(raw, str(source))
    if data_dir.exists() and not data_dir.is_dir():
        raise DataFolderError(f"the data folder {data_dir} is a file, not a folder")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataFolderError(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from None
    with lock_folder(data_dir):
        target = data_dir / DATA_FILE
        journal = target.with_name(target.name + JOURNAL_SUFFIX)
        has_journal = journal.exists() and journal.stat().st_size > 0
        if (target.exists() or has_journal) and not force:
            raise ImportRefusedError(f"{target} already exists; use --force to replace it (a .bak copy is kept)")
        check_writable(data_dir)
        try:
            backup = _replace(raw, target, journal)
        except OSError as exc:
            raise ImportRefusedError(f"cannot write {target}: {exc.strerror or exc}; nothing was replaced") from None
    return summary, backup


def _replace(raw: bytes, target: Path, journal: Path) -> Path | None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("xb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        backup: Path | None = None
        if target.exists():
            backup = target.with_name(f"{target.name}.{stamp}.bak")
            os.link(target, backup)  # the old file stays reachable whatever happens next
        if journal.exists():
            # Moved before the swap: replaying the old journal onto the imported file would corrupt it.
            os.replace(journal, journal.with_name(f"{journal.name}.{stamp}.bak"))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)
    return backup
