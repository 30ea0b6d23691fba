"""``import`` and ``export`` between CastBot's ``playerData.json`` and PostgreSQL, in both directions, lossless.

What the bot models goes into columns; everything else (CastBot's other keys of each server, its top-level
keys, entries whose ids are not ids) is kept as JSONB, so ``export(import(doc)) == doc``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from castbot_hikari.apply.store import key_str, pending_key
from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS, META, SCHEMA_VERSION, as_object, check_data
from castbot_hikari.core.ids import parse_snowflake

_OWN_SECTIONS: Final = ("pending", "outbox", "undelivered", "guilds")
_TABLES: Final = ("castbot_top", "guilds", "guild_settings", "configs", "applies", "outbox", "undelivered")


Conn = asyncpg.Connection | PoolConnectionProxy
"""A connection, pooled or not."""


class DatabaseNotEmptyError(Exception):
    """``import`` without ``replace`` into a database that already holds data; nothing was changed."""


@dataclass(frozen=True, slots=True)
class Counts:
    """What was moved: servers, Apply configs, applications, unfinished applies, outbox notices."""

    guilds: int = 0
    configs: int = 0
    applications: int = 0
    pending: int = 0
    notices: int = 0
    undelivered: int = 0


def _application_row(guild_id: int, channel: str, raw: object) -> tuple[int, int, str, int, dict[str, Any]] | None:
    """Return (guild, user, config, channel, data) of an application the tables can index, else ``None``."""
    entry = as_object(raw)
    user, config = parse_snowflake(entry.get("userId")), entry.get("configId")
    if not channel.isdigit() or user is None or not isinstance(config, str):
        return None
    if str(entry.get("channelId", channel)) != channel:
        return None
    return (guild_id, user, config, int(channel), entry)


async def database_holds_data(conn: Conn) -> bool:
    """Return whether any table of the schema has a row."""
    for table in _TABLES:
        if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):  # noqa: S608 - fixed names
            return True
    return False


async def import_document(conn: Conn, doc: object, *, replace: bool = False) -> Counts:
    """Load a CastBot document into the (migrated) database in one transaction.

    Raises:
        CorruptDataError: ``doc`` is not CastBot data (nothing was changed).
        DatabaseNotEmptyError: The database holds data and ``replace`` is off (nothing was changed).
    """
    check_data(doc, "the file")
    top = cast("dict[str, Any]", doc)
    async with conn.transaction():
        if await database_holds_data(conn):
            if not replace:
                raise DatabaseNotEmptyError("the database already holds data")
            await conn.execute(f"TRUNCATE {', '.join(_TABLES)}")
        return await _load(conn, top)


async def _load(conn: Conn, top: dict[str, Any]) -> Counts:
    rest: dict[str, Any] = {}
    guild_rows: list[tuple[int, dict[str, Any]]] = []
    config_rows: list[tuple[int, str, dict[str, Any]]] = []
    applies: list[tuple[int, int, str, str, int, dict[str, Any]]] = []
    seen: set[tuple[int, int, str]] = set()
    for name, value in top.items():
        if name == META:
            rest = dict(as_object(value))
            continue
        if not name.isdigit():
            await conn.execute("INSERT INTO castbot_top (key, value) VALUES ($1, $2)", name, value)
            continue
        guild_id, entry = int(name), as_object(value)
        extra = {k: v for k, v in entry.items() if k not in (CONFIGS, APPLICATIONS)}
        kept_configs: dict[str, Any] = {}
        for config_id, raw in as_object(entry.get(CONFIGS)).items():
            config_rows.append((guild_id, config_id, as_object(raw)))
        kept_apps: dict[str, Any] = {}
        for channel, raw in as_object(entry.get(APPLICATIONS)).items():
            row = _application_row(guild_id, channel, raw)
            if row is None:
                kept_apps[channel] = raw
                continue
            identity = (row[0], row[1], row[2])
            state = "duplicate" if identity in seen else "recorded"  # CastBot's own twins are kept as they are
            seen.add(identity)
            applies.append((row[0], row[1], row[2], state, row[3], row[4]))
        if CONFIGS in entry:
            extra[CONFIGS] = kept_configs
        if APPLICATIONS in entry:
            extra[APPLICATIONS] = kept_apps
        guild_rows.append((guild_id, extra))
    await conn.executemany("INSERT INTO guilds (guild_id, extra) VALUES ($1, $2)", guild_rows)
    await conn.executemany("INSERT INTO configs (guild_id, config_id, data) VALUES ($1, $2, $3)", config_rows)
    await conn.executemany(
        "INSERT INTO applies (guild_id, user_id, config_id, state, channel_id, data) VALUES ($1, $2, $3, $4, $5, $6)",
        applies,
    )
    own = await _load_own(conn, rest)
    return Counts(
        guilds=len(guild_rows),
        configs=len(config_rows),
        applications=len(applies),
        pending=own[0],
        notices=own[1],
        undelivered=own[2],
    )


async def _load_own(conn: Conn, rest: dict[str, Any]) -> tuple[int, int, int]:
    """Load this bot's section: reservations, outbox, undelivered results, guild settings; keep the rest."""
    kept: dict[str, dict[str, Any]] = {section: {} for section in _OWN_SECTIONS if section in rest}
    pending = 0
    for name, raw in as_object(rest.get("pending")).items():
        entry = as_object(raw)
        key = pending_key(entry)
        if key is None or key_str(key) != name:
            kept["pending"][name] = raw
            continue
        channel, attempt = parse_snowflake(entry.get("channelId")), entry.get("createAttemptAt")
        # The process that made it is stopped (its data file was copied): its lease is over at once.
        await conn.execute(
            "INSERT INTO applies (guild_id, user_id, config_id, state, step, owner, reserved_at, lease_until,"
            " channel_id, applicant, reply, create_attempt_ms) VALUES ($1, $2, $3, 'reserved', $4, $5,"
            " timestamptz 'epoch' + $6::bigint * interval '1 millisecond',"
            " timestamptz 'epoch' + $6::bigint * interval '1 millisecond',"
            " $7, $8, $9, $10)",
            int(key.guild_id),
            int(key.user_id),
            str(key.config_id),
            str(entry.get("state", "reserved")),
            str(entry.get("owner", "")),
            int(entry.get("reservedAt", 0)),
            channel,
            entry.get("applicant"),
            entry.get("reply"),
            attempt if isinstance(attempt, int) else None,
        )
        pending += 1
    notices = 0
    for notice_id, raw in as_object(rest.get("outbox")).items():
        guild = parse_snowflake(as_object(raw).get("guildId"))
        if guild is None:
            kept["outbox"][notice_id] = raw
            continue
        at = as_object(raw).get("at", 0)
        await conn.execute(
            "INSERT INTO outbox (notice_id, guild_id, body, at_ms) VALUES ($1, $2, $3, $4)",
            notice_id,
            guild,
            raw,
            at if isinstance(at, int) else 0,
        )
        notices += 1
    undelivered = 0
    for reference, raw in as_object(rest.get("undelivered")).items():
        guild = parse_snowflake(as_object(raw).get("guildId"))
        if guild is None:
            kept["undelivered"][reference] = raw
            continue
        at = as_object(raw).get("at", 0)
        await conn.execute(
            "INSERT INTO undelivered (reference, guild_id, body, at_ms) VALUES ($1, $2, $3, $4)",
            reference,
            guild,
            raw,
            at if isinstance(at, int) else 0,
        )
        undelivered += 1
    for name, raw in as_object(rest.get("guilds")).items():
        entry = dict(as_object(raw))
        notify = parse_snowflake(entry.pop("notifyChannelId", None))
        if not name.isdigit() or notify is None:
            kept["guilds"][name] = raw
            continue
        await conn.execute(
            "INSERT INTO guild_settings (guild_id, notify_channel_id) VALUES ($1, $2)", int(name), notify
        )
        kept["guilds"][name] = entry  # whatever else it held
    own = {k: v for k, v in rest.items() if k not in _OWN_SECTIONS} | kept
    await conn.execute("INSERT INTO castbot_top (key, value) VALUES ($1, $2)", META, own)
    return pending, notices, undelivered


