"""The application in its channel: Start, Answer, Next, Complete, Withdraw, Resume; the admins' editor.

Every press is decided by the stored progress, never by the button: under one lock per (channel,
applicant) the record is read again, so two fast Nexts post one question and a Next on an old message is
recognised as stale. Several processes (PostgreSQL) each hold their own locks, so the store's decisive
changes are conditional: a press whose record another process changed first gets ``Superseded`` and is
decided again on a fresh read, ending as the second click of a double click. Before a question is posted
the intent is recorded, so a crash between the post and the save never posts it twice: the next press
finds the posted message and adopts it (on PostgreSQL only once the poster's lease ran out: until then it
may still be posting). Renames go through a queue (Discord allows two per ten minutes per channel) and
never fail a step.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from castbot_hikari.core.clock import Clock
from castbot_hikari.core.errors import DiscordError, StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId
from castbot_hikari.core.locks import KeyedSemaphores
from castbot_hikari.questions.model import (
    MAX_ANSWER,
    STATUS_PREFIXES,
    Answer,
    Completion,
    Kind,
    Outcome,
    Press,
    Progress,
    Question,
    QuestionFields,
    QuestionPost,
    QuestionSet,
    Row,
    State,
    check_fields,
)
from castbot_hikari.questions.ports import QuestionsDiscord, QuestionStore, Renamer, Superseded

logger = logging.getLogger(__name__)
_ATTEMPTS = 3
"""How often a press is decided afresh after losing a race to another process's press."""
Titles = Callable[[GuildId, ConfigId], Awaitable[str | None]]
"""Names a config of a guild (``None`` if it is not one of its configs)."""


def iso(now_ms: int) -> str:
    """Return a time as CastBot writes it (``2026-08-01T10:22:31.123Z``)."""
    moment = datetime.datetime.fromtimestamp(now_ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now_ms % 1000:03d}Z"


