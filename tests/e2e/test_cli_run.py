"""``castbot-hikari run`` as a new user runs it: a separate process, settings from the environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
import pytest

from castbot_hikari.apply import custom_ids, render
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Interaction
from tests.e2e.conftest import CONFIG_ID, castbot_data


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


async def stop(proc: asyncio.subprocess.Process) -> int:
    """Stop the bot the way a terminal would (Ctrl-C), and only kill it if it hangs."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


@pytest.mark.asyncio
async def test_run_command_against_a_discord_compatible_api(tmp_path: Path) -> None:
    async with DiscordEmulator(validate=True) as emu:
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
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CASTBOT_")},
            "CASTBOT_TOKEN": emu.bot_token,
            "CASTBOT_API_URL": emu.rest_url,
            "CASTBOT_DATA_DIR": str(data_dir),
            "CASTBOT_LOG_LEVEL": "INFO",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "castbot_hikari",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await emu.wait_ready(timeout=60)
            user = guild.members["kevin_a"]
            inter = await emu.click(guild.id, user, custom_ids.apply_button(CONFIG_ID))  # type: ignore[arg-type]
            await inter.wait_until(final, timeout=30)
        finally:
            code = await stop(proc)
        assert proc.stdout is not None
        logs = (await proc.stdout.read()).decode()
        assert code == 0, logs
        assert inter.ack_type == 5
        assert inter.ephemeral
        assert inter.ack_latency is not None
        assert inter.ack_latency < 3.0
        assert inter.content is not None
        assert inter.content.startswith("✅ Your application channel has been created: <#")
        channel_id = int(inter.content.rsplit("<#", 1)[1].rstrip(">"))
        assert emu.state.channels[channel_id].parent_id == guild.categories["Applications"]
        assert any(f"<@{user}>" in m["content"] for m in emu.state.messages[channel_id])
        doc = orjson.loads((data_dir / DATA_FILE).read_bytes())  # the clean stop left a complete snapshot
        assert doc[str(guild.id)]["applications"][str(channel_id)]["userId"] == str(user)
        assert "outcome=created" in logs
        assert emu.bot_token not in logs
        assert emu.validation_errors == []


CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"


@pytest.mark.parametrize(
    ("status", "code"), [pytest.param(503, 0, id="503"), pytest.param(400, 40060, id="already-acknowledged")]
)
@pytest.mark.asyncio
async def test_a_failed_defer_never_puts_the_interaction_token_in_the_logs(
    tmp_path: Path, status: int, code: int
) -> None:
    """hikari's error text holds the callback URL, token included (still valid after a 40060): redacted."""
    async with DiscordEmulator(validate=True) as emu:
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
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CASTBOT_")},
            "CASTBOT_TOKEN": emu.bot_token,
            "CASTBOT_API_URL": emu.rest_url,
            "CASTBOT_DATA_DIR": str(data_dir),
            "CASTBOT_LOG_LEVEL": "DEBUG",
        }
        emu.faults.inject(method="POST", route=CALLBACK, status=status, code=code, count=4)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "castbot_hikari",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await emu.wait_ready(timeout=60)
            button = custom_ids.apply_button(CONFIG_ID)  # type: ignore[arg-type]
            inter = await emu.click(guild.id, guild.members["kevin_a"], button)
            attempts = 4 if status == 503 else 1  # hikari retries a 503 three times, a 400 never
            for _ in range(600):  # bounded: hikari's back-off ends within seconds
                if sum(r.route_template == CALLBACK for r in emu.requests) >= attempts:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # let the bot log its failure
        finally:
            await stop(proc)
        assert proc.stdout is not None
        logs = (await proc.stdout.read()).decode()
        # A 503 fails the defer (hikari's retries meet Discord's 503 again); a 40060 means an earlier
        # attempt was taken, so the bot goes on as acknowledged. Either way no token reaches the output.
        assert ("defer failed" in logs) == (status == 503)
        assert inter.token not in logs
