"""``castbot-hikari import PATH``: check a CastBot ``playerData.json`` and copy it into the data folder.

The file is checked first (a JSON object, server entries keyed by id, configs and applications that are
objects, not from a newer castbot-hikari), then copied byte for byte and atomically: temp file in the data
folder, fsync, rename, fsync the folder. An existing data file is replaced only with ``--force``; it is kept
as a ``.bak`` copy, and its journal is moved aside so it can never be replayed onto the imported file.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from castbot_hikari.castbot.document import DATA_FILE, META, SCHEMA_VERSION
from castbot_hikari.core.ids import parse_config_id


class ImportRefusedError(Exception):
    """The file cannot be imported, or would overwrite data without ``--force``; nothing was changed."""


@dataclass(frozen=True, slots=True)
class GuildSummary:
    """What one server entry holds."""

    guild_id: str
    configs: int
    applications: int


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What a checked file holds, and warnings that do not stop the import."""

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


def _section(guild_id: str, entry: dict[str, Any], key: str) -> dict[str, Any]:
    """Return a guild's ``applicationConfigs``/``applications`` (absent is empty), checking its shape."""
    if key not in entry:
        return {}
    section = _object(entry[key])
    if section is None:
        raise ImportRefusedError(f"server {guild_id}: {key} must be a JSON object")
    for item_id, item in section.items():
        if _object(item) is None:
            raise ImportRefusedError(f"server {guild_id}: {key} entry {item_id!r} must be a JSON object")
    return section


def check(raw: bytes, source: str) -> ImportSummary:
    """Check the bytes of a CastBot data file and summarise it.

    Raises:
        ImportRefusedError: It is not valid CastBot data (the message says why, in one line).
    """
    try:
        doc: object = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ImportRefusedError(f"{source} is not valid JSON ({exc})") from None
    top = _object(doc)
    if top is None:
        raise ImportRefusedError(
            f"{source} must hold a JSON object (CastBot's playerData.json), not {type(doc).__name__}"
        )
    version = (_object(top.get(META)) or {}).get("schemaVersion", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ImportRefusedError(f"{source} was written by a newer castbot-hikari (schema {version!r})")
    guilds: list[GuildSummary] = []
    warnings: list[str] = []
    for key, value in top.items():
        if not key.isdigit():
            continue  # CastBot's own top-level keys (environmentConfig...) and ours are kept as they are
        entry = _object(value)
        if entry is None:
            raise ImportRefusedError(f"server {key} must be a JSON object")
        configs = _section(key, entry, "applicationConfigs")
        applications = _section(key, entry, "applications")
        warnings.extend(
            f"server {key}: config id {config_id!r} cannot be used by Apply buttons (unexpected characters)"
            for config_id in configs
            if parse_config_id(config_id) is None
        )
        guilds.append(GuildSummary(key, len(configs), len(applications)))
    if not guilds:
        raise ImportRefusedError(f"{source} holds no server entries (CastBot keys them by server id)")
    return ImportSummary(tuple(guilds), tuple(warnings))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def import_file(source: Path, data_dir: Path, *, force: bool = False) -> tuple[ImportSummary, Path | None]:
    """Check ``source`` and copy it to ``data_dir/playerData.json``; return the summary and the backup path.

    Raises:
        ImportRefusedError: The file is unreadable or invalid, or data exists and ``force`` is false.
    """
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ImportRefusedError(f"cannot read {source}: {exc.strerror or exc}") from None
    summary = check(raw, str(source))
    target = data_dir / DATA_FILE
    journal = target.with_name(target.name + ".journal")
    has_journal = journal.exists() and journal.stat().st_size > 0
    if (target.exists() or has_journal) and not force:
        raise ImportRefusedError(f"{target} already exists; use --force to replace it (a .bak copy is kept)")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
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