def new_question_id() -> str:
    """Return a question id in CastBot's form ``question_<16 hex>``."""
    return f"question_{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """What the Answer modal shows: the question and the answer given so far."""

    question: Question
    current: str


class _Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Ends a press early with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.kind.value)
        self.outcome = outcome


class QuestionsService:
    """The applicant's side: every method returns an ``Outcome`` and never raises for expected failures.

    Args:
        store: Questions and progress in the data file.
        discord: The channel's messages.
        renamer: The rename queue.
        locks: One holder per (channel, applicant) at a time; the others wait their turn.
        clock: Time.
    """

    def __init__(
        self, store: QuestionStore, discord: QuestionsDiscord, renamer: Renamer, locks: KeyedSemaphores, clock: Clock
    ) -> None:
        self._store = store
        self._discord = discord
        self._renamer = renamer
        self._locks = locks
        self._clock = clock

    # ---- reading (memory only) -------------------------------------------------------------------

    async def _load(self, press: Press) -> tuple[Progress, QuestionSet]:
        progress = await self._store.progress(press.guild_id, press.channel_id)
        if progress is None:
            raise _Stop(Outcome(Kind.NOT_APPLICATION))
        if press.user_id != progress.user_id and not press.is_admin:
            raise _Stop(Outcome(Kind.NOT_YOURS))
        return progress, await self._store.questions(press.guild_id, progress.config_id) or QuestionSet(())

    def _position(self, progress: Progress, questions: QuestionSet, kind: Kind) -> Outcome:
        current = progress.current_question_id
        index = questions.index_of(current) if current is not None else None
        message = progress.posted.get(current) if current is not None else None
        if index is None:
            return Outcome(kind, total=len(questions.questions), message_id=message)
        return Outcome(kind, index + 1, len(questions.questions), message, questions.questions[index].title)

    @staticmethod
    def _open(progress: Progress) -> None:
        if progress.state is State.WITHDRAWN:
            raise _Stop(Outcome(Kind.IS_WITHDRAWN))
        if progress.state is State.COMPLETED:
            raise _Stop(Outcome(Kind.ALREADY_COMPLETED))

    async def answer_form(self, press: Press, question_id: str) -> AnswerForm | Outcome:
        """Return what the Answer modal shows, or why it cannot open (reads only: a modal must be first)."""
        try:
            progress, questions = await self._load(press)
            self._open(progress)
            question = self._answerable(progress, questions, question_id)
        except _Stop as stop:
            return stop.outcome
        previous = progress.answers.get(question_id)
        return AnswerForm(question, previous.text if previous else "")

    def _answerable(self, progress: Progress, questions: QuestionSet, question_id: str) -> Question:
        if question_id != progress.current_question_id:
            raise _Stop(self._position(progress, questions, Kind.STALE))
        question = questions.find(question_id)
        if question is None:
            raise _Stop(Outcome(Kind.QUESTION_REMOVED))
        return question

    # ---- presses -----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _turn(self, press: Press) -> AsyncGenerator[None]:
        """Hold the application's lock (keyed by the applicant, whoever presses)."""
        progress = await self._store.progress(press.guild_id, press.channel_id)
        owner = progress.user_id if progress is not None else press.user_id
        async with self._locks.hold((press.channel_id, owner)):
            yield

    async def _run(
        self, press: Press, what: str, step: Callable[[Progress, QuestionSet], Awaitable[Outcome]]
    ) -> Outcome:
        try:
            async with self._turn(press):
                outcome = await self._decide(press, step)
        except _Stop as stop:
            outcome = stop.outcome
        except DiscordError as exc:
            logger.warning("questions %s failed channel=%s kind=%s", what, press.channel_id, exc.kind.value)
            outcome = Outcome(Kind.DISCORD_FAILED)
        except StorageError:
            logger.exception("questions %s could not be saved channel=%s", what, press.channel_id)
            outcome = Outcome(Kind.STORAGE_FAILED)
        logger.info(
            "questions %s channel=%s user=%s outcome=%s", what, press.channel_id, press.user_id, outcome.kind.value
        )
        return outcome

    async def _decide(self, press: Press, step: Callable[[Progress, QuestionSet], Awaitable[Outcome]]) -> Outcome:
        """Run the step on the stored record; if another process changed it first (``Superseded``), read it
        again and decide afresh: the losing press ends as the second click of a double click does."""
        for _ in range(_ATTEMPTS - 1):
            progress, questions = await self._load(press)
            try:
                return await step(progress, questions)
            except Superseded:
                logger.info("questions press lost a race, deciding again channel=%s", press.channel_id)
        progress, questions = await self._load(press)
        try:
            return await step(progress, questions)
        except Superseded:  # still changing under it: point at the latest question, change nothing
            return Outcome(Kind.STALE)

    async def start(self, press: Press) -> Outcome:
        """Post the first question (once); a later Start points at the current one."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            self._open(progress)
            if progress.posting is not None:
                return await self._finish_posting(progress, questions)
            if progress.current_question_id is not None:
                return self._position(progress, questions, Kind.ALREADY_POSTED)
            target = questions.next_unposted(progress.posted)
            if target is None:
                return Outcome(Kind.NO_QUESTIONS)
            return await self._post(progress, questions, target, Kind.STARTED)

        return await self._run(press, "start", step)

    async def next(self, press: Press, question_id: str) -> Outcome:
        """Post the next question, once, from the current question's message."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            self._open(progress)
            if progress.posting is not None:
                return await self._finish_posting(progress, questions)
            await self._current(progress, questions, question_id, press.message_id)
            target = questions.next_unposted(progress.posted)
            if target is None:  # the next question was removed: this one is the last now
                await self._redraw(progress, questions, question_id)
                return self._position(progress, questions, Kind.LAST_QUESTION)
            return await self._post(progress, questions, target, Kind.POSTED)

        return await self._run(press, "next", step)

    async def complete(self, press: Press, question_id: str) -> Outcome:
        """Finish the application: ``completedAt``, the closing message, the ☑️ prefix."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            self._open(progress)
            if progress.posting is not None:
                return await self._finish_posting(progress, questions)
            await self._current(progress, questions, question_id, press.message_id)
            target = questions.next_unposted(progress.posted)
            if target is not None:  # a question was added since this one was posted
                return await self._post(progress, questions, target, Kind.POSTED)
            done = replace(progress, completed_at="now")
            await self._store.complete(progress, iso(self._clock.now_ms()), done.status_prefix())
            if (message := progress.posted.get(question_id)) is not None:
                await self._quietly(self._discord.remove_buttons(progress.channel_id, message))
            await self._quietly(
                self._discord.post_completion(progress.channel_id, questions.completion, len(progress.answers))
            )
            self._renamer.request(progress.channel_id, done.status_prefix())
            return Outcome(Kind.COMPLETED, total=len(questions.questions))

        return await self._run(press, "complete", step)

    async def save_answer(self, press: Press, question_id: str, text: str) -> Outcome:
        """Store an answer and show it in the question's message (editable until completion)."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            self._open(progress)
            question = self._answerable(progress, questions, question_id)
            if len(text) > MAX_ANSWER:
                return Outcome(Kind.TOO_LONG)
            await self._store.save_answer(
                progress, question_id, Answer(question.title, text, iso(self._clock.now_ms()))
            )
            updated = await self._store.progress(progress.guild_id, progress.channel_id) or progress
            await self._quietly(self._redraw(updated, questions, question_id))
            return self._position(progress, questions, Kind.ANSWER_SAVED)

        return await self._run(press, "answer", step)

    async def withdraw(self, press: Press) -> Outcome:
        """Withdraw: stored in the data, the welcome card offers Resume, the channel gets ✖️."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            del questions
            if progress.state is State.WITHDRAWN:
                return Outcome(Kind.ALREADY_WITHDRAWN)
            prefix = replace(progress, withdrawn_at="now").status_prefix()
            await self._store.set_withdrawn(progress, iso(self._clock.now_ms()), prefix)
            await self._welcome(progress, press.message_id, withdrawn=True)
            self._renamer.request(progress.channel_id, prefix)
            return Outcome(Kind.WITHDRAWN)

        return await self._run(press, "withdraw", step)

    async def resume(self, press: Press) -> Outcome:
        """Undo a withdrawal: the applicant is back where they were."""

        async def step(progress: Progress, questions: QuestionSet) -> Outcome:
            if progress.state is not State.WITHDRAWN:
                return Outcome(Kind.NOT_WITHDRAWN)
            back = replace(progress, withdrawn_at=None)
            await self._store.set_withdrawn(progress, None, back.status_prefix())
            await self._welcome(progress, press.message_id, withdrawn=False)
            self._renamer.request(progress.channel_id, back.status_prefix())
            return self._position(back, questions, Kind.RESUMED)

        return await self._run(press, "resume", step)

    # ---- steps -------------------------------------------------------------------------------------

    async def _current(
        self, progress: Progress, questions: QuestionSet, question_id: str, message: MessageId | None
    ) -> None:
        """Stop unless ``question_id`` is the current question (a stale message loses its buttons)."""
        if question_id == progress.current_question_id:
            return
        if message is not None and question_id in progress.posted:
            await self._quietly(self._discord.remove_buttons(progress.channel_id, message))
        raise _Stop(self._position(progress, questions, Kind.STALE))

    def _post_of(
        self, progress: Progress, questions: QuestionSet, question: Question, *, buttons: bool = True
    ) -> QuestionPost:
        index = questions.index_of(question.question_id) or 0
        later = questions.next_unposted({**progress.posted, question.question_id: MessageId(0)})
        answer = progress.answers.get(question.question_id)
        return QuestionPost(
            question, index + 1, len(questions.questions), answer.text if answer else None, later is None, buttons
        )

    async def _redraw(self, progress: Progress, questions: QuestionSet, question_id: str) -> None:
        question, message = questions.find(question_id), progress.posted.get(question_id)
        if question is not None and message is not None:
            await self._discord.show_question(
                progress.channel_id, message, self._post_of(progress, questions, question)
            )

    async def _post(self, progress: Progress, questions: QuestionSet, target: Question, kind: Kind) -> Outcome:
        """Record the intent, post the question, record it as current; the previous one loses its buttons."""
        previous = progress.posted.get(progress.current_question_id or "")
        await self._store.mark_posting(progress, target.question_id)
        message = await self._send(progress, self._post_of(progress, questions, target))
        return await self._posted(progress, questions, target, message, previous, kind)

    async def _send(self, progress: Progress, post: QuestionPost) -> MessageId:
        """Post a question whose intent is recorded; if Discord fails, the intent's lease is given back so the
        next press (in any process) finishes it at once instead of waiting for the lease to run out."""
        try:
            return await self._discord.post_question(progress.channel_id, post)
        except DiscordError:
            try:
                await self._store.release_posting(progress, post.question.question_id)
            except StorageError:  # the lease then runs out by itself
                logger.warning("questions could not give back an intent channel=%s", progress.channel_id)
            raise

    async def _posted(  # noqa: PLR0917 - private; each argument is a distinct part of the step
        self,
        progress: Progress,
        questions: QuestionSet,
        target: Question,
        message: MessageId,
        previous: MessageId | None,
        kind: Kind,
    ) -> Outcome:
        index = questions.index_of(target.question_id) or 0
        await self._store.mark_posted(progress, target.question_id, message, index)
        if previous is not None and previous != message:
            await self._quietly(self._discord.remove_buttons(progress.channel_id, previous))
        return Outcome(kind, index + 1, len(questions.questions), message, target.title)

    async def _finish_posting(self, progress: Progress, questions: QuestionSet) -> Outcome:
        """Finish a post a crash interrupted: adopt the message if it was posted, else post it now.

        Another process may be posting it right now (its intent's lease runs): then this press points at it.
        """
        pending = progress.posting or ""
        if not await self._store.claim_posting(progress):
            return self._position(replace(progress, current_question_id=pending), questions, Kind.STALE)
        previous = progress.posted.get(progress.current_question_id or "")
        found = await self._discord.find_question_message(progress.channel_id, pending)
        target = questions.find(pending)
        if target is None:  # removed meanwhile: forget the intent and go on from where the applicant is
            if found is not None:
                await self._quietly(self._discord.remove_buttons(progress.channel_id, found))
            await self._store.clear_posting(progress)
            cleared = replace(progress, posting=None)
            nxt = questions.next_unposted(progress.posted)
            if nxt is None:
                return self._position(cleared, questions, Kind.LAST_QUESTION)
            return await self._post(cleared, questions, nxt, Kind.POSTED)
        if found is None:
            found = await self._send(progress, self._post_of(progress, questions, target))
        logger.info("questions resumed an interrupted post channel=%s question=%s", progress.channel_id, pending)
        return await self._posted(progress, questions, target, found, previous, Kind.POSTED)

    async def _welcome(self, progress: Progress, message: MessageId | None, *, withdrawn: bool) -> None:
        if message is not None:
            await self._quietly(self._discord.show_welcome(progress.channel_id, message, withdrawn=withdrawn))

    @staticmethod
    async def _quietly(call: Awaitable[None]) -> None:
        """Run a cosmetic Discord call (buttons, the closing message): its failure never undoes the step."""
        try:
            await call
        except DiscordError as exc:
            logger.warning("questions cosmetic call failed kind=%s status=%s", exc.kind.value, exc.status)


async def reconcile_names(
    store: QuestionStore, renamer: Renamer, guild_id: GuildId, names: Mapping[ChannelId, str]
) -> list[ChannelId]:
    """Ask again for every status prefix this bot wanted and the channel's name does not show yet.

    Run when a guild becomes available after a start: a rename the queue had not sent before the process
    stopped is sent now. Channels renamed by someone else to a name without a status character, and
    applications this bot never renamed (CastBot's), are left alone.
    """
    asked: list[ChannelId] = []
    for channel_id, wanted in (await store.wanted_prefixes(guild_id)).items():
        name = names.get(channel_id)
        if name is None or name.startswith(wanted) or not name.startswith(STATUS_PREFIXES):
            continue
        renamer.request(channel_id, wanted)
        asked.append(channel_id)
    if asked:
        logger.info("questions renames resumed guild=%s channels=%d", guild_id, len(asked))
    return asked


# ---- the admins' side -------------------------------------------------------------------------------


class Notice:
    """What an editor action did, for the screen's first line (``render.editor_notice``)."""

    ADDED = "added"
    EDITED = "edited"
    MOVED = "moved"
    NOT_MOVED = "not moved"
    DUPLICATED = "duplicated"
    DELETED = "deleted"
    GONE = "gone"
    INVALID = "invalid"
    COMPLETION = "completion"
    NONE = ""


@dataclass(frozen=True, slots=True)
class EditorView:
    """The ``/apps questions`` screen: a config's questions, a page, the selected question, a notice."""

    guild_id: GuildId
    config_id: ConfigId
    title: str
    questions: QuestionSet
    page: int = 0
    selected: str | None = None
    notice: str = Notice.NONE
    reason: str = ""


class QuestionEditor:
    """The admins' question editor over the config's ``questions`` array (``None``: the config is gone).

    Args:
        store: The data file.
        clock: Time (``createdAt`` of new questions).
        titles: Returns a config's title (``None``: no such config in this guild).
        new_id: Makes question ids (``question_<16 hex>``; injectable for tests).
    """

    def __init__(
        self,
        store: QuestionStore,
        clock: Clock,
        titles: Titles,
        new_id: Callable[[], str] = new_question_id,
    ) -> None:
        self._store = store
        self._clock = clock
        self._titles = titles
        self._new_id = new_id

    async def view(
        self,
        guild_id: GuildId,
        config_id: ConfigId,
        *,
        page: int = 0,
        selected: str | None = None,
        notice: str = "",
        reason: str = "",
    ) -> EditorView | None:
        """Return the editor screen of a config of this guild, or ``None``."""
        title, questions = await self._titles(guild_id, config_id), await self._store.questions(guild_id, config_id)
        if title is None or questions is None:
            return None
        if selected is not None and questions.find(selected) is None:
            selected = None
        if selected is not None and (index := questions.index_of(selected)) is not None:
            page = index // 8
        page, _ = questions.page(page)
        return EditorView(guild_id, config_id, title, questions, page, selected, notice, reason)

    async def add(self, guild_id: GuildId, config_id: ConfigId, fields: QuestionFields) -> EditorView | None:
        """Add a question at the end (before the completion question)."""
        if (reason := check_fields(fields)) is not None:
            return await self.view(guild_id, config_id, notice=Notice.INVALID, reason=reason)
        question = Question(self._new_id(), fields.title.strip(), fields.text, fields.image_url.strip())
        if not await self._store.add_question(guild_id, config_id, question, self._clock.now_ms()):
            return None
        return await self.view(guild_id, config_id, selected=question.question_id, notice=Notice.ADDED)

    async def edit(
        self, guild_id: GuildId, config_id: ConfigId, question_id: str, fields: QuestionFields
    ) -> EditorView | None:
        """Change a question."""
        if (reason := check_fields(fields)) is not None:
            return await self.view(guild_id, config_id, selected=question_id, notice=Notice.INVALID, reason=reason)
        done = await self._store.edit_question(guild_id, config_id, question_id, fields)
        return await self.view(guild_id, config_id, selected=question_id, notice=Notice.EDITED if done else Notice.GONE)

    async def move(self, guild_id: GuildId, config_id: ConfigId, question_id: str, delta: int) -> EditorView | None:
        """Move a question up (-1) or down (+1)."""
        if (questions := await self._store.questions(guild_id, config_id)) is not None and questions.find(
            question_id
        ) is None:
            return await self.view(guild_id, config_id, notice=Notice.GONE)
        done = await self._store.move_question(guild_id, config_id, question_id, delta)
        return await self.view(
            guild_id, config_id, selected=question_id, notice=Notice.MOVED if done else Notice.NOT_MOVED
        )

    async def duplicate(self, guild_id: GuildId, config_id: ConfigId, question_id: str) -> EditorView | None:
        """Copy a question right after itself."""
        new_id = self._new_id()
        done = await self._store.duplicate_question(guild_id, config_id, question_id, new_id, self._clock.now_ms())
        return await self.view(
            guild_id, config_id, selected=new_id if done else None, notice=Notice.DUPLICATED if done else Notice.GONE
        )

    async def delete(self, guild_id: GuildId, config_id: ConfigId, question_id: str) -> EditorView | None:
        """Remove a question (applicants on it finish gracefully: their next press goes on without it)."""
        done = await self._store.delete_question(guild_id, config_id, question_id)
        return await self.view(guild_id, config_id, notice=Notice.DELETED if done else Notice.GONE)

    async def set_completion(self, guild_id: GuildId, config_id: ConfigId, completion: Completion) -> EditorView | None:
        """Set the completion message."""
        if len(completion.title) > 45 or len(completion.text) > 4000 or not completion.text.strip():
            return await self.view(
                guild_id, config_id, notice=Notice.INVALID, reason="the message needs a text (at most 4,000)"
            )
        if not await self._store.set_completion(guild_id, config_id, completion):
            return None
        return await self.view(guild_id, config_id, notice=Notice.COMPLETION)


@dataclass(frozen=True, slots=True)
class Report:
    """``/apps applications``: a config's applicants and their questions."""

    config_id: ConfigId
    title: str
    questions: QuestionSet
    rows: tuple[Row, ...]


def rows_of(questions: QuestionSet, applications: list[Progress], status: State | None = None) -> tuple[Row, ...]:
    """Return each application's state and position (``number`` of ``total``), filtered by ``status``."""
    found: list[Row] = []
    for progress in applications:
        state = progress.state
        if status is not None and state is not status:
            continue
        index = questions.index_of(progress.current_question_id or "") if state is State.ANSWERING else None
        found.append(Row(progress, state, index + 1 if index is not None else None, len(questions.questions)))
    return tuple(found)


async def report(
    store: QuestionStore,
    titles: Titles,
    guild_id: GuildId,
    config_id: ConfigId,
    status: State | None,
) -> Report | None:
    """Return the applications report of a config of this guild, or ``None``."""
    title, questions = await titles(guild_id, config_id), await store.questions(guild_id, config_id)
    if title is None or questions is None:
        return None
    return Report(
        config_id, title, questions, rows_of(questions, await store.applications(guild_id, config_id), status)
    )
