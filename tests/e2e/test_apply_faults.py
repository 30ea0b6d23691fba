"""The apply flow under Discord's faults: slow responses, 5xx, 429, deleted channels, gateway drops."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from castbot_hikari.apply import render
from castbot_hikari.testing.emulator import Interaction, Latency, RequestInfo
from tests.e2e.conftest import World

TIMEOUT = 20.0
ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content != render.PROGRESS_CREATING


def created_channel(inter: Interaction) -> int:
    assert inter.content is not None
    assert inter.content.startswith("✅ Your application channel has been created: <#"), inter.timeline
    return int(inter.content.rsplit("<#", 1)[1].rstrip(">"))


def is_result(info: RequestInfo) -> bool:
    body: object = info.body
    return isinstance(body, dict) and str(cast("dict[str, object]", body).get("content", "")).startswith("✅")


@pytest.mark.asyncio
async def test_orphan_record_after_channel_deleted_then_reapply(world: World) -> None:
    user = world.user("kevin_a")
    first = await world.emu.click(world.guild.id, user, world.button)
    await first.wait_until(final, timeout=TIMEOUT)
    old = created_channel(first)
    await world.app.bot.rest.delete_channel(old)  # an admin deletes the channel by hand
    second = await world.emu.click(world.guild.id, user, world.button)
    await second.wait_until(final, timeout=TIMEOUT)
    new = created_channel(second)
    assert new != old
    assert old not in world.emu.state.channels
    assert list(world.applications()) == [str(new)]


@pytest.mark.asyncio
async def test_slow_discord_does_not_delay_the_ack(world: World) -> None:
    world.emu.latency.set("POST /guilds/{guild_id}/channels", Latency.fixed(2.0))
    world.emu.latency.set("POST /channels/{channel_id}/messages", Latency.fixed(1.0))
    inter = await world.emu.click(world.guild.id, world.user("zoe"), world.button)
    await inter.wait_acked(timeout=3)
    # If the ack waited for any of the slow work it would take at least 2 s.
    assert inter.ack_latency is not None
    assert inter.ack_latency < 1.0
    await inter.wait_until(lambda i: i.content == render.PROGRESS_CREATING, timeout=TIMEOUT)
    await inter.wait_until(final, timeout=TIMEOUT)
    channel = created_channel(inter)
    assert world.emu.state.messages[channel]
    assert str(channel) in world.applications()


@pytest.mark.bot_options(max_retries=0)
@pytest.mark.asyncio
async def test_result_edit_5xx_is_retried_until_delivered(world: World) -> None:
    """hikari's own retries are off here, so this is the follow-up sender's retry at work."""
    rule = world.emu.faults.inject(method="PATCH", route=ORIGINAL, status=503, count=2, match=is_result)
    inter = await world.emu.click(world.guild.id, world.user("u1"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    created_channel(inter)
    assert len(rule.hits) == 2
    assert world.app.metrics.counters["followup.retry"] == 2
    assert world.app.metrics.counters["followup.delivered"] == 1


@pytest.mark.asyncio
async def test_429_on_channel_create_is_waited_out(world: World) -> None:
    rule = world.emu.faults.inject(method="POST", route="/guilds/{guild_id}/channels", status=429, retry_after=0.3)
    inter = await world.emu.click(world.guild.id, world.user("u2"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    channel = created_channel(inter)
    assert len(rule.hits) == 1
    assert str(channel) in world.applications()
    assert world.app.metrics.counters.get("apply.failed.discord_unavailable", 0) == 0


@pytest.mark.asyncio
async def test_gateway_drop_in_the_middle_of_an_apply(world: World) -> None:
    world.emu.latency.set("POST /guilds/{guild_id}/channels", Latency.fixed(1.0))
    inter = await world.emu.click(world.guild.id, world.user("u3"), world.button)
    await inter.wait_acked(timeout=3)
    await world.emu.gateway.drop(resumable=True)
    await inter.wait_until(final, timeout=TIMEOUT)
    created_channel(inter)
    await world.emu.gateway.wait_for(lambda gateway: gateway.connected, timeout=TIMEOUT)
    after = await world.emu.click(world.guild.id, world.user("u4"), world.button)  # the bot still listens
    await after.wait_until(final, timeout=TIMEOUT)
    created_channel(after)
    assert not after.failed


@pytest.mark.asyncio
async def test_double_click_while_slow_gets_in_progress_then_already_applied(world: World) -> None:
    world.emu.latency.set("POST /guilds/{guild_id}/channels", Latency.fixed(0.5))
    user = world.user("u5")
    first = await world.emu.click(world.guild.id, user, world.button)
    await first.wait_acked(timeout=3)
    second = await world.emu.click(world.guild.id, user, world.button)
    await asyncio.gather(first.wait_until(final, timeout=TIMEOUT), second.wait_until(final, timeout=TIMEOUT))
    assert (second.content or "").startswith("⏳ Your application is already being processed")
    channel = created_channel(first)
    third = await world.emu.click(world.guild.id, user, world.button)
    await third.wait_until(final, timeout=TIMEOUT)
    assert third.content == f"You already have an application channel: <#{channel}>"
