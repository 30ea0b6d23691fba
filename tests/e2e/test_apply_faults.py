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
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


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
    assert world.app.metrics.snapshot()["followup.retry"] == 2
    assert world.app.metrics.snapshot()["followup.delivered"] == 1


@pytest.mark.asyncio
async def test_429_on_channel_create_is_waited_out(world: World) -> None:
    rule = world.emu.faults.inject(method="POST", route="/guilds/{guild_id}/channels", status=429, retry_after=0.3)
    inter = await world.emu.click(world.guild.id, world.user("u2"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    channel = created_channel(inter)
    assert len(rule.hits) == 1
    assert str(channel) in world.applications()
    assert world.app.metrics.snapshot().get("apply.failed.discord_unavailable", 0) == 0


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


CREATE = "/guilds/{guild_id}/channels"
MESSAGES = "/channels/{channel_id}/messages"
AFTER_ACTION = [
    pytest.param("status", {"status": 503}, id="503"),
    pytest.param("status", {"status": 500}, id="500"),
    pytest.param("drop", {}, id="dropped-connection"),
    pytest.param("hang", {"hang": 2.0}, id="timeout"),
    pytest.param("malformed", {}, id="truncated-json"),
    pytest.param("malformed", {"body": {}}, id="empty-object"),
]


def app_channels(world: World) -> list[int]:
    return [c.id for c in world.emu.state.channels.values() if "[castbot-app:" in (c.topic or "")]


@pytest.mark.parametrize(("after", "extra"), AFTER_ACTION)
@pytest.mark.bot_settings(create_confirm_window=3.0)
@pytest.mark.asyncio
async def test_a_channel_creation_failing_after_discord_acted_leaves_exactly_one_channel(
    world: World, after: str, extra: dict[str, object]
) -> None:
    """Discord creates the channel, then answers 5xx / drops / times out / sends garbage: no twin, a ✅."""
    rule = world.emu.faults.inject(method="POST", route=CREATE, after=after, **extra)  # type: ignore[arg-type]
    inter = await world.emu.click(world.guild.id, world.user("kevin_a"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    channel = created_channel(inter)
    assert app_channels(world) == [channel]
    assert len(rule.hits) == 1
    creates = [r for r in world.emu.requests if r.method == "POST" and r.route_template == CREATE]
    assert len(creates) == 1  # sent once: neither hikari nor the bot sent it again
    assert list(world.applications()) == [str(channel)]
    assert len(world.emu.state.messages[channel]) == 1  # one welcome


@pytest.mark.bot_settings(create_confirm_window=5.0)
@pytest.mark.asyncio
async def test_a_channel_creation_that_lands_after_the_answer_is_adopted(world: World) -> None:
    """The answer is a 503 and the channel appears a second later: the bot waits for it, creates no twin."""
    world.emu.faults.inject(method="POST", route=CREATE, after="status", status=503, late=1.0)
    inter = await world.emu.click(world.guild.id, world.user("kevin_a"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    await world.emu.late.wait()
    channel = created_channel(inter)
    assert app_channels(world) == [channel]
    assert list(world.applications()) == [str(channel)]


@pytest.mark.parametrize(("after", "extra"), AFTER_ACTION[:3])
@pytest.mark.asyncio
async def test_a_welcome_failing_after_discord_posted_it_is_not_posted_twice(
    world: World, after: str, extra: dict[str, object]
) -> None:
    rule = world.emu.faults.inject(method="POST", route=MESSAGES, after=after, **extra)  # type: ignore[arg-type]
    inter = await world.emu.click(world.guild.id, world.user("zoe"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    channel = created_channel(inter)
    assert len(rule.hits) == 1
    assert len(world.emu.state.messages[channel]) == 1
