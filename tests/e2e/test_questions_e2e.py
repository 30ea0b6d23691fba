"""The application in its channel, end to end: the real bot (GatewayBot + lightbulb + extensions) via the emulator.

An admin sets questions with ``/apps questions`` (Add), an applicant clicks Apply, then Start, Answer, Next,
Complete, Withdraw and Resume in their channel; ``/apps applications`` lists them and attaches the answers.
Every test asserts what people see (messages, buttons, ephemeral lines), what Discord holds (channel names)
and what the data file holds.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
import pytest_asyncio

from castbot_hikari.app import App, build_app
from castbot_hikari.apply import custom_ids as apply_ids
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.core.ids import ChannelId, ConfigId
from castbot_hikari.core.permissions import BOT_REQUIRED, Permission
from castbot_hikari.settings import Settings
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Interaction, MessageState
from tests.e2e.conftest import CONFIG_ID, castbot_data

TIMEOUT = 15.0


def shown(inter: Interaction) -> bool:
    """Whether the presser sees the bot's answer (an ephemeral line, not "thinking…")."""
    return (inter.ack_type == 4) or (inter.content is not None and not inter.loading)


def buttons(message: MessageState) -> dict[str, str]:
    """Return the message's buttons, label -> custom id."""
    found: dict[str, str] = {}
    for row in message.components:
        components = cast("list[dict[str, Any]]", row.get("components") or [])
        for component in components:
            if component.get("type") == 2 and component.get("custom_id"):
                found[str(component.get("label"))] = str(component["custom_id"])
    return found


@dataclass
class Season:
    """A server with an admin (ann), a member (bob) and applicants; the bot can be restarted on its data."""

    emu: DiscordEmulator
    guild: Any
    data_dir: Path
    app: App | None = None
    apps: list[App] = field(default_factory=list[App])

    def user(self, name: str) -> int:
        return int(self.guild.members[name])

    def data(self) -> dict[str, Any]:
        assert self.app is not None
        return self.app.repository.document.doc

    def config(self) -> dict[str, Any]:
        return self.data()[str(self.guild.id)]["applicationConfigs"][CONFIG_ID]

    def record(self, channel_id: int) -> dict[str, Any]:
        return self.data()[str(self.guild.id)]["applications"][str(channel_id)]

    def messages(self, channel_id: int) -> list[MessageState]:
        return list(self.emu.state.messages.get(channel_id, []))

    def question_messages(self, channel_id: int) -> list[MessageState]:
        return [m for m in self.messages(channel_id) if m.content.startswith("**Question ")]

    async def start_bot(self) -> None:
        settings = Settings(token=self.emu.bot_token, api_url=self.emu.rest_url, data_dir=self.data_dir)
        self.app = build_app(settings, JsonApplicationRepository.open(self.data_dir, fsync=False))
        self.apps.append(self.app)
        await self.app.bot.start(check_for_updates=False)
        await self.emu.wait_ready(timeout=20)

    async def stop_bot(self) -> None:
        if self.app is not None and self.app.bot.is_alive:
            await self.app.bot.close()

    async def command(self, subcommand: str, user: str = "ann", **options: object) -> Interaction:
        inter = await self.emu.slash_command(
            self.guild.id, self.user(user), "apps", subcommand=subcommand, options=options
        )
        await inter.wait_until(shown, timeout=TIMEOUT)
        return inter

    async def press(self, target: MessageState | Interaction, custom_id: str, user: str = "kevin_a") -> Interaction:
        inter = await self.emu.click_component(target, self.user(user), custom_id)
        await inter.wait_until(lambda i: shown(i) or i.ack_type in (6, 9), timeout=TIMEOUT)
        return inter

    async def editor(self) -> Interaction:
        return await self.command("questions", config=CONFIG_ID)

    async def add_question(self, title: str, text: str) -> MessageState:
        """``/apps questions``, Add, fill in the modal; return the editor screen shown after."""
        screen = await self.editor()
        message = self.emu.visible_message(screen)
        assert message is not None
        add = await self.press(message, buttons(message)["Add"], user="ann")
        assert add.ack_type == 9
        submit = await self.emu.submit_modal(add, {"title": title, "text": text})
        await submit.wait_until(shown, timeout=TIMEOUT)
        after = self.emu.visible_message(submit)
        assert after is not None
        return after

    async def apply(self, user: str = "kevin_a") -> int:
        """Click Apply; return the new application channel's id."""
        inter = await self.emu.click(
            self.guild.id,
            self.user(user),
            apply_ids.apply_button(ConfigId(CONFIG_ID)),
            channel_id=self.channel("apply-here"),
        )
        await inter.wait_until(lambda i: shown(i) and not (i.content or "").startswith("Creating"), timeout=TIMEOUT)
        assert (inter.content or "").startswith("✅"), inter.content
        return int((inter.content or "").rsplit("<#", 1)[1].rstrip(">"))

    def channel(self, name: str) -> int:
        return int(self.guild.text_channels.get(name) or self.guild.categories[name])

    def welcome(self, channel_id: int) -> MessageState:
        return self.messages(channel_id)[0]

    async def welcome_press(self, channel_id: int, label: str, user: str = "kevin_a") -> str:
        inter = await self.press(self.welcome(channel_id), buttons(self.welcome(channel_id))[label], user)
        return inter.content or ""

    def current(self, channel_id: int) -> MessageState:
        return self.question_messages(channel_id)[-1]

    async def answer(self, channel_id: int, text: str, user: str = "kevin_a") -> str:
        message = self.current(channel_id)
        click = await self.press(message, buttons(message)["Answer"], user)
        assert click.ack_type == 9, click.content
        submit = await self.emu.submit_modal(click, {"answer": text})
        await submit.wait_until(shown, timeout=TIMEOUT)
        return submit.content or ""

    async def next(self, channel_id: int, label: str = "Next", user: str = "kevin_a") -> str:
        message = self.current(channel_id)
        return (await self.press(message, buttons(message)[label], user)).content or ""


