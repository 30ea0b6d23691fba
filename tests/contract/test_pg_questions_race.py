"""Two processes (two ``PostgresStore``s, two pools, two in-process locks) press the same button at once.

Each process has its own ``KeyedSemaphores``, so only the database can make the second press lose. The
interleavings are forced with barriers and events (no sleeps): both processes read the record before
either changes it, or one is stuck in Discord's post while the other handles its press.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, MessageId
from castbot_hikari.core.locks import KeyedSemaphores
from castbot_hikari.pg.questions import PgQuestionStore
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.pg.transfer import export_document, import_document
from castbot_hikari.questions.model import Kind, Outcome, Press, Progress, QuestionPost
from castbot_hikari.questions.service import QuestionsService
from tests.apply.fakes import CONFIG, GUILD, USER, FakeClock, castbot_config
from tests.questions.fakes import FakeDiscord, FakeRenamer, plain, qid

CHANNEL = ChannelId(4343)
Q1_MESSAGE = MessageId(50)
BOUND_S = 20.0  # a hang fails the test instead of blocking the run


def seed(**record: object) -> dict[str, Any]:
    """One config with three questions; the application is on question 1 (posted as message 50)."""
    config = castbot_config(questions=[plain(1), plain(2), plain(3)])
    application = {
        "userId": str(USER),
        "channelId": str(CHANNEL),
        "configId": CONFIG,
        "displayName": "Kev",
        "currentQuestionId": qid(1),
        "currentQuestion": 0,
        "questionMessages": {qid(1): str(Q1_MESSAGE)},
        **record,
    }
    return {str(GUILD): {CONFIGS: {CONFIG: config}, APPLICATIONS: {str(CHANNEL): application}, "players": {}}}


class Gate:
    """Holds the first call of each process at a store step until both processes are there."""

    def __init__(self) -> None:
        self.barrier = asyncio.Barrier(2)

    async def wait(self, store: GatedStore) -> None:
        if not store.passed:
            store.passed = True
            await self.barrier.wait()


class GatedStore(PgQuestionStore):
    """A process's store whose first ``gated`` step waits for the other process's (both read before either writes)."""

    def __init__(self, pg: PostgresStore, gate: Gate, gated: str) -> None:
        super().__init__(pg.pool, owner=pg.owner, lease=pg.lease)
        self._gate = gate
        self._gated = gated
        self.passed = False

    async def mark_posting(self, progress: Progress, question_id: str) -> None:
        if self._gated == "mark_posting":
            await self._gate.wait(self)
        await super().mark_posting(progress, question_id)

    async def complete(self, progress: Progress, completed_at: str, prefix: str) -> None:
        if self._gated == "complete":
            await self._gate.wait(self)
        await super().complete(progress, completed_at, prefix)

    async def set_withdrawn(self, progress: Progress, withdrawn_at: str | None, prefix: str) -> None:
        if self._gated == "set_withdrawn":
            await self._gate.wait(self)
        await super().set_withdrawn(progress, withdrawn_at, prefix)


@dataclass
class SlowDiscord(FakeDiscord):
    """The channel both processes post in; ``hold`` keeps the first post inside Discord until released."""

    hold: bool = False
    fail_post: bool = False
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def post_question(self, channel_id: ChannelId, post: QuestionPost) -> MessageId:
        if self.fail_post:
            self.fail_post = False
            raise DiscordError(DiscordErrorKind.UNAVAILABLE, "down", status=503)
        if self.hold:
            self.hold = False
            self.entered.set()
            await self.release.wait()
        return await super().post_question(channel_id, post)


@dataclass
class Processes:
    """Two processes on one database and one Discord channel."""

    pgs: list[PostgresStore]
    discord: SlowDiscord
    renamer: FakeRenamer

    def services(self, gated: str = "") -> list[QuestionsService]:
        gate = Gate()
        return [
            QuestionsService(GatedStore(pg, gate, gated), self.discord, self.renamer, KeyedSemaphores(1), FakeClock())
            for pg in self.pgs
        ]

    async def record(self) -> dict[str, Any]:
        async with self.pgs[0].pool.acquire() as conn:
            doc, _ = await export_document(conn)
        return doc[str(GUILD)][APPLICATIONS][str(CHANNEL)]


@pytest_asyncio.fixture
async def processes(pg_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Processes]:
    record: dict[str, object] = getattr(request, "param", {})
    pgs = [await PostgresStore.connect(pg_url, owner=name, max_size=2) for name in ("process-a", "process-b")]
    async with pgs[0].pool.acquire() as conn:
        await import_document(conn, seed(**record))
    yield Processes(pgs, SlowDiscord(), FakeRenamer())
    for pg in pgs:
        await pg.close()


def press(message: MessageId | None = Q1_MESSAGE) -> Press:
    return Press(GUILD, CHANNEL, USER, False, message)


async def both(*calls: Coroutine[Any, Any, Outcome]) -> list[Outcome]:
    async with asyncio.timeout(BOUND_S):
        return list(await asyncio.gather(*calls))


@pytest.mark.asyncio
async def test_two_processes_pressing_next_at_once_post_one_question(processes: Processes) -> None:
    a, b = processes.services(gated="mark_posting")
    outcomes = await both(a.next(press(), qid(1)), b.next(press(), qid(1)))
    assert len(processes.discord.posts_of(qid(2))) == 1
    assert sorted(o.kind.value for o in outcomes) == sorted([Kind.POSTED.value, Kind.STALE.value])
    assert all(o.number == 2 for o in outcomes)  # the loser is pointed at question 2, like a double click
    record = await processes.record()
    assert record["currentQuestionId"] == qid(2)
    assert "postingQuestion" not in record


@pytest.mark.asyncio
async def test_a_next_while_another_process_is_posting_does_not_post_again(processes: Processes) -> None:
    a, b = processes.services()
    processes.discord.hold = True
    first = asyncio.create_task(a.next(press(), qid(1)))
    async with asyncio.timeout(BOUND_S):
        await processes.discord.entered.wait()  # process A recorded its intent and is inside Discord's post
        second = await b.next(press(), qid(1))
    assert processes.discord.posts_of(qid(2)) == []  # B did not post it behind A's back
    assert (second.kind, second.number) == (Kind.STALE, 2)
    processes.discord.release.set()
    async with asyncio.timeout(BOUND_S):
        assert (await first).kind is Kind.POSTED
    assert len(processes.discord.posts_of(qid(2))) == 1


@pytest.mark.asyncio
async def test_an_intent_left_by_a_dead_process_is_taken_over_once_its_lease_ran_out(processes: Processes) -> None:
    _, b = processes.services()
    dying = processes.pgs[0].questions  # process A records its intent to post question 2, then dies
    progress = await dying.progress(GUILD, CHANNEL)
    assert progress is not None
    await dying.mark_posting(progress, qid(2))
    assert (await b.next(press(), qid(1))).kind is Kind.STALE  # its lease runs: A may still be posting
    assert processes.discord.posts_of(qid(2)) == []
    async with processes.pgs[0].pool.acquire() as conn:  # the lease runs out (the database's clock decides)
        await conn.execute("UPDATE applies SET lease_until = now() - interval '1 second' WHERE state = 'recorded'")
    outcome = await b.next(press(), qid(1))
    assert (outcome.kind, outcome.number) == (Kind.POSTED, 2)
    assert len(processes.discord.posts_of(qid(2))) == 1
    assert (await processes.record())["currentQuestionId"] == qid(2)


ON_LAST = {"currentQuestionId": qid(3), "questionMessages": {qid(1): "50", qid(2): "51", qid(3): "52"}}


@pytest.mark.parametrize("processes", [ON_LAST], indirect=True)
@pytest.mark.asyncio
async def test_two_processes_completing_at_once_complete_once(processes: Processes) -> None:
    a, b = processes.services(gated="complete")
    outcomes = await both(a.complete(press(MessageId(52)), qid(3)), b.complete(press(MessageId(52)), qid(3)))
    assert sorted(o.kind.value for o in outcomes) == sorted([Kind.COMPLETED.value, Kind.ALREADY_COMPLETED.value])
    assert processes.discord.completions == 1
    assert processes.renamer.asked == ["☑️"]
    assert (await processes.record())["completedAt"]


@pytest.mark.asyncio
async def test_two_processes_withdrawing_at_once_withdraw_once(processes: Processes) -> None:
    a, b = processes.services(gated="set_withdrawn")
    outcomes = await both(a.withdraw(press(None)), b.withdraw(press(None)))
    assert sorted(o.kind.value for o in outcomes) == sorted([Kind.WITHDRAWN.value, Kind.ALREADY_WITHDRAWN.value])
    assert len(processes.renamer.asked) == 1
    assert (await processes.record())["withdrawnAt"]


@pytest.mark.asyncio
async def test_after_a_failed_post_another_process_posts_it_at_once(processes: Processes) -> None:
    a, b = processes.services()
    processes.discord.fail_post = True
    assert (await a.next(press(), qid(1))).kind is Kind.DISCORD_FAILED  # the intent stays, its lease is given back
    outcome = await b.next(press(), qid(1))  # the applicant tries again; another process gets the click
    assert (outcome.kind, outcome.number) == (Kind.POSTED, 2)
    assert len(processes.discord.posts_of(qid(2))) == 1
    record = await processes.record()
    assert record["currentQuestionId"] == qid(2)
    assert "postingQuestion" not in record


@pytest.mark.parametrize("processes", [{"withdrawnAt": "2026-09-22T00:00:00.000Z"}], indirect=True)
@pytest.mark.asyncio
async def test_two_processes_resuming_at_once_resume_once(processes: Processes) -> None:
    a, b = processes.services(gated="set_withdrawn")
    outcomes = await both(a.resume(press(None)), b.resume(press(None)))
    assert sorted(o.kind.value for o in outcomes) == sorted([Kind.RESUMED.value, Kind.NOT_WITHDRAWN.value])
    assert len(processes.renamer.asked) == 1
    assert "withdrawnAt" not in await processes.record()
