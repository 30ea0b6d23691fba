"""SIGKILL the real bot process mid-apply, restart it: exactly one channel and one record, admins told."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from castbot_hikari.apply import custom_ids, render
from castbot_hikari.apply.model import ApplyOutcome, Rejection
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.testing.emulator import DiscordEmulator, Guild, GuildSeed, Interaction, Latency
from tests.e2e.conftest import CONFIG_ID, castbot_data

CHANNELS = "POST /guilds/{guild_id}/channels"
MESSAGES = "POST /channels/{channel_id}/messages"


async def eventually(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Wait for state that another process changes (no event to wait on); bounded."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def start_bot(emu: DiscordEmulator, data_dir: Path) -> asyncio.subprocess.Process:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CASTBOT_")},
        "CASTBOT_TOKEN": emu.bot_token,
        "CASTBOT_API_URL": emu.rest_url,
        "CASTBOT_DATA_DIR": str(data_dir),
        # A create sent just before the kill may land late: the restart waits this long before releasing.
        "CASTBOT_CREATE_CONFIRM_WINDOW": "3",
    }
    identifies = emu.gateway.identifies
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "castbot_hikari",
        "run",
        cwd=data_dir.parent,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await emu.gateway.wait_for(lambda g: g.identifies > identifies and g.connected, timeout=60)
    return proc


def app_channels(emu: DiscordEmulator) -> list[int]:
    return [c.id for c in emu.state.channels.values() if "[castbot-app:" in (c.topic or "")]


def notices(emu: DiscordEmulator, guild: Guild) -> list[str]:
    return [m["content"] for m in emu.state.messages.get(guild.text_channels["admin-log"], [])]


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


@pytest.mark.parametrize("kill_during", ["channel_create", "welcome"])
@pytest.mark.asyncio
async def test_sigkill_mid_apply_then_restart_leaves_one_channel_and_one_record(
    tmp_path: Path, kill_during: str
) -> None:
    async with DiscordEmulator(validate=True) as emu:
        guild = emu.add_guild(
            GuildSeed(
                name="ORG",
                categories=["Applications"],
                text_channels=["apply-here", "admin-log"],
                roles=["Production"],
                members=[("kevin_a", "Kevin A")],
                bot_permissions=int(BOT_REQUIRED),
            )
        )
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        doc = castbot_data(guild, CONFIG_ID)
        doc[META] = {
            "schemaVersion": 1,
            "guilds": {str(guild.id): {"notifyChannelId": str(guild.text_channels["admin-log"])}},
        }
        (data_dir / DATA_FILE).write_bytes(orjson.dumps(doc))
        slow = CHANNELS if kill_during == "channel_create" else MESSAGES
        emu.latency.set(slow, Latency.fixed(1.5))
        user = guild.members["kevin_a"]
        button = custom_ids.apply_button(CONFIG_ID)  # type: ignore[arg-type]

        proc = await start_bot(emu, data_dir)
        try:
            first = await emu.click(guild.id, user, button)
            if kill_during == "channel_create":
                await first.wait_until(lambda i: i.content == render.PROGRESS_CREATING, timeout=20)
            else:
                await eventually(lambda: len(app_channels(emu)) == 1, "the channel to exist")
                await asyncio.sleep(0.2)  # let the bot persist the channel id before it dies
        finally:
            proc.kill()  # SIGKILL: no shutdown code runs
            await proc.wait()
        emu.latency.set(slow, None)

        proc = await start_bot(emu, data_dir)
        try:
            await eventually(lambda: any(n.startswith("🔧") for n in notices(emu, guild)), "the recovery notice")
            await first.wait_until(final, timeout=20)  # the token still lives: the applicant is told too
            again = await emu.click(guild.id, user, button)
            await again.wait_until(final, timeout=20)
        finally:
            proc.kill()
            await proc.wait()
        channels = app_channels(emu)
        assert len(channels) == 1  # never duplicated
        (recovery,) = [n for n in notices(emu, guild) if n.startswith("🔧")]
        if "finished" in recovery:  # Discord had created the channel before the kill: adopted
            assert f"<#{channels[0]}>" in recovery
            assert first.content == f"✅ Your application channel has been created: <#{channels[0]}>"
            assert again.content == f"You already have an application channel: <#{channels[0]}>"
        else:  # the kill came first: the reservation was released and the click made the channel
            assert "click Apply again" in recovery
            assert first.content == render.apply_outcome(ApplyOutcome.rejected(Rejection.INTERRUPTED))
            assert again.content == f"✅ Your application channel has been created: <#{channels[0]}>"
        repo = JsonApplicationRepository.open(data_dir, fsync=False)  # SIGKILLed: the journal is replayed
        apps = repo.document.doc[str(guild.id)]["applications"]
        assert list(apps) == [str(channels[0])]
        assert apps[str(channels[0])]["userId"] == str(user)
        assert await repo.list_pending() == []
        assert emu.validation_errors == []
