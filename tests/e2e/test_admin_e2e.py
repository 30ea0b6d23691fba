"""/apps end to end: the real bot (GatewayBot + lightbulb + extensions) driven as an admin would, via the emulator.

Each test: slash command -> modal submit -> selects -> buttons, then asserts what the admin saw, what
Discord holds (the posted card) and what the data file holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import lightbulb
import orjson
import pytest
import pytest_asyncio

from castbot_hikari.admin.service import AdminService
from castbot_hikari.app import App, build_app
from castbot_hikari.apply import custom_ids
from castbot_hikari.apply.model import Applicant, ApplyKey, Won
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.core.ids import ConfigId, GuildId, UserId
from castbot_hikari.core.permissions import BOT_REQUIRED, Permission
from castbot_hikari.settings import Settings
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Interaction, MessageState

TIMEOUT = 15.0
FOREIGN_GUILD = "123456789012345678"
FOREIGN_CONFIG = "config_1781015852414_9"
T = TypeVar("T")


def kinds(inter: Interaction) -> list[str]:
    return [kind for _, kind, _ in inter.timeline]


def answered(inter: Interaction) -> bool:
    """Whether the user sees the bot's answer: a message (not loading) or an edit of the clicked message."""
    if inter.ack_type == 4:
        return True
    if inter.ack_type == 5:
        return not inter.loading and inter.content is not None
    return "original_edited" in kinds(inter)


@dataclass
class Admins:
    """A server with an admin (ann, Manage Server), a member (bob), applicants, and the running bot."""

    emu: DiscordEmulator
    app: App
    guild: Any

    def user(self, name: str) -> int:
        return int(self.guild.members[name])

    def channel(self, name: str) -> int:
        return int(self.guild.text_channels.get(name) or self.guild.categories[name])

    def data(self) -> dict[str, Any]:
        return self.app.repository.document.doc

    def configs(self) -> dict[str, Any]:
        return self.data().get(str(self.guild.id), {}).get("applicationConfigs", {})

    async def command(
        self, subcommand: str, user: str = "ann", *, forced: bool = False, options: Mapping[str, object] | None = None
    ) -> Interaction:
        """Run ``/apps <subcommand>``; ``forced`` lets a member without Manage Server use it anyway."""
        return await self.emu.slash_command(
            self.guild.id,
            self.user(user),
            "apps",
            subcommand=subcommand,
            options=options or {},
            ignore_default_permissions=forced,
        )

    async def reply(self, subcommand: str, user: str = "ann", **options: object) -> str:
        """Run ``/apps <subcommand>`` and return what the admin reads."""
        inter = await self.command(subcommand, user, options=options)
        await inter.wait_until(answered, timeout=TIMEOUT)
        return inter.content or ""

    async def step(self, make: Interaction) -> MessageState:
        """Wait for a component's answer and return the message the admin sees now."""
        await make.wait_until(answered, timeout=TIMEOUT)
        shown = self.emu.visible_message(make)
        assert shown is not None
        return shown

    async def choose(self, setup: Interaction, part: str, value: str | int) -> MessageState:
        """Pick ``value`` in a setup select as ann; return the redrawn setup message."""
        custom_id = setup_id(setup, self, part)
        return await self.step(await self.emu.select(setup, self.user("ann"), custom_id, values=[value]))

    async def press(self, setup: Interaction, part: str) -> MessageState:
        """Press a setup button as ann; return the message shown after."""
        return await self.step(await self.emu.click_component(setup, self.user("ann"), setup_id(setup, self, part)))

    async def injected(self, cls: type[T]) -> T:
        """Return a service the bot uses (to play a restart or an expiry)."""
        async with self.app.client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
            return await container.get(cls)

    async def open_setup(self, title: str = "Season 15", **values: str) -> Interaction:
        """``/apps post`` and submit the modal; return the submit interaction showing the setup message."""
        post = await self.command("post")
        await post.wait_acked(timeout=TIMEOUT)
        assert post.ack_type == 9
        assert post.modal is not None
        submit = await self.emu.submit_modal(post, {"title": title, "description": "Sign-ups close Friday.", **values})
        await submit.wait_until(answered, timeout=TIMEOUT)
        return submit

    async def post(self, title: str = "Season 15") -> tuple[str, MessageState]:
        """Post a card in #apply-here (category Applications, Success, Production); return config id and card."""
        setup = await self.open_setup(title)
        ann = self.user("ann")
        await self.step(
            await self.emu.select(setup, ann, setup_id(setup, self, "channel"), values=[self.channel("apply-here")])
        )
        await self.step(
            await self.emu.select(
                setup, ann, setup_id(setup, self, "category"), values=[str(self.channel("Applications"))]
            )
        )
        await self.step(await self.emu.select(setup, ann, setup_id(setup, self, "style"), values=["Success"]))
        await self.step(
            await self.emu.select(setup, ann, setup_id(setup, self, "role"), values=[self.guild.roles["Production"]])
        )
        done = await self.step(await self.emu.click_component(setup, ann, setup_id(setup, self, "post")))
        assert done.content.startswith(f"✅ Posted **{title}**"), done.content
        config_id = next(cid for cid, raw in self.configs().items() if raw.get("buttonText") == title)
        card = self.emu.state.messages[self.channel("apply-here")][-1]
        return config_id, card

    async def apply(self, user: str, config_id: str, card: MessageState | None = None) -> str:
        """Click Apply as ``user`` (on the card, or through the API) and return the final message."""
        inter = await self.emu.click(
            self.guild.id,
            self.user(user),
            custom_ids.apply_button(ConfigId(config_id)),
            channel_id=self.channel("apply-here"),
            message_id=card.id if card else None,
        )
        await inter.wait_until(
            lambda i: i.content is not None and not i.loading and not i.content.startswith("Creating"), timeout=TIMEOUT
        )
        return inter.content or ""