@pytest_asyncio.fixture
async def season(emu: DiscordEmulator, tmp_path: Path) -> AsyncIterator[Season]:
    guild = emu.add_guild(
        GuildSeed(
            name="ORG",
            categories=["Applications"],
            text_channels=["apply-here", "admin-log"],
            roles=["Production", "Admins"],
            # An admin who can see private application channels (Manage Server alone cannot see them).
            role_permissions={"Admins": int(Permission.ADMINISTRATOR)},
            members=[("ann", "Ann"), ("bob", "Bob"), ("kevin_a", "Kevin A"), ("zoe", "Zoë")],
            member_roles={"ann": ["Admins"]},
            bot_permissions=int(BOT_REQUIRED),
        )
    )
    (tmp_path / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))
    world = Season(emu, guild, tmp_path)
    await world.start_bot()
    try:
        yield world
    finally:
        await world.stop_bot()


async def three_questions(season: Season) -> list[str]:
    for title, text in (("Why you?", "Tell us why."), ("Strategy", "How do you play?"), ("Fun fact", "One fact.")):
        await season.add_question(title, text)
    return [q["id"] for q in season.config()["questions"]]


async def wait_name(season: Season, channel_id: int, prefix: str) -> None:
    """Wait (bounded) for the rename queue, which runs beside the step that asked for it."""
    for _ in range(500):
        if season.emu.state.channels[channel_id].name.startswith(prefix):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"channel name is {season.emu.state.channels[channel_id].name!r}, wanted prefix {prefix}")


