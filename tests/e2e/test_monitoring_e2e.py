"""The metrics and health endpoint of the real bot: values move with clicks, readiness follows the shards and the
store, Discord's 429s and invalid requests are counted. Every endpoint listens on 127.0.0.1 and is stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from castbot_hikari.app import build_app
from castbot_hikari.apply import render
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.settings import OpsSettings, Settings
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Interaction
from tests.e2e.conftest import CONFIG_ID, World, castbot_data

TIMEOUT = 20.0
METRICS_ON = OpsSettings(metrics_port=0)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def final(inter: Interaction) -> bool:
    return inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        yield session


def base_url(world_or_port: World | int) -> str:
    port = world_or_port if isinstance(world_or_port, int) else world_or_port.app.monitoring.server.port  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}"


async def scrape(http: aiohttp.ClientSession, url: str) -> Samples:
    """GET /metrics and parse it: (sample name, sorted labels) -> value."""
    async with http.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def readiness(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{url}/readyz") as response:
        return response.status, orjson.loads(await response.read())


CREATED = ("castbot_apply_outcomes_total", (("kind", "created"), ("reason", "none")))


@pytest.mark.asyncio
@pytest.mark.bot_settings(ops=METRICS_ON)
@pytest.mark.emulator_options(heartbeat_interval=0.2)
async def test_metrics_move_when_clicks_happen(world: World, http: aiohttp.ClientSession) -> None:
    url = base_url(world)
    before = await scrape(http, url)
    assert before[("castbot_apply_clicks_total", ())] == 0.0
    assert before.get(CREATED, 0.0) == 0.0
    inter = await world.emu.click(world.guild.id, world.user("kevin_a"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    again = await world.emu.click(world.guild.id, world.user("kevin_a"), world.button)
    await again.wait_until(final, timeout=TIMEOUT)
    after = await scrape(http, url)
    assert after[("castbot_apply_clicks_total", ())] == 2.0
    assert after[CREATED] == 1.0
    assert after[("castbot_apply_outcomes_total", (("kind", "rejected"), ("reason", "already_applied")))] == 1.0
    assert after[("castbot_apply_events_total", (("event", "duplicates_prevented"),))] == 1.0
    assert after[("castbot_apply_ack_seconds_count", ())] == 2.0
    assert after[("castbot_apply_ack_seconds_bucket", (("le", "3.0"),))] == 2.0
    assert after[("castbot_apply_result_seconds_count", ())] == 2.0
    assert after[("castbot_followup_delivered_total", ())] == 2.0
    assert after[("castbot_store_save_seconds_count", ())] >= 4  # reserve, creating, channel, welcomed, commit
    assert after[("castbot_applies_running", ())] == 0.0
    assert after[("castbot_applies_waiting", ())] == 0.0
    assert after[("castbot_gateway_shard_connected", (("shard", "0"),))] == 1.0
    assert ("process_resident_memory_bytes", ()) in after
    for _ in range(int(TIMEOUT / 0.05)):  # the first heartbeat ack gives the latency (interval 0.2 s)
        if ("castbot_gateway_latency_seconds", (("shard", "0"),)) in (latest := await scrape(http, url)):
            assert latest[("castbot_gateway_latency_seconds", (("shard", "0"),))] >= 0
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("no gateway latency was exported")
    assert all("guild" not in dict(labels) and "user" not in dict(labels) for _, labels in after)


@pytest.mark.asyncio
@pytest.mark.bot_settings(ops=METRICS_ON)
async def test_429s_and_invalid_requests_are_counted(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    limited = emu.faults.inject(method="POST", route="/guilds/{guild_id}/channels", status=429, retry_after=0.05)
    inter = await emu.click(world.guild.id, world.user("kevin_a"), world.button)
    await inter.wait_until(final, timeout=TIMEOUT)
    assert inter.content is not None
    assert inter.content.startswith("✅")  # hikari waited the 429 out
    refused = emu.faults.inject(method="POST", route="/guilds/{guild_id}/channels", status=403, code=50013)
    other = await emu.click(world.guild.id, world.user("zoe"), world.button)
    await other.wait_until(final, timeout=TIMEOUT)
    assert (len(limited.hits), len(refused.hits)) == (1, 1)
    after = await scrape(http, base_url(world))
    assert after[("castbot_discord_rate_limited_total", (("scope", "user"),))] == 1.0
    assert after[("castbot_discord_invalid_requests_total", (("status", "429"),))] == 1.0
    assert after[("castbot_discord_invalid_requests_total", (("status", "403"),))] == 1.0


@pytest.mark.asyncio
async def test_health_is_live_at_once_and_ready_once_connected_with_the_store(
    emu: DiscordEmulator, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    guild = emu.add_guild(
        GuildSeed(name="ORG", categories=["Applications"], text_channels=["apply-here"], roles=["Production"])
    )
    (tmp_path / DATA_FILE).write_bytes(orjson.dumps(castbot_data(guild, CONFIG_ID)))
    settings = Settings(token=emu.bot_token, api_url=emu.rest_url, data_dir=tmp_path, ops=METRICS_ON)
    app = build_app(settings, JsonApplicationRepository.open(tmp_path, fsync=False))
    await app.monitoring.listen()  # as the CLI does, before the bot starts
    assert app.monitoring.server is not None
    assert app.monitoring.server.port is not None
    url = base_url(app.monitoring.server.port)
    try:
        async with http.get(f"{url}/livez") as live:
            assert live.status == 200
        status, body = await readiness(http, url)
        assert (status, body["ready"], body["started"]) == (503, False, False)
        await app.bot.start(check_for_updates=False)
        await emu.wait_ready(timeout=TIMEOUT)
        status, body = await readiness(http, url)
        assert (status, body) == (200, {"ready": True, "started": True, "shards": {"0": "connected"}, "store": "ok"})
        moved = tmp_path / "moved.json"
        (tmp_path / DATA_FILE).rename(moved)  # the volume went away
        status, body = await readiness(http, url)
        assert (status, body["store"]) == (503, "failing")
        moved.rename(tmp_path / DATA_FILE)
        await emu.gateway.drop(resumable=True)
        for _ in range(int(TIMEOUT / 0.05)):  # ready again once the shard resumed
            if (await readiness(http, url))[0] == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("not ready again after a resume")
    finally:
        await app.bot.close()
    assert not app.monitoring.server.started
    with pytest.raises(aiohttp.ClientConnectionError):
        await http.get(f"{url}/livez")
