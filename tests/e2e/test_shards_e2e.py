"""Sharding across processes: two ``castbot-hikari run`` processes each own half of 4 shards.

Each process has its own JSON data folder holding the configs of the guilds its shards own, or both share one
PostgreSQL database (and take their REST turns from it). Every server's clicks must be handled by exactly one
process and succeed; start-up must respect ``session_start_limit.max_concurrency``; each process exports its own
metrics and readiness, and writes JSON logs without a token.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from castbot_hikari.apply import custom_ids, render
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.testing.emulator import DiscordEmulator, Guild, GuildSeed, Interaction
from tests.e2e.commands import castbot, environment
from tests.e2e.conftest import CONFIG_ID, castbot_data

SHARDS = 4
TIMEOUT = 60.0  # safety nets only: two bot processes start on a shared machine
LISTENING = re.compile(r"metrics and health listening on (http://127\.0\.0\.1:\d+)")
APPLIED = re.compile(r"^apply guild=(\d+) ")


def shard_of(guild_id: int) -> int:
    """Return the shard Discord routes a guild's events to."""
    return (guild_id >> 22) % SHARDS


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


async def guilds_on_every_shard(emu: DiscordEmulator) -> list[Guild]:
    """Seed servers until every shard has one (a guild's shard comes from its creation millisecond)."""
    guilds: list[Guild] = []
    for n in range(400):
        seed = GuildSeed(
            name=f"ORG {n}",
            categories=["Applications"],
            text_channels=["apply-here"],
            roles=["Production"],
            members=[("kevin_a", "Kevin A"), ("zoe", "Zoë")],
            bot_permissions=int(BOT_REQUIRED),
        )
        guilds.append(emu.add_guild(seed))
        if {shard_of(g.id) for g in guilds} == set(range(SHARDS)):
            return guilds
        await asyncio.sleep(0.002)  # the next snowflake then has another millisecond
    raise AssertionError("could not spread guilds over every shard")


