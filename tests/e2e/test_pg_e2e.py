"""Two ``castbot-hikari run`` processes on ONE shard sharing ONE PostgreSQL database: a rolling restart.

Discord sends every event of a shard to each of its sessions, so both processes get every click (the
emulator does the same). The database alone keeps the promises: one channel and one record per applicant,
every click answered with a final message; and when one process is killed (-9) mid-storm, the other takes
its clicks and applies over once their leases run out, with no duplicate and no lost record.
"""

from __future__ import annotations

import asyncio
import collections
import re
import signal
import sys
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from castbot_hikari.apply import custom_ids, render
from castbot_hikari.castbot.document import META
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.pg.migrate import migrate
from castbot_hikari.pg.store import prepare_connection
from castbot_hikari.pg.transfer import import_document
from castbot_hikari.testing.emulator import DiscordEmulator, Guild, GuildSeed, Interaction, Latency
from tests.e2e.commands import environment
from tests.e2e.conftest import CONFIG_ID, castbot_data

TIMEOUT = 90.0  # safety nets only: two bot processes and PostgreSQL share a small machine
LISTENING = re.compile(r"metrics and health listening on (http://127\.0\.0\.1:\d+)")
APPLIED = re.compile(r"^apply guild=(\d+) user=(\d+) ")
CHANNELS = "POST /guilds/{guild_id}/channels"
LEASE_S = "3"


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