@pytest.mark.asyncio
async def test_three_questions_answered_and_completed(season: Season) -> None:
    ids = await three_questions(season)
    stored = season.config()["questions"]
    assert [(q["questionTitle"], q["order"], q["questionStyle"]) for q in stored] == [
        ("Why you?", 1, 2),
        ("Strategy", 2, 2),
        ("Fun fact", 3, 2),
    ]
    assert all(q["id"].startswith("question_") and len(q["id"]) == 25 for q in stored)
    channel = await season.apply()
    assert set(buttons(season.welcome(channel))) == {"Start", "Withdraw"}
    assert "question 1 of 3 is below" in await season.welcome_press(channel, "Start")
    for number, answer in enumerate(("I love ORGs", "Be nice, then win", "I have 3 cats"), start=1):
        first = season.current(channel)
        assert first.content.startswith(f"**Question {number} of 3**")
        assert first.embeds[0]["title"] == stored[number - 1]["questionTitle"]
        assert "is saved" in await season.answer(channel, answer)
        assert answer in season.current(channel).content  # shown back in the channel
        if number < 3:
            assert f"question {number + 1} of 3" in await season.next(channel)
            assert buttons(season.question_messages(channel)[number - 1]) == {}  # the old one lost its buttons
    assert "Next" not in buttons(season.current(channel))
    # The answer stays editable until completion.
    assert "is saved" in await season.answer(channel, "I have 4 cats")
    assert "complete" in await season.next(channel, "Complete")
    record = season.record(channel)
    assert record["completedAt"].endswith("Z")
    assert [record["answers"][q]["text"] for q in ids] == ["I love ORGs", "Be nice, then win", "I have 4 cats"]
    assert record["currentQuestion"] == 2
    assert buttons(season.current(channel)) == {}
    assert season.messages(channel)[-1].content.startswith("✅ **Application complete!**")
    await wait_name(season, channel, "☑️")
    assert season.emu.state.channels[channel].name == "☑️kevina-app"
    # After completion nothing reopens it: a second Complete or Start says so.
    assert "already complete" in await season.welcome_press(channel, "Start")


@pytest.mark.asyncio
async def test_double_clicks_on_next_post_one_question(season: Season) -> None:
    await three_questions(season)
    channel = await season.apply()
    await season.welcome_press(channel, "Start")
    await season.welcome_press(channel, "Start")  # a second Start posts nothing either
    assert len(season.question_messages(channel)) == 1
    message = season.current(channel)
    nxt = buttons(message)["Next"]
    clicks = await asyncio.gather(*(season.emu.click_component(message, season.user("kevin_a"), nxt) for _ in range(3)))
    await asyncio.gather(*(c.wait_until(shown, timeout=TIMEOUT) for c in clicks))
    assert len(season.question_messages(channel)) == 2
    lines = sorted(c.content or "" for c in clicks)
    assert sum("On to question 2 of 3" in line for line in lines) == 1
    assert all(not c.failed for c in clicks)
    for click in clicks:  # each press is deferred first (privately), and the result replaces "thinking…"
        assert (click.ack_type, click.ephemeral) == (5, True)
        kinds = [kind for _, kind, _ in click.timeline]
        assert kinds.index("acked") < kinds.index("original_edited")
    assert season.record(channel)["currentQuestion"] == 1


@pytest.mark.asyncio
async def test_withdraw_and_resume(season: Season) -> None:
    await three_questions(season)
    channel = await season.apply()
    await season.welcome_press(channel, "Start")
    assert "withdrawn" in await season.welcome_press(channel, "Withdraw")
    assert "withdrawnAt" in season.record(channel)
    assert set(buttons(season.welcome(channel))) == {"Resume"}
    await wait_name(season, channel, "✖️")
    refused = await season.press(season.current(channel), buttons(season.current(channel))["Next"])
    assert "withdrawn" in (refused.content or "")
    assert len(season.question_messages(channel)) == 1
    assert "question 1 of 3" in await season.welcome_press(channel, "Resume")
    assert "withdrawnAt" not in season.record(channel)
    assert set(buttons(season.welcome(channel))) == {"Start", "Withdraw"}
    await wait_name(season, channel, "📝")
    assert "question 2 of 3" in await season.next(channel)


