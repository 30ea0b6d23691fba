"""The /apps workflows with a fake Discord over the real JSON stores: outcomes and state, not calls."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from castbot_hikari.admin.model import CardState, ConfigChanges, Reason, Refusal
from castbot_hikari.admin.service import CardUpdate, Changed, Deleted, Posted
from castbot_hikari.admin.setup import SETUP_TTL_S, Named, SetupDraft
from castbot_hikari.admin.store import JsonConfigRepository
from castbot_hikari.apply.model import ApplyKey, OutcomeKind, Rejection
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.config import ApplicationConfig, ButtonStyle
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind, StorageError
from castbot_hikari.core.ids import ChannelId, ConfigId, RoleId
from tests.admin.fakes import (
    ADMIN,
    CATEGORY,
    FOREIGN,
    FULL_CATEGORY,
    LOCKED_CATEGORY,
    OTHER_TEXT,
    PRODUCTION,
    PRODUCTION_NAMED,
    TARGET,
    TARGET_NAMED,
    VOICE,
    AdminKit,
    admin_kit,
    unavailable,
)
from tests.apply.fakes import CONFIG, GUILD, OTHER_GUILD, USER, FakeDiscordOps, applicant, make_stack

pytestmark = pytest.mark.asyncio


@pytest.fixture
def kit(repo: JsonApplicationRepository) -> AdminKit:
    return admin_kit(repo)


def raw_configs(kit: AdminKit, guild: int = GUILD) -> dict[str, Any]:
    return kit.repository.document.doc[str(guild)]["applicationConfigs"]


async def ready_setup(kit: AdminKit, *, title: str = "Season 15", role: bool = True) -> SetupDraft:
    draft = await kit.service.start_setup(GUILD, ADMIN, title, "Sign-ups close Friday.", "📝%name%-app")
    assert isinstance(draft, SetupDraft)
    sid = draft.session_id
    assert isinstance(kit.service.choose_channel(GUILD, ADMIN, sid, TARGET_NAMED), SetupDraft)
    assert isinstance(await kit.service.choose_category(GUILD, ADMIN, sid, CATEGORY), SetupDraft)
    draft = kit.service.choose_style(GUILD, ADMIN, sid, "Success")
    assert isinstance(draft, SetupDraft)
    if role:
        draft = kit.service.choose_role(GUILD, ADMIN, sid, PRODUCTION_NAMED)
        assert isinstance(draft, SetupDraft)
    return draft


async def posted_config(kit: AdminKit) -> ApplicationConfig:
    draft = await ready_setup(kit)
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Posted)
    return result.config


# ---- /apps post -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "description", "channel_format", "reason"),
    [
        ("   ", "", "📝%name%-app", Reason.TITLE_EMPTY),
        ("x" * 81, "", "📝%name%-app", Reason.TITLE_TOO_LONG),
        ("Season", "d" * 2001, "📝%name%-app", Reason.DESCRIPTION_TOO_LONG),
        ("Season", "", "app-of-someone", Reason.FORMAT_WITHOUT_NAME),
        ("Season", "", " - -  ", Reason.FORMAT_EMPTY),
        ("Season", "", "x" * 81 + "%name%", Reason.FORMAT_TOO_LONG),
    ],
)
async def test_bad_modal_text_is_refused_and_starts_no_setup(
    kit: AdminKit, title: str, description: str, channel_format: str, reason: Reason
) -> None:
    result = await kit.service.start_setup(GUILD, ADMIN, title, description, channel_format)
    assert isinstance(result, Refusal)
    assert result.reason is reason
    assert len(kit.sessions) == 0


async def test_setup_lists_categories_with_their_use_and_is_ready_after_three_choices(kit: AdminKit) -> None:
    draft = await kit.service.start_setup(GUILD, ADMIN, " Season 15 ", "", "  📝%name%  app ")
    assert isinstance(draft, SetupDraft)
    assert draft.text.title == "Season 15"
    assert draft.text.channel_format == "📝%name%-app"
    assert {(c.name, c.used) for c in draft.categories} == {("Applications", 12), ("Season 13", 50), ("Locked", 0)}
    assert not draft.ready
    ready = await ready_setup(kit, role=False)
    assert ready.ready
    assert ready.category is not None
    assert ready.category.used == 12


async def test_post_posts_the_card_and_saves_the_config_in_castbot_format(kit: AdminKit) -> None:
    kit.clock.advance(0)
    config = await posted_config(kit)
    now = kit.clock.now_ms()
    assert config.config_id == f"config_{now}_{ADMIN}"
    (message_id, posted), *_ = kit.discord.cards.items()
    assert posted.channel_id == TARGET
    assert posted.card.config_id == config.config_id
    assert posted.card.state is CardState.OPEN
    assert posted.card.label == "📝 Open Application"
    assert posted.card.style is ButtonStyle.SUCCESS
    assert raw_configs(kit)[config.config_id] == {
        "seasonName": "Season 15",
        "buttonText": "Season 15",
        "explanatoryText": "Sign-ups close Friday.",
        "channelFormat": "📝%name%-app",
        "targetChannelId": str(TARGET),
        "categoryId": str(CATEGORY),
        "buttonStyle": "Success",
        "productionRole": str(PRODUCTION),
        "createdBy": str(ADMIN),
        "stage": "active",
        "createdAt": now,
        "lastUpdated": now,
        "questions": [],
        "postedChannelId": str(TARGET),
        "postedMessageId": str(message_id),
    }
    assert len(kit.sessions) == 0  # the setup is over


async def test_the_apply_flow_reads_a_posted_config(kit: AdminKit) -> None:
    config = await posted_config(kit)
    read = await kit.repository.get_config(GUILD, config.config_id)
    assert read is not None
    assert read.category_id == CATEGORY
    assert read.production_role == PRODUCTION
    assert read.channel_format == "📝%name%-app"
    assert read.title == "Season 15"


async def test_post_before_everything_is_chosen_is_refused(kit: AdminKit) -> None:
    draft = await kit.service.start_setup(GUILD, ADMIN, "Season", "", "%name%")
    assert isinstance(draft, SetupDraft)
    kit.service.choose_channel(GUILD, ADMIN, draft.session_id, TARGET_NAMED)
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert result == Refusal(Reason.SETUP_INCOMPLETE)
    assert kit.discord.cards == {}


async def test_an_expired_setup_is_refused_clearly_and_posts_nothing(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    kit.clock.advance(SETUP_TTL_S + 1)
    assert kit.service.choose_style(GUILD, ADMIN, draft.session_id, "Danger") == Refusal(Reason.SETUP_EXPIRED)
    assert await kit.service.post(GUILD, ADMIN, draft.session_id) == Refusal(Reason.SETUP_EXPIRED)
    assert kit.discord.cards == {}
    assert set(raw_configs(kit)) == {CONFIG}


async def test_each_choice_keeps_the_setup_alive(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    kit.clock.advance(SETUP_TTL_S - 10)
    assert isinstance(kit.service.choose_style(GUILD, ADMIN, draft.session_id, "Danger"), SetupDraft)
    kit.clock.advance(SETUP_TTL_S - 10)
    assert isinstance(await kit.service.post(GUILD, ADMIN, draft.session_id), Posted)


async def test_another_admin_or_guild_cannot_use_a_setup(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    assert await kit.service.post(GUILD, ADMIN + 1, draft.session_id) == Refusal(Reason.SETUP_EXPIRED)  # type: ignore[operator]
    assert await kit.service.post(OTHER_GUILD, ADMIN, draft.session_id) == Refusal(Reason.SETUP_EXPIRED)
    assert kit.discord.cards == {}
    assert not kit.service.cancel_setup(OTHER_GUILD, ADMIN, draft.session_id)  # nor cancel it
    assert not kit.service.cancel_setup(GUILD, ADMIN + 1, draft.session_id)  # type: ignore[operator]
    assert kit.service.setup(GUILD, ADMIN, draft.session_id) == draft


async def test_one_servers_setups_never_evict_another_servers(kit: AdminKit) -> None:
    mine = await ready_setup(kit)
    for _ in range(60):  # another server opens setup after setup
        assert not isinstance(await kit.service.start_setup(OTHER_GUILD, ADMIN, "Spam", "", ""), Refusal)
    assert kit.service.setup(GUILD, ADMIN, mine.session_id) == mine


@pytest.mark.parametrize(
    ("channel", "category", "reason"),
    [
        (ChannelId(1), CATEGORY, Reason.CHANNEL_MISSING),
        (FOREIGN, CATEGORY, Reason.CHANNEL_MISSING),
        (VOICE, CATEGORY, Reason.CHANNEL_NOT_TEXT),
        (TARGET, FULL_CATEGORY, Reason.CATEGORY_FULL),
        (TARGET, LOCKED_CATEGORY, Reason.CANNOT_MANAGE),
        (TARGET, TARGET, Reason.CATEGORY_MISSING),
    ],
)
async def test_post_checks_channel_and_category_first_and_changes_nothing(
    kit: AdminKit, channel: ChannelId, category: ChannelId, reason: Reason
) -> None:
    draft = await ready_setup(kit)
    kit.service.choose_channel(GUILD, ADMIN, draft.session_id, Named(channel, "x"))
    kit.sessions.save(dataclasses.replace(kit.sessions.get(draft.session_id, GUILD, ADMIN), category=None))  # type: ignore[arg-type]
    picked = await kit.service.choose_category(GUILD, ADMIN, draft.session_id, category)
    if isinstance(picked, Refusal):  # not a category of this guild: refused when chosen already
        assert picked.reason is reason
        return
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Refusal)
    assert result.reason is reason
    assert kit.discord.cards == {}
    assert set(raw_configs(kit)) == {CONFIG}
    retry = kit.service.setup(GUILD, ADMIN, draft.session_id)
    assert isinstance(retry, SetupDraft)  # the admin can fix the choice and press Post again
    assert not retry.posting


async def test_post_refuses_a_channel_where_the_bot_cannot_send(kit: AdminKit) -> None:
    info = kit.discord.channels[TARGET]
    kit.discord.channels[TARGET] = dataclasses.replace(info, bot_permissions=1 << 10)  # view only
    draft = await ready_setup(kit)
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Refusal)
    assert result.reason is Reason.CANNOT_POST
    assert "Send Messages" in result.detail
    assert "Embed Links" in result.detail
    assert kit.discord.cards == {}


async def test_a_channel_deleted_after_it_was_chosen_is_caught_at_post(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    del kit.discord.channels[TARGET]
    assert await kit.service.post(GUILD, ADMIN, draft.session_id) == Refusal(Reason.CHANNEL_MISSING, f"<#{TARGET}>")


async def test_a_deleted_role_is_refused(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    kit.discord.roles.clear()
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Refusal)
    assert result.reason is Reason.ROLE_MISSING
    assert kit.discord.cards == {}


async def test_discord_down_while_posting_changes_nothing(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    kit.discord.fail_next["post_card"] = [unavailable()]
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Refusal)
    assert result.reason is Reason.DISCORD_UNAVAILABLE
    assert set(raw_configs(kit)) == {CONFIG}
    assert isinstance(await kit.service.post(GUILD, ADMIN, draft.session_id), Posted)  # Post again works


async def test_a_card_whose_config_cannot_be_saved_is_deleted_again(kit: AdminKit) -> None:
    class FailingConfigs(JsonConfigRepository):
        async def create(self, config: ApplicationConfig) -> None:
            raise StorageError("could not save playerData.json: No space left on device")

    kit.service._configs = FailingConfigs(kit.repository.document)  # pyright: ignore[reportPrivateUsage]
    draft = await ready_setup(kit)
    result = await kit.service.post(GUILD, ADMIN, draft.session_id)
    assert isinstance(result, Refusal)
    assert result.reason is Reason.STORAGE
    assert kit.discord.cards == {}
    assert len(kit.discord.deleted_cards) == 1


async def test_a_double_click_on_post_posts_one_card(kit: AdminKit) -> None:
    draft = await ready_setup(kit)
    kit.discord.gate = asyncio.Event()
    first = asyncio.create_task(kit.service.post(GUILD, ADMIN, draft.session_id))
    await asyncio.sleep(0.01)
    second = await kit.service.post(GUILD, ADMIN, draft.session_id)
    kit.discord.gate.set()
    assert isinstance(await first, Posted)
    assert second == Refusal(Reason.SETUP_BUSY)
    assert len(kit.discord.cards) == 1


async def test_two_posts_in_the_same_millisecond_get_distinct_ids(kit: AdminKit) -> None:
    one = await posted_config(kit)
    two = await posted_config(kit)
    assert one.config_id != two.config_id
    assert {one.config_id, two.config_id} <= set(raw_configs(kit))


# ---- list, edit, open/close, delete -----------------------------------------------------------


async def test_list_shows_counts_and_category_use_of_this_guild_only(kit: AdminKit) -> None:
    config = await posted_config(kit)
    doc = kit.repository.document.doc
    doc[str(GUILD)]["applications"] = {"1": {"userId": "5", "configId": config.config_id}}
    doc[str(OTHER_GUILD)] = {"applicationConfigs": {"config_1_2": {"buttonText": "Elsewhere"}}}
    rows = await kit.service.list_configs(GUILD)
    assert [(r.config.config_id, r.applications) for r in rows] == [(CONFIG, 0), (config.config_id, 1)]
    assert rows[1].category is not None
    assert rows[1].category.used == 12
    assert rows[0].category is None  # the seeded config's category is not in the fake guild


async def test_choices_list_this_guilds_configs_newest_first_and_filter(kit: AdminKit) -> None:
    config = await posted_config(kit)
    assert [value for _, value in await kit.service.choices(GUILD, "")] == [config.config_id, CONFIG]
    assert [value for _, value in await kit.service.choices(GUILD, "season 15")] == [config.config_id]
    assert await kit.service.choices(OTHER_GUILD, "") == []


async def test_edit_changes_text_style_and_updates_the_card_in_place(kit: AdminKit) -> None:
    config = await posted_config(kit)
    kit.clock.advance(5)
    changes = ConfigChanges(title="Season 15 (late)", description="", button_style=ButtonStyle.DANGER)
    result = await kit.service.edit(GUILD, config.config_id, changes)
    assert isinstance(result, Changed)
    assert result.card is CardUpdate.UPDATED
    raw = raw_configs(kit)[config.config_id]
    assert (raw["buttonText"], raw["explanatoryText"], raw["buttonStyle"]) == ("Season 15 (late)", "", "Danger")
    assert raw["seasonName"] == "Season 15"  # CastBot's season keeps its name
    assert raw["lastUpdated"] == kit.clock.now_ms()
    (posted,) = kit.discord.cards.values()
    assert (posted.card.title, posted.card.style, len(posted.edits)) == ("Season 15 (late)", ButtonStyle.DANGER, 1)


async def test_edit_category_and_role_are_checked(kit: AdminKit) -> None:
    config = await posted_config(kit)
    full = await kit.service.edit(GUILD, config.config_id, ConfigChanges(category_id=FULL_CATEGORY))
    assert isinstance(full, Refusal)
    assert full.reason is Reason.CATEGORY_FULL
    gone = await kit.service.edit(GUILD, config.config_id, ConfigChanges(production_role=RoleId(5)))
    assert isinstance(gone, Refusal)
    assert gone.reason is Reason.ROLE_MISSING
    assert raw_configs(kit)[config.config_id]["categoryId"] == str(CATEGORY)
    removed = await kit.service.edit(GUILD, config.config_id, ConfigChanges(remove_role=True))
    assert isinstance(removed, Changed)
    assert raw_configs(kit)[config.config_id]["productionRole"] is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (ConfigChanges(title=""), Reason.TITLE_EMPTY),
        (ConfigChanges(title="t" * 81), Reason.TITLE_TOO_LONG),
        (ConfigChanges(description="d" * 2001), Reason.DESCRIPTION_TOO_LONG),
        (ConfigChanges(channel_format="no-placeholder"), Reason.FORMAT_WITHOUT_NAME),
        (ConfigChanges(title="fine", channel_format="   "), Reason.FORMAT_EMPTY),
        (ConfigChanges(), Reason.NOTHING_TO_CHANGE),
    ],
)
async def test_bad_edits_change_nothing(kit: AdminKit, changes: ConfigChanges, reason: Reason) -> None:
    config = await posted_config(kit)
    before = dict(raw_configs(kit)[config.config_id])
    result = await kit.service.edit(GUILD, config.config_id, changes)
    assert isinstance(result, Refusal)
    assert result.reason is reason
    assert raw_configs(kit)[config.config_id] == before
    assert all(not posted.edits for posted in kit.discord.cards.values())


async def test_another_guilds_config_is_not_found_everywhere(kit: AdminKit) -> None:
    not_found = Refusal(Reason.CONFIG_NOT_FOUND, CONFIG)
    assert await kit.service.edit(OTHER_GUILD, CONFIG, ConfigChanges(title="x")) == not_found
    assert await kit.service.set_stage(OTHER_GUILD, CONFIG, "closed") == not_found
    assert await kit.service.delete(OTHER_GUILD, CONFIG) == not_found
    assert await kit.service.find(OTHER_GUILD, CONFIG) == not_found
    assert raw_configs(kit)[CONFIG]["stage"] == "active"


async def test_edit_of_a_castbot_config_keeps_its_unknown_keys(kit: AdminKit) -> None:
    result = await kit.service.edit(GUILD, CONFIG, ConfigChanges(title="Season 14 returns"))
    assert isinstance(result, Changed)
    assert result.card is CardUpdate.NOT_POSTED  # CastBot posted it; this bot never knew the message
    raw = raw_configs(kit)[CONFIG]
    assert raw["seasonId"] == "season_3f9a1c2b7d4e5f60"
    assert raw["buttonText"] == "Season 14 returns"


async def test_close_and_open_set_the_stage_and_the_button(kit: AdminKit) -> None:
    config = await posted_config(kit)
    closed = await kit.service.set_stage(GUILD, config.config_id, "closed")
    assert isinstance(closed, Changed)
    assert not closed.already
    assert raw_configs(kit)[config.config_id]["stage"] == "closed"
    (posted,) = kit.discord.cards.values()
    assert (posted.card.state, posted.card.enabled) == (CardState.CLOSED, False)
    again = await kit.service.set_stage(GUILD, config.config_id, "closed")
    assert isinstance(again, Changed)
    assert again.already
    reopened = await kit.service.set_stage(GUILD, config.config_id, "active")
    assert isinstance(reopened, Changed)
    assert (posted.card.state, posted.card.enabled) == (CardState.OPEN, True)
    stored = await kit.repository.get_config(GUILD, config.config_id)
    assert stored is not None
    assert stored.stage == "active"


async def test_a_closed_config_is_refused_by_the_apply_flow_and_reopened_accepted(kit: AdminKit) -> None:
    config = await posted_config(kit)
    apply = make_stack(kit.repository, FakeDiscordOps(), clock=kit.clock, owner="t").service
    key = ApplyKey(GUILD, USER, config.config_id)
    await kit.service.set_stage(GUILD, config.config_id, "closed")
    closed = await apply.apply(key, applicant(), lambda _: None)
    assert closed.rejection is Rejection.CLOSED
    await kit.service.set_stage(GUILD, config.config_id, "active")
    assert (await apply.apply(key, applicant(), lambda _: None)).kind is OutcomeKind.CREATED


async def test_card_problems_are_reported_but_the_change_is_kept(kit: AdminKit) -> None:
    config = await posted_config(kit)
    kit.discord.fail_next["edit_card"] = [unavailable()]
    failed = await kit.service.set_stage(GUILD, config.config_id, "closed")
    assert isinstance(failed, Changed)
    assert failed.card is CardUpdate.FAILED
    kit.discord.cards.clear()
    gone = await kit.service.set_stage(GUILD, config.config_id, "active")
    assert isinstance(gone, Changed)
    assert gone.card is CardUpdate.GONE
    assert raw_configs(kit)[config.config_id]["stage"] == "active"


async def test_delete_disables_the_card_and_keeps_applications(kit: AdminKit) -> None:
    config = await posted_config(kit)
    doc = kit.repository.document.doc
    doc[str(GUILD)]["applications"] = {"42": {"userId": "5", "channelId": "42", "configId": config.config_id}}
    result = await kit.service.delete(GUILD, config.config_id)
    assert isinstance(result, Deleted)
    assert (result.applications, result.card) == (1, CardUpdate.UPDATED)
    assert config.config_id not in raw_configs(kit)
    assert "42" in doc[str(GUILD)]["applications"]
    (posted,) = kit.discord.cards.values()
    assert (posted.card.state, posted.card.label, posted.card.enabled) == (
        CardState.DELETED,
        "Applications closed",
        False,
    )
    assert await kit.service.delete(GUILD, config.config_id) == Refusal(Reason.CONFIG_NOT_FOUND, config.config_id)


# ---- notify channel ---------------------------------------------------------------------------


async def test_notify_channel_is_checked_set_and_cleared(kit: AdminKit) -> None:
    assert await kit.service.notify_channel(GUILD) is None
    assert await kit.service.set_notify_channel(GUILD, OTHER_TEXT) == OTHER_TEXT
    assert await kit.settings.get_notify_channel(GUILD) == OTHER_TEXT
    refused = await kit.service.set_notify_channel(GUILD, VOICE)
    assert isinstance(refused, Refusal)
    assert refused.reason is Reason.CHANNEL_NOT_TEXT
    assert (await kit.service.set_notify_channel(GUILD, FOREIGN)) == Refusal(Reason.CHANNEL_MISSING, f"<#{FOREIGN}>")
    assert await kit.settings.get_notify_channel(GUILD) == OTHER_TEXT
    assert await kit.service.set_notify_channel(GUILD, None) is None
    assert await kit.settings.get_notify_channel(GUILD) is None


async def test_discord_errors_become_refusals(kit: AdminKit) -> None:
    kit.discord.fail_next["channel"] = [
        DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, "Missing Access", code=50001, status=403)
    ]
    refused = await kit.service.set_notify_channel(GUILD, OTHER_TEXT)
    assert isinstance(refused, Refusal)
    assert refused.reason is Reason.CANNOT_POST
    kit.discord.fail_next["categories"] = [unavailable()]
    down = await kit.service.start_setup(GUILD, ADMIN, "Season", "", "%name%")
    assert isinstance(down, Refusal)
    assert down.reason is Reason.DISCORD_UNAVAILABLE
    assert await kit.service.choices(GUILD, "") != []  # reads need no Discord
    assert ConfigId(CONFIG) in [r.config.config_id for r in await kit.service.list_configs(GUILD)]
