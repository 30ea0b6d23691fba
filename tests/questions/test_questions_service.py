"""The questions service on a real data file with stateful Discord fakes: decisions by the stored progress."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from castbot_hikari.questions.model import Kind
from castbot_hikari.questions.service import AnswerForm
from tests.questions.fakes import OTHER, WELCOME, Crash, Rig, plain, press, qid, seed


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    seed(
        tmp_path,
        [
            plain(1),
            plain(2),
            plain(3),
            {
                "id": "question_ffffffffffffffff",
                "questionType": "completion",
                "questionTitle": "Done",
                "questionText": "Thanks!",
            },
        ],
    )
    made = Rig(tmp_path)
    made.open()
    yield made
    await made.close()


def svc(rig: Rig):  # noqa: ANN201 - the rig's service
    assert rig.service is not None
    return rig.service


@pytest.mark.asyncio
async def test_start_next_complete_walks_the_questions_in_order_and_stamps_completed_at(rig: Rig) -> None:
    started = await svc(rig).start(press())
    assert (started.kind, started.number, started.total) == (Kind.STARTED, 1, 3)
    for number in (1, 2):
        saved = await svc(rig).save_answer(press(), qid(number), f"answer {number}")
        assert saved.kind is Kind.ANSWER_SAVED
        moved = await svc(rig).next(press(), qid(number))
        assert (moved.kind, moved.number) == (Kind.POSTED, number + 1)
    posts = [m.post for m in rig.discord.messages if m.post is not None]
    assert [p.question.question_id for p in posts] == [qid(1), qid(2), qid(3)]
    assert [p.last for p in posts] == [False, False, True]  # the last question gets Complete, not Next
    assert [m.buttons for m in rig.discord.messages] == [False, False, True]
    done = await svc(rig).complete(press(), qid(3))
    assert done.kind is Kind.COMPLETED
    record = rig.record()
    assert record["completedAt"] == "2026-09-21T14:13:20.000Z"
    assert record["currentQuestion"] == 2
    assert record["answers"][qid(1)]["text"] == "answer 1"
    assert rig.renamer.asked == ["☑️"]
    assert rig.discord.completions == 1
    assert (await svc(rig).complete(press(), qid(3))).kind is Kind.ALREADY_COMPLETED
    assert rig.discord.completions == 1


@pytest.mark.asyncio
async def test_concurrent_nexts_post_one_question(rig: Rig) -> None:
    await svc(rig).start(press())
    results = await asyncio.gather(*(svc(rig).next(press(), qid(1)) for _ in range(5)))
    assert sorted(r.kind.value for r in results) == sorted([Kind.POSTED.value] + [Kind.STALE.value] * 4)
    assert len(rig.discord.posts_of(qid(2))) == 1


@pytest.mark.asyncio
async def test_a_crash_between_post_and_save_does_not_post_the_question_twice(rig: Rig) -> None:
    await svc(rig).start(press())
    rig.discord.crash_after_post = True
    with pytest.raises(Crash):
        await svc(rig).next(press(), qid(1))
    assert rig.record()["postingQuestion"] == {"questionId": qid(2)}  # the intent was durable first
    service = await rig.restart()
    resumed = await service.next(press(), qid(1))  # the applicant presses Next again after the restart
    assert (resumed.kind, resumed.number) == (Kind.POSTED, 2)
    assert len(rig.discord.posts_of(qid(2))) == 1  # found and adopted, not posted again
    assert rig.record()["currentQuestionId"] == qid(2)
    assert "postingQuestion" not in rig.record()


@pytest.mark.asyncio
async def test_a_crash_before_the_post_posts_it_once_on_the_next_press(rig: Rig) -> None:
    await svc(rig).start(press())
    rig.discord.crash_before_post = True
    with pytest.raises(Crash):
        await svc(rig).next(press(), qid(1))
    service = await rig.restart()
    assert (await service.start(press())).kind is Kind.POSTED
    assert len(rig.discord.posts_of(qid(2))) == 1


@pytest.mark.asyncio
async def test_only_the_applicant_or_an_admin_may_press(rig: Rig) -> None:
    assert (await svc(rig).start(press(OTHER))).kind is Kind.NOT_YOURS
    assert (await svc(rig).withdraw(press(OTHER))).kind is Kind.NOT_YOURS
    assert rig.discord.messages == []
    assert (await svc(rig).start(press(OTHER, admin=True))).kind is Kind.STARTED
    form = await svc(rig).answer_form(press(OTHER), qid(1))
    assert not isinstance(form, AnswerForm)
    assert form.kind is Kind.NOT_YOURS


@pytest.mark.asyncio
async def test_withdraw_and_resume_are_stored_and_block_the_questions_meanwhile(rig: Rig) -> None:
    await svc(rig).start(press())
    assert (await svc(rig).withdraw(press(message=WELCOME))).kind is Kind.WITHDRAWN
    assert rig.record()["withdrawnAt"]
    assert rig.discord.welcome_withdrawn is True
    assert (await svc(rig).withdraw(press(message=WELCOME))).kind is Kind.ALREADY_WITHDRAWN
    assert (await svc(rig).next(press(), qid(1))).kind is Kind.IS_WITHDRAWN
    assert (await svc(rig).save_answer(press(), qid(1), "x")).kind is Kind.IS_WITHDRAWN
    resumed = await svc(rig).resume(press(message=WELCOME))
    assert (resumed.kind, resumed.number) == (Kind.RESUMED, 1)
    assert "withdrawnAt" not in rig.record()
    assert rig.renamer.asked == ["✖️", "📝"]
    assert (await svc(rig).next(press(), qid(1))).kind is Kind.POSTED


@pytest.mark.asyncio
async def test_a_deleted_current_question_lets_next_go_on_and_a_deleted_last_one_offers_complete(rig: Rig) -> None:
    await svc(rig).start(press())
    await svc(rig).next(press(), qid(1))
    assert rig.document is not None
    questions = rig.document.doc["111"]["applicationConfigs"]["config_1781015852414_1"]["questions"]
    questions[:] = [q for q in questions if q["id"] != qid(2)]  # an admin deletes question 2 mid-way
    form = await svc(rig).answer_form(press(), qid(2))
    assert not isinstance(form, AnswerForm)
    assert form.kind is Kind.QUESTION_REMOVED
    moved = await svc(rig).next(press(), qid(2))
    assert (moved.kind, moved.number, moved.total) == (Kind.POSTED, 2, 2)
    questions[:] = [q for q in questions if q["id"] != qid(3)]
    assert (await svc(rig).complete(press(), qid(3))).kind is Kind.COMPLETED


@pytest.mark.asyncio
async def test_a_question_added_mid_way_is_posted_before_completion(rig: Rig) -> None:
    await svc(rig).start(press())
    await svc(rig).next(press(), qid(1))
    await svc(rig).next(press(), qid(2))
    assert rig.document is not None
    questions = rig.document.doc["111"]["applicationConfigs"]["config_1781015852414_1"]["questions"]
    questions.insert(3, plain(4))
    added = await svc(rig).complete(press(), qid(3))  # a stale Complete: one more question first
    assert (added.kind, added.number) == (Kind.POSTED, 4)
    assert "completedAt" not in rig.record()


@pytest.mark.asyncio
async def test_a_stale_button_on_an_old_message_gets_a_clear_answer_and_loses_its_buttons(rig: Rig) -> None:
    await svc(rig).start(press())
    first = rig.discord.messages[0]
    await svc(rig).next(press(), qid(1))
    first.buttons = True  # a copy that kept its buttons (say the removal failed)
    stale = await svc(rig).next(press(message=first.message_id), qid(1))
    assert (stale.kind, stale.number) == (Kind.STALE, 2)
    assert first.buttons is False
    assert len(rig.discord.messages) == 2


@pytest.mark.asyncio
async def test_cosmetic_failures_never_fail_the_step(rig: Rig) -> None:
    await svc(rig).start(press())
    rig.discord.fail_cosmetic = True
    assert (await svc(rig).save_answer(press(), qid(1), "kept")).kind is Kind.ANSWER_SAVED
    assert (await svc(rig).next(press(), qid(1))).kind is Kind.POSTED
    assert (await svc(rig).withdraw(press(message=WELCOME))).kind is Kind.WITHDRAWN
    assert rig.record()["answers"][qid(1)]["text"] == "kept"


@pytest.mark.asyncio
async def test_a_too_long_answer_is_refused_and_changes_nothing(rig: Rig) -> None:
    await svc(rig).start(press())
    assert (await svc(rig).save_answer(press(), qid(1), "x" * 1801)).kind is Kind.TOO_LONG
    assert "answers" not in rig.record()