def setup_id(inter: Interaction, world: Admins, part: str) -> str:
    """Return the custom id of a setup message's component (the setup id is random)."""
    shown = world.emu.visible_message(inter)
    assert shown is not None
    found = [c for c in _walk(shown.components) if str(c.get("custom_id", "")).endswith(f":{part}")]
    assert found, f"no {part} component in {shown.components}"
    return str(found[0]["custom_id"])


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for component in components:
        out.append(component)
        out.extend(_walk(component.get("components") or []))
    return out


@pytest_asyncio.fixture
async def admins(emu: DiscordEmulator, tmp_path: Path) -> AsyncIterator[Admins]:
    guild = emu.add_guild(
        GuildSeed(
            name="ORG",
            categories=["Applications", "Season 13"],
            text_channels=["apply-here", "admin-log", "staff"],
            roles=["Production", "Admins"],
            role_permissions={"Admins": int(Permission.MANAGE_GUILD)},
            members=[("ann", "Ann"), ("bob", "Bob"), ("kevin_a", "Kevin A"), ("zoe", "Zoë"), ("u1", "User 1")],
            member_roles={"ann": ["Admins"]},
            bot_permissions=int(BOT_REQUIRED),
        )
    )
    data = {FOREIGN_GUILD: {"applicationConfigs": {FOREIGN_CONFIG: {"buttonText": "Elsewhere", "stage": "active"}}}}
    (tmp_path / DATA_FILE).write_bytes(orjson.dumps(data))
    settings = Settings(token=emu.bot_token, api_url=emu.rest_url, data_dir=tmp_path)
    app = build_app(settings, JsonApplicationRepository.open(tmp_path, fsync=False))
    await app.bot.start(check_for_updates=False)
    try:
        await emu.wait_ready(timeout=20)
        yield Admins(emu, app, guild)
    finally:
        if app.bot.is_alive:
            await app.bot.close()


def button(card: MessageState, config_id: str) -> dict[str, Any]:
    found = card.find_component(custom_ids.apply_button(ConfigId(config_id)))
    assert found is not None
    return found