@dataclass
class BotProcess:
    """One ``castbot-hikari run`` with its output lines and its endpoint."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list[str])
    url: str | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().rstrip("\n")
            self.lines.append(line)
            if self.url is None and (found := LISTENING.search(line)):
                self.url = found.group(1)

    def messages(self) -> list[str]:
        return [orjson.loads(line)["message"] for line in self.lines if line.startswith("{")]

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=TIMEOUT)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        assert self.proc.returncode is not None
        return self.proc.returncode


async def seed_database(url: str, guild: Guild) -> None:
    doc = castbot_data(guild, CONFIG_ID)
    doc[META] = {
        "schemaVersion": 1,
        "guilds": {str(guild.id): {"notifyChannelId": str(guild.text_channels["admin-log"])}},
    }
    conn = await asyncpg.connect(url)
    try:
        await prepare_connection(conn)
        await migrate(conn)
        await import_document(conn, doc)
    finally:
        await conn.close()


@asynccontextmanager
async def two_processes_on_one_shard(emu: DiscordEmulator, root: Path, url: str) -> AsyncGenerator[list[BotProcess]]:
    """Start two ``run`` processes on shard 0 of 1, both on ``url``; stop whatever still runs at the end."""
    bots: list[BotProcess] = []
    readers: list[asyncio.Task[None]] = []
    env = environment(
        CASTBOT_TOKEN=emu.bot_token,
        CASTBOT_API_URL=emu.rest_url,
        CASTBOT_STORE="postgres",
        CASTBOT_DATABASE_URL=url,
        CASTBOT_LEASE_SECONDS=LEASE_S,
        CASTBOT_CREATE_CONFIRM_WINDOW="3",
        CASTBOT_SHARD_IDS="0",
        CASTBOT_SHARD_COUNT="1",
        CASTBOT_METRICS_PORT="0",
        CASTBOT_LOG_FORMAT="json",
        CASTBOT_DATA_DIR=str(root / "no-such-folder"),  # postgres: no data folder is used
    )
    try:
        for _ in range(2):
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
            bots.append(BotProcess(proc))
            readers.append(asyncio.create_task(bots[-1].read()))
        yield bots
    finally:
        for bot in bots:
            await bot.stop()
        await asyncio.gather(*readers)


async def wait_ready(http: aiohttp.ClientSession, bots: Sequence[BotProcess]) -> None:
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


async def eventually(condition: Callable[[], Any], what: str, seconds: float = TIMEOUT) -> None:
    """Wait for state other processes change (no event to wait on); bounded polling."""
    for _ in range(int(seconds / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def seed(emu: DiscordEmulator, users: int) -> Guild:
    return emu.add_guild(
        GuildSeed(
            name="ORG",
            categories=["Applications"],
            text_channels=["apply-here", "admin-log"],
            roles=["Production"],
            members=[(f"u{n}", f"User {n}") for n in range(users)],
            bot_permissions=int(BOT_REQUIRED),
        )
    )


def app_channels(emu: DiscordEmulator) -> list[Any]:
    return [c for c in emu.state.channels.values() if "[castbot-app:" in (c.topic or "")]


async def database_rows(url: str) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    conn = await asyncpg.connect(url)
    try:
        recorded = await conn.fetch("SELECT user_id, channel_id FROM applies WHERE state = 'recorded'")
        reserved = await conn.fetch("SELECT user_id, owner FROM applies WHERE state = 'reserved'")
    finally:
        await conn.close()
    return list(recorded), list(reserved)


def assert_one_channel_and_one_record_each(
    emu: DiscordEmulator, recorded: Sequence[asyncpg.Record], users: Sequence[int]
) -> None:
    channels = app_channels(emu)
    owners = collections.Counter(int(re.findall(r"\[castbot-app:(\d+):", c.topic)[0]) for c in channels)
    assert all(n == 1 for n in owners.values()), owners  # never two channels for one applicant
    assert sorted(r["user_id"] for r in recorded) == sorted(owners)  # every channel recorded, nothing else
    assert {r["channel_id"] for r in recorded} == {c.id for c in channels}
    assert set(owners) <= set(users)


@pytest.mark.asyncio
async def test_two_gateway_processes_on_one_shard_share_postgres_without_duplicates(
    tmp_path: Path, pg_url: str
) -> None:
    users_count, clicks_each = 20, 5
    async with (
        DiscordEmulator(validate=True, seed=7) as emu,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http,
    ):
        guild = seed(emu, users_count)
        await seed_database(pg_url, guild)
        async with two_processes_on_one_shard(emu, tmp_path, pg_url) as bots:
            await wait_ready(http, bots)
            sessions = [s for s in emu.gateway.sessions.values() if s.sender is not None]
            assert [s.shard for s in sessions] == [(0, 1), (0, 1)]  # both get every event of the shard
            button = custom_ids.apply_button(CONFIG_ID)  # type: ignore[arg-type]
            users = [guild.members[f"u{n}"] for n in range(users_count)]
            clicks = [await emu.click(guild.id, user, button) for _ in range(clicks_each) for user in users]
            for inter in clicks:
                await inter.wait_until(final, timeout=TIMEOUT)
            recorded, reserved = await database_rows(pg_url)
        assert [await bot.stop() for bot in bots] == [0, 0]
    assert reserved == []
    assert len(recorded) == users_count
    assert_one_channel_and_one_record_each(emu, recorded, users)
    created = collections.Counter(i.user_id for i in clicks if (i.content or "").startswith("✅"))
    assert created == dict.fromkeys(users, 1)  # each applicant's channel announced once
    handled = [[m for m in bot.messages() if APPLIED.match(m)] for bot in bots]
    assert sum(len(h) for h in handled) == len(clicks)  # every click handled by exactly one process
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_kill_9_of_one_process_mid_storm_the_other_takes_over_after_the_lease(
    tmp_path: Path, pg_url: str
) -> None:
    users_count = 12
    async with (
        DiscordEmulator(validate=True, seed=8) as emu,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http,
    ):
        guild = seed(emu, users_count)
        await seed_database(pg_url, guild)
        emu.latency.set(CHANNELS, Latency.fixed(1.0))  # applies are in flight when the kill comes
        async with two_processes_on_one_shard(emu, tmp_path, pg_url) as bots:
            await wait_ready(http, bots)
            button = custom_ids.apply_button(CONFIG_ID)  # type: ignore[arg-type]
            users = [guild.members[f"u{n}"] for n in range(users_count)]
            clicks = [await emu.click(guild.id, user, button) for _ in range(2) for user in users]

            holders: list[BotProcess] = []

            async def some_process_holds_applies() -> bool:
                _, reserved = await database_rows(pg_url)
                holders.extend(b for b in bots if any(f":{b.proc.pid}:" in r["owner"] for r in reserved))
                return bool(holders)

            await eventually(some_process_holds_applies, "a process to hold reservations")
            victim = holders[0]  # the one with applies in flight: whichever it is
            (survivor,) = [b for b in bots if b is not victim]
            victim.proc.send_signal(signal.SIGKILL)  # no shutdown code runs: its leases just stop being renewed
            await victim.proc.wait()
            for inter in clicks:
                await inter.wait_until(final, timeout=TIMEOUT)

            async def settled() -> bool:
                return (await database_rows(pg_url))[1] == []

            await eventually(settled, "every reservation to be settled")
            recorded, _ = await database_rows(pg_url)
            survivor_messages = survivor.messages()
        assert await survivor.stop() == 0
    assert_one_channel_and_one_record_each(emu, recorded, users)
    takeovers = [m for m in survivor_messages if m.startswith(("taking over a click", "took over", "reconciled"))]
    assert takeovers, survivor_messages[-20:]  # the survivor finished what the killed process had claimed
    assert all(final(i) for i in clicks)
    assert emu.validation_errors == []
