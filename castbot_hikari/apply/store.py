"""The apply flow's repository over CastBot's ``playerData.json`` (see ``castbot.document``).

Applications are kept where CastBot keeps them (``<guildId>.applications.<channelId>``); reservations,
the outbox and undelivered results under ``_castbotHikari``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from castbot_hikari.apply.model import (
    Applicant,
    Application,
    ApplyKey,
    ApplyOutcome,
    Failure,
    OutboxItem,
    OutcomeKind,
    Pending,
    PendingState,
    Prewritten,
    Recovered,
    Rejection,
    ReplyHandle,
    Reservation,
    Undelivered,
    Won,
)
from castbot_hikari.castbot import document as castbot_doc
from castbot_hikari.castbot.config import ApplicationConfig, id_str
from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS, META, as_object
from castbot_hikari.castbot.journal import JournaledDocument, Offload, Op, del_op, in_thread, set_op
from castbot_hikari.core import metrics as names
from castbot_hikari.core.errors import StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId, parse_snowflake
from castbot_hikari.core.metrics import Metrics

logger = logging.getLogger(__name__)
_IDENTITY_FIELDS = ("userId", "channelId", "configId")


def _key_of(entry: dict[str, Any]) -> ApplyKey | None:
    """Return the identity a reservation entry names, or ``None`` if a field is missing or odd."""
    guild, user, config = (
        parse_snowflake(entry.get("guildId")),
        parse_snowflake(entry.get("userId")),
        entry.get("configId"),
    )
    if guild is None or user is None or not isinstance(config, str):
        return None
    return ApplyKey(GuildId(guild), UserId(user), ConfigId(config))


def _key_str(key: ApplyKey) -> str:
    return f"{key.guild_id}:{key.user_id}:{key.config_id}"


def reply_to_json(reply: ReplyHandle) -> dict[str, Any]:
    """Return the stored JSON shape of a reply handle."""
    return {"applicationId": str(reply.application_id), "token": reply.token, "expiresAt": reply.expires_at_ms}


def reply_from_json(raw: object) -> ReplyHandle | None:
    """Return the reply handle a stored JSON entry describes (``None`` if incomplete)."""
    entry = as_object(raw)
    if not entry.get("token") or not str(entry.get("applicationId", "")).isdigit():
        return None
    return ReplyHandle(int(entry["applicationId"]), str(entry["token"]), int(entry.get("expiresAt", 0)))


def _outcome_to_json(outcome: ApplyOutcome) -> dict[str, Any]:
    return {
        "kind": outcome.kind.value,
        "channelId": id_str(outcome.channel_id),
        "rejection": outcome.rejection.value if outcome.rejection else None,
        "failure": outcome.failure.value if outcome.failure else None,
        "reference": outcome.reference,
    }


def _outcome_from_json(raw: object) -> ApplyOutcome | None:
    entry = as_object(raw)
    try:
        kind = OutcomeKind(entry.get("kind"))
        rejection = Rejection(entry["rejection"]) if entry.get("rejection") else None
        failure = Failure(entry["failure"]) if entry.get("failure") else None
    except ValueError:
        return None
    channel = parse_snowflake(entry.get("channelId"))
    reference = entry.get("reference")
    return ApplyOutcome(
        kind,
        ChannelId(channel) if channel is not None else None,
        rejection,
        failure,
        reference if isinstance(reference, str) else None,
    )


def outbox_entry(item: OutboxItem) -> dict[str, Any]:
    """Return the stored JSON shape of an outbox notice (also the PostgreSQL store's, so both export alike)."""
    value: dict[str, Any] = {"guildId": str(item.guild_id), "at": time.time_ns() // 1_000_000}
    alert = item.alert
    if isinstance(alert, Recovered):
        key = alert.key
        value["recovered"] = {
            "userId": str(key.user_id),
            "configId": key.config_id,
            "outcome": _outcome_to_json(alert.outcome),
        }
    else:
        value["text"] = alert.text
    if item.reply is not None:
        value["reply"] = reply_to_json(item.reply)
    return value


def _outbox_ops(item: OutboxItem | None) -> list[Op]:
    if item is None:
        return []
    return [set_op(META, "outbox", item.notice_id, value=outbox_entry(item))]


def outbox_item(notice_id: str, entry: dict[str, Any]) -> OutboxItem:
    """Return the outbox notice a stored JSON entry describes."""
    guild_id = GuildId(int(entry["guildId"]))
    recovered = as_object(entry.get("recovered"))
    outcome = _outcome_from_json(recovered.get("outcome"))
    if outcome is None:  # written by an earlier version, which kept the words only
        return OutboxItem(notice_id, guild_id, Prewritten(str(entry.get("text", ""))))
    key = ApplyKey(guild_id, UserId(int(recovered["userId"])), ConfigId(str(recovered["configId"])))
    return OutboxItem(notice_id, guild_id, Recovered(key, outcome), reply_from_json(entry.get("reply")))


def applicant_to_json(applicant: Applicant) -> dict[str, Any]:
    """Return the stored JSON shape of an applicant's names."""
    return {"username": applicant.username, "displayName": applicant.display_name, "avatarURL": applicant.avatar_url}


def applicant_from_json(user_id: UserId, raw: object) -> Applicant | None:
    """Return the applicant a stored JSON entry names (``None`` if it names nobody)."""
    who = as_object(raw)
    if not who:
        return None
    return Applicant(
        user_id,
        str(who.get("username") or user_id),
        str(who.get("displayName") or user_id),
        who.get("avatarURL") if isinstance(who.get("avatarURL"), str) else None,
    )


def pending_of(key: ApplyKey, entry: dict[str, Any]) -> Pending:
    """Return the reservation a stored JSON entry (``_castbotHikari.pending.<key>``) describes."""
    channel = entry.get("channelId")
    return Pending(
        key=key,
        state=PendingState(entry.get("state", PendingState.RESERVED.value)),
        reserved_at_ms=int(entry.get("reservedAt", 0)),
        owner=str(entry.get("owner", "")),
        channel_id=ChannelId(int(channel)) if channel else None,
        applicant=applicant_from_json(key.user_id, entry.get("applicant")),
        reply=reply_from_json(entry.get("reply")),
        create_attempt_ms=attempt if isinstance(attempt := entry.get("createAttemptAt"), int) else None,
    )


def pending_key(entry: dict[str, Any]) -> ApplyKey | None:
    """Return the identity a stored reservation entry names, or ``None`` if a field is missing or odd."""
    return _key_of(entry)


def key_str(key: ApplyKey) -> str:
    """Return the name of a reservation entry (``guild:user:config``)."""
    return _key_str(key)


class JsonApplicationRepository:
    """``ApplicationRepository`` on a journaled CastBot JSON file; one process owns the file."""

    def __init__(self, document: JournaledDocument) -> None:
        self._doc = document
        self._metrics: Metrics | None = None

    def measure_saves(self, metrics: Metrics) -> None:
        """Report how long each durable change takes (``store.save_ms``) to ``metrics``."""
        self._metrics = metrics

    async def _save(self, ops: Sequence[Op]) -> None:
        started = time.perf_counter()
        await self._doc.change(ops)
        if self._metrics is not None:
            self._metrics.observe(names.STORE_SAVE_MS, (time.perf_counter() - started) * 1000)

    @classmethod
    def open(
        cls, data_dir: Path, *, fsync: bool = True, compact_every: int = 5000, offload: Offload = in_thread
    ) -> JsonApplicationRepository:
        """Open (or create) ``data_dir/playerData.json``.

        Raises:
            CorruptDataError: The file is unreadable, not CastBot data, or from a newer schema; the file
                is left untouched.
        """
        return cls(castbot_doc.open_document(data_dir, fsync=fsync, compact_every=compact_every, offload=offload))

    @property
    def document(self) -> JournaledDocument:
        """Return the underlying journaled document (for tools and tests)."""
        return self._doc

    async def close(self) -> None:
        """Finish pending writes and leave a complete snapshot on disk."""
        await self._doc.close()

    def _guild(self, guild_id: GuildId) -> dict[str, Any]:
        return castbot_doc.guild(self._doc, guild_id)

    def _meta(self, section: str) -> dict[str, Any]:
        return castbot_doc.meta(self._doc, section)

    async def get_config(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        raw = as_object(self._guild(guild_id).get(CONFIGS)).get(config_id)
        if not isinstance(raw, dict):
            return None
        return ApplicationConfig.from_castbot(guild_id, config_id, cast("dict[str, Any]", raw))

    def _applications(self, guild_id: GuildId) -> Iterator[tuple[str, dict[str, Any]]]:
        for channel_id, raw in as_object(self._guild(guild_id).get(APPLICATIONS)).items():
            if isinstance(raw, dict):
                yield channel_id, cast("dict[str, Any]", raw)

    def _find(self, key: ApplyKey) -> Application | None:
        for channel_id, raw in self._applications(key.guild_id):
            if str(raw.get("userId")) == str(key.user_id) and raw.get("configId") == key.config_id:
                extra = {k: v for k, v in raw.items() if k not in _IDENTITY_FIELDS}
                return Application(key.guild_id, ChannelId(int(channel_id)), key.user_id, key.config_id, extra)
        return None

    async def find_application(self, key: ApplyKey) -> Application | None:
        """Return the recorded application of this identity, if any."""
        return self._find(key)

    def _pending(self, key: ApplyKey) -> Pending | None:
        raw = self._meta("pending").get(_key_str(key))
        if not isinstance(raw, dict):
            return None
        return pending_of(key, cast("dict[str, Any]", raw))

    async def get_pending(self, key: ApplyKey) -> Pending | None:
        """Return the reservation of ``key``, if any."""
        return self._pending(key)

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
        """Reserve ``key``: ``Won``, else the live reservation or recorded application.

        The check and the in-memory set happen without an ``await`` between them, so on one event loop
        the reservation is an atomic check-and-set; the method returns once it is durable.
        """
        if (existing := self._find(key)) is not None:
            return existing
        held = self._pending(key)
        if held is not None and held.owner != owner and now_ms - held.reserved_at_ms < stale_after_ms:
            return held
        if held is not None:
            logger.warning("taking over stale reservation key=%s owner=%s", _key_str(key), held.owner)
        entry: dict[str, Any] = {
            "state": PendingState.RESERVED.value,
            "reservedAt": now_ms,
            "owner": owner,
            "guildId": str(key.guild_id),
            "userId": str(key.user_id),
            "configId": key.config_id,
        }
        if applicant is not None:  # what a restart needs to finish the apply and name the channel
            entry["applicant"] = applicant_to_json(applicant)
        if reply is not None:  # lets a restart still answer the applicant while the token lives
            entry["reply"] = reply_to_json(reply)
        await self._save([set_op(META, "pending", _key_str(key), value=entry)])
        return Won(held)

    async def _update_pending(self, key: ApplyKey, fields: dict[str, object]) -> None:
        """Set fields of a live reservation; one that is gone stays gone (never half recreated)."""
        if self._pending(key) is None:
            raise StorageError(f"the reservation of {_key_str(key)} is gone")
        path = (META, "pending", _key_str(key))
        await self._save([set_op(*path, name, value=value) for name, value in fields.items()])

    async def mark_creating(self, key: ApplyKey, attempt_ms: int) -> None:
        """Record that a channel creation is about to be sent (it may land even if no answer comes)."""
        await self._update_pending(key, {"state": PendingState.CREATING.value, "createAttemptAt": attempt_ms})

    async def mark_channel(self, key: ApplyKey, channel_id: ChannelId) -> None:
        """Record that the reservation's channel exists."""
        await self._update_pending(key, {"state": PendingState.CHANNEL_CREATED.value, "channelId": str(channel_id)})

    async def mark_welcomed(self, key: ApplyKey) -> None:
        """Record that the welcome message was posted."""
        await self._update_pending(key, {"state": PendingState.WELCOMED.value})

    async def commit(self, application: Application, *, notice: OutboxItem | None = None) -> None:
        """Record the application and drop its reservation (and queue ``notice``) in one journal entry."""
        key = application.key
        record = set_op(
            str(application.guild_id), APPLICATIONS, str(application.channel_id), value=application.to_castbot()
        )
        await self._save([record, del_op(META, "pending", _key_str(key)), *_outbox_ops(notice)])

    async def release(self, key: ApplyKey, *, notice: OutboxItem | None = None) -> None:
        """Drop a reservation (and queue ``notice``) in one journal entry."""
        await self._save([del_op(META, "pending", _key_str(key)), *_outbox_ops(notice)])

    @property
    def renew_every_s(self) -> float | None:
        """Return ``None``: one process owns the file, so its reservations need no renewal."""
        return None

    async def renew(self, key: ApplyKey, *, owner: str) -> bool:
        """Return whether ``owner`` still holds ``key``'s reservation (nothing expires in a one-owner file)."""
        pending = self._pending(key)
        return pending is not None and pending.owner == owner

    async def expired(self, *, owner: str) -> list[Pending]:
        """Return every reservation of another owner: with one owning process, those processes are gone."""
        return [pending for pending in await self.list_pending() if pending.owner != owner]

    async def take_over(self, pending: Pending, *, owner: str) -> Pending | None:
        """Return the reservation as it stands (this process owns the file, so it is always free to take)."""
        del owner
        return self._pending(pending.key)

    async def list_outbox(self) -> list[OutboxItem]:
        """Return admin notices (and late replies) not sent yet, oldest first."""
        entries = [(notice_id, as_object(raw)) for notice_id, raw in self._meta("outbox").items()]
        entries.sort(key=lambda item: int(item[1].get("at", 0)))
        return [outbox_item(notice_id, entry) for notice_id, entry in entries]

    async def drop_notice(self, notice_id: str) -> None:
        """Remove a sent notice."""
        await self._save([del_op(META, "outbox", notice_id)])

    async def remove_application(self, guild_id: GuildId, channel_id: ChannelId) -> None:
        """Forget an application whose channel no longer exists."""
        await self._save([del_op(str(guild_id), APPLICATIONS, str(channel_id))])

    async def record_undelivered(self, item: Undelivered) -> None:
        """Keep a result the applicant never saw."""
        value = {
            "guildId": str(item.key.guild_id),
            "userId": str(item.key.user_id),
            "configId": item.key.config_id,
            "outcome": item.outcome,
            "message": item.message,
            "at": item.at_ms,
            "reason": item.reason,
        }
        await self._save([set_op(META, "undelivered", item.reference, value=value)])

    async def list_undelivered(self, guild_id: GuildId | None = None) -> list[Undelivered]:
        """Return kept undelivered results, oldest first."""
        items: list[Undelivered] = []
        for reference, raw in self._meta("undelivered").items():
            entry = as_object(raw)
            key = ApplyKey(
                GuildId(int(entry["guildId"])), UserId(int(entry["userId"])), ConfigId(str(entry["configId"]))
            )
            if guild_id is None or key.guild_id == guild_id:
                items.append(
                    Undelivered(
                        reference,
                        key,
                        str(entry.get("outcome")),
                        str(entry.get("message")),
                        int(entry.get("at", 0)),
                        str(entry.get("reason")),
                    )
                )
        return sorted(items, key=lambda item: item.at_ms)

    async def list_pending(self, guild_id: GuildId | None = None) -> list[Pending]:
        """Return every unfinished apply (of one guild, or all), oldest first."""
        found: list[Pending] = []
        for name, raw in self._meta("pending").items():
            key = _key_of(as_object(raw))
            if key is None or _key_str(key) != name:
                logger.warning("ignoring a damaged reservation entry key=%s", name)
                continue
            if (guild_id is None or key.guild_id == guild_id) and (pending := self._pending(key)) is not None:
                found.append(pending)
        return sorted(found, key=lambda pending: pending.reserved_at_ms)
