"""CastBot's ``playerData.json`` as one journaled document, shared by every store of this process.

The file keeps CastBot's shape: guild ids at the top level, ``applicationConfigs`` and ``applications``
(keyed by channel id) inside each guild, and every key this bot does not know left as it is. This bot's
own bookkeeping (reservations, outbox, undelivered results, guild settings) lives under one top-level
key, ``_castbotHikari``, which CastBot ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from castbot_hikari.castbot.folder import (
    DataFolderError,
    FolderNotWritableError,
    check_writable,
    lock_folder,
    probe_journal,
)
from castbot_hikari.castbot.journal import JournaledDocument, Offload, in_thread
from castbot_hikari.core.errors import CorruptDataError
from castbot_hikari.core.ids import parse_config_id

DATA_FILE: Final = "playerData.json"
META: Final = "_castbotHikari"
SCHEMA_VERSION: Final = 1
CONFIGS: Final = "applicationConfigs"
APPLICATIONS: Final = "applications"
JOURNAL_SUFFIX: Final = ".journal"


class NoDataFileError(DataFolderError):
    """The data folder holds no ``playerData.json``: a new install must ask for one (``castbot-hikari init``)."""


def as_object(value: object) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one (hand-edited files can hold anything)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


@dataclass(frozen=True, slots=True)
class GuildSummary:
    """What one server entry holds."""

    guild_id: str
    configs: int
    applications: int


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What a checked document holds, and warnings that do not stop anyone from using it."""

    guilds: tuple[GuildSummary, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def configs(self) -> int:
        """Return the number of Apply configs over all servers."""
        return sum(g.configs for g in self.guilds)

    @property
    def applications(self) -> int:
        """Return the number of applications over all servers."""
        return sum(g.applications for g in self.guilds)


def _object(value: object) -> dict[str, Any] | None:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def _section(source: str, guild_id: str, entry: dict[str, Any], key: str) -> dict[str, Any]:
    """Return a guild's ``applicationConfigs``/``applications`` (absent is empty), checking its shape."""
    if key not in entry:
        return {}
    section = _object(entry[key])
    if section is None:
        raise CorruptDataError(f"{source}: server {guild_id}: {key} must be a JSON object")
    for item_id, item in section.items():
        if _object(item) is None:
            raise CorruptDataError(f"{source}: server {guild_id}: {key} entry {item_id!r} must be a JSON object")
    return section


def check_data(doc: object, source: str) -> DataSummary:
    """Check that ``doc`` has CastBot's shape, as ``run`` and ``import`` both require; summarise it.

    Server entries (numeric keys) must be objects, their ``applicationConfigs`` and ``applications``
    objects of objects, and ``_castbotHikari`` an object of a schema this version knows. Every other key
    is CastBot's business and is not looked at.

    Raises:
        CorruptDataError: It does not (the message names ``source`` and the first problem, in one line).
    """
    top = _object(doc)
    if top is None:
        raise CorruptDataError(
            f"{source} must hold a JSON object (CastBot's playerData.json), not {type(doc).__name__}"
        )
    own = top.get(META, {})
    if _object(own) is None:
        raise CorruptDataError(f"{source}: {META} must be a JSON object")
    version = cast("dict[str, Any]", own).get("schemaVersion", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise CorruptDataError(f"{source} was written by a newer castbot-hikari (schema {version!r})")
    guilds: list[GuildSummary] = []
    warnings: list[str] = []
    for key, value in top.items():
        if not key.isdigit():
            continue  # CastBot's own top-level keys (environmentConfig...) and ours are kept as they are
        entry = _object(value)
        if entry is None:
            raise CorruptDataError(f"{source}: server {key} must be a JSON object")
        configs = _section(source, key, entry, CONFIGS)
        applications = _section(source, key, entry, APPLICATIONS)
        warnings.extend(
            f"server {key}: config id {config_id!r} cannot be used by Apply buttons (unexpected characters)"
            for config_id in configs
            if parse_config_id(config_id) is None
        )
        guilds.append(GuildSummary(key, len(configs), len(applications)))
    return DataSummary(tuple(guilds), tuple(warnings))


def _folder_for(data_dir: Path, *, create: bool) -> None:
    """Check that ``data_dir`` is a folder holding data (or create it when ``create``)."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataFolderError(f"the data folder {data_dir} is a file, not a folder")
    data_file = data_dir / DATA_FILE
    if create:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FolderNotWritableError(f"cannot create the data folder {data_dir}: {exc.strerror or exc}") from exc
        return
    if data_file.is_file():
        return
    journal = data_file.with_name(data_file.name + JOURNAL_SUFFIX)
    if journal.exists():
        raise NoDataFileError(
            f"{data_file} is missing but its journal {journal.name} is there: the data file was moved or deleted; "
            "put it back (or restore both files from a backup)"
        )
    raise NoDataFileError(
        f"there is no data file {data_file.absolute()}. For a new install run 'castbot-hikari init' (or "
        "'castbot-hikari import' CastBot's file); otherwise CASTBOT_DATA_DIR names the wrong folder or its "
        "volume is not mounted"
    )


def open_document(
    data_dir: Path,
    *,
    fsync: bool = True,
    compact_every: int = 5000,
    offload: Offload = in_thread,
    create: bool = True,
) -> JournaledDocument:
    """Take the folder's lock, check the folder can be written, then open ``data_dir/playerData.json``.

    With ``create`` (tests, the sandbox, ``init``) a missing folder or file is created; without it (``run``)
    a missing file is an error, because an install whose file is gone must not start over empty.

    Raises:
        CorruptDataError: The file is unreadable, not CastBot data, or from a newer schema; the file
            is left untouched.
        DataFolderError: The folder is missing its data file (``NoDataFileError``), held by another process
            (``FolderInUseError``), or cannot be written (``FolderNotWritableError``).
    """
    _folder_for(data_dir, create=create)
    lock = lock_folder(data_dir)  # held until the document is closed: it may write until then
    try:
        check_writable(data_dir, fsync=fsync)
        try:
            document = JournaledDocument.open(
                data_dir / DATA_FILE,
                empty={META: {"schemaVersion": SCHEMA_VERSION}},
                seq_path=(META, "journalSeq"),
                fsync=fsync,
                compact_every=compact_every,
                offload=offload,
            )
        except OSError as exc:  # the snapshot written after a replay (disk full, for one)
            raise FolderNotWritableError(f"cannot write {data_dir / DATA_FILE}: {exc.strerror or exc}") from exc
        check_data(document.doc, str(document.files.path))
        probe_journal(document.files.journal, fsync=fsync)
    except BaseException:
        lock.release()
        raise
    document.release_on_close(lock.release)
    return document


def guild(document: JournaledDocument, guild_id: int) -> dict[str, Any]:
    """Return a guild's CastBot object (empty if none)."""
    return as_object(document.doc.get(str(guild_id)))


def meta(document: JournaledDocument, section: str) -> dict[str, Any]:
    """Return a section of this bot's own bookkeeping (``_castbotHikari.<section>``; empty if none)."""
    return as_object(as_object(document.doc.get(META)).get(section))
