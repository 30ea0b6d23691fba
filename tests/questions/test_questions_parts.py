"""The questions flow's parts: custom ids, channel prefixes, the rename queue, the questions array, the CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from castbot_hikari.castbot.document import open_document
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.questions import custom_ids as ids
from castbot_hikari.questions import render
from castbot_hikari.questions.custom_ids import Action
from castbot_hikari.questions.model import (
    Answer,
    Completion,
    Progress,
    Question,
    QuestionFields,
    State,
    check_fields,
    with_prefix,
)
from castbot_hikari.questions.renames import RenameQueue
from castbot_hikari.questions.service import QuestionEditor, Report, reconcile_names, rows_of
from castbot_hikari.questions.store import JsonQuestionStore, read_questions
from tests.apply.fakes import FakeClock
from tests.questions.fakes import APPLICANT, CH, CONFIG, G, plain, qid, seed

# ---- custom ids ---------------------------------------------------------------------------------------


@given(st.sampled_from(list(Action)), st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True))
def test_custom_ids_round_trip_and_stay_within_100_characters(action: Action, arg: str) -> None:
    custom_id = ids.format_id(action, arg, CONFIG)
    assert custom_id is not None
    assert len(custom_id) <= 100
    assert ids.parse(custom_id) == ids.QuestionsId(action, arg, CONFIG)


@pytest.mark.parametrize(
    "custom_id",
    [
        "cbq:",
        "cbq:nope",
        "cbq:next:../x",
        "cbq:a-up:question_1",
        "cbq:a-up:q:conf/ig",
        "apply_x",
        "cbq:next:" + "x" * 95,
    ],
)
def test_malformed_custom_ids_are_not_parsed(custom_id: str) -> None:
    assert ids.parse(custom_id) is None


def test_an_id_over_100_characters_is_refused_when_formatted() -> None:
    assert ids.format_id(Action.UP, "question_" + "a" * 31, ids.ConfigId("c" * 90)) is None


# ---- channel prefixes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "prefix", "wanted"),
    [
        ("📝kevina-app", "☑️", "☑️kevina-app"),
        ("☑️kevina-app", "✖️", "✖️kevina-app"),
        ("kevina", "📝", "📝kevina"),
        ("✅kev", "☑️", "☑️kev"),
    ],
)
def test_the_status_character_is_replaced_or_added(name: str, prefix: str, wanted: str) -> None:
    assert with_prefix(name, prefix) == wanted


# ---- the rename queue --------------------------------------------------------------------------------------


@dataclass
class Names:
    name: str = "📝kevina-app"
    renames: list[tuple[float, str]] = field(default_factory=list[tuple[float, str]])
    fail: DiscordError | None = None
    clock: FakeClock = field(default_factory=FakeClock)

    async def channel_name(self, channel_id: ChannelId) -> str | None:
        del channel_id
        return self.name

    async def rename_channel(self, channel_id: ChannelId, name: str) -> None:
        del channel_id
        if self.fail is not None:
            raise self.fail
        self.renames.append((self.clock.monotonic(), name))
        self.name = name


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


@pytest.mark.asyncio
async def test_renames_keep_to_two_per_ten_minutes_and_coalesce_to_the_latest() -> None:
    names = Names()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        names.clock.advance(seconds)

    queue = RenameQueue(names, names.clock, sleep)
    start = names.clock.monotonic()
    queue.request(CH, "✖️")
    await settle()
    queue.request(CH, "📝")
    await settle()
    for prefix in ("✖️", "📝", "✖️", "☑️"):  # four wishes while the budget is spent: only the last counts
        queue.request(CH, prefix)
    await settle()
    assert [(t - start, n) for t, n in names.renames] == [
        (0.0, "✖️kevina-app"),
        (0.0, "📝kevina-app"),
        (600.0, "☑️kevina-app"),
    ]
    assert slept == [600.0]
    assert queue.pending(CH) is None
    await queue.close()


@pytest.mark.asyncio
async def test_a_wish_for_the_current_name_costs_no_rename() -> None:
    names = Names()
    queue = RenameQueue(names, names.clock)
    queue.request(CH, "📝")
    await settle()
    assert names.renames == []
    await queue.close()


@pytest.mark.asyncio
async def test_a_failing_rename_is_retried_a_few_times_then_dropped_without_raising() -> None:
    names = Names(fail=DiscordError(DiscordErrorKind.UNAVAILABLE, "down", status=503))
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        names.clock.advance(seconds)

    queue = RenameQueue(names, names.clock, sleep)
    queue.request(CH, "☑️")
    await settle()
    assert queue.pending(CH) is None
    assert names.name == "📝kevina-app"
    assert len(slept) >= 1
    await queue.close()


# ---- the questions array ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_editor_keeps_castbots_shape_the_completion_last_and_unknown_keys(tmp_path: Path) -> None:
    closing = {"id": "question_ffffffffffffffff", "questionType": "completion", "questionText": "Bye", "extra": 1}
    seed(tmp_path, [plain(1, castbotOnly="kept"), closing])
    document = open_document(tmp_path, fsync=False)
    try:
        store = JsonQuestionStore(document)
        counter = iter(range(2, 10))
        editor = QuestionEditor(store, FakeClock(), store.title, new_id=lambda: qid(next(counter)))
        view = await editor.add(G, CONFIG, QuestionFields("Second", "Text two"))
        assert view is not None
        assert view.selected == qid(2)
        await editor.duplicate(G, CONFIG, qid(1))
        await editor.move(G, CONFIG, qid(2), -1)
        raw = document.doc[str(G)]["applicationConfigs"][CONFIG]["questions"]
        assert [q["id"] for q in raw] == [qid(1), qid(2), qid(3), "question_ffffffffffffffff"]
        assert [q["order"] for q in raw] == [1, 2, 3, 4]
        assert raw[0]["castbotOnly"] == "kept"
        assert raw[2]["questionTitle"] == "Q1"  # the duplicate, moved below the new one
        assert raw[-1]["extra"] == 1
        not_moved = await editor.move(G, CONFIG, qid(1), -1)
        assert not_moved is not None
        assert not_moved.notice == "not moved"
        await editor.set_completion(G, CONFIG, Completion("Done", "See you", ""))
        await editor.delete(G, CONFIG, qid(2))
        reread = read_questions(document.doc[str(G)]["applicationConfigs"][CONFIG]["questions"])
        assert [q.question_id for q in reread.questions] == [qid(1), qid(3)]
        assert reread.completion == Completion("Done", "See you", "")
        refused = await editor.add(G, CONFIG, QuestionFields("x" * 46, "text"))
        assert refused is not None
        assert refused.notice == "invalid"
        assert len(reread.questions) == 2
    finally:
        await document.close()


def test_a_legacy_completion_description_is_read_as_the_completion_message() -> None:
    questions = read_questions([plain(1)], {"completionDescription": "Thanks for applying"})
    assert questions.completion == Completion("", "Thanks for applying", "")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (QuestionFields("", "t"), "the title cannot be empty"),
        (QuestionFields("t" * 46, "t"), "the title must be at most 45 characters"),
        (QuestionFields("t", "x" * 4001), "the text must be at most 4,000 characters"),
        (QuestionFields("t", "t", "javascript:alert(1)"), "the image must be an http(s) URL"),
    ],
)
def test_question_fields_are_checked(fields: QuestionFields, reason: str) -> None:
    assert check_fields(fields) == reason


# ---- the export ----------------------------------------------------------------------------------------------


def test_the_csv_has_one_column_per_question_and_defuses_formulas() -> None:
    questions = read_questions([plain(1), plain(2)])
    progress = Progress(
        G,
        CH,
        APPLICANT,
        CONFIG,
        current_question_id=qid(2),
        display_name="=Kev",
        answers={qid(1): Answer("Q1", "@cmd", "")},
    )
    rows = rows_of(questions, [progress])
    assert rows[0].state is State.ANSWERING
    table = list(csv.reader(io.StringIO(render.export_csv(Report(CONFIG, "S", questions, rows)).decode("utf-8-sig"))))
    assert table[0] == ["user_id", "name", "channel_id", "state", "completed_at", "Q1", "Q2"]
    assert table[1] == [str(APPLICANT), "'=Kev", str(CH), "on question 2 of 2", "", "'@cmd", ""]
    assert Question(qid(1), "Q1", "Text 1") == questions.questions[0]


@pytest.mark.asyncio
async def test_after_a_restart_only_the_renames_this_bot_wanted_are_asked_again(tmp_path: Path) -> None:
    seed(tmp_path, [plain(1)], statusPrefix="✖️", withdrawnAt="2026-01-01T00:00:00.000Z")
    document = open_document(tmp_path, fsync=False)
    try:
        apps = document.doc[str(G)]["applications"]
        apps["999"] = {"userId": "5", "channelId": "999", "configId": CONFIG}  # CastBot's withdrawn one: name only
        asked: list[tuple[ChannelId, str]] = []

        class Recorder:
            def request(self, channel_id: ChannelId, prefix: str) -> None:
                asked.append((channel_id, prefix))

        store = JsonQuestionStore(document)
        names = {CH: "📝kevina-app", ChannelId(999): "✖️zoe-app"}
        assert await reconcile_names(store, Recorder(), G, names) == [CH]
        assert asked == [(CH, "✖️")]
        assert await reconcile_names(store, Recorder(), G, {CH: "✖️kevina-app"}) == []  # already shows it
        assert await reconcile_names(store, Recorder(), G, {CH: "renamed-by-hand"}) == []  # no status character: left
    finally:
        await document.close()


def test_the_editor_shows_8_questions_a_page_with_page_buttons() -> None:
    from castbot_hikari.questions.service import EditorView

    questions = read_questions([plain(n) for n in range(1, 10)])
    view = EditorView(G, CONFIG, "Season 1", questions, page=0, selected=qid(2))
    text = render.editor(view)
    assert "page 1/2" in text
    assert "▶ `2.` **Q2**" in text
    assert "`9.`" not in text
    rows = [row.build()[0] for row in render.editor_rows(view)]
    menu = rows[0]["components"][0]
    assert [o["value"] for o in menu["options"]] == [qid(n) for n in range(1, 9)]
    labels = [c["label"] for row in rows[1:] for c in row["components"]]
    assert labels == [
        "Edit",
        "Move up",
        "Move down",
        "Duplicate",
        "Delete",
        "Add",
        "Preview",
        "Completion message",
        "Previous page",
        "Next page",
    ]
    second = render.editor(EditorView(G, CONFIG, "Season 1", questions, page=1))
    assert "`9.` **Q9**" in second
    assert "`1.`" not in second