# ---- /apps post ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_post_modal_selects_post_then_an_applicant_applies_on_the_card(admins: Admins) -> None:
    setup = await admins.open_setup()
    shown = admins.emu.visible_message(setup)
    assert shown is not None
    assert setup.ephemeral
    assert "**Post an Apply button**" in shown.content
    assert "`📝%name%-app` (e.g. `📝kevina-app`)" in shown.content  # the format kept its default
    post_id = setup_id(setup, admins, "post")
    assert shown.is_disabled(post_id)  # until channel, category and style are chosen
    category = shown.find_component(setup_id(setup, admins, "category"))
    assert category is not None
    assert [(o["label"], o["description"]) for o in category["options"]] == [
        ("Applications", "0/50 channels used"),
        ("Season 13", "0/50 channels used"),
    ]

    config_id, card = await admins.post()
    assert card.embeds[0]["title"] == "Season 15"
    assert card.embeds[0]["description"] == "Sign-ups close Friday."
    apply = button(card, config_id)
    assert (apply["label"], apply["style"], apply.get("disabled", False)) == ("📝 Open Application", 3, False)
    ann = admins.user("ann")
    assert config_id.startswith("config_")
    assert config_id.endswith(f"_{ann}")
    raw = admins.configs()[config_id]
    assert raw["postedChannelId"] == str(admins.channel("apply-here"))
    assert raw["postedMessageId"] == str(card.id)
    assert (raw["categoryId"], raw["productionRole"]) == (
        str(admins.channel("Applications")),
        str(admins.guild.roles["Production"]),
    )
    assert (raw["stage"], raw["questions"], raw["createdBy"]) == ("active", [], str(ann))

    result = await admins.apply("kevin_a", config_id, card)
    assert result.startswith("✅ Your application channel has been created"), result
    (channel,) = [c for c in admins.emu.state.channels.values() if "[castbot-app:" in (c.topic or "")]
    assert channel.parent_id == admins.channel("Applications")
    assert channel.name == "📝kevina-app"


@pytest.mark.asyncio
async def test_bad_modal_text_is_refused_with_a_clear_message(admins: Admins) -> None:
    submit = await admins.open_setup(format="applicant-channel")
    assert "must contain `%name%`" in (submit.content or "")
    assert admins.emu.visible_message(submit) is not None
    assert admins.emu.visible_message(submit).components == []  # type: ignore[union-attr]
    blank = await admins.open_setup(title="   ")
    assert "title cannot be empty" in (blank.content or "")
    assert set(admins.configs()) == set()


@pytest.mark.asyncio
async def test_post_checks_the_channel_and_tells_what_is_missing(admins: Admins) -> None:
    emu = admins.emu
    staff = emu.state.channels[admins.channel("staff")]
    staff.permission_overwrites.append({"id": emu.bot_user_id, "type": 1, "allow": 0, "deny": 1 << 11})
    setup = await admins.open_setup()
    await admins.choose(setup, "channel", staff.id)
    await admins.choose(setup, "category", str(admins.channel("Applications")))
    await admins.choose(setup, "style", "Danger")
    shown = await admins.press(setup, "post")
    assert "I cannot post there. Missing permissions" in shown.content
    assert "Send Messages" in shown.content
    assert emu.state.messages[staff.id] == []
    assert admins.configs() == {}
    # The admin picks another channel and posts: the same setup goes on.
    await admins.choose(setup, "channel", admins.channel("apply-here"))
    done = await admins.press(setup, "post")
    assert done.content.startswith("✅ Posted")


@pytest.mark.asyncio
async def test_a_target_channel_deleted_before_post_changes_nothing(admins: Admins) -> None:
    emu = admins.emu
    staff = admins.channel("staff")
    setup = await admins.open_setup()
    await admins.choose(setup, "channel", staff)
    await admins.choose(setup, "category", str(admins.channel("Applications")))
    await admins.choose(setup, "style", "Primary")
    emu.state.remove_channel(staff)
    shown = await admins.press(setup, "post")
    assert f"<#{staff}> no longer exists" in shown.content
    assert admins.configs() == {}


@pytest.mark.asyncio
async def test_a_click_after_the_setup_expired_gets_a_clear_message(admins: Admins) -> None:
    setup = await admins.open_setup()
    style = setup_id(setup, admins, "style")
    service = await admins.injected(AdminService)
    assert service.cancel_setup(GuildId(admins.guild.id), UserId(admins.user("ann")), style.split(":")[3])
    shown = await admins.choose(setup, "style", "Success")
    assert shown.content.startswith("⌛ This setup has expired")
    assert shown.components == []  # the stale controls are gone
    assert admins.configs() == {}


