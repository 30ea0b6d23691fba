"""CastBot's ``playerData.json`` as one journaled document, shared by every store of this process.

The file keeps CastBot's shape: guild ids at the top level, ``applicationConfigs`` and ``applications``
(keyed by channel id) inside each guild, and every key this bot does not know left as it is. This bot's
own bookkeeping (reservations, outbox, undelivered results, guild settings) lives under one top-level
key, ``_castbotHikari``, which CastBot ignores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, cast

from castbot_hikari.castbot.journal import JournaledDocument, Offload, in_thread
from castbot_hikari.core.errors import CorruptDataError

DATA_FILE: Final = "playerData.json"
META: Final = "_castbotHikari"
SCHEMA_VERSION: Final = 1
CONFIGS: Final = "applicationConfigs"
APPLICATIONS: Final = "applications"


def as_object(value: object) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty one (hand-edited files can hold anything)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def open_document(
    data_dir: Path, *, fsync: bool = True, compact_every: int = 5000, offload: Offload = in_thread
) -> JournaledDocument:
    """Open (or create) ``data_dir/playerData.json`` with its journal.

    Raises:
        CorruptDataError: The file is unreadable, not CastBot data, or from a newer schema; the file
            is left untouched.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    document = JournaledDocument.open(
        data_dir / DATA_FILE,
        empty={META: {"schemaVersion": SCHEMA_VERSION}},
        seq_path=(META, "journalSeq"),
        fsync=fsync,
        compact_every=compact_every,
        offload=offload,
    )
    version = as_object(document.doc.get(META)).get("schemaVersion", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise CorruptDataError(f"{document.files.path} was written by a newer castbot-hikari (schema {version!r})")
    return document


def guild(document: JournaledDocument, guild_id: int) -> dict[str, Any]:
    """Return a guild's CastBot object (empty if none)."""
    return as_object(document.doc.get(str(guild_id)))


def meta(document: JournaledDocument, section: str) -> dict[str, Any]:
    """Return a section of this bot's own bookkeeping (``_castbotHikari.<section>``; empty if none)."""
    return as_object(as_object(document.doc.get(META)).get(section))