async def export_document(conn: Conn) -> tuple[dict[str, Any], Counts]:
    """Return the database as a CastBot document (in one snapshot), with what it holds."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _dump(conn)


async def _dump(conn: Conn) -> tuple[dict[str, Any], Counts]:
    doc: dict[str, Any] = {}
    for row in await conn.fetch("SELECT key, value FROM castbot_top ORDER BY key"):
        doc[str(row["key"])] = row["value"]
    guilds: dict[int, dict[str, Any]] = {}
    for row in await conn.fetch("SELECT guild_id, extra FROM guilds ORDER BY guild_id"):
        guilds[int(row["guild_id"])] = dict(as_object(row["extra"]))
    configs = 0
    for row in await conn.fetch("SELECT guild_id, config_id, data FROM configs ORDER BY guild_id, config_id"):
        entry = guilds.setdefault(int(row["guild_id"]), {})
        entry[CONFIGS] = {**as_object(entry.get(CONFIGS)), str(row["config_id"]): row["data"]}
        configs += 1
    applications = 0
    by_guild: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in await conn.fetch(
        "SELECT guild_id, channel_id, data FROM applies WHERE state IN ('recorded', 'duplicate') ORDER BY id"
    ):
        by_guild[int(row["guild_id"])][str(row["channel_id"])] = row["data"]
        applications += 1
    for guild_id, apps in by_guild.items():
        entry = guilds.setdefault(guild_id, {})
        entry[APPLICATIONS] = {**as_object(entry.get(APPLICATIONS)), **apps}
    for guild_id, entry in guilds.items():
        doc[str(guild_id)] = entry
    own = dict(as_object(doc.get(META)))
    own.setdefault("schemaVersion", SCHEMA_VERSION)
    pending = await _dump_pending(conn, own)
    notices = await _dump_section(conn, own, "outbox", "SELECT notice_id, body FROM outbox ORDER BY at_ms")
    undelivered = await _dump_section(
        conn, own, "undelivered", "SELECT reference, body FROM undelivered ORDER BY at_ms"
    )
    settings = await conn.fetch("SELECT guild_id, notify_channel_id FROM guild_settings ORDER BY guild_id")
    if settings:
        section = dict(as_object(own.get("guilds")))
        for row in settings:
            name = str(row["guild_id"])
            entry = dict(as_object(section.get(name)))
            if row["notify_channel_id"] is not None:
                entry["notifyChannelId"] = str(row["notify_channel_id"])
            section[name] = entry
        own["guilds"] = section
    doc[META] = own
    counts = Counts(len(guilds), configs, applications, pending, notices, undelivered)
    return doc, counts


async def _dump_section(conn: Conn, own: dict[str, Any], section: str, query: str) -> int:
    rows = await conn.fetch(query)
    if rows:
        own[section] = {**as_object(own.get(section)), **{str(row[0]): row[1] for row in rows}}
    return len(rows)


async def _dump_pending(conn: Conn, own: dict[str, Any]) -> int:
    rows = await conn.fetch(
        "SELECT guild_id, user_id, config_id, step, owner, channel_id, applicant, reply, create_attempt_ms,"
        " (extract(epoch FROM reserved_at) * 1000)::bigint AS reserved_ms FROM applies WHERE state = 'reserved'"
        " ORDER BY reserved_at, id"
    )
    if not rows:
        return 0
    section = dict(as_object(own.get("pending")))
    for row in rows:
        entry: dict[str, Any] = {
            "state": row["step"],
            "reservedAt": int(row["reserved_ms"]),
            "owner": row["owner"],
            "guildId": str(row["guild_id"]),
            "userId": str(row["user_id"]),
            "configId": row["config_id"],
        }
        if row["applicant"] is not None:
            entry["applicant"] = row["applicant"]
        if row["reply"] is not None:
            entry["reply"] = row["reply"]
        if row["create_attempt_ms"] is not None:
            entry["createAttemptAt"] = int(row["create_attempt_ms"])
        if row["channel_id"] is not None:
            entry["channelId"] = str(row["channel_id"])
        section[f"{row['guild_id']}:{row['user_id']}:{row['config_id']}"] = entry
    own["pending"] = section
    return len(rows)
