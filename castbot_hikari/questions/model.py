"""Values of the application in its channel: questions, the applicant's progress, outcomes. No I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, UserId

MAX_TITLE: Final = 45
"""Discord's limit for a modal's title, which shows the question's title."""
MAX_TEXT: Final = 4000
"""Discord's limit for a paragraph text input (and so for a question typed in one)."""
MAX_ANSWER: Final = 1800
"""An answer is shown back in the question's message, whose content Discord caps at 2,000 characters."""
MAX_IMAGE_URL: Final = 512
PAGE_SIZE: Final = 8
PLAIN: Final = "plain"
DNC: Final = "dnc"
COMPLETION: Final = "completion"

OPEN_PREFIX: Final = "📝"
COMPLETED_PREFIX: Final = "☑️"
WITHDRAWN_PREFIX: Final = "✖️"
STATUS_PREFIXES: Final = ("📝", "☑️", "✖️", "✅", "❌")
"""CastBot's status characters at the start of an application channel's name."""


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a config (CastBot's ``questions`` entry); ``kind`` is ``plain`` or ``dnc``."""

    question_id: str
    title: str
    text: str
    image_url: str = ""
    kind: str = PLAIN


@dataclass(frozen=True, slots=True)
class Completion:
    """The closing message shown after Complete (CastBot's ``completion`` question)."""

    title: str
    text: str
    image_url: str = ""


@dataclass(frozen=True, slots=True)
class QuestionSet:
    """A config's questions in order, and its completion message (``None``: the default one)."""

    questions: tuple[Question, ...]
    completion: Completion | None = None

    def index_of(self, question_id: str) -> int | None:
        """Return the 0-based position of a question, or ``None`` if it is not (or no longer) there."""
        for index, question in enumerate(self.questions):
            if question.question_id == question_id:
                return index
        return None

    def find(self, question_id: str) -> Question | None:
        """Return a question by id, or ``None``."""
        index = self.index_of(question_id)
        return self.questions[index] if index is not None else None

    def next_unposted(self, posted: Mapping[str, object]) -> Question | None:
        """Return the first question, in order, that was not posted yet (one added mid-way included)."""
        return next((q for q in self.questions if q.question_id not in posted), None)

    def page(self, number: int) -> tuple[int, tuple[Question, ...]]:
        """Return the page (clamped to the pages there are) and its questions, ``PAGE_SIZE`` a page."""
        pages = max(1, -(-len(self.questions) // PAGE_SIZE))
        number = min(max(number, 0), pages - 1)
        return number, self.questions[number * PAGE_SIZE : (number + 1) * PAGE_SIZE]

    @property
    def pages(self) -> int:
        """Return how many pages the questions fill (at least one)."""
        return max(1, -(-len(self.questions) // PAGE_SIZE))


class State(enum.Enum):
    """Where an application stands."""

    NOT_STARTED = "not started"
    ANSWERING = "answering"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Answer:
    """An applicant's answer, with the question's title when it was answered (kept if the question goes)."""

    title: str
    text: str
    answered_at: str


@dataclass(frozen=True, slots=True)
class Progress:
    """One application's record as the questions flow sees it (CastBot's record plus keys of ours)."""

    guild_id: GuildId
    channel_id: ChannelId
    user_id: UserId
    config_id: ConfigId
    current_question_id: str | None = None
    posted: Mapping[str, MessageId] = field(default_factory=dict[str, MessageId])
    answers: Mapping[str, Answer] = field(default_factory=dict[str, Answer])
    posting: str | None = None
    completed_at: str | None = None
    withdrawn_at: str | None = None
    display_name: str = ""
    created_at: str = ""

    @property
    def state(self) -> State:
        """Return where it stands (withdrawn wins: an applicant may withdraw a completed application)."""
        if self.withdrawn_at is not None:
            return State.WITHDRAWN
        if self.completed_at is not None:
            return State.COMPLETED
        if self.current_question_id is None and self.posting is None:
            return State.NOT_STARTED
        return State.ANSWERING

    def same_step(self, other: Progress) -> bool:
        """Return whether ``other`` is at the same step: current question, intent to post, completed, withdrawn.

        The conditional store changes compare the stored record with the ``progress`` a press decided on.
        """
        return (self.current_question_id, self.posting, self.completed_at, self.withdrawn_at) == (
            other.current_question_id,
            other.posting,
            other.completed_at,
            other.withdrawn_at,
        )

    def status_prefix(self) -> str:
        """Return the channel-name prefix this state calls for."""
        if self.withdrawn_at is not None:
            return WITHDRAWN_PREFIX
        return COMPLETED_PREFIX if self.completed_at is not None else OPEN_PREFIX


def with_prefix(name: str, prefix: str) -> str:
    """Return ``name`` with its status character replaced by ``prefix`` (added if it has none)."""
    rest = name
    for known in STATUS_PREFIXES:
        if rest.startswith(known):
            rest = rest[len(known) :]
            break
    return (prefix + rest)[:100]


@dataclass(frozen=True, slots=True)
class Press:
    """A button press (or modal submit) in an application channel, as the service needs it."""

    guild_id: GuildId
    channel_id: ChannelId
    user_id: UserId
    is_admin: bool
    message_id: MessageId | None = None


class Kind(enum.Enum):
    """What a press did, or why it changed nothing; each has a sentence in ``render``."""

    STARTED = "started"
    POSTED = "posted"
    ALREADY_POSTED = "already posted"
    LAST_QUESTION = "last question"
    ANSWER_SAVED = "answer saved"
    COMPLETED = "completed"
    ALREADY_COMPLETED = "already completed"
    WITHDRAWN = "withdrawn"
    ALREADY_WITHDRAWN = "already withdrawn"
    RESUMED = "resumed"
    NOT_WITHDRAWN = "not withdrawn"
    IS_WITHDRAWN = "is withdrawn"
    NOT_APPLICATION = "not an application"
    NOT_YOURS = "not yours"
    NOT_STARTED = "not started"
    NO_QUESTIONS = "no questions"
    STALE = "stale"
    QUESTION_REMOVED = "question removed"
    TOO_LONG = "too long"
    DISCORD_FAILED = "discord failed"
    STORAGE_FAILED = "storage failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a press did: its kind and where the applicant stands (question ``number`` of ``total``)."""

    kind: Kind
    number: int | None = None
    total: int | None = None
    message_id: MessageId | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class QuestionPost:
    """A question's message: the question, where it stands, the applicant's answer and its buttons."""

    question: Question
    number: int
    total: int
    answer: str | None
    last: bool
    buttons: bool = True


@dataclass(frozen=True, slots=True)
class Row:
    """One applicant in ``/apps applications``."""

    progress: Progress
    state: State
    number: int | None
    total: int


@dataclass(frozen=True, slots=True)
class QuestionFields:
    """What an admin typed for a question (checked by ``check_fields``)."""

    title: str
    text: str
    image_url: str = ""


def check_fields(fields: QuestionFields) -> str | None:
    """Return why a question's fields are refused (a short reason), or ``None`` if they are fine."""
    if not fields.title.strip():
        return "the title cannot be empty"
    if len(fields.title.strip()) > MAX_TITLE:
        return f"the title must be at most {MAX_TITLE} characters"
    if not fields.text.strip():
        return "the text cannot be empty"
    if len(fields.text) > MAX_TEXT:
        return f"the text must be at most {MAX_TEXT:,} characters"
    url = fields.image_url.strip()
    if url and (not url.startswith(("https://", "http://")) or len(url) > MAX_IMAGE_URL or " " in url):
        return "the image must be an http(s) URL"
    return None


def numbered(questions: Sequence[Question], question_id: str) -> tuple[int, int] | None:
    """Return (1-based number, total) of a question, or ``None`` if it is gone."""
    for index, question in enumerate(questions):
        if question.question_id == question_id:
            return index + 1, len(questions)
    return None
