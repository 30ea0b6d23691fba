"""Clicks several processes receive (two sessions of one shard): a process stopping while it watches another's
claim never handles that click itself, even when its store closes under the watch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from castbot_hikari.apply.alerts import Alerts
from castbot_hikari.apply.model import Click, OutcomeKind, Rejection
from castbot_hikari.apply.service import ApplicationService
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import APPLICATIONS, CONFIGS
from castbot_hikari.core.errors import StorageError
from tests.apply.fakes import (
    CONFIG,
    GUILD,
    KEY,
    FakeClock,
    FakeDiscordOps,
    FakeResponder,
    applicant,
    castbot_config,
    make_stack,
)
from tests.conftest import write_player_data


class ClaimedElsewhere:
    """Another live process holds every claim; once ``closed``, every call fails as a closed pool does."""

    renew_every_s = 0.0

    def __init__(self) -> None:
        self.closed = False
        self.polls = 0
        self.polled = asyncio.Event()

    def _check(self) -> None:
        if self.closed:
            raise StorageError("PostgreSQL: could not read an interaction claim: InterfaceError: pool is closed")

    async def claim(self, interaction_id: int, *, owner: str) -> bool:
        del interaction_id, owner
        self._check()
        return False

    async def renew_claim(self, interaction_id: int, *, owner: str) -> None:
        del interaction_id, owner
        self._check()

    async def finish_claim(self, interaction_id: int, *, owner: str) -> None:
        del interaction_id, owner
        self._check()

    async def claim_done(self, interaction_id: int) -> bool:
        del interaction_id
        self.polls += 1
        self.polled.set()
        self._check()
        return False


@pytest.mark.asyncio
async def test_a_stopping_process_never_takes_over_a_click_it_was_watching(tmp_path: Path) -> None:
    write_player_data(tmp_path, {str(GUILD): {CONFIGS: {CONFIG: castbot_config()}, APPLICATIONS: {}}})
    repo = JsonApplicationRepository.open(tmp_path, fsync=False)
    discord = FakeDiscordOps()
    clock = FakeClock()
    stack = make_stack(repo, discord, clock=clock)
    claims = ClaimedElsewhere()
    service = ApplicationService(
        stack.timeline, alerts=Alerts(repo, None, clock), metrics=stack.metrics, clock=clock, claims=claims
    )
    try:
        async with asyncio.timeout(10):
            watching = asyncio.create_task(
                service.handle_click(Click(KEY, applicant(), clock.monotonic(), 1.0, interaction_id=7), FakeResponder())
            )
            await claims.polled.wait()  # it watches the other process's claim
            assert await service.drain(1.0)  # this process stops: nothing of its own runs
            claims.closed = True  # then its store closes under the watcher
            outcome = await watching
        assert (outcome.kind, outcome.rejection) == (OutcomeKind.REJECTED, Rejection.IN_PROGRESS)
        assert discord.channels == {}  # it did not apply the click itself
    finally:
        await repo.close()