@pytest.mark.asyncio
async def test_a_third_rename_within_ten_minutes_is_queued_and_never_fails_the_step(season: Season) -> None:
    await three_questions(season)
    channel = await season.apply()
    await season.welcome_press(channel, "Withdraw")
    await wait_name(season, channel, "✖️")
    await season.welcome_press(channel, "Resume")
    await wait_name(season, channel, "📝")
    assert "withdrawn" in await season.welcome_press(channel, "Withdraw")  # the step succeeds at once
    assert season.record(channel)["withdrawnAt"]
    assert season.app is not None
    assert season.app.questions is not None
    assert season.app.questions.renames.pending(ChannelId(channel)) == "✖️"  # waits for Discord's window
    patches = [r for r in season.emu.requests if r.method == "PATCH" and r.path == f"/channels/{channel}"]
    assert [r.status for r in patches] == [200, 200]  # no 429: the queue never asks too early


@pytest.mark.asyncio
async def test_a_question_deleted_mid_way_is_skipped_and_a_stale_next_finishes_gracefully(season: Season) -> None:
    ids = await three_questions(season)
    channel = await season.apply()
    await season.welcome_press(channel, "Start")
    first = season.current(channel)
    stale_next = buttons(first)["Next"]
    await season.next(channel)
    # The admin deletes question 2, the one the applicant is on, and question 3 stays.
    screen = await season.editor()
    message = season.emu.visible_message(screen)
    assert message is not None
    pick = next(c["custom_id"] for row in message.components for c in row["components"] if c["type"] == 3)
    picked = await season.emu.select(message, season.user("ann"), pick, values=[ids[1]])
    await picked.wait_until(lambda i: "original_edited" in [k for _, k, _ in i.timeline], timeout=TIMEOUT)
    editor = season.emu.visible_message(picked)
    assert editor is not None
    deleted = await season.press(editor, buttons(editor)["Delete"], user="ann")
    await deleted.wait_until(lambda i: "deleted" in (season.emu.visible_message(i) or editor).content, timeout=TIMEOUT)
    assert [q["id"] for q in season.config()["questions"]] == [ids[0], ids[2]]
    # An old Next (kept on a copy of question 1's message) is stale: a clear line, nothing posted.
    stale = await season.emu.click(season.guild.id, season.user("kevin_a"), stale_next, channel_id=channel)
    await stale.wait_until(shown, timeout=TIMEOUT)
    assert "no longer the current one" in (stale.content or "")
    # Answer on the deleted question says so; Next goes on with the question that is left.
    gone = await season.press(season.current(channel), buttons(season.current(channel))["Answer"])
    assert "was removed" in (gone.content or "")
    assert "question 2 of 2" in await season.next(channel)
    assert season.current(channel).embeds[0]["title"] == "Fun fact"
    assert "Complete" in buttons(season.current(channel))
    assert "complete" in await season.next(channel, "Complete")


@pytest.mark.asyncio
async def test_applications_lists_states_and_exports_the_answers(season: Season) -> None:
    ids = await three_questions(season)
    kevin, zoe = await season.apply("kevin_a"), await season.apply("zoe")
    await season.welcome_press(kevin, "Start")
    await season.answer(kevin, "=1+1 is two")
    await season.next(kevin)
    listing = await season.command("applications", config=CONFIG_ID)
    assert f"<#{kevin}>" in (listing.content or "")
    assert f"<#{zoe}>" in (listing.content or "")
    assert "on question 2 of 3" in (listing.content or "")
    assert "not started" in (listing.content or "")
    message = season.emu.visible_message(listing)
    assert message is not None
    (attachment,) = message.attachments
    assert attachment["filename"] == "answers.csv"
    table = list(csv.reader(io.StringIO(message.files["answers.csv"].decode("utf-8-sig"))))
    assert table[0][-3:] == ["Why you?", "Strategy", "Fun fact"]
    rows = {row[0]: row for row in table[1:]}
    assert rows[str(season.user("kevin_a"))][-3] == "'=1+1 is two"  # never run as a formula
    assert rows[str(season.user("zoe"))][3] == "not started"
    only = await season.command("applications", config=CONFIG_ID, status="not started")
    assert f"<#{zoe}>" in (only.content or "")
    assert f"<#{kevin}>" not in (only.content or "")
    assert len(ids) == 3


