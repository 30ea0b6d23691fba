"""End-to-end fixtures: the Discord emulator on 127.0.0.1 and the real bot (GatewayBot + lightbulb) on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from castbot_hikari.app import App, build_app
from castbot_hikari.apply import custom_ids
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE, META
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.settings import Settings
from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed

CONFIG_ID = "config_1781015852414_1"


@dataclass
class World:
    """One seeded server, the emulator and the running bot."""

    emu: DiscordEmulator
    app: App
    guild: Any
    data_dir: Path
    config_id: str

    @property
    def button(self) -> str:
        """Return the Apply button's custom id."""
        return custom_ids.apply_button(self.config_id)  # type: ignore[arg-type]

    def user(self, username: str) -> int:
        """Return a seeded member's user id."""
        return int(self.guild.members[username])

    def data(self) -> dict[str, Any]:
        """Return the data file as the bot last wrote it (snapshot plus journal)."""
        repo = self.app.repository
        return repo.document.doc

    def notices(self) -> list[str]:
        """Return what the admins were told in the notify channel."""
        return [m["content"] for m in self.emu.state.messages.get(self.guild.text_channels["admin-log"], [])]

    async def wait_notice(self, predicate: Callable[[str], bool], seconds: float = 20.0) -> str:
        """Wait until the admins were told something matching ``predicate`` (bounded polling: the notice is
        posted by the bot after the applicant's result, and nothing else signals it)."""
        for _ in range(int(seconds / 0.02)):
            if found := [n for n in self.notices() if predicate(n)]:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching admin notice; notices: {self.notices()}")

    def app_channels(self) -> list[Any]:
        """Return the application channels (found by their topic marker)."""
        return [c for c in self.emu.state.channels.values() if "[castbot-app:" in (c.topic or "")]

    def applications(self) -> dict[str, Any]:
        """Return the guild's recorded applications."""
        return self.data()[str(self.guild.id)].get("applications", {})


def castbot_data(guild: Any, config_id: str) -> dict[str, Any]:
    """Return a playerData.json with one Apply config for ``guild``."""
    return {
        str(guild.id): {
            "players": {},
            "applicationConfigs": {
                config_id: {
                    "buttonText": "Apply to Season 14",
                    "channelFormat": "📝%name%-app",
                    "stage": "active",
                    "categoryId": str(guild.categories["Applications"]),
                    "productionRole": str(guild.roles["Production"]),
                    "targetChannelId": str(guild.text_channels["apply-here"]),
                    "buttonStyle": "Success",
                }
            },
            "applications": {},
        }
    }


@pytest_asyncio.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[DiscordEmulator]:
    """A validating emulator; every test ends with no spec violation.

    ``@pytest.mark.emulator_options(token_ttl=1.0)`` passes options to ``DiscordEmulator``.
    """
    marker = request.node.get_closest_marker("emulator_options")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    async with DiscordEmulator(validate=True, seed=1, **options) as emulator:
        yield emulator
        assert emulator.validation_errors == []


@pytest_asyncio.fixture
async def world(emu: DiscordEmulator, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[World]:
    """The real bot, connected to the emulator, with one server and one Apply config.

    ``@pytest.mark.bot_options(max_retries=0)`` passes options to ``build_app``;
    ``@pytest.mark.bot_settings(create_confirm_window=3.0)`` sets fields of its ``Settings``;
    ``@pytest.mark.bot_permissions(bits)`` sets the bot's permissions in the server.
    The server has an "admin-log" channel set as the admins' notify channel.
    """
    marker = request.node.get_closest_marker("bot_options")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    perms = request.node.get_closest_marker("bot_permissions")
    guild = emu.add_guild(
        GuildSeed(
            name="ORG",
            categories=["Applications"],
            text_channels=["apply-here", "admin-log"],
            roles=["Production"],
            members=[
                ("kevin_a", "Kevin A"),
                ("zoe", "Zoë"),
                ("emoji", "🔥🔥"),
                *((f"u{n}", f"User {n}") for n in range(8)),
            ],
            bot_permissions=int(perms.args[0]) if perms else int(BOT_REQUIRED),
        )
    )
    data = castbot_data(guild, CONFIG_ID)
    data[META] = {
        "schemaVersion": 1,
        "guilds": {str(guild.id): {"notifyChannelId": str(guild.text_channels["admin-log"])}},
    }
    (tmp_path / DATA_FILE).write_bytes(orjson.dumps(data))
    settings_marker = request.node.get_closest_marker("bot_settings")
    overrides: dict[str, Any] = dict(settings_marker.kwargs) if settings_marker else {}
    settings = Settings(token=emu.bot_token, api_url=emu.rest_url, data_dir=tmp_path, **overrides)
    app = build_app(settings, JsonApplicationRepository.open(tmp_path, fsync=False), **options)
    await app.bot.start(check_for_updates=False)
    try:
        await emu.wait_ready(timeout=20)
        yield World(emu, app, guild, tmp_path, CONFIG_ID)
    finally:
        if app.bot.is_alive:
            await app.bot.close()
