"""The repositories of the apply flow and the admin commands over PostgreSQL, shared by several processes.

One table, ``applies``, holds reservations and recorded applications; a partial unique index allows one
``reserved`` or ``recorded`` row per (guild, user, config), so the database itself is the check-and-set
between processes. A reservation carries its owner and a lease (the database's ``now()``: no clock skew
between processes); its owner renews the lease while the apply runs, and another process takes it over only
once the lease ran out. Every later step is fenced by ``owner = this process AND state = 'reserved'``: a
process whose reservation was taken over gets ``LeaseLostError`` and changes nothing.

No transaction is ever open while Discord is called: each method is one statement, or one short
transaction of statements.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any, Final, cast

import asyncpg
import orjson

from castbot_hikari.apply.model import (
    Applicant,
    Application,
    ApplyKey,
    OutboxItem,
    Pending,
    PendingState,
    ReplyHandle,
    Reservation,
    Undelivered,
    Won,
)
from castbot_hikari.apply.store import (
    applicant_from_json,
    applicant_to_json,
    outbox_entry,
    outbox_item,
    reply_from_json,
    reply_to_json,
)
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import as_object
from castbot_hikari.core import metrics as names
from castbot_hikari.core.errors import LeaseLostError, StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.core.metrics import Metrics
from castbot_hikari.pg.migrate import migrate

logger = logging.getLogger(__name__)

DEFAULT_LEASE_S: Final = 60.0
OUTBOX_BATCH: Final = 200
_IDENTITY_FIELDS: Final = ("userId", "channelId", "configId")
_PENDING_COLUMNS: Final = (
    "guild_id, user_id, config_id, step, owner, channel_id, applicant, reply, create_attempt_ms, "
    "(extract(epoch FROM reserved_at) * 1000)::bigint AS reserved_ms"
)
_KEY: Final = "guild_id = $1 AND user_id = $2 AND config_id = $3"

# The reservation: ONE statement. A new row wins; an existing reservation is taken over only if its lease
# ran out or it is this owner's (whose in-process lock the caller holds, so that apply is over). A recorded
# application, or a live reservation of another process, leaves the statement without a row.
_RESERVE: Final = f"""
INSERT INTO applies AS a (guild_id, user_id, config_id, state, step, owner, lease_until, reserved_at, applicant, reply)
VALUES ($1, $2, $3, 'reserved', 'reserved', $4, now() + $5::interval, now(), $6, $7)
ON CONFLICT (guild_id, user_id, config_id) WHERE state IN ('reserved', 'recorded')
DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, reserved_at = EXCLUDED.reserved_at,
    applicant = coalesce(EXCLUDED.applicant, a.applicant), reply = coalesce(EXCLUDED.reply, a.reply)