@pytest.mark.asyncio
async def test_a_restart_in_the_middle_resumes_where_the_applicant_was(season: Season) -> None:
    await three_questions(season)
    channel = await season.apply()
    await season.welcome_press(channel, "Start")
    await season.answer(channel, "before the restart")
    await season.next(channel)
    await season.stop_bot()
    await season.start_bot()  # a new bot process on the same data folder
    assert season.current(channel).content.startswith("**Question 2 of 3**")
    assert "is saved" in await season.answer(channel, "after the restart")
    assert "question 3 of 3" in await season.next(channel)
    assert len(season.question_messages(channel)) == 3
    answers = season.record(channel)["answers"]
    assert sorted(a["text"] for a in answers.values()) == ["after the restart", "before the restart"]


@pytest.mark.asyncio
async def test_only_the_applicant_or_an_admin_can_press(season: Season) -> None:
    await three_questions(season)
    channel = await season.apply()
    for label in ("Start", "Withdraw"):
        assert "Only the applicant" in await season.welcome_press(channel, label, user="bob")
    assert season.question_messages(channel) == []
    assert "withdrawnAt" not in season.record(channel)
    await season.welcome_press(channel, "Start")
    answer = await season.press(season.current(channel), buttons(season.current(channel))["Answer"], user="bob")
    assert answer.ack_type == 4
    assert "Only the applicant" in (answer.content or "")
    assert "Only the applicant" in await season.next(channel, user="bob")
    assert len(season.question_messages(channel)) == 1
    assert "question 2 of 3" in await season.next(channel, user="ann")  # an admin may help
    # /apps questions and /apps applications are for admins only, checked server-side.
    refused = await season.emu.slash_command(
        season.guild.id,
        season.user("bob"),
        "apps",
        subcommand="applications",
        options={"config": CONFIG_ID},
        ignore_default_permissions=True,
    )
    await refused.wait_until(shown, timeout=TIMEOUT)
    assert "Manage Server" in (refused.content or ""), refused.content
    # A replayed editor button (Delete question 1) does nothing for a member either.
    first = season.config()["questions"][0]["id"]
    replay = await season.emu.click(
        season.guild.id, season.user("bob"), f"cbq:a-del:{first}:{CONFIG_ID}", channel_id=season.channel("apply-here")
    )
    await replay.wait_until(shown, timeout=TIMEOUT)
    assert "Manage Server" in (replay.content or ""), replay.content
    assert season.config()["questions"][0]["id"] == first