# ---- managing -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_list_edit_and_edit_modal_update_the_card_in_place(admins: Admins) -> None:
    config_id, card = await admins.post()
    listed = await admins.reply("list")
    assert "**Season 15** · 🟢 open" in listed
    assert "0 applications" in listed
    assert "(0/50)" in listed

    edited = await admins.reply("edit", config=config_id, title="Season 15 (late)", style="Danger")
    assert edited.startswith("✅ **Season 15 (late)**"), edited
    assert "posted button was updated" in edited
    assert card.embeds[0]["title"] == "Season 15 (late)"
    assert button(card, config_id)["style"] == 4
    assert admins.configs()[config_id]["buttonStyle"] == "Danger"

    refused = await admins.reply("edit", config=config_id, channel_format="no-placeholder")
    assert "must contain `%name%`" in refused
    assert admins.configs()[config_id]["channelFormat"] == "📝%name%-app"

    form = await admins.command("edit", options={"config": config_id})
    await form.wait_acked(timeout=TIMEOUT)
    assert form.ack_type == 9
    submit = await admins.emu.submit_modal(form, {"description": "Now closing Sunday."})
    await submit.wait_until(answered, timeout=TIMEOUT)
    assert (submit.content or "").startswith("✅")
    assert card.embeds[0]["description"] == "Now closing Sunday."
    assert admins.configs()[config_id]["buttonText"] == "Season 15 (late)"  # the prefilled title was kept


@pytest.mark.asyncio
async def test_close_disables_the_button_and_refuses_clicks_open_enables_it(admins: Admins) -> None:
    config_id, card = await admins.post()
    closed = await admins.reply("close", config=config_id)
    assert closed.startswith("✅ Applications for **Season 15** are now closed.")
    assert card.is_disabled(custom_ids.apply_button(ConfigId(config_id)))
    assert admins.configs()[config_id]["stage"] == "closed"
    with pytest.raises(ValueError, match="disabled"):
        await admins.apply("kevin_a", config_id, card)
    assert await admins.apply("kevin_a", config_id) == "🔒 Applications are closed."  # an old copy of the button

    reopened = await admins.reply("open", config=config_id)
    assert reopened.startswith("✅ Applications for **Season 15** are now open.")
    assert not card.is_disabled(custom_ids.apply_button(ConfigId(config_id)))
    assert (await admins.apply("kevin_a", config_id, card)).startswith("✅")


@pytest.mark.asyncio
async def test_delete_asks_first_then_disables_the_card_and_keeps_applications(admins: Admins) -> None:
    config_id, card = await admins.post()
    assert (await admins.apply("zoe", config_id, card)).startswith("✅")
    prompt = await admins.command("delete", options={"config": config_id})
    await prompt.wait_until(answered, timeout=TIMEOUT)
    assert "Its 1 applications and their channels stay" in (prompt.content or "")
    kept = await admins.step(await admins.emu.click_component(prompt, admins.user("ann"), "apps:v1:delete-cancel"))
    assert kept.content == "Nothing was deleted."
    assert config_id in admins.configs()

    prompt = await admins.command("delete", options={"config": config_id})
    await prompt.wait_until(answered, timeout=TIMEOUT)
    done = await admins.step(
        await admins.emu.click_component(prompt, admins.user("ann"), f"apps:v1:delete:{config_id}")
    )
    assert done.content.startswith("🗑️ Deleted **Season 15**")
    assert config_id not in admins.configs()
    apply = button(card, config_id)
    assert (apply["label"], apply.get("disabled")) == ("Applications closed", True)
    assert len(admins.data()[str(admins.guild.id)]["applications"]) == 1


@pytest.mark.asyncio
async def test_another_guilds_config_is_not_found(admins: Admins) -> None:
    for subcommand in ("close", "open", "delete"):
        text = await admins.reply(subcommand, config=FOREIGN_CONFIG)
        assert text.startswith(f"❌ There is no Apply button `{FOREIGN_CONFIG}` in this server"), text
    assert await admins.reply("edit", config=FOREIGN_CONFIG, title="Mine now") != ""
    assert admins.data()[FOREIGN_GUILD]["applicationConfigs"][FOREIGN_CONFIG] == {
        "buttonText": "Elsewhere",
        "stage": "active",
    }


@pytest.mark.asyncio
async def test_notify_channel_is_set_shown_and_checked(admins: Admins) -> None:
    log = admins.channel("admin-log")
    assert "No notify channel is set" in await admins.reply("notify-channel")
    assert f"will now go to <#{log}>" in await admins.reply("notify-channel", channel=log)
    assert admins.data()[META]["guilds"][str(admins.guild.id)]["notifyChannelId"] == str(log)
    assert f"go to <#{log}>" in await admins.reply("notify-channel")
    assert "Admin notices are off" in await admins.reply("notify-channel", off=True)


