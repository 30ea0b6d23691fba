"""The /apps glue's own decisions: who counts as an admin, what the config autocomplete offers, whom a button obeys."""

from __future__ import annotations

import asyncio
import importlib
from unittest import mock

import hikari
import lightbulb
import pytest

from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.reports import PendingRetrier, RetryRun
from castbot_hikari.apply.model import ApplyKey, Pending, PendingState
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.ids import GuildId, UserId
from extensions.apps._common import AdminDeps, Caller, caller, config_autocomplete, dispatch
from tests.admin.fakes import FakePendingApplies, admin_kit
from tests.apply.fakes import CONFIG, GUILD, OTHER_GUILD, USER, FakeClock, SleepRecorder

importlib.import_module("extensions.apps._reports")  # registers the routes of its buttons (the Stop button)


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


def component(custom_id: str, guild_id: int, permissions: hikari.Permissions) -> mock.Mock:
    """Return a button click as hikari delivers it, whose responses are recorded."""
    inter = mock.Mock(spec=hikari.ComponentInteraction)
    inter.custom_id = custom_id
    inter.guild_id = hikari.Snowflake(guild_id)
    inter.member = mock.Mock(spec=hikari.InteractionMember, permissions=permissions)
    inter.user = mock.Mock(spec=hikari.User, id=hikari.Snowflake(USER))
    inter.create_initial_response = mock.AsyncMock()
    inter.edit_initial_response = mock.AsyncMock()
    return inter


def held(user: int, guild: GuildId) -> Pending:
    return Pending(ApplyKey(guild, UserId(user), CONFIG), PendingState.RESERVED, 1_790_000_000_000, "old:1")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("guild_id", "permissions", "shown"),
    [
        (OTHER_GUILD, hikari.Permissions.MANAGE_GUILD, admin_render.NOT_RUNNING),  # an admin of another server
        (GUILD, hikari.Permissions.SEND_MESSAGES, admin_render.refusal(Refusal(Reason.NOT_ADMIN))),  # a member
    ],
    ids=["admin-of-another-server", "member-without-manage-server"],
)
async def test_a_replayed_stop_button_stops_no_batch(
    repo: JsonApplicationRepository, guild_id: GuildId, permissions: hikari.Permissions, shown: str
) -> None:
    """The Stop button of this server's retry, replayed by an admin of another server or by a member without
    Manage Server, stops neither this server's batch nor the caller's."""
    clock = FakeClock()
    work = FakePendingApplies([held(n, g) for g in (GUILD, OTHER_GUILD) for n in (1, 2)])
    work.gate = asyncio.Event()
    retrier = PendingRetrier(work, clock, sleep=SleepRecorder(clock))
    batches = [asyncio.create_task(retrier.run(g, mock.AsyncMock())) for g in (GUILD, OTHER_GUILD)]
    await work.entered.wait()
    inter = component(admin_ids.retry_stop(GUILD), guild_id, permissions)
    await dispatch(inter, AdminDeps(admin_kit(repo).service, retrier))
    responses = [*inter.create_initial_response.await_args_list, *inter.edit_initial_response.await_args_list]
    assert shown in [arg for call in responses for arg in call.args]
    work.gate.set()
    runs = await asyncio.gather(*batches)
    assert [(run.done, run.stopped) for run in runs if isinstance(run, RetryRun)] == [(2, False), (2, False)]
