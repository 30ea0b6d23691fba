"""Stateful fakes of the questions flow's Discord side, and a real data file to run the service on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from castbot_hikari.castbot.document import DATA_FILE, open_document
from castbot_hikari.castbot.journal import JournaledDocument
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId, UserId
from castbot_hikari.core.locks import KeyedSemaphores
from castbot_hikari.questions.model import Completion, Press, QuestionPost
from castbot_hikari.questions.service import QuestionsService
from castbot_hikari.questions.store import JsonQuestionStore
from tests.apply.fakes import FakeClock

G = GuildId(111)
CH = ChannelId(222)
APPLICANT = UserId(333)
OTHER = UserId(444)
CONFIG = ConfigId("config_1781015852414_1")
WELCOME = MessageId(1)


class Crash(Exception):  # noqa: N818 - plays a process dying at that point
    """The process died here (nothing after it ran)."""


@dataclass
class Posted:
    """A message the fake posted."""

    message_id: MessageId
    post: QuestionPost | None
    buttons: bool = True


@dataclass
class FakeDiscord:
    """Messages of one channel; ``crash_after_post`` plays a death right after Discord took a post."""

    messages: list[Posted] = field(default_factory=list[Posted])
    completions: int = 0
    welcome_withdrawn: bool | None = None
    crash_after_post: bool = False
    crash_before_post: bool = False
    fail_cosmetic: bool = False
    next_id: int = 100

    async def post_question(self, channel_id: ChannelId, post: QuestionPost) -> MessageId:
        del channel_id
        if self.crash_before_post:
            self.crash_before_post = False
            raise Crash
        self.next_id += 1
        self.messages.append(Posted(MessageId(self.next_id), post))
        if self.crash_after_post:
            self.crash_after_post = False
            raise Crash
        return MessageId(self.next_id)

    def posts_of(self, question_id: str) -> list[Posted]:
        return [m for m in self.messages if m.post is not None and m.post.question.question_id == question_id]

    async def find_question_message(self, channel_id: ChannelId, question_id: str) -> MessageId | None:
        del channel_id
        found = self.posts_of(question_id)
        return found[-1].message_id if found else None

    def _cosmetic(self) -> None:
        if self.fail_cosmetic:
            raise DiscordError(DiscordErrorKind.UNAVAILABLE, "down", status=503)

    async def show_question(self, channel_id: ChannelId, message_id: MessageId, post: QuestionPost) -> None:
        del channel_id
        self._cosmetic()
        for message in self.messages:
            if message.message_id == message_id:
                message.post = post
                message.buttons = post.buttons

    async def remove_buttons(self, channel_id: ChannelId, message_id: MessageId) -> None:
        del channel_id
        self._cosmetic()
        for message in self.messages:
            if message.message_id == message_id:
                message.buttons = False

    async def post_completion(self, channel_id: ChannelId, completion: Completion | None, answered: int) -> None:
        del channel_id, completion, answered
        self._cosmetic()
        self.completions += 1

    async def show_welcome(self, channel_id: ChannelId, message_id: MessageId, *, withdrawn: bool) -> None:
        del channel_id, message_id
        self._cosmetic()
        self.welcome_withdrawn = withdrawn


@dataclass
class FakeRenamer:
    """Records the prefixes asked for."""

    asked: list[str] = field(default_factory=list[str])

    def request(self, channel_id: ChannelId, prefix: str) -> None:
        del channel_id
        self.asked.append(prefix)


def seed(tmp_path: Path, questions: list[dict[str, Any]], **record: object) -> None:
    """Write a data file with one config (``questions``) and one application in channel ``CH``."""
    data = {
        str(G): {
            "applicationConfigs": {CONFIG: {"buttonText": "Season 1", "stage": "active", "questions": questions}},
            "applications": {
                str(CH): {
                    "userId": str(APPLICANT),
                    "channelId": str(CH),
                    "configId": CONFIG,
                    "displayName": "Kev",
                    **record,
                }
            },
        }
    }
    (tmp_path / DATA_FILE).write_bytes(orjson.dumps(data))


def plain(number: int, **extra: object) -> dict[str, Any]:
    """Return a CastBot question."""
    return {
        "id": f"question_{number:016x}",
        "order": number,
        "questionTitle": f"Q{number}",
        "questionText": f"Text {number}",
        "questionStyle": 2,
        "imageURL": "",
        **extra,
    }


def qid(number: int) -> str:
    return f"question_{number:016x}"


@dataclass
class Rig:
    """The service over a real data file and the fakes; ``restart`` reopens the file as a new process would."""

    tmp_path: Path
    discord: FakeDiscord = field(default_factory=FakeDiscord)
    renamer: FakeRenamer = field(default_factory=FakeRenamer)
    clock: FakeClock = field(default_factory=FakeClock)
    document: JournaledDocument | None = None
    service: QuestionsService | None = None

    def open(self) -> QuestionsService:
        self.document = open_document(self.tmp_path, fsync=False)
        self.service = QuestionsService(
            JsonQuestionStore(self.document), self.discord, self.renamer, KeyedSemaphores(1), self.clock
        )
        return self.service

    async def restart(self) -> QuestionsService:
        assert self.document is not None
        await self.document.close()
        return self.open()

    def record(self) -> dict[str, Any]:
        assert self.document is not None
        return self.document.doc[str(G)]["applications"][str(CH)]

    async def close(self) -> None:
        if self.document is not None:
            await self.document.close()


def press(user: UserId = APPLICANT, *, admin: bool = False, message: MessageId | None = None) -> Press:
    return Press(G, CH, user, admin, message)


Factory = Callable[[], Rig]
