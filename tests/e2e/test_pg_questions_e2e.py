"""The application in its channel on PostgreSQL (``CASTBOT_STORE=postgres``), end to end: the real bot via
the emulator, its store a ``PostgresStore``; ``export`` gives back a CastBot file with the answers in it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from castbot_hikari.app import build_app
from castbot_hikari.core.permissions import BOT_REQUIRED, Permission
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.pg.transfer import export_document, import_document
from castbot_hikari.settings import Settings
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed
from tests.e2e.conftest import CONFIG_ID, castbot_data
from tests.e2e.test_questions_e2e import TIMEOUT, Season, buttons, shown, wait_name


@dataclass
class PgSeason(Season):
    """The same season on a PostgreSQL database (each start a new pool, as a new process would open)."""

    url: str = ""

    async def start_bot(self) -> None:
        settings = Settings(token=self.emu.bot_token, api_url=self.emu.rest_url, data_dir=self.data_dir)
        store = await PostgresStore.connect(self.url, owner=f"e2e-{len(self.apps)}", max_size=4)
        self.app = build_app(settings, store)
        self.apps.append(self.app)
        await self.app.bot.start(check_for_updates=False)
        await self.emu.wait_ready(timeout=20)

    async def exported(self) -> dict[str, Any]:
        """Return what ``castbot-hikari export`` would write."""
        assert self.app is not None
        assert isinstance(self.app.store, PostgresStore)
        async with self.app.store.pool.acquire() as conn:
            doc, _ = await export_document(conn)
        return doc


@pytest_asyncio.fixture
async def season(emu: DiscordEmulator, tmp_path: Any, pg_url: str) -> AsyncIterator[PgSeason]:
    guild = emu.add_guild(
        GuildSeed(
            name="ORG",
            categories=["Applications"],
            text_channels=["apply-here", "admin-log"],
            roles=["Production", "Admins"],
            role_permissions={"Admins": int(Permission.ADMINISTRATOR)},
            members=[("ann", "Ann"), ("bob", "Bob"), ("kevin_a", "Kevin A"), ("zoe", "Zoë")],
            member_roles={"ann": ["Admins"]},
            bot_permissions=int(BOT_REQUIRED),
        )
    )
    seeding = await PostgresStore.connect(pg_url, owner="seed", max_size=1)
    async with seeding.pool.acquire() as conn:
        await import_document(conn, castbot_data(guild, CONFIG_ID))
    await seeding.close()
    world = PgSeason(emu, guild, tmp_path, url=pg_url)
    await world.start_bot()
    try:
        yield world
    finally:
        await world.stop_bot()


@pytest.mark.asyncio
async def test_questions_answered_and_completed_on_postgres_and_exported(season: PgSeason) -> None:
    for title, text in (("Why you?", "Tell us why."), ("Strategy", "How do you play?")):
        await season.add_question(title, text)
    config = (await season.exported())[str(season.guild.id)]["applicationConfigs"][CONFIG_ID]
    ids = [q["id"] for q in config["questions"]]
    assert [(q["questionTitle"], q["order"]) for q in config["questions"]] == [("Why you?", 1), ("Strategy", 2)]
    channel = await season.apply()
    assert set(buttons(season.welcome(channel))) == {"Start", "Withdraw"}  # Start is offered on PostgreSQL too
    assert "question 1 of 2 is below" in await season.welcome_press(channel, "Start")
    assert "is saved" in await season.answer(channel, "I love ORGs")
    first = season.current(channel)
    nxt = buttons(first)["Next"]
    clicks = await asyncio.gather(*(season.emu.click_component(first, season.user("kevin_a"), nxt) for _ in range(3)))
    await asyncio.gather(*(c.wait_until(shown, timeout=TIMEOUT) for c in clicks))
    assert sum("On to question 2 of 2" in (c.content or "") for c in clicks) == 1  # three fast Nexts, one post
    assert len(season.question_messages(channel)) == 2
    assert buttons(season.question_messages(channel)[0]) == {}
    await season.stop_bot()  # a restart mid-way: the next process's pool reads where the applicant was
    await season.start_bot()
    assert "is saved" in await season.answer(channel, "Be nice, then win")
    assert "complete" in await season.next(channel, "Complete")
    await wait_name(season, channel, "☑️")
    record = (await season.exported())[str(season.guild.id)]["applications"][str(channel)]
    assert record["completedAt"].endswith("Z")
    assert [record["answers"][q]["text"] for q in ids] == ["I love ORGs", "Be nice, then win"]
    assert record["currentQuestion"] == 1
    assert record["currentQuestionId"] == ids[1]
    assert set(record["questionMessages"]) == set(ids)
    assert "postingQuestion" not in record
    assert record["statusPrefix"] == "☑️"