WHERE a.state = 'reserved' AND (a.lease_until < now() OR a.owner = EXCLUDED.owner)
RETURNING (a.xmax <> 0) AS took_over, {_PENDING_COLUMNS}
"""


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    """Decode and encode JSONB as Python objects on every pooled connection."""
    await conn.set_type_codec("jsonb", encoder=_json, decoder=orjson.loads, schema="pg_catalog")


def _key_args(key: ApplyKey) -> tuple[int, int, str]:
    return (int(key.guild_id), int(key.user_id), str(key.config_id))


def _pending_of(row: asyncpg.Record) -> Pending:
    key = ApplyKey(GuildId(row["guild_id"]), UserId(row["user_id"]), ConfigId(row["config_id"]))
    channel = row["channel_id"]
    return Pending(
        key=key,
        state=PendingState(row["step"] or PendingState.RESERVED.value),
        reserved_at_ms=int(row["reserved_ms"] or 0),
        owner=str(row["owner"] or ""),
        channel_id=ChannelId(channel) if channel is not None else None,
        applicant=applicant_from_json(key.user_id, row["applicant"]),
        reply=reply_from_json(row["reply"]),
        create_attempt_ms=row["create_attempt_ms"],
    )


def _application_of(row: asyncpg.Record) -> Application:
    data = as_object(row["data"])
    extra = {k: v for k, v in data.items() if k not in _IDENTITY_FIELDS}
    return Application(
        GuildId(row["guild_id"]),
        ChannelId(row["channel_id"]),
        UserId(row["user_id"]),
        ConfigId(row["config_id"]),
        extra,
    )


@contextlib.asynccontextmanager
async def storage(what: str) -> AsyncGenerator[None]:
    """Turn database and connection failures into ``StorageError`` (one line, no SQL, no password)."""
    try:
        yield
    except (LeaseLostError, StorageError):
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise StorageError(f"PostgreSQL: could not {what}: {type(exc).__name__}: {exc}") from exc


class PostgresStore:
    """The apply flow's ``ApplicationRepository`` and ``Leases`` over an asyncpg pool; ``configs`` and
    ``guild_settings`` are the admin commands' repositories over the same pool.

    Args:
        pool: The connection pool (see ``connect``).
        owner: This process's name in reservations; every later step of a reservation is fenced by it.
        lease_s: How long a reservation stays this process's without a renewal.
    """

    def __init__(self, pool: asyncpg.Pool, *, owner: str, lease_s: float = DEFAULT_LEASE_S) -> None:
        self._pool = pool
        self.owner = owner
        self.lease = timedelta(seconds=lease_s)
        self.configs = PgConfigRepository(pool)
        self.guild_settings = PgGuildSettings(pool)
        self._metrics: Metrics | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        owner: str,
        lease_s: float = DEFAULT_LEASE_S,
        min_size: int = 1,
        max_size: int = 10,
        apply_migrations: bool = True,
        timeout_s: float = 10.0,
    ) -> PostgresStore:
        """Open a pool to ``url`` and (by default) bring the schema up to date.

        ``statement_cache_size=0`` keeps it usable behind pgbouncer in transaction mode.

        Raises:
            StorageError: The database cannot be reached or refused the connection.
            SchemaError: The database was written by a newer version.
        """
        async with storage("connect"):
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                init=_init_connection,
                statement_cache_size=0,
                timeout=timeout_s,
                command_timeout=30,
            )
        try:
            if apply_migrations:
                async with storage("apply the schema migrations"), pool.acquire() as conn:
                    applied = await migrate(conn)
                if applied:
                    logger.info("applied schema migrations %s", ", ".join(applied))
        except BaseException:
            await pool.close()
            raise
        return cls(pool, owner=owner, lease_s=lease_s)

    @property
    def pool(self) -> asyncpg.Pool:
        """Return the connection pool (for tools and tests)."""
        return self._pool

    def measure_saves(self, metrics: Metrics) -> None:
        """Report how long each durable change takes (``store.save_ms``) to ``metrics``."""
        self._metrics = metrics

    def _observe(self, started: float) -> None:
        if self._metrics is not None:
            self._metrics.observe(names.STORE_SAVE_MS, (time.perf_counter() - started) * 1000)

    async def probe(self) -> bool:
        """Return whether the database answers (the readiness probe)."""
        try:
            async with storage("answer the probe"):
                return await self._pool.fetchval("SELECT 1", timeout=5) == 1
        except StorageError:
            return False

    async def close(self) -> None:
        """Close the pool (waits for connections in use to be released)."""
        await self._pool.close()

    # ---- ApplicationRepository ------------------------------------------------------------------------

    async def get_config(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        return await self.configs.find(guild_id, config_id)

    async def find_application(self, key: ApplyKey) -> Application | None:
        """Return the recorded application of this identity, if any."""
        async with storage("read an application"):
            row = await self._pool.fetchrow(
                f"SELECT guild_id, user_id, config_id, channel_id, data FROM applies"
                f" WHERE {_KEY} AND state = 'recorded'",
                *_key_args(key),
            )
        return _application_of(row) if row is not None else None

    async def reserve(
        self,
        key: ApplyKey,
        *,
        owner: str,
        now_ms: int,
        stale_after_ms: int,
        applicant: Applicant | None = None,
        reply: ReplyHandle | None = None,
    ) -> Reservation:
        """Reserve ``key`` with one statement: ``Won``, else the live reservation or the recorded application.

        ``now_ms`` and ``stale_after_ms`` are not used: the database's clock and this store's lease decide
        (a reservation is stale once its lease ran out, however old it is).
        """
        del now_ms, stale_after_ms
        started = time.perf_counter()
        who = applicant_to_json(applicant) if applicant is not None else None
        handle = reply_to_json(reply) if reply is not None else None
        for _ in range(5):  # a holder that goes away between the two statements: try again
            async with storage("reserve"):
                row = await self._pool.fetchrow(_RESERVE, *_key_args(key), owner, self.lease, who, handle)
                if row is not None:
                    self._observe(started)
                    if not row["took_over"]:
                        return Won()
                    previous = _pending_of(row)
                    logger.warning("took over a reservation key=%s step=%s", key, previous.state.value)
                    return Won(previous)
                held = await self._pool.fetchrow(
                    f"SELECT state, data, {_PENDING_COLUMNS} FROM applies"
                    f" WHERE {_KEY} AND state IN ('reserved', 'recorded')",
                    *_key_args(key),
                )
            if held is not None:
                return _application_of(held) if held["state"] == "recorded" else _pending_of(held)
        raise StorageError(f"PostgreSQL: the reservation of {key} kept changing hands")

    async def get_pending(self, key: ApplyKey) -> Pending | None:
        """Return the reservation of ``key``, if any."""
        async with storage("read a reservation"):
            row = await self._pool.fetchrow(
                f"SELECT {_PENDING_COLUMNS} FROM applies WHERE {_KEY} AND state = 'reserved'", *_key_args(key)
            )
        return _pending_of(row) if row is not None else None

    async def _fenced(self, key: ApplyKey, sets: str, *args: object) -> None:
        """Update this owner's reservation of ``key``; ``LeaseLostError`` if it is not this owner's any more."""
        started = time.perf_counter()
        async with storage("update a reservation"):
            done = await self._pool.fetchval(
                f"UPDATE applies SET {sets} WHERE {_KEY} AND state = 'reserved' AND owner = $4 RETURNING id",
                *_key_args(key),
                self.owner,
                *args,
            )
        if done is None:
            raise LeaseLostError(f"the reservation of {key} is no longer this process's")
        self._observe(started)

    async def mark_creating(self, key: ApplyKey, attempt_ms: int) -> None:
        """Record that a channel creation is about to be sent at ``attempt_ms``."""
        await self._fenced(key, "step = $5, create_attempt_ms = $6", PendingState.CREATING.value, attempt_ms)

    async def mark_channel(self, key: ApplyKey, channel_id: ChannelId) -> None:
        """Record that the reservation's channel exists."""
        await self._fenced(key, "step = $5, channel_id = $6", PendingState.CHANNEL_CREATED.value, int(channel_id))

    async def mark_welcomed(self, key: ApplyKey) -> None:
        """Record that the welcome message was posted."""
        await self._fenced(key, "step = $5", PendingState.WELCOMED.value)

    async def list_pending(self, guild_id: GuildId | None = None) -> list[Pending]:
        """Return unfinished applies (of one guild, or all), oldest first."""
        async with storage("list reservations"):
            rows = await self._pool.fetch(
                f"SELECT {_PENDING_COLUMNS} FROM applies WHERE state = 'reserved'"
                " AND ($1::bigint IS NULL OR guild_id = $1) ORDER BY reserved_at, id",
                int(guild_id) if guild_id is not None else None,
            )
        return [_pending_of(row) for row in rows]

    @staticmethod
    async def _queue(conn: asyncpg.pool.PoolConnectionProxy, notice: OutboxItem | None) -> None:
        if notice is None:
            return
        entry = outbox_entry(notice)
        await conn.execute(
            "INSERT INTO outbox (notice_id, guild_id, body, at_ms) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (notice_id) DO NOTHING",
            notice.notice_id,
            int(notice.guild_id),
            entry,
            int(entry["at"]),
        )

    async def commit(self, application: Application, *, notice: OutboxItem | None = None) -> None:
        """Turn this owner's reservation into the recorded application (and queue ``notice``), atomically.

        Raises:
            LeaseLostError: The reservation is another process's now; nothing was written.
        """
        started = time.perf_counter()
        async with storage("record an application"), self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval(
                f"UPDATE applies SET state = 'recorded', channel_id = $5, data = $6, step = NULL, owner = NULL,"
                f" lease_until = NULL, reply = NULL, applicant = NULL, create_attempt_ms = NULL"
                f" WHERE {_KEY} AND state = 'reserved' AND owner = $4 RETURNING id",
                *_key_args(application.key),
                self.owner,
                int(application.channel_id),
                application.to_castbot(),
            )
            if done is None:
                raise LeaseLostError(f"the reservation of {application.key} is no longer this process's")
            await self._queue(conn, notice)
        self._observe(started)

    async def release(self, key: ApplyKey, *, notice: OutboxItem | None = None) -> None:
        """Drop this owner's reservation (and queue ``notice``), atomically; one already gone stays gone.

        Raises:
            LeaseLostError: Another process holds the reservation now; nothing was written.
        """
        started = time.perf_counter()
        async with storage("release a reservation"), self._pool.acquire() as conn, conn.transaction():
            gone = await conn.fetchval(
                f"DELETE FROM applies WHERE {_KEY} AND state = 'reserved' AND owner = $4 RETURNING id",
                *_key_args(key),
                self.owner,
            )
            if gone is None and await conn.fetchval(
                f"SELECT 1 FROM applies WHERE {_KEY} AND state = 'reserved'", *_key_args(key)
            ):
                raise LeaseLostError(f"the reservation of {key} is another process's now")
            await self._queue(conn, notice)
        self._observe(started)

    async def list_outbox(self) -> list[OutboxItem]:
        """Claim up to a batch of unsent notices for this process (for one lease), oldest first.

        ``FOR UPDATE SKIP LOCKED``: processes flushing at once get disjoint batches; a claim whose process
        died without dropping its notices runs out and they are handed out again.
        """
        async with storage("claim outbox notices"):
            rows = await self._pool.fetch(
                "UPDATE outbox SET claimed_by = $1, claimed_until = now() + $2::interval WHERE notice_id IN ("
                " SELECT notice_id FROM outbox WHERE claimed_until IS NULL OR claimed_until < now()"
                " ORDER BY at_ms, notice_id LIMIT $3 FOR UPDATE SKIP LOCKED)"
                " RETURNING notice_id, body, at_ms",
                self.owner,
                self.lease,
                OUTBOX_BATCH,
            )
        ordered = sorted(rows, key=lambda row: (row["at_ms"], row["notice_id"]))
        return [outbox_item(str(row["notice_id"]), as_object(row["body"])) for row in ordered]

    async def drop_notice(self, notice_id: str) -> None:
        """Remove a notice from the outbox once it was sent."""
        async with storage("drop an outbox notice"):
            await self._pool.execute("DELETE FROM outbox WHERE notice_id = $1", notice_id)

    async def remove_application(self, guild_id: GuildId, channel_id: ChannelId) -> None:
        """Forget an application whose channel no longer exists."""
        async with storage("remove an application"):
            await self._pool.execute(
                "DELETE FROM applies WHERE guild_id = $1 AND channel_id = $2 AND state IN ('recorded', 'duplicate')",
                int(guild_id),
                int(channel_id),
            )

    async def record_undelivered(self, item: Undelivered) -> None:
        """Keep a result the applicant never saw, for the admins."""
        body = {
            "guildId": str(item.key.guild_id),
            "userId": str(item.key.user_id),
            "configId": item.key.config_id,
            "outcome": item.outcome,
            "message": item.message,
            "at": item.at_ms,
            "reason": item.reason,
        }
        async with storage("keep an undelivered result"):
            await self._pool.execute(
                "INSERT INTO undelivered (reference, guild_id, body, at_ms) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (reference) DO UPDATE SET body = EXCLUDED.body, at_ms = EXCLUDED.at_ms",
                item.reference,
                int(item.key.guild_id),
                body,
                item.at_ms,
            )

    async def list_undelivered(self, guild_id: GuildId | None = None) -> list[Undelivered]:
        """Return the kept undelivered results (of one guild, or all), oldest first."""
        async with storage("list undelivered results"):
            rows = await self._pool.fetch(
                "SELECT reference, body FROM undelivered WHERE ($1::bigint IS NULL OR guild_id = $1)"
                " ORDER BY at_ms, reference",
                int(guild_id) if guild_id is not None else None,
            )
        items: list[Undelivered] = []
        for row in rows:
            entry = as_object(row["body"])
            key = ApplyKey(
                GuildId(int(entry["guildId"])), UserId(int(entry["userId"])), ConfigId(str(entry["configId"]))
            )
            items.append(
                Undelivered(
                    str(row["reference"]),
                    key,
                    str(entry.get("outcome")),
                    str(entry.get("message")),
                    int(entry.get("at", 0)),
                    str(entry.get("reason")),
                )
            )
        return items

    # ---- Leases ---------------------------------------------------------------------------------------

    @property
    def renew_every_s(self) -> float | None:
        """Return a third of the lease: two renewals may fail before it runs out."""
        return self.lease.total_seconds() / 3

    async def renew(self, key: ApplyKey, *, owner: str) -> bool:
        """Extend ``owner``'s lease of ``key``; ``False`` if the reservation is not ``owner``'s (any more)."""
        async with storage("renew a lease"):
            done = await self._pool.fetchval(
                f"UPDATE applies SET lease_until = now() + $5::interval"
                f" WHERE {_KEY} AND state = 'reserved' AND owner = $4 RETURNING id",
                *_key_args(key),
                owner,
                self.lease,
            )
        return done is not None

    async def expired(self, *, owner: str) -> list[Pending]:
        """Return other owners' reservations whose lease ran out, oldest first."""
        async with storage("list expired reservations"):
            rows = await self._pool.fetch(
                f"SELECT {_PENDING_COLUMNS} FROM applies WHERE state = 'reserved' AND lease_until < now()"
                " AND owner IS DISTINCT FROM $1 ORDER BY reserved_at, id",
                owner,
            )
        return [_pending_of(row) for row in rows]

    async def take_over(self, pending: Pending, *, owner: str) -> Pending | None:
        """Make ``pending`` ``owner``'s if its lease ran out (or it is ``owner``'s); ``None`` if a live
        process holds it or it is gone."""
        async with storage("take over a reservation"):
            row = await self._pool.fetchrow(
                f"UPDATE applies SET owner = $4, lease_until = now() + $5::interval"
                f" WHERE {_KEY} AND state = 'reserved' AND (owner = $4 OR lease_until < now())"
                f" RETURNING {_PENDING_COLUMNS}",
                *_key_args(pending.key),
                owner,
                self.lease,
            )
        return _pending_of(row) if row is not None else None


