"""The data folder: one writing process at a time, and proof at start that the folder can be written.

Two processes on one folder each lose the other's records (each keeps its own copy in memory and writes
it back). So every command that writes the folder first takes an exclusive OS lock (``flock``) on
``castbot-hikari.lock`` inside it. The kernel drops the lock when the process ends, however it ends, so a
crash never blocks a restart; the lock file itself stays (deleting it while a bot runs would let a
second process lock a new file) and holds the PID of the last holder, which a refused process names.

Within one process the lock is re-entrant: the CLI takes it before it writes anything, and the store it
then opens takes it again without deadlocking.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Final, Self

LOCK_FILE: Final = "castbot-hikari.lock"
PROBE_LINE: Final = b"[]\n"
"""A journal entry with no operation: replaying it changes nothing, so a probe cut short is harmless."""


class DataFolderError(Exception):
    """The data folder cannot be used as it is; the message says why in one line, and nothing was changed."""


class FolderInUseError(DataFolderError):
    """Another process holds the data folder's lock."""

    def __init__(self, folder: Path, pid: int | None) -> None:
        holder = f"PID {pid}" if pid is not None else "a process whose PID could not be read"
        super().__init__(
            f"the data folder {folder} is in use by another castbot-hikari process ({holder}); stop it first"
        )
        self.folder = folder
        self.pid = pid


class FolderNotWritableError(DataFolderError):
    """The data folder (or its journal) cannot be written and made durable."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(slots=True)
class _Held:
    fd: int
    count: int = 1


_held: dict[tuple[int, int], _Held] = {}


@dataclass(slots=True)
class FolderLock:
    """This process's hold on a data folder; ``release()`` (or leaving a ``with`` block) gives it up.

    The OS lock is dropped when every hold of this process on the folder was released, or when the
    process ends.
    """

    folder: Path
    _key: tuple[int, int] = field(repr=False)
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        """Give up this hold (a second call does nothing)."""
        if self._released:
            return
        self._released = True
        held = _held.get(self._key)
        if held is None:
            return
        held.count -= 1
        if held.count == 0:
            del _held[self._key]
            os.close(held.fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> Self:
        """Return this hold."""
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Release this hold."""
        self.release()


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    return None


def _open_lock_file(folder: Path) -> int:
    path = folder / LOCK_FILE
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise FolderNotWritableError(
                f"cannot write in the data folder {folder} ({_reason(exc)}): it must be writable by the user "
                f"running the bot (uid {os.geteuid()})"
            ) from exc
        raise DataFolderError(f"cannot create the lock file {path}: {_reason(exc)}") from exc


def lock_folder(folder: Path) -> FolderLock:
    """Take this process's exclusive lock on ``folder`` (which must exist), or refuse at once.

    Raises:
        FolderInUseError: Another process holds it (the error names its PID).
        FolderNotWritableError: The lock file cannot be created in the folder.
        DataFolderError: Another reason the lock cannot be taken.
    """
    for _ in range(3):  # the lock file replaced between open and flock: try the new one
        fd = _open_lock_file(folder)
        info = os.fstat(fd)
        key = (info.st_dev, info.st_ino)
        if (held := _held.get(key)) is not None:
            os.close(fd)
            held.count += 1
            return FolderLock(folder, key)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise FolderInUseError(folder, pid) from None
        except OSError as exc:
            os.close(fd)
            raise DataFolderError(f"cannot lock {folder / LOCK_FILE}: {_reason(exc)}") from exc
        with contextlib.suppress(FileNotFoundError):
            now = os.stat(folder / LOCK_FILE)
            if (now.st_dev, now.st_ino) == key:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
                _held[key] = _Held(fd)
                return FolderLock(folder, key)
        os.close(fd)
    raise DataFolderError(f"cannot lock {folder / LOCK_FILE}: the file keeps being replaced")


def lock_holder(folder: Path) -> int | None:
    """Return the PID of the process holding ``folder``'s lock (this one included), or ``None`` if it is free.

    ``0`` means held by a process whose PID cannot be read. The test takes a shared lock for an instant,
    so a process starting at that very instant may be refused: use it for reports, not before writing
    (``lock_folder`` is the check that counts).
    """
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) in _held:
            return os.getpid()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or 0
        return None
    finally:
        os.close(fd)  # drops the shared lock taken to test, if any


def check_writable(folder: Path, *, fsync: bool = True) -> None:
    """Prove that a file can be created, written, fsynced and removed in ``folder``, as a snapshot is.

    Raises:
        FolderNotWritableError: It cannot (the message names the folder and the reason).
    """
    probe = folder / f".castbot-hikari-probe-{uuid.uuid4().hex}.tmp"
    try:
        with probe.open("xb") as handle:
            handle.write(b"probe\n")
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        probe.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.unlink()
        raise FolderNotWritableError(f"cannot write in the data folder {folder}: {_reason(exc)}") from exc


def probe_journal(journal: Path, *, fsync: bool = True) -> None:
    """Append a no-op entry to ``journal``, make it durable, then cut the journal back to what it held.

    This is the write every saved change makes; a folder that fails it would make every applicant's
    apply fail with "could not be saved".

    Raises:
        FolderNotWritableError: The journal cannot be appended to or synced.
    """
    try:
        with journal.open("ab") as handle:
            size = handle.tell()
            handle.write(PROBE_LINE)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            handle.truncate(size)
            if fsync:
                os.fsync(handle.fileno())
    except OSError as exc:
        raise FolderNotWritableError(f"cannot write the journal {journal}: {_reason(exc)}") from exc
