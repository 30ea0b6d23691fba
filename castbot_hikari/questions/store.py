"""The questions flow's data in CastBot's ``playerData.json`` (the shared journaled document).

Questions are the config's ``questions`` array in CastBot's shape: plain (and ``dnc``) questions in
order, the ``completion`` question last. Progress lives on the application record (keyed by channel id):
CastBot's ``currentQuestion`` (0-based) and ``completedAt``, and keys of ours that CastBot ignores and
keeps: ``currentQuestionId``, ``questionMessages``, ``postingQuestion``, ``answers``, ``withdrawnAt``,
``statusPrefix``.

Every method reads and changes memory without an ``await`` in between, so on one event loop a change is
never lost to a concurrent one; it returns once the change is durable.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any, Final, cast

from castbot_hikari.castbot import document as castbot_doc
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS, as_object
from castbot_hikari.castbot.journal import JournaledDocument, Op, del_op, set_op
from castbot_hikari.core.errors import StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, UserId, parse_snowflake
from castbot_hikari.questions.model import (
    COMPLETION,
    DNC,
    PLAIN,
    Answer,
    Completion,
    Progress,
    Question,
    QuestionFields,
    QuestionSet,
)
from castbot_hikari.questions.ports import Superseded

QUESTIONS: Final = "questions"
WANTED_PREFIX: Final = "statusPrefix"
"""The channel-name prefix this bot last asked for: a restart sends a rename the queue had not sent yet."""
_QUESTION_STYLE_PARAGRAPH: Final = 2


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _is_completion(raw: dict[str, Any]) -> bool:
    return raw.get("questionType") == COMPLETION


def read_questions(raw_list: object, config: dict[str, Any] | None = None) -> QuestionSet:
    """Return a ``questions`` array as a ``QuestionSet`` (odd entries skipped; legacy closing text read)."""
    questions: list[Question] = []
    completion: Completion | None = None
    for item in cast("list[Any]", raw_list) if isinstance(raw_list, list) else []:
        raw = as_object(item)
        question_id = _text(raw.get("id"))
        if not question_id:
            continue
        if _is_completion(raw):
            completion = Completion(
                _text(raw.get("questionTitle")), _text(raw.get("questionText")), _text(raw.get("imageURL"))
            )
            continue
        kind = DNC if raw.get("questionType") == DNC else PLAIN
        title = _text(raw.get("questionTitle")) or ("Do not cast" if kind == DNC else "Question")
        questions.append(Question(question_id, title, _text(raw.get("questionText")), _text(raw.get("imageURL")), kind))
    legacy = config or {}
    if completion is None and (_text(legacy.get("completionDescription")) or _text(legacy.get("completionImage"))):
        completion = Completion("", _text(legacy.get("completionDescription")), _text(legacy.get("completionImage")))
    return QuestionSet(tuple(questions), completion)


def _renumbered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the array with the completion question last and ``order`` 1..n again (as CastBot writes it)."""
    plain = [item for item in items if not _is_completion(item)]
    closing = [item for item in items if _is_completion(item)][-1:]
    for number, item in enumerate([*plain, *closing], start=1):
        item["order"] = number
    return [*plain, *closing]