class PgConfigRepository:
    """The admin commands' ``ConfigRepository``: each config's CastBot object whole, as JSONB."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def all_configs(self, guild_id: GuildId) -> list[ApplicationConfig]:
        """Return the guild's configs, oldest first."""
        async with storage("read configs"):
            rows = await self._pool.fetch("SELECT config_id, data FROM configs WHERE guild_id = $1", int(guild_id))
        found = [
            ApplicationConfig.from_castbot(guild_id, ConfigId(row["config_id"]), as_object(row["data"])) for row in rows
        ]
        return sorted(found, key=lambda config: (config.created_at_ms, config.config_id))

    async def find(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        async with storage("read a config"):
            data = await self._pool.fetchval(
                "SELECT data FROM configs WHERE guild_id = $1 AND config_id = $2", int(guild_id), str(config_id)
            )
        if not isinstance(data, dict):
            return None
        return ApplicationConfig.from_castbot(guild_id, config_id, cast("dict[str, Any]", data))

    async def create(self, config: ApplicationConfig) -> None:
        """Store a new config in CastBot's shape."""
        async with storage("store a config"), self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO guilds (guild_id) VALUES ($1) ON CONFLICT (guild_id) DO NOTHING", int(config.guild_id)
            )
            await conn.execute(
                "INSERT INTO configs (guild_id, config_id, data) VALUES ($1, $2, $3)"
                " ON CONFLICT (guild_id, config_id) DO UPDATE SET data = EXCLUDED.data",
                int(config.guild_id),
                str(config.config_id),
                config.to_castbot(),
            )

    async def update(self, guild_id: GuildId, config_id: ConfigId, fields: Mapping[str, object]) -> bool:
        """Set fields of an existing config (others untouched); ``False`` if it no longer exists."""
        async with storage("change a config"):
            done = await self._pool.fetchval(
                "UPDATE configs SET data = data || $3 WHERE guild_id = $1 AND config_id = $2 RETURNING 1",
                int(guild_id),
                str(config_id),
                dict(fields),
            )
        return done is not None

    async def delete(self, guild_id: GuildId, config_id: ConfigId) -> bool:
        """Remove a config (its applications stay); ``False`` if it did not exist."""
        async with storage("delete a config"):
            done = await self._pool.fetchval(
                "DELETE FROM configs WHERE guild_id = $1 AND config_id = $2 RETURNING 1", int(guild_id), str(config_id)
            )
        return done is not None

    async def application_counts(self, guild_id: GuildId) -> Mapping[ConfigId, int]:
        """Return the number of recorded applications per config of the guild."""
        async with storage("count applications"):
            rows = await self._pool.fetch(
                "SELECT config_id, count(*) AS n FROM applies WHERE guild_id = $1"
                " AND state IN ('recorded', 'duplicate') GROUP BY config_id",
                int(guild_id),
            )
        return {ConfigId(row["config_id"]): int(row["n"]) for row in rows}


class PgGuildSettings:
    """The admin commands' ``GuildSettings``: the notify channel of each guild."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get_notify_channel(self, guild_id: GuildId) -> ChannelId | None:
        """Return the admins' notify channel, if set."""
        async with storage("read a guild's settings"):
            raw = await self._pool.fetchval(
                "SELECT notify_channel_id FROM guild_settings WHERE guild_id = $1", int(guild_id)
            )
        return ChannelId(raw) if raw is not None else None

    async def set_notify_channel(self, guild_id: GuildId, channel_id: ChannelId | None) -> None:
        """Set or clear the admins' notify channel."""
        async with storage("change a guild's settings"):
            await self._pool.execute(
                "INSERT INTO guild_settings (guild_id, notify_channel_id) VALUES ($1, $2)"
                " ON CONFLICT (guild_id) DO UPDATE SET notify_channel_id = EXCLUDED.notify_channel_id",
                int(guild_id),
                int(channel_id) if channel_id is not None else None,
            )
