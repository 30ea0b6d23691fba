"""The /apps glue's own decisions: who counts as an admin, and what the config autocomplete offers."""

from __future__ import annotations

from unittest import mock

import hikari
import lightbulb
import pytest

from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.apply.store import JsonApplicationRepository
from extensions.apps._common import Caller, caller, config_autocomplete
from tests.admin.fakes import admin_kit
from tests.apply.fakes import CONFIG, GUILD, USER


def interaction(permissions: hikari.Permissions, guild_id: int | None = GUILD) -> mock.Mock:
    inter = mock.Mock(spec=hikari.AutocompleteInteraction)
    inter.guild_id = hikari.Snowflake(guild_id) if guild_id else None
    inter.member = mock.Mock(spec=hikari.InteractionMember, permissions=permissions)
    inter.user = mock.Mock(spec=hikari.User, id=hikari.Snowflake(USER))
    return inter


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        (hikari.Permissions.MANAGE_GUILD, Caller(GUILD, USER)),
        (hikari.Permissions.ADMINISTRATOR, Caller(GUILD, USER)),
        (hikari.Permissions.MANAGE_CHANNELS | hikari.Permissions.SEND_MESSAGES, Refusal(Reason.NOT_ADMIN)),
    ],
)
def test_the_admin_check_reads_the_members_permissions(
    permissions: hikari.Permissions, expected: Caller | Refusal
) -> None:
    assert caller(interaction(permissions)) == expected


def test_outside_a_server_nobody_is_an_admin() -> None:
    assert caller(interaction(hikari.Permissions.ADMINISTRATOR, guild_id=None)) == Refusal(Reason.NOT_IN_GUILD)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("permissions", "offered"), [(hikari.Permissions.MANAGE_GUILD, True), (hikari.Permissions.NONE, False)]
)
async def test_autocomplete_offers_this_servers_configs_to_admins_only(
    repo: JsonApplicationRepository, permissions: hikari.Permissions, offered: bool
) -> None:
    ctx = mock.Mock(spec=lightbulb.AutocompleteContext)
    ctx.interaction = interaction(permissions)
    ctx.focused = mock.Mock(spec=hikari.AutocompleteInteractionOption, value="season")
    ctx.respond = mock.AsyncMock()
    await config_autocomplete(ctx, admin_kit(repo).service)
    (choices,), _ = ctx.respond.call_args
    assert choices == ([(f"Apply to Season 14 · open · {CONFIG}", CONFIG)] if offered else [])