def _progress(guild_id: GuildId, channel_id: str, raw: dict[str, Any]) -> Progress | None:
    user, config = parse_snowflake(raw.get("userId")), raw.get("configId")
    if user is None or not isinstance(config, str) or not channel_id.isdigit():
        return None
    posted = {
        str(qid): MessageId(mid)
        for qid, value in as_object(raw.get("questionMessages")).items()
        if (mid := parse_snowflake(value)) is not None
    }
    answers = {
        str(qid): Answer(_text(entry.get("title")), _text(entry.get("text")), _text(entry.get("answeredAt")))
        for qid, value in as_object(raw.get("answers")).items()
        if (entry := as_object(value))
    }
    posting = as_object(raw.get("postingQuestion")).get("questionId")
    current = raw.get("currentQuestionId")
    return Progress(
        guild_id=guild_id,
        channel_id=ChannelId(int(channel_id)),
        user_id=UserId(user),
        config_id=ConfigId(config),
        current_question_id=current if isinstance(current, str) else None,
        posted=posted,
        answers=answers,
        posting=posting if isinstance(posting, str) else None,
        completed_at=completed if isinstance(completed := raw.get("completedAt"), str) and completed else None,
        withdrawn_at=withdrawn if isinstance(withdrawn := raw.get("withdrawnAt"), str) and withdrawn else None,
        display_name=_text(raw.get("displayName")) or _text(raw.get("username")),
        created_at=_text(raw.get("createdAt")),
    )


Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None]
"""A change of a config's ``questions`` array: the new array, or ``None`` when it does not apply."""


def question_json(question: Question, at_ms: int) -> dict[str, Any]:
    """Return a new question in CastBot's shape."""
    return {
        "id": question.question_id,
        "order": 0,
        "questionTitle": question.title,
        "questionText": question.text,
        "questionStyle": _QUESTION_STYLE_PARAGRAPH,
        "imageURL": question.image_url,
        "createdAt": at_ms,
    }


def added(items: list[dict[str, Any]], question: Question, at_ms: int) -> list[dict[str, Any]]:
    """Return the array with ``question`` appended (``renumbered`` puts the completion question last)."""
    return [*items, question_json(question, at_ms)]


def edited(items: list[dict[str, Any]], question_id: str, fields: QuestionFields) -> list[dict[str, Any]] | None:
    """Return the array with a question's title, text and image changed (its other keys kept)."""
    found = next((i for i in items if i.get("id") == question_id and not _is_completion(i)), None)
    if found is None:
        return None
    found.update(questionTitle=fields.title.strip(), questionText=fields.text, imageURL=fields.image_url.strip())
    return items


def moved(items: list[dict[str, Any]], question_id: str, delta: int) -> list[dict[str, Any]] | None:
    """Return the array with a question swapped with its neighbour among the plain questions."""
    plain = [i for i in items if not _is_completion(i)]
    index = next((n for n, i in enumerate(plain) if i.get("id") == question_id), None)
    if index is None or not 0 <= index + delta < len(plain):
        return None
    plain[index], plain[index + delta] = plain[index + delta], plain[index]
    return plain + [i for i in items if _is_completion(i)]


def duplicated(items: list[dict[str, Any]], question_id: str, new_id: str, at_ms: int) -> list[dict[str, Any]] | None:
    """Return the array with a copy (new id) right after the question."""
    index = next((n for n, i in enumerate(items) if i.get("id") == question_id and not _is_completion(i)), None)
    if index is None:
        return None
    twin = copy.deepcopy(items[index])
    twin.update(id=new_id, createdAt=at_ms)
    return [*items[: index + 1], twin, *items[index + 1 :]]


def deleted(items: list[dict[str, Any]], question_id: str) -> list[dict[str, Any]] | None:
    """Return the array without the question."""
    if not any(i.get("id") == question_id and not _is_completion(i) for i in items):
        return None
    return [i for i in items if i.get("id") != question_id]


def with_completion(items: list[dict[str, Any]], completion: Completion) -> list[dict[str, Any]]:
    """Return the array with the completion question set (created last if there is none)."""
    closing = next((i for i in items if _is_completion(i)), None)
    if closing is None:
        closing = {"id": f"question_{secrets.token_hex(8)}", "questionType": COMPLETION, "questionStyle": 2}
        items = [*items, closing]
    closing.update(questionTitle=completion.title, questionText=completion.text, imageURL=completion.image_url)
    return items