# ---- non-admins ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_non_admins_are_refused_server_side_everywhere(admins: Admins) -> None:
    config_id, _ = await admins.post()
    with pytest.raises(ValueError, match="default_member_permissions"):
        await admins.command("list", "bob")  # Discord hides /apps from them ...
    for subcommand, options in [
        ("post", {}),
        ("list", {}),
        ("close", {"config": config_id}),
        ("stats", {}),
        ("retry-pending", {}),
        ("edit", {"config": config_id}),
    ]:  # ... and a server that overrides that still gets a refusal
        inter = await admins.command(subcommand, "bob", forced=True, options=options)
        await inter.wait_until(answered, timeout=TIMEOUT)
        assert inter.ack_type == 4
        assert inter.ephemeral
        assert (inter.content or "").startswith("🚫 Only members with the **Manage Server** permission"), subcommand
    assert admins.configs()[config_id]["stage"] == "active"

    # An admin who loses Manage Server mid-setup is refused on the next click.
    setup = await admins.open_setup(title="Season 16")
    admins.emu.state.guilds[admins.guild.id].members[admins.user("ann")].roles.clear()
    step = await admins.emu.select(setup, admins.user("ann"), setup_id(setup, admins, "style"), values=["Success"])
    await step.wait_until(answered, timeout=TIMEOUT)
    assert (step.content or "").startswith("🚫")


# ---- pending, retry, stats ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_retry_pending_finishes_seeded_unfinished_applies(admins: Admins) -> None:
    config_id, _ = await admins.post()
    repo = admins.app.repository
    for name in ("kevin_a", "zoe"):
        user = UserId(admins.user(name))
        key = ApplyKey(GuildId(admins.guild.id), user, ConfigId(config_id))
        won = await repo.reserve(
            key, owner="dead-host:1:x", now_ms=1, stale_after_ms=1, applicant=Applicant(user, name, name.title(), None)
        )
        assert won == Won()
    listed = await admins.reply("pending")
    assert "**Unfinished applies** (2)" in listed
    inter = await admins.command("retry-pending")
    await inter.wait_until(lambda i: (i.content or "").startswith("✅ Retry finished"), timeout=TIMEOUT)
    assert inter.content == "✅ Retry finished: 2/2 done (created 2)."
    assert any(edit and edit.startswith("🔁 Finishing unfinished applies: 0/2") for edit in inter.edits)
    shown = admins.emu.visible_message(inter)
    assert shown is not None
    assert shown.components == []  # the Stop button goes once finished
    assert len(admins.data()[str(admins.guild.id)]["applications"]) == 2
    assert await repo.list_pending(GuildId(admins.guild.id)) == []
    again = await admins.reply("retry-pending")
    assert again == "✅ Nothing to retry: this server has no unfinished applies."


@pytest.mark.asyncio
async def test_stats_after_a_known_sequence_of_clicks(admins: Admins) -> None:
    config_id, card = await admins.post()
    assert (await admins.apply("kevin_a", config_id, card)).startswith("✅")
    assert (await admins.apply("kevin_a", config_id, card)).startswith("You already have")
    assert (await admins.apply("zoe", config_id, card)).startswith("✅")
    await admins.reply("close", config=config_id)
    assert await admins.apply("u1", config_id) == "🔒 Applications are closed."
    text = await admins.reply("stats")
    assert "Clicks: 4 · Channels created: 2 · Duplicates prevented: 1" in text, text
    assert "Refused: already applied 1, closed 1" in text
    assert "Failures: none" in text
    assert "Results delivered: 4 · given up: 0" in text
    assert "Time to result: p50" in text
    assert "Applications: 2" in text
    assert f"**Season 15** (`{config_id}`): 2" in text
    assert "Unfinished applies: 0 · Results never delivered: 0" in text


