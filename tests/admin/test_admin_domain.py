"""Admin values, permissions arithmetic, the apps:v1 custom-id codec, renderers and the config store."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import model as admin
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.custom_ids import AdminId, Kind, SetupPart
from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.service import ConfigRow
from castbot_hikari.admin.store import JsonConfigRepository
from castbot_hikari.apply import custom_ids
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.config import ApplicationConfig, ButtonStyle
from castbot_hikari.core.access import ALL, Grant, effective_permissions, is_admin
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.core.permissions import Permission
from tests.apply.fakes import CONFIG, GUILD, OTHER_GUILD

G = 1000
BOT = 2000
ROLE = 3000
VIEW_SEND = int(Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES)


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (0, False),
        (int(Permission.SEND_MESSAGES | Permission.MANAGE_CHANNELS), False),
        (int(Permission.MANAGE_GUILD), True),
        (int(Permission.ADMINISTRATOR), True),
    ],
)
def test_only_manage_server_or_administrator_is_admin(permissions: int, allowed: bool) -> None:
    assert is_admin(permissions) is allowed


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("📝%name%-app", "📝%name%-app"),
        ("  Season 15 %name% ", "Season-15-%name%"),
        ("%name%", "%name%"),
        ("", Refusal(Reason.FORMAT_EMPTY)),
        (" -  - ", Refusal(Reason.FORMAT_EMPTY)),
        ("app-%NAME%", Refusal(Reason.FORMAT_WITHOUT_NAME)),
        ("a" * 80 + "%name%", "a" * 80 + "%name%"),
        ("a" * 81 + "%name%", Refusal(Reason.FORMAT_TOO_LONG, "81")),
    ],
)
def test_channel_format_is_cleaned_or_refused(raw: str, expected: str | Refusal) -> None:
    assert admin.check_format(raw) == expected


@given(st.text(max_size=120))
def test_an_accepted_format_always_yields_a_valid_channel_name(raw: str) -> None:
    checked = admin.check_format(raw)
    if isinstance(checked, str):
        name = admin.example_channel_name(checked)
        assert 1 <= len(name) <= 100
        assert "kevina" in name


def test_a_castbot_config_reads_with_odd_fields() -> None:
    config = ApplicationConfig.from_castbot(
        GuildId(1),
        ConfigId("config_1_2"),
        {"seasonName": "S14", "buttonStyle": "weird", "categoryId": 5, "productionRole": None, "createdAt": "x"},
    )
    assert (config.title, config.button_style, config.category_id, config.production_role) == (
        "S14",
        ButtonStyle.PRIMARY,
        5,
        None,
    )
    assert (config.channel_format, config.stage, config.created_at_ms, config.posted_message_id) == (
        "📝%name%-app",
        "active",
        0,
        None,
    )


def test_owner_and_administrator_have_everything() -> None:
    def perms(owner: int, roles: dict[int, int]) -> int:
        return effective_permissions(
            guild_id=G,
            owner_id=owner,
            member_id=BOT,
            member_roles=[ROLE],
            role_permissions=roles,
            overwrites=[Grant(G, False, 0, ALL)],
        )

    assert perms(BOT, {}) == ALL
    assert perms(1, {ROLE: int(Permission.ADMINISTRATOR)}) == ALL
    assert perms(1, {ROLE: VIEW_SEND}) == 0


def test_overwrites_apply_everyone_then_roles_then_member() -> None:
    def perms(*overwrites: Grant) -> int:
        return effective_permissions(
            guild_id=G,
            owner_id=1,
            member_id=BOT,
            member_roles=[ROLE],
            role_permissions={G: VIEW_SEND},
            overwrites=overwrites,
        )

    send = int(Permission.SEND_MESSAGES)
    view = int(Permission.VIEW_CHANNEL)
    assert perms() == VIEW_SEND
    assert perms(Grant(G, False, 0, send)) == view
    assert perms(Grant(G, False, 0, send), Grant(ROLE, False, send, 0)) == VIEW_SEND
    assert perms(Grant(ROLE, False, send, 0), Grant(BOT, True, 0, send)) == view
    assert perms(Grant(G, False, 0, view)) == 0  # no View Channel: nothing else counts
    assert perms(Grant(BOT + 1, True, 0, view), Grant(ROLE + 1, False, 0, view)) == VIEW_SEND  # others' overwrites


@pytest.mark.parametrize(
    ("custom_id", "parsed"),
    [
        (admin_ids.POST_MODAL, AdminId(Kind.POST_MODAL)),
        (admin_ids.DELETE_CANCEL, AdminId(Kind.DELETE_CANCEL)),
        (
            admin_ids.setup("0a1b2c", SetupPart.CATEGORY),
            AdminId(Kind.SETUP, session_id="0a1b2c", part=SetupPart.CATEGORY),
        ),
        (admin_ids.edit_modal(ConfigId(CONFIG)), AdminId(Kind.EDIT_MODAL, config_id=ConfigId(CONFIG))),
        (admin_ids.delete_confirm(ConfigId(CONFIG)), AdminId(Kind.DELETE, config_id=ConfigId(CONFIG))),
        (admin_ids.retry_stop(GUILD), AdminId(Kind.RETRY_STOP, guild_id=GUILD)),
        ("apps:v1:setup:0a1b2c:nope", None),
        ("apps:v1:setup:NOTHEX:post", None),
        ("apps:v1:edit:../../etc", None),
        ("apps:v1:retry-stop:abc", None),
        ("apps:v1:post:extra", None),
        ("apps:v2:post", None),
        (custom_ids.apply_button(ConfigId(CONFIG)), None),
    ],
)
def test_admin_custom_ids_round_trip_and_reject_garbage(custom_id: str | None, parsed: AdminId | None) -> None:
    assert custom_id is not None
    assert len(custom_id) <= 100
    assert admin_ids.parse(custom_id) == parsed


def test_ids_too_long_for_discord_are_not_built() -> None:
    long_id = ConfigId("c" * 90)
    assert admin_ids.edit_modal(long_id) is None
    assert admin_ids.delete_confirm(long_id) is None


def test_every_refusal_has_a_sentence() -> None:
    for reason in Reason:
        assert admin_render.refusal(Refusal(reason, "detail")).strip()


def test_a_long_list_stays_within_discords_2000_characters() -> None:
    rows = [
        ConfigRow(
            ApplicationConfig.from_castbot(
                GUILD, ConfigId(f"config_{n}_1"), {"buttonText": "T" * 80, "categoryId": "5"}
            ),
            n,
            None,
        )
        for n in range(60)
    ]
    text = admin_render.config_list(rows)
    assert len(text) <= 2000
    assert text.endswith("more lines")


@pytest.mark.asyncio
async def test_config_store_creates_updates_and_deletes_in_castbot_shape(
    repo: JsonApplicationRepository, data_dir: Path
) -> None:
    configs = JsonConfigRepository(repo.document)
    new = ApplicationConfig.from_castbot(GUILD, ConfigId("config_9_9"), {"buttonText": "New", "categoryId": "77"})
    await configs.create(new)
    assert await configs.update(GUILD, CONFIG, {"stage": "closed", "lastUpdated": 5})
    assert not await configs.update(GUILD, ConfigId("config_gone_1"), {"stage": "closed"})
    assert await configs.find(OTHER_GUILD, CONFIG) is None
    assert [c.config_id for c in await configs.all_configs(GUILD)] == ["config_9_9", CONFIG]
    await repo.close()
    reopened = JsonConfigRepository(JsonApplicationRepository.open(data_dir, fsync=False).document)
    found = await reopened.find(GUILD, CONFIG)
    assert found is not None
    assert found.stage == "closed"
    raw = reopened._configs(GUILD)[CONFIG]  # pyright: ignore[reportPrivateUsage]
    assert raw["questions"] == []
    assert raw["seasonId"] == "season_3f9a1c2b7d4e5f60"  # CastBot's keys are kept
    assert "config_gone_1" not in reopened._configs(GUILD)  # pyright: ignore[reportPrivateUsage]
    assert await reopened.delete(GUILD, ConfigId("config_9_9"))
    assert not await reopened.delete(GUILD, ConfigId("config_9_9"))
    assert await reopened.application_counts(GUILD) == {}


def test_posted_config_ids_are_castbots_shape() -> None:
    assert admin.new_config_id(1781015852414, UserId(42)) == "config_1781015852414_42"
    assert custom_ids.parse_apply(custom_ids.apply_button(admin.new_config_id(1, UserId(2)))) == "config_1_2"
    assert ChannelId(1) == 1
