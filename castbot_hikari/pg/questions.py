"""The questions flow's ``QuestionStore`` over PostgreSQL, shared by several processes.

Questions are the ``questions`` array of a config's CastBot object (``configs.data``); progress lives in
the application's CastBot object (``applies.data``), exactly where the JSON store keeps them, so an export
is the same file. Every change is one short transaction that locks the one row it rewrites
(``SELECT … FOR UPDATE``), so two processes' changes never overwrite each other.

Each process has its own in-process lock per (channel, applicant), so two processes can both read the
record before either changes it (two fast Nexts landing on two workers). The steps that decide what is
posted are therefore conditional: under the row lock the stored record is checked against the ``progress``
the press decided on (``Progress.same_step``: current question, intent to post, completed, withdrawn; for
``mark_posted``, that the intent is still this question's), and the write happens only if it matches, in
the same transaction; otherwise ``Superseded`` is raised, nothing is written, and the service decides the
press again on a fresh read, so the loser ends exactly as the second click of a double click (``STALE``
pointing at the new question, ``ALREADY_COMPLETED``, ``ALREADY_WITHDRAWN``). The row lock serialises the
check-and-write, so it is as atomic as one ``UPDATE … WHERE`` and uses the same pure ``progress_of`` as
the JSON store (no second reading of CastBot's keys in SQL).

An intent to post (``postingQuestion``) is also held for a lease on the row's ``owner`` and ``lease_until``
columns (unused on recorded rows otherwise; the database's ``now()`` decides, so clocks never skew): while
it runs, another process's press finds the post under way and does not post it again (``claim_posting`` is
``False``); once it ran out (the poster died between its intent and its save) the next press takes it over
and adopts the posted message or posts it. ``mark_posted`` and ``clear_posting`` give the lease back.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, cast

import asyncpg

from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import as_object
from castbot_hikari.core.errors import StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId
from castbot_hikari.pg.errors import storage
from castbot_hikari.questions.model import Answer, Completion, Progress, Question, QuestionFields, QuestionSet
from castbot_hikari.questions.ports import Superseded
from castbot_hikari.questions.store import (
    QUESTIONS,
    WANTED_PREFIX,
    Edit,
    added,
    deleted,
    duplicated,
    edited,
    moved,
    progress_of,
    read_questions,
    record_changed,
    renumbered,
    with_completion,
)

_APPLICATION: Final = "state IN ('recorded', 'duplicate')"


class Hold(enum.Enum):
    """What a change does with the intent-to-post lease (the row's ``owner`` and ``lease_until``)."""

    KEEP = "keep"
    TAKE = "take"
    FREE = "free"


class PgQuestionStore:
    """``QuestionStore`` on the ``configs`` and ``applies`` tables."""

    def __init__(self, pool: asyncpg.Pool, *, owner: str, lease: timedelta) -> None:
        self._pool = pool
        self._owner = owner
        self._lease = lease

    async def _config(self, guild_id: GuildId, config_id: ConfigId) -> dict[str, Any] | None:
        async with storage("read a config"):
            data = await self._pool.fetchval(
                "SELECT data FROM configs WHERE guild_id = $1 AND config_id = $2", int(guild_id), str(config_id)
            )
        value: object = data
        return as_object(cast("object", value)) if isinstance(value, dict) else None

    async def questions(self, guild_id: GuildId, config_id: ConfigId) -> QuestionSet | None:
        """Return a config's questions, or ``None`` if the config does not exist."""
        config = await self._config(guild_id, config_id)
        return None if config is None else read_questions(config.get(QUESTIONS), config)

    async def title(self, guild_id: GuildId, config_id: ConfigId) -> str | None:
        """Return the title of a config of this guild (``None`` if it is not one of its configs)."""
        config = await self._config(guild_id, config_id)
        return None if config is None else ApplicationConfig.from_castbot(guild_id, config_id, config).title

    async def progress(self, guild_id: GuildId, channel_id: ChannelId) -> Progress | None:
        """Return the application of a channel, or ``None``."""
        async with storage("read an application"):
            data = await self._pool.fetchval(
                f"SELECT data FROM applies WHERE guild_id = $1 AND channel_id = $2 AND {_APPLICATION}",  # noqa: S608
                int(guild_id),
                int(channel_id),
            )
        return None if data is None else progress_of(guild_id, str(channel_id), as_object(data))

    async def applications(self, guild_id: GuildId, config_id: ConfigId) -> list[Progress]:
        """Return a config's applications, oldest first (by CastBot's ``createdAt``, then channel id)."""
        async with storage("read applications"):
            rows = await self._pool.fetch(
                f"SELECT channel_id, data FROM applies WHERE guild_id = $1 AND config_id = $2 AND {_APPLICATION}",  # noqa: S608
                int(guild_id),
                str(config_id),
            )
        found = [p for row in rows if (p := progress_of(guild_id, str(row["channel_id"]), as_object(row["data"])))]
        return sorted(found, key=lambda p: (p.created_at, p.channel_id))

    async def wanted_prefixes(self, guild_id: GuildId) -> dict[ChannelId, str]:
        """Return the prefix each application of the guild last asked for (set by this bot only)."""
        async with storage("read applications"):
            rows = await self._pool.fetch(
                f"SELECT channel_id, data->>$2 AS wanted FROM applies WHERE guild_id = $1 AND {_APPLICATION}"  # noqa: S608
                " AND data ? $2",
                int(guild_id),
                WANTED_PREFIX,
            )
        return {ChannelId(row["channel_id"]): str(row["wanted"]) for row in rows if row["wanted"] is not None}

    async def _change_record(
        self,
        progress: Progress,
        ops: list[tuple[tuple[str, ...], object]],
        drop: tuple[str, ...] = (),
        *,
        expect: Callable[[Progress], bool] | None = None,
        hold: Hold = Hold.KEEP,
    ) -> bool:
        """Rewrite the record under its row lock if ``expect`` holds for it (else ``Superseded``).

        ``hold`` takes the intent's lease (``TAKE``: ``False``, nothing written, while another live process
        holds it) or gives it back (``FREE``). The check and the write are one transaction on the locked row.
        """
        async with storage("change an application"), self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT id, data, owner, lease_until IS NULL OR lease_until < now() AS free FROM applies"  # noqa: S608
                f" WHERE guild_id = $1 AND channel_id = $2 AND {_APPLICATION} FOR UPDATE",
                int(progress.guild_id),
                int(progress.channel_id),
            )
            if row is None and expect is None:
                raise StorageError(f"the application of channel {progress.channel_id} is gone")
            data = dict(as_object(row["data"])) if row is not None else {}
            stored = progress_of(progress.guild_id, str(progress.channel_id), data) if row is not None else None
            if row is None or stored is None or (expect is not None and not expect(stored)):
                raise Superseded
            held = not row["free"] and row["owner"] != self._owner  # another live process is posting
            if held and hold is Hold.TAKE:
                return False
            if held and hold is Hold.FREE:  # this process's lease ran out and another took the intent over
                raise Superseded
            record_changed(data, ops, drop)
            if hold is Hold.KEEP:
                await conn.execute("UPDATE applies SET data = $2 WHERE id = $1", row["id"], data)
            elif hold is Hold.TAKE:
                await conn.execute(
                    "UPDATE applies SET data = $2, owner = $3, lease_until = now() + $4::interval WHERE id = $1",
                    row["id"],
                    data,
                    self._owner,
                    self._lease,
                )
            else:
                await conn.execute(
                    "UPDATE applies SET data = $2, owner = NULL, lease_until = NULL WHERE id = $1", row["id"], data
                )
        return True

    async def mark_posting(self, progress: Progress, question_id: str) -> None:
        """Record the intent to post a question, this process's for a lease (if the record is at ``progress``)."""
        await self._change_record(
            progress,
            [(("postingQuestion",), {"questionId": question_id})],
            expect=progress.same_step,
            hold=Hold.TAKE,
        )

    async def claim_posting(self, progress: Progress) -> bool:
        """Take over an intent whose process died (its lease ran out) or is this one's."""
        return await self._change_record(progress, [], expect=progress.same_step, hold=Hold.TAKE)

    async def release_posting(self, progress: Progress, question_id: str) -> None:
        """Give back this process's lease of the intent (its post failed); the intent itself stays."""
        async with storage("give back an intent to post"):
            await self._pool.execute(
                "UPDATE applies SET owner = NULL, lease_until = NULL"  # noqa: S608
                f" WHERE guild_id = $1 AND channel_id = $2 AND {_APPLICATION} AND owner = $3"
                " AND data->'postingQuestion'->>'questionId' = $4",
                int(progress.guild_id),
                int(progress.channel_id),
                self._owner,
                question_id,
            )

    async def clear_posting(self, progress: Progress) -> None:
        """Forget an intent to post."""
        await self._change_record(progress, [], drop=("postingQuestion",), expect=progress.same_step, hold=Hold.FREE)

    async def mark_posted(self, progress: Progress, question_id: str, message_id: MessageId, index: int) -> None:
        """Record a question's message and make it current (if the intent to post it is still there)."""
        await self._change_record(
            progress,
            [
                (("questionMessages", question_id), str(message_id)),
                (("currentQuestionId",), question_id),
                (("currentQuestion",), index),
            ],
            drop=("postingQuestion",),
            expect=lambda stored: stored.posting == question_id,
            hold=Hold.FREE,
        )

    async def save_answer(self, progress: Progress, question_id: str, answer: Answer) -> None:
        """Store an answer."""
        value = {"title": answer.title, "text": answer.text, "answeredAt": answer.answered_at}
        await self._change_record(progress, [(("answers", question_id), value)])

    async def complete(self, progress: Progress, completed_at: str, prefix: str) -> None:
        """Stamp ``completedAt`` and the wanted prefix (if the record is at ``progress``)."""
        await self._change_record(
            progress, [(("completedAt",), completed_at), ((WANTED_PREFIX,), prefix)], expect=progress.same_step
        )

    async def set_withdrawn(self, progress: Progress, withdrawn_at: str | None, prefix: str) -> None:
        """Record a withdrawal, or clear it, and the wanted prefix (if the record is at ``progress``)."""
        if withdrawn_at is None:
            ops: list[tuple[tuple[str, ...], object]] = [((WANTED_PREFIX,), prefix)]
            await self._change_record(progress, ops, drop=("withdrawnAt",), expect=progress.same_step)
        else:
            ops = [(("withdrawnAt",), withdrawn_at), ((WANTED_PREFIX,), prefix)]
            await self._change_record(progress, ops, expect=progress.same_step)

    async def _edit(self, guild_id: GuildId, config_id: ConfigId, edit: Edit, at_ms: int | None = None) -> bool:
        """Rewrite a config's ``questions`` array under the row's lock; ``False`` if the config or question is gone."""
        async with storage("change a config's questions"), self._pool.acquire() as conn, conn.transaction():
            data = await conn.fetchval(
                "SELECT data FROM configs WHERE guild_id = $1 AND config_id = $2 FOR UPDATE",
                int(guild_id),
                str(config_id),
            )
            if data is None:
                return False
            config = dict(as_object(cast("object", data)))
            raw: object = config.get(QUESTIONS)
            items = [dict(as_object(item)) for item in cast("list[object]", raw)] if isinstance(raw, list) else []
            changed = edit([item for item in items if item])
            if changed is None:
                return False
            config[QUESTIONS] = renumbered(changed)
            if at_ms is not None:
                config["lastUpdated"] = at_ms
            await conn.execute(
                "UPDATE configs SET data = $3 WHERE guild_id = $1 AND config_id = $2",
                int(guild_id),
                str(config_id),
                config,
            )
        return True

    async def add_question(self, guild_id: GuildId, config_id: ConfigId, question: Question, at_ms: int) -> bool:
        """Append a question (before the completion question)."""
        return await self._edit(guild_id, config_id, lambda items: added(items, question, at_ms), at_ms)

    async def edit_question(
        self, guild_id: GuildId, config_id: ConfigId, question_id: str, fields: QuestionFields
    ) -> bool:
        """Change a question's title, text and image (its other keys are kept)."""
        return await self._edit(guild_id, config_id, lambda items: edited(items, question_id, fields))

    async def move_question(self, guild_id: GuildId, config_id: ConfigId, question_id: str, delta: int) -> bool:
        """Swap a question with its neighbour among the plain questions."""
        return await self._edit(guild_id, config_id, lambda items: moved(items, question_id, delta))

    async def duplicate_question(
        self, guild_id: GuildId, config_id: ConfigId, question_id: str, new_id: str, at_ms: int
    ) -> bool:
        """Insert a copy (new id) right after the question."""
        return await self._edit(guild_id, config_id, lambda items: duplicated(items, question_id, new_id, at_ms), at_ms)

    async def delete_question(self, guild_id: GuildId, config_id: ConfigId, question_id: str) -> bool:
        """Remove a question."""
        return await self._edit(guild_id, config_id, lambda items: deleted(items, question_id))

    async def set_completion(self, guild_id: GuildId, config_id: ConfigId, completion: Completion) -> bool:
        """Set the completion question (created last if there is none)."""
        return await self._edit(guild_id, config_id, lambda items: with_completion(items, completion))