@pytest.mark.asyncio
async def test_a_command_that_fails_unexpectedly_gets_a_reference_not_a_failed_interaction(
    admins: Admins, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``/apps edit`` with only ``config`` opens a modal before any guard: the catch-all handler answers."""
    config_id, _ = await admins.post()

    async def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(AdminService, "find", broken)
    inter = await admins.command("edit", options={"config": config_id})
    await inter.wait_until(answered, timeout=TIMEOUT)
    assert not inter.failed
    assert inter.ephemeral
    assert inter.content is not None
    assert "Reference: `" in inter.content
    assert "boom" not in inter.content  # no raw error text for users
    reference = inter.content.split("`")[1]
    assert any(f"ref={reference}" in r.getMessage() for r in caplog.records)  # the same reference is in the logs


# ---- admin doors: custom ids replayed by a member, or by an admin of another server -------------------


async def answered_text(admins: Admins, inter: Interaction) -> str:
    """Wait for the bot's answer to a click and return what the clicker reads."""
    await inter.wait_until(answered, timeout=TIMEOUT)
    if inter.ack_type in (4, 5):
        return inter.content or ""
    shown = admins.emu.visible_message(inter)
    return shown.content if shown is not None else ""


def another_server(admins: Admins) -> tuple[int, int]:
    """A second server where mal has Manage Server (and nothing to do with the first)."""
    other = admins.emu.add_guild(
        GuildSeed(
            name="Other ORG",
            text_channels=["general"],
            roles=["Admins"],
            role_permissions={"Admins": int(Permission.MANAGE_GUILD)},
            members=[("mal", "Mal")],
            member_roles={"mal": ["Admins"]},
            bot_permissions=int(BOT_REQUIRED),
        )
    )
    return int(other.id), int(other.members["mal"])


@pytest.mark.asyncio
async def test_a_replayed_delete_confirmation_deletes_nothing_for_a_member_or_another_server(admins: Admins) -> None:
    config_id, _ = await admins.post()
    confirm = f"apps:v1:delete:{config_id}"
    member = await admins.emu.click(admins.guild.id, admins.user("bob"), confirm)
    assert (await answered_text(admins, member)).startswith("🚫 Only members with the **Manage Server** permission")
    other_guild, mal = another_server(admins)
    foreign = await admins.emu.click(other_guild, mal, confirm)
    assert f"There is no Apply button `{config_id}` in this server" in await answered_text(admins, foreign)
    assert config_id in admins.configs()  # still there, still open
    assert admins.configs()[config_id]["stage"] == "active"


@pytest.mark.asyncio
async def test_a_replayed_setup_cancel_leaves_the_admins_setup_alone(admins: Admins) -> None:
    setup = await admins.open_setup()
    cancel = setup_id(setup, admins, "cancel")
    member = await admins.emu.click(admins.guild.id, admins.user("bob"), cancel)
    assert (await answered_text(admins, member)).startswith("🚫")
    other_guild, mal = another_server(admins)
    foreign = await admins.emu.click(other_guild, mal, cancel)
    assert (await answered_text(admins, foreign)).startswith("⌛ This setup has expired")  # nothing of theirs
    shown = await admins.choose(setup, "style", "Success")  # ann's setup is alive
    assert not shown.content.startswith("⌛")


@pytest.mark.asyncio
async def test_a_replayed_retry_stop_cannot_stop_another_servers_batch(admins: Admins) -> None:
    config_id, _ = await admins.post()
    repo = admins.app.repository
    for name in ("kevin_a", "zoe", "u1"):
        user = UserId(admins.user(name))
        key = ApplyKey(GuildId(admins.guild.id), user, ConfigId(config_id))
        await repo.reserve(
            key, owner="dead:1:x", now_ms=1, stale_after_ms=1, applicant=Applicant(user, name, name, None)
        )
    batch = await admins.command("retry-pending")
    await batch.wait_until(lambda i: "🔁" in (i.content or "") or "✅" in (i.content or ""), timeout=TIMEOUT)
    stop = f"apps:v1:retry-stop:{admins.guild.id}"
    member = await admins.emu.click(admins.guild.id, admins.user("bob"), stop)
    assert (await answered_text(admins, member)).startswith("🚫")
    other_guild, mal = another_server(admins)
    foreign = await admins.emu.click(other_guild, mal, stop)
    await answered_text(admins, foreign)
    await batch.wait_until(lambda i: (i.content or "").startswith("✅ Retry finished"), timeout=TIMEOUT)
    assert batch.content == "✅ Retry finished: 3/3 done (created 3)."  # not stopped by either


@pytest.mark.asyncio
async def test_everyone_or_a_managed_role_is_refused_as_production_role(admins: Admins) -> None:
    config_id, _ = await admins.post()
    everyone = await admins.reply("edit", config=config_id, role=admins.guild.id)
    assert everyone.startswith("❌ @everyone cannot be the production role"), everyone
    managed = await admins.reply("edit", config=config_id, role=admins.guild.bot_role_id)  # the bot's own role
    assert "belongs to a bot or an integration" in managed
    assert admins.configs()[config_id]["productionRole"] == str(admins.guild.roles["Production"])  # unchanged
