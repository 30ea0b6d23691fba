"""The apply flow end to end: real GatewayBot + lightbulb + extensions against the Discord emulator."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from castbot_hikari.apply import render
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.core.permissions import APPLICANT_ALLOW, BOT_ALLOW, PRODUCTION_ALLOW, Permission
from castbot_hikari.testing.emulator import ChannelState, Interaction
from tests.e2e.conftest import World

TIMEOUT = 15.0


def final(inter: Interaction) -> bool:
    """Whether the applicant sees a final message (not loading, not the progress line)."""
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


def app_channels(world: World) -> list[ChannelState]:
    return [c for c in world.emu.state.channels.values() if (c.topic or "").find("[castbot-app:") >= 0]


@pytest.mark.asyncio
async def test_click_is_deferred_at_once_then_channel_welcome_record_and_result(world: World) -> None:
    user = world.user("kevin_a")
    inter = await world.emu.click(world.guild.id, user, world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    assert not inter.failed
    assert inter.ephemeral
    assert inter.ack_type == 5
    assert inter.ack_latency is not None
    assert inter.ack_latency < 3.0
    (channel,) = app_channels(world)
    assert inter.content == f"✅ Your application channel has been created: <#{channel.id}>"
    assert channel.name == "📝kevina-app"
    assert channel.parent_id == world.guild.categories["Applications"]
    overwrites = {(o["id"], o["type"]): (o["allow"], o["deny"]) for o in channel.permission_overwrites}
    assert overwrites == {
        (world.guild.id, 0): (0, int(Permission.VIEW_CHANNEL)),
        (user, 1): (int(APPLICANT_ALLOW), 0),
        (world.guild.roles["Production"], 0): (int(PRODUCTION_ALLOW), 0),
        (world.emu.bot_user_id, 1): (int(BOT_ALLOW), 0),
    }
    (welcome,) = world.emu.state.messages[channel.id]
    assert f"<@{user}>" in welcome["content"]
    record = world.applications()[str(channel.id)]
    assert record["userId"] == str(user)
    assert record["configId"] == world.config_id
    kinds = [kind for _, kind, _ in inter.timeline]
    assert kinds.index("acked") < kinds.index("original_edited")


@pytest.mark.asyncio
async def test_five_concurrent_clicks_make_one_channel_and_five_answers(world: World) -> None:
    user = world.user("zoe")
    inters = await asyncio.gather(*(world.emu.click(world.guild.id, user, world.button) for _ in range(5)))
    await asyncio.gather(*(i.wait_until(final, timeout=TIMEOUT) for i in inters))
    assert len(app_channels(world)) == 1
    contents = sorted(i.content or "" for i in inters)
    assert sum(c.startswith("✅") for c in contents) == 1
    assert all(c.startswith(("✅", "⏳", "You already have")) for c in contents)
    assert not any(i.failed for i in inters)


@pytest.mark.asyncio
async def test_unknown_config_gets_a_clear_message(world: World) -> None:
    inter = await world.emu.click(world.guild.id, world.user("u1"), "apply_config_1_999")
    await inter.wait_until(final, timeout=TIMEOUT)
    assert "no longer set up" in (inter.content or "")
    assert app_channels(world) == []


@pytest.mark.asyncio
async def test_data_file_is_complete_after_shutdown(world: World) -> None:
    inter = await world.emu.click(world.guild.id, world.user("emoji"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    await world.app.bot.close()
    doc = orjson.loads((world.data_dir / DATA_FILE).read_bytes())
    (record,) = doc[str(world.guild.id)]["applications"].values()
    assert record["channelName"] == f"📝{world.user('emoji')}-app"  # emoji-only name fell back to the id
    JsonApplicationRepository.open(world.data_dir, fsync=False)  # and it loads again