def renumbered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the array as CastBot writes it: the completion question last, ``order`` 1..n."""
    return _renumbered(items)


def progress_of(guild_id: GuildId, channel_id: str, raw: dict[str, Any]) -> Progress | None:
    """Return the progress an application record holds (``None`` if it is not one this bot can follow)."""
    return _progress(guild_id, channel_id, raw)


def record_changed(raw: dict[str, Any], ops: list[tuple[tuple[str, ...], object]], drop: tuple[str, ...]) -> None:
    """Apply ``ops`` (nested paths set) and ``drop`` (top-level keys removed) to an application record."""
    for path, value in ops:
        target = raw
        for name in path[:-1]:
            child = target.get(name)
            if not isinstance(child, dict):
                child = {}
                target[name] = child
            target = cast("dict[str, Any]", child)
        target[path[-1]] = value
    for name in drop:
        raw.pop(name, None)


class JsonQuestionStore:
    """``QuestionStore`` on the journaled CastBot file (shared with the apply and admin stores)."""

    def __init__(self, document: JournaledDocument) -> None:
        self._doc = document

    def _config(self, guild_id: GuildId, config_id: ConfigId) -> dict[str, Any] | None:
        raw = as_object(castbot_doc.guild(self._doc, guild_id).get(CONFIGS)).get(config_id)
        return cast("dict[str, Any]", raw) if isinstance(raw, dict) else None

    def _record(self, guild_id: GuildId, channel_id: ChannelId) -> dict[str, Any] | None:
        raw = as_object(castbot_doc.guild(self._doc, guild_id).get(APPLICATIONS)).get(str(channel_id))
        return cast("dict[str, Any]", raw) if isinstance(raw, dict) else None

    async def questions(self, guild_id: GuildId, config_id: ConfigId) -> QuestionSet | None:
        """Return a config's questions, or ``None`` if the config does not exist."""
        config = self._config(guild_id, config_id)
        return None if config is None else read_questions(config.get(QUESTIONS), config)

    async def progress(self, guild_id: GuildId, channel_id: ChannelId) -> Progress | None:
        """Return the application of a channel, or ``None``."""
        raw = self._record(guild_id, channel_id)
        return None if raw is None else _progress(guild_id, str(channel_id), raw)

    async def applications(self, guild_id: GuildId, config_id: ConfigId) -> list[Progress]:
        """Return a config's applications, oldest first (by CastBot's ``createdAt``, then channel id)."""
        found: list[Progress] = []
        for channel_id, raw in as_object(castbot_doc.guild(self._doc, guild_id).get(APPLICATIONS)).items():
            entry = as_object(raw)
            if entry.get("configId") == config_id and (progress := _progress(guild_id, channel_id, entry)):
                found.append(progress)
        return sorted(found, key=lambda p: (p.created_at, p.channel_id))

    async def _change_record(
        self,
        progress: Progress,
        ops: list[tuple[tuple[str, ...], object]],
        drop: tuple[str, ...] = (),
        expect: Callable[[Progress], bool] | None = None,
    ) -> None:
        base = (str(progress.guild_id), APPLICATIONS, str(progress.channel_id))
        raw = self._record(progress.guild_id, progress.channel_id)
        if raw is None and expect is None:
            raise StorageError(f"the application of channel {progress.channel_id} is gone")
        stored = None if raw is None else _progress(progress.guild_id, str(progress.channel_id), raw)
        if stored is None or (expect is not None and not expect(stored)):  # checked and changed with no await
            raise Superseded
        changes: list[Op] = [set_op(*base, *path, value=value) for path, value in ops]
        changes.extend(del_op(*base, name) for name in drop)
        await self._doc.change(changes)

    async def mark_posting(self, progress: Progress, question_id: str) -> None:
        """Record the intent to post a question (if the record is at ``progress``)."""
        await self._change_record(
            progress, [(("postingQuestion",), {"questionId": question_id})], expect=progress.same_step
        )

    async def claim_posting(self, progress: Progress) -> bool:
        """Return ``True``: one process owns the file, so an intent found under the lock is an interrupted one."""
        raw = self._record(progress.guild_id, progress.channel_id)
        stored = None if raw is None else _progress(progress.guild_id, str(progress.channel_id), raw)
        if stored is None or not progress.same_step(stored):
            raise Superseded
        return True

    async def release_posting(self, progress: Progress, question_id: str) -> None:
        """Nothing to give back: one process owns the file (the intent itself stays)."""
        del progress, question_id

    async def clear_posting(self, progress: Progress) -> None:
        """Forget an intent to post."""
        await self._change_record(progress, [], drop=("postingQuestion",), expect=progress.same_step)

    async def mark_posted(self, progress: Progress, question_id: str, message_id: MessageId, index: int) -> None:
        """Record a question's message and make it current."""
        await self._change_record(
            progress,
            [
                (("questionMessages", question_id), str(message_id)),
                (("currentQuestionId",), question_id),
                (("currentQuestion",), index),
            ],
            drop=("postingQuestion",),
            expect=lambda stored: stored.posting == question_id,
        )

    async def save_answer(self, progress: Progress, question_id: str, answer: Answer) -> None:
        """Store an answer."""
        value = {"title": answer.title, "text": answer.text, "answeredAt": answer.answered_at}
        await self._change_record(progress, [(("answers", question_id), value)])

    async def complete(self, progress: Progress, completed_at: str, prefix: str) -> None:
        """Stamp ``completedAt`` and the wanted prefix."""
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

    async def wanted_prefixes(self, guild_id: GuildId) -> dict[ChannelId, str]:
        """Return the prefix each application of the guild last asked for (set by this bot only)."""
        found: dict[ChannelId, str] = {}
        for channel_id, raw in as_object(castbot_doc.guild(self._doc, guild_id).get(APPLICATIONS)).items():
            wanted = as_object(raw).get(WANTED_PREFIX)
            if isinstance(wanted, str) and channel_id.isdigit():
                found[ChannelId(int(channel_id))] = wanted
        return found

    # ---- the admins' editor: each change rewrites the one array, as CastBot does ------------------

    def _items(self, guild_id: GuildId, config_id: ConfigId) -> list[dict[str, Any]] | None:
        config = self._config(guild_id, config_id)
        if config is None:
            return None
        raw = config.get(QUESTIONS)
        items = [copy.deepcopy(as_object(item)) for item in cast("list[Any]", raw)] if isinstance(raw, list) else []
        return [item for item in items if item]

    async def _write(
        self, guild_id: GuildId, config_id: ConfigId, items: list[dict[str, Any]], at_ms: int | None = None
    ) -> None:
        path = (str(guild_id), CONFIGS, config_id)
        ops = [set_op(*path, QUESTIONS, value=_renumbered(items))]
        if at_ms is not None:
            ops.append(set_op(*path, "lastUpdated", value=at_ms))
        await self._doc.change(ops)

    async def _edit(self, guild_id: GuildId, config_id: ConfigId, edit: Edit, at_ms: int | None = None) -> bool:
        items = self._items(guild_id, config_id)
        changed = None if items is None else edit(items)
        if changed is None:
            return False
        await self._write(guild_id, config_id, changed, at_ms)
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
        edit: Edit = lambda items: duplicated(items, question_id, new_id, at_ms)  # noqa: E731
        return await self._edit(guild_id, config_id, edit, at_ms)

    async def delete_question(self, guild_id: GuildId, config_id: ConfigId, question_id: str) -> bool:
        """Remove a question."""
        return await self._edit(guild_id, config_id, lambda items: deleted(items, question_id))

    async def title(self, guild_id: GuildId, config_id: ConfigId) -> str | None:
        """Return the title of a config of this guild (``None`` if it is not one of its configs)."""
        config = self._config(guild_id, config_id)
        return None if config is None else ApplicationConfig.from_castbot(guild_id, config_id, config).title

    async def set_completion(self, guild_id: GuildId, config_id: ConfigId, completion: Completion) -> bool:
        """Set the completion question (created last if there is none)."""
        return await self._edit(guild_id, config_id, lambda items: with_completion(items, completion))