@dataclass
class BotProcess:
    """One ``castbot-hikari run`` with its shards, its output lines and its endpoint."""

    shards: tuple[int, ...]
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list[str])
    url: str | None = None

    async def read(self) -> None:
        """Collect stdout+stderr lines (JSON logs) until the process ends."""
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if self.url is None and (found := LISTENING.search(line)):
                self.url = found.group(1)

    def messages(self) -> list[str]:
        """Return the ``message`` of every JSON log line (every line must be JSON)."""
        return [orjson.loads(line)["message"] for line in self.lines]

    async def stop(self) -> int:
        """Ctrl-C, as an operator would; kill only if it hangs."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=TIMEOUT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode


def data_folder(root: Path, name: str, guilds: Sequence[Guild]) -> Path:
    """Write a data folder holding the Apply configs of ``guilds`` only."""
    folder = root / name
    folder.mkdir()
    data: dict[str, Any] = {}
    for guild in guilds:
        data.update(castbot_data(guild, CONFIG_ID))
    (folder / DATA_FILE).write_bytes(orjson.dumps(data))
    return folder


@asynccontextmanager
async def bot_processes(
    emu: DiscordEmulator,
    root: Path,
    guilds: Sequence[Guild],
    halves: Sequence[tuple[int, ...]],
    *,
    shard_count: int = SHARDS,
    database_url: str | None = None,
) -> AsyncGenerator[list[BotProcess]]:
    """Start one ``run`` per shard set, each on the data folder of its guilds (or all on one database, which
    gets every guild's data through ``castbot-hikari import``); stop them all at the end."""
    bots: list[BotProcess] = []
    readers: list[asyncio.Task[None]] = []
    shared = {"CASTBOT_STORE": "postgres", "CASTBOT_DATABASE_URL": database_url} if database_url else None
    if shared is not None:
        source = data_folder(root, "all", guilds) / DATA_FILE
        imported = await asyncio.to_thread(castbot, "import", str(source), cwd=root, env=environment(**shared))
        assert imported.code == 0, imported.err
    try:
        for shards in halves:
            owned = [g for g in guilds if (g.id >> 22) % shard_count in shards]
            store = shared or {
                "CASTBOT_DATA_DIR": str(data_folder(root, f"shards-{'-'.join(map(str, shards))}", owned))
            }
            env = environment(
                CASTBOT_TOKEN=emu.bot_token,
                CASTBOT_API_URL=emu.rest_url,
                **store,
                CASTBOT_SHARD_IDS=",".join(map(str, shards)),
                CASTBOT_SHARD_COUNT=str(shard_count),
                CASTBOT_METRICS_PORT="0",
                CASTBOT_LOG_FORMAT="json",
            )
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "castbot_hikari",
                "run",
                cwd=root,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            bots.append(BotProcess(shards, proc))
            readers.append(asyncio.create_task(bots[-1].read()))
        yield bots
    finally:
        codes = [await bot.stop() for bot in bots]
        await asyncio.gather(*readers)
        assert codes == [0] * len(bots), [bot.lines[-20:] for bot in bots]


async def wait_all_ready(http: aiohttp.ClientSession, bots: Sequence[BotProcess]) -> None:
    """Poll each process's /readyz until it answers 200 (bounded)."""
    for _ in range(int(TIMEOUT / 0.1)):
        statuses: list[int] = []
        for bot in bots:
            if bot.url is None:
                statuses.append(0)
                continue
            async with http.get(f"{bot.url}/readyz") as response:
                statuses.append(response.status)
        if statuses == [200] * len(bots):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not ready: {[bot.lines[-5:] for bot in bots]}")


async def clicks_counted(http: aiohttp.ClientSession, bot: BotProcess) -> float:
    """Return ``castbot_apply_clicks_total`` scraped from the process."""
    async with http.get(f"{bot.url}/metrics") as response:
        text = await response.text()
    (value,) = re.findall(r"^castbot_apply_clicks_total (\S+)$", text, flags=re.MULTILINE)
    return float(value)


@pytest.mark.asyncio
async def test_two_processes_with_half_of_four_shards_each_handle_each_server_exactly_once(tmp_path: Path) -> None:
    await each_server_handled_by_exactly_one_process(tmp_path, database_url=None)


@pytest.mark.asyncio
async def test_two_processes_with_half_of_four_shards_each_on_one_database_handle_each_server_once(
    tmp_path: Path, pg_url: str
) -> None:
    servers = await each_server_handled_by_exactly_one_process(tmp_path, database_url=pg_url)
    conn = await asyncpg.connect(pg_url)
    try:
        recorded = await conn.fetch("SELECT guild_id, user_id FROM applies WHERE state = 'recorded'")
        taken = await conn.fetchval("SELECT count(*) FROM rest_pace")
    finally:
        await conn.close()
    assert len(recorded) == len({(r["guild_id"], r["user_id"]) for r in recorded}) == 2 * servers
    assert taken == 1  # both processes took their REST turns from the one shared row


async def each_server_handled_by_exactly_one_process(tmp_path: Path, *, database_url: str | None) -> int:
    """Click twice in every server with two processes on halves of 4 shards; return the number of servers."""
    async with (
        DiscordEmulator(
            validate=True, seed=3, shards=SHARDS, max_concurrency=SHARDS, enforce_identify_limit=True
        ) as emu,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http,
    ):
        guilds = await guilds_on_every_shard(emu)
        halves = ((0, 1), (2, 3))
        async with bot_processes(emu, tmp_path, guilds, halves, database_url=database_url) as bots:
            await wait_all_ready(http, bots)
            button = custom_ids.apply_button(CONFIG_ID)  # type: ignore[arg-type]
            clicks = [await emu.click(g.id, g.members[name], button) for g in guilds for name in ("kevin_a", "zoe")]
            for inter in clicks:
                await inter.wait_until(final, timeout=TIMEOUT)
            counted = [await clicks_counted(http, bot) for bot in bots]
        assert [inter.content[:1] for inter in clicks if inter.content] == ["✅"] * len(clicks)
        handled = [[int(m.group(1)) for msg in bot.messages() if (m := APPLIED.match(msg))] for bot in bots]
        for bot, guild_ids in zip(bots, handled, strict=True):
            owned = sorted(g.id for g in guilds if shard_of(g.id) in bot.shards)
            assert sorted(guild_ids) == sorted(owned * 2)  # both clicks of each of its servers, no other
        assert counted == [float(len(h)) for h in handled]
        assert sum(counted) == len(clicks)
        gate = emu.gateway.identify_gate
        assert sorted(r.shard for r in gate.log) == [(s, SHARDS) for s in range(SHARDS)]
        assert gate.rate_limited == []
        assert emu.validation_errors == []
        output = "\n".join(line for bot in bots for line in bot.lines)
        assert emu.bot_token not in output
        return len(guilds)


@pytest.mark.asyncio
async def test_one_process_running_every_shard_waits_out_the_identify_window(tmp_path: Path) -> None:
    """With ``max_concurrency`` 1, hikari starts the second shard in the next 5-second window."""
    async with (
        DiscordEmulator(validate=True, seed=3, shards=2, max_concurrency=1, enforce_identify_limit=True) as emu,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http,
    ):
        guild = emu.add_guild(
            GuildSeed(name="ORG", categories=["Applications"], text_channels=["apply-here"], roles=["Production"])
        )
        async with bot_processes(emu, tmp_path, [guild], [(0, 1)], shard_count=2) as bots:
            await wait_all_ready(http, bots)
        gate = emu.gateway.identify_gate
        assert [r.shard for r in gate.log] == [(0, 2), (1, 2)]
        assert gate.rate_limited == []
        first, second = gate.times(0)
        assert second - first >= 5.0  # Discord's window per bucket: an order, not a timing measurement