class ShiftedClock:
    """The emulator's monotonic clock, which a test can move forward (Discord's rename window is 10 minutes)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@pytest.mark.asyncio
async def test_a_rename_still_queued_when_the_bot_stops_is_sent_after_the_restart(tmp_path: Path) -> None:
    clock = ShiftedClock()
    async with DiscordEmulator(validate=True, seed=1, clock=clock) as emu:
        guild = emu.add_guild(
            GuildSeed(
                name="ORG",
                categories=["Applications"],
                text_channels=["apply-here"],
                roles=["Production"],
                members=[("kevin_a", "Kevin A")],
                bot_permissions=int(BOT_REQUIRED),
            )
        )
        (tmp_path / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))
        season = Season(emu, guild, tmp_path)
        await season.start_bot()
        try:
            channel = await season.apply()
            await season.welcome_press(channel, "Withdraw")
            await wait_name(season, channel, "✖️")
            await season.welcome_press(channel, "Resume")
            await wait_name(season, channel, "📝")
            await season.welcome_press(channel, "Withdraw")  # the third rename waits for the window
            assert season.record(channel)["statusPrefix"] == "✖️"
            await season.stop_bot()  # ... and the process stops before it is sent
            assert emu.state.channels[channel].name.startswith("📝")
            clock.offset += 601.0
            await season.start_bot()
            await wait_name(season, channel, "✖️")
            assert emu.state.channels[channel].name == "✖️kevina-app"
            patches = [r.status for r in emu.requests if r.method == "PATCH" and r.path == f"/channels/{channel}"]
            assert patches == [200, 200, 200]
        finally:
            await season.stop_bot()
        assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_the_editor_edits_moves_duplicates_previews_and_sets_the_completion_message(season: Season) -> None:
    ids = await three_questions(season)
    ann = season.user("ann")

    async def pick(question_id: str) -> MessageState:
        screen = season.emu.visible_message(await season.editor())
        assert screen is not None
        menu = next(c["custom_id"] for row in screen.components for c in row["components"] if c["type"] == 3)
        picked = await season.emu.select(screen, ann, menu, values=[question_id])
        await picked.wait_until(lambda i: "original_edited" in [k for _, k, _ in i.timeline], timeout=TIMEOUT)
        shown_now = season.emu.visible_message(picked)
        assert shown_now is not None
        return shown_now

    async def press_and_wait(message: MessageState, label: str) -> MessageState:
        inter = await season.press(message, buttons(message)[label], user="ann")
        await inter.wait_until(lambda i: "original_edited" in [k for _, k, _ in i.timeline], timeout=TIMEOUT)
        after = season.emu.visible_message(inter)
        assert after is not None
        return after

    editor = await pick(ids[0])
    edit = await season.press(editor, buttons(editor)["Edit"], user="ann")
    assert edit.ack_type == 9
    assert edit.modal is not None
    prefilled = [c.get("value") for row in edit.modal["components"] for c in row["components"]]
    assert prefilled[:2] == ["Why you?", "Tell us why."]
    submit = await season.emu.submit_modal(edit, {"title": "Why you, really?", "image": "https://example.com/a.png"})
    await submit.wait_until(shown, timeout=TIMEOUT)
    assert "Question saved" in (submit.content or "")
    moved = await press_and_wait(await pick(ids[0]), "Move down")
    assert "Question moved" in moved.content
    assert [q["id"] for q in season.config()["questions"]] == [ids[1], ids[0], ids[2]]
    duplicated = await press_and_wait(await pick(ids[2]), "Duplicate")
    assert "duplicated" in duplicated.content
    stored = season.config()["questions"]
    assert [q["questionTitle"] for q in stored] == ["Strategy", "Why you, really?", "Fun fact", "Fun fact"]
    assert stored[1]["imageURL"] == "https://example.com/a.png"
    assert len({q["id"] for q in stored}) == 4
    preview = await season.press(await pick(ids[0]), buttons(await pick(ids[0]))["Preview"], user="ann")
    await preview.wait_until(shown, timeout=TIMEOUT)
    assert (preview.content or "").startswith("Preview: **Question 2 of 4**")
    closing = await season.press(editor, buttons(editor)["Completion message"], user="ann")
    assert closing.ack_type == 9
    done = await season.emu.submit_modal(closing, {"text": "Thanks! Results on Friday."})
    await done.wait_until(shown, timeout=TIMEOUT)
    assert "Completion message saved" in (done.content or "")
    last = season.config()["questions"][-1]
    assert (last["questionType"], last["questionText"], last["order"]) == (
        "completion",
        "Thanks! Results on Friday.",
        5,
    )
    # The applicant sees the new completion message after Complete.
    channel = await season.apply()
    await season.welcome_press(channel, "Start")
    for _ in range(3):
        await season.next(channel)
    await season.next(channel, "Complete")
    final = season.messages(channel)[-1]
    assert final.embeds[0]["description"] == "Thanks! Results on Friday."
