"""The questions flow's store contract: the SAME tests against the JSON file and PostgreSQL."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS, open_document
from castbot_hikari.castbot.journal import JournaledDocument
from castbot_hikari.core.errors import StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.pg.transfer import export_document, import_document
from castbot_hikari.questions.model import Answer, Completion, Question, QuestionFields
from castbot_hikari.questions.ports import QuestionStore, Superseded
from castbot_hikari.questions.store import JsonQuestionStore
from tests.apply.fakes import CONFIG, GUILD, USER, castbot_config
from tests.conftest import write_player_data

CHANNEL = ChannelId(4242)


def question(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"question_{n:016x}", "order": n, "questionTitle": f"Q{n}", "questionText": f"Text {n}", **extra}


def seed_document() -> dict[str, Any]:
    closing = {"id": "question_ffffffffffffffff", "questionType": "completion", "questionText": "Bye", "extra": 1}
    config = castbot_config(questions=[question(1, castbotOnly="kept"), question(2), closing])
    record = {
        "userId": str(USER),
        "channelId": str(CHANNEL),
        "configId": CONFIG,
        "displayName": "Kevin A",
        "createdAt": "2026-09-21T14:13:20.000Z",
        "rankings": {"9": 4},
    }
    return {str(GUILD): {CONFIGS: {CONFIG: config}, APPLICATIONS: {str(CHANNEL): record}, "players": {}}}


class Handle:
    """The store under test and a way to read the whole document back."""

    def __init__(self, store: QuestionStore, doc: JournaledDocument | None, pg: PostgresStore | None) -> None:
        self.store = store
        self._doc = doc
        self._pg = pg

    async def document(self) -> dict[str, Any]:
        if self._doc is not None:
            return self._doc.doc
        assert self._pg is not None
        async with self._pg.pool.acquire() as conn:
            doc, _ = await export_document(conn)
        return doc


@pytest_asyncio.fixture(params=["json", "postgres"])
async def handle(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Handle]:
    if request.param == "json":
        write_player_data(tmp_path, seed_document())
        document = open_document(tmp_path, fsync=False)
        yield Handle(JsonQuestionStore(document), document, None)
        await document.close()
        return
    url: str = request.getfixturevalue("pg_url")
    pg = await PostgresStore.connect(url, owner="q", max_size=4)
    async with pg.pool.acquire() as conn:
        await import_document(conn, seed_document())
    yield Handle(pg.questions, None, pg)
    await pg.close()


@pytest.mark.asyncio
async def test_questions_progress_and_title_are_read(handle: Handle) -> None:
    store = handle.store
    questions = await store.questions(GUILD, CONFIG)
    assert questions is not None
    assert [q.question_id for q in questions.questions] == ["question_0000000000000001", "question_0000000000000002"]
    assert questions.completion is not None
    assert await store.questions(GUILD, ConfigId("config_2_2")) is None
    assert await store.questions(GuildId(999), CONFIG) is None
    assert await store.title(GUILD, CONFIG) == "Apply to Season 14"
    assert await store.title(GuildId(999), CONFIG) is None
    progress = await store.progress(GUILD, CHANNEL)
    assert progress is not None
    assert (progress.user_id, progress.config_id, progress.display_name) == (USER, CONFIG, "Kevin A")
    assert await store.progress(GUILD, ChannelId(1)) is None
    assert [p.channel_id for p in await store.applications(GUILD, CONFIG)] == [CHANNEL]


@pytest.mark.asyncio
async def test_progress_changes_are_kept_on_the_record_with_castbots_keys(handle: Handle) -> None:
    store = handle.store
    progress = await store.progress(GUILD, CHANNEL)
    assert progress is not None
    await store.mark_posting(progress, "question_0000000000000001")
    assert (await store.progress(GUILD, CHANNEL)).posting == "question_0000000000000001"  # type: ignore[union-attr]
    await store.mark_posted(progress, "question_0000000000000001", MessageId(77), 0)
    await store.save_answer(progress, "question_0000000000000001", Answer("Q1", "my answer", "2026-09-21T14:14:00Z"))
    posted = await store.progress(GUILD, CHANNEL)
    assert posted is not None
    await store.complete(posted, "2026-09-21T14:15:00Z", "✅")
    after = await store.progress(GUILD, CHANNEL)
    assert after is not None
    assert after.posting is None
    assert after.posted == {"question_0000000000000001": MessageId(77)}
    assert after.answers["question_0000000000000001"].text == "my answer"
    assert after.completed_at == "2026-09-21T14:15:00Z"
    assert await store.wanted_prefixes(GUILD) == {CHANNEL: "✅"}
    await store.set_withdrawn(after, "2026-09-22T00:00:00Z", "✖️")
    assert (await store.progress(GUILD, CHANNEL)).withdrawn_at == "2026-09-22T00:00:00Z"  # type: ignore[union-attr]
    await store.set_withdrawn(dataclasses.replace(after, withdrawn_at="2026-09-22T00:00:00Z"), None, "📝")
    assert (await store.progress(GUILD, CHANNEL)).withdrawn_at is None  # type: ignore[union-attr]
    record = (await handle.document())[str(GUILD)][APPLICATIONS][str(CHANNEL)]
    assert record["rankings"] == {"9": 4}  # CastBot's keys kept
    assert record["currentQuestion"] == 0
    assert record["statusPrefix"] == "📝"


@pytest.mark.asyncio
async def test_a_change_to_a_gone_application_fails_and_creates_nothing(handle: Handle) -> None:
    progress = await handle.store.progress(GUILD, CHANNEL)
    assert progress is not None
    gone = dataclasses.replace(progress, channel_id=ChannelId(1))
    with pytest.raises(StorageError):
        await handle.store.save_answer(gone, "question_0000000000000001", Answer("Q1", "x", "t"))
    assert str(1) not in (await handle.document())[str(GUILD)][APPLICATIONS]


@pytest.mark.asyncio
async def test_the_editor_keeps_the_completion_last_and_unknown_keys(handle: Handle) -> None:
    store = handle.store
    third = Question("question_0000000000000003", "Q3", "Text 3", "")
    assert await store.add_question(GUILD, CONFIG, third, 1_790_000_000_000)
    assert await store.edit_question(GUILD, CONFIG, "question_0000000000000001", QuestionFields(" New ", "T", ""))
    assert await store.move_question(GUILD, CONFIG, "question_0000000000000003", -1)
    assert not await store.move_question(GUILD, CONFIG, "question_0000000000000001", -1)  # already first
    assert await store.duplicate_question(GUILD, CONFIG, "question_0000000000000002", "question_0000000000000004", 5)
    assert await store.delete_question(GUILD, CONFIG, "question_0000000000000004")
    assert not await store.delete_question(GUILD, CONFIG, "question_0000000000000004")
    assert await store.set_completion(GUILD, CONFIG, Completion("Done", "Thanks", ""))
    assert not await store.add_question(GUILD, ConfigId("config_2_2"), third, 1)
    items = (await handle.document())[str(GUILD)][CONFIGS][CONFIG]["questions"]
    assert [i["id"] for i in items] == [
        "question_0000000000000001",
        "question_0000000000000003",
        "question_0000000000000002",
        "question_ffffffffffffffff",
    ]
    assert [i["order"] for i in items] == [1, 2, 3, 4]
    assert items[0]["questionTitle"] == "New"
    assert items[0]["castbotOnly"] == "kept"
    assert items[-1]["extra"] == 1
    assert items[-1]["questionText"] == "Thanks"


@pytest.mark.asyncio
async def test_concurrent_edits_of_one_config_lose_nothing(handle: Handle) -> None:
    new = [Question(f"question_{n:016x}", f"Q{n}", "t", "") for n in range(10, 20)]
    done = await asyncio.gather(*(handle.store.add_question(GUILD, CONFIG, q, 1) for q in new))
    assert all(done)
    questions = await handle.store.questions(GUILD, CONFIG)
    assert questions is not None
    assert {q.question_id for q in new} <= {q.question_id for q in questions.questions}


@pytest.mark.asyncio
async def test_a_step_decided_on_an_old_read_is_refused_and_writes_nothing(handle: Handle) -> None:
    store = handle.store
    read = await store.progress(GUILD, CHANNEL)
    assert read is not None
    await store.mark_posting(read, "question_0000000000000001")  # another press got there first
    before = await handle.document()
    snapshot = copy.deepcopy(before[str(GUILD)][APPLICATIONS][str(CHANNEL)])
    with pytest.raises(Superseded):
        await store.mark_posting(read, "question_0000000000000001")
    with pytest.raises(Superseded):
        await store.complete(read, "2026-09-21T14:15:00Z", "☑️")
    with pytest.raises(Superseded):
        await store.set_withdrawn(read, "2026-09-22T00:00:00Z", "✖️")
    with pytest.raises(Superseded):
        await store.mark_posted(read, "question_0000000000000002", MessageId(78), 1)  # not the intent recorded
    assert (await handle.document())[str(GUILD)][APPLICATIONS][str(CHANNEL)] == snapshot
    fresh = await store.progress(GUILD, CHANNEL)
    assert fresh is not None
    assert await store.claim_posting(fresh)  # this process's own intent (or the only process's): it may finish it
