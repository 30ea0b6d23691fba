"""One process writes a data folder: a second bot, an import or a sandbox is refused while a bot runs there.

The bot runs for real (``castbot-hikari run`` in its own process) against the Discord emulator.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import orjson
import pytest

from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.cli import ExitCode
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed
from tests.e2e.commands import castbot, environment, start, stop
from tests.e2e.conftest import CONFIG_ID, castbot_data


def seeded(emu: DiscordEmulator, data_dir: Path) -> None:
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
    data_dir.mkdir()
    (data_dir / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))


@pytest.mark.asyncio
async def test_while_a_bot_runs_its_folder_is_refused_to_every_other_writer(tmp_path: Path) -> None:
    async with DiscordEmulator(validate=True) as emu:
        data_dir = tmp_path / "data"
        seeded(emu, data_dir)
        env = environment(CASTBOT_TOKEN=emu.bot_token, CASTBOT_API_URL=emu.rest_url, CASTBOT_DATA_DIR=str(data_dir))
        (tmp_path / "castbot.json").write_bytes(orjson.dumps({"1": {"applicationConfigs": {}}}))
        first = await start("run", cwd=tmp_path, env=env)
        try:
            await emu.wait_ready(timeout=60)
            before = (data_dir / DATA_FILE).read_bytes()
            second = await asyncio.to_thread(castbot, "run", cwd=tmp_path, env=env)
            imported = await asyncio.to_thread(
                castbot, "import", "castbot.json", "--force", "--data-dir", str(data_dir), cwd=tmp_path, env=env
            )
        finally:
            code, logs = await stop(first)
        assert code == 0, logs
        for refused in (second, imported):
            assert refused.code == ExitCode.DATA
            (line,) = refused.err_lines
            assert f"the data folder {data_dir} is in use by another castbot-hikari process (PID {first.pid})" in line
        assert "nothing was imported" in imported.err
        # before: import said it succeeded, then the bot's shutdown snapshot wrote the old data back
        after = orjson.loads((data_dir / DATA_FILE).read_bytes())
        after.get(META, {}).pop("journalSeq", None)  # the bot's own bookkeeping of its snapshots
        if not after.get(META):
            after.pop(META, None)
        assert after == orjson.loads(before)
        assert list(data_dir.glob("*.bak")) == []
        assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_a_killed_bot_never_blocks_the_next_start(tmp_path: Path) -> None:
    async with DiscordEmulator(validate=True) as emu:
        data_dir = tmp_path / "data"
        seeded(emu, data_dir)
        env = environment(CASTBOT_TOKEN=emu.bot_token, CASTBOT_API_URL=emu.rest_url, CASTBOT_DATA_DIR=str(data_dir))
        crashed = await start("run", cwd=tmp_path, env=env)
        try:
            await emu.wait_ready(timeout=60)
        finally:
            await stop(crashed, signal.SIGKILL)  # no shutdown code runs; the kernel drops the lock
        identifies = emu.gateway.identifies
        restarted = await start("run", cwd=tmp_path, env=env)
        try:
            await emu.gateway.wait_for(lambda g: g.identifies > identifies and g.connected, timeout=60)
        finally:
            code, logs = await stop(restarted)
        assert code == 0, logs
        assert "in use" not in logs


@pytest.mark.asyncio
async def test_a_refused_token_is_one_line(tmp_path: Path) -> None:
    async with DiscordEmulator(validate=True) as emu:
        data_dir = tmp_path / "data"
        seeded(emu, data_dir)
        wrong = emu.bot_token[:-4] + ("AAAA" if not emu.bot_token.endswith("AAAA") else "BBBB")
        env = environment(CASTBOT_TOKEN=wrong, CASTBOT_API_URL=emu.rest_url, CASTBOT_DATA_DIR=str(data_dir))
        result = await asyncio.to_thread(castbot, "run", cwd=tmp_path, env=env)
    assert result.code == ExitCode.TOKEN_REFUSED
    (line,) = result.err_lines  # before: 27 lines of lightbulb's traceback first
    assert "Discord refused CASTBOT_TOKEN (401 Unauthorized)" in line
    assert wrong not in result.err


@pytest.mark.asyncio
async def test_init_and_the_sandbox_refuse_a_running_bots_folder(tmp_path: Path) -> None:
    async with DiscordEmulator(validate=True) as emu:
        data_dir = tmp_path / "data"
        seeded(emu, data_dir)
        env = environment(CASTBOT_TOKEN=emu.bot_token, CASTBOT_API_URL=emu.rest_url, CASTBOT_DATA_DIR=str(data_dir))
        bot = await start("run", cwd=tmp_path, env=env)
        try:
            await emu.wait_ready(timeout=60)
            init = await asyncio.to_thread(castbot, "init", cwd=tmp_path, env=env)
            sandbox = await asyncio.to_thread(castbot, "sandbox", "--data-dir", str(data_dir), cwd=tmp_path, env=env)
        finally:
            code, logs = await stop(bot)
        assert code == 0, logs
        assert init.code == sandbox.code == ExitCode.DATA
        assert "already holds data" in init.err
        assert "already holds playerData.json" in sandbox.err
