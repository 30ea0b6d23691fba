"""lightbulb's command sync against the emulator: application, GET and PUT of commands."""

from __future__ import annotations

import lightbulb
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator
from tests.emulator.harness import SEED, make_bot


class Ping(lightbulb.SlashCommand, name="ping", description="Reply with pong"):
    """A trivial global slash command."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Answer the command."""
        await ctx.respond("pong")


class Setup(lightbulb.SlashCommand, name="apply-setup", description="Set up applications"):
    """A trivial guild slash command."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Answer the command."""
        await ctx.respond("ok")


def routes(emu: DiscordEmulator) -> list[str]:
    """Return ``METHOD template`` of every request so far."""
    return [f"{r.method} {r.route_template}" for r in emu.requests]


async def sync_once(emu: DiscordEmulator, guild_id: int) -> None:
    """Start a bot with a fresh lightbulb client, let it sync, and stop both."""
    bot = make_bot(emu)
    client = lightbulb.client_from_app(bot)
    client.register(Ping)
    client.register(Setup, guilds=[guild_id])
    await bot.start(check_for_updates=False)
    try:
        await client.start()
    finally:
        await client.stop()
        await bot.close()


@pytest.mark.asyncio
async def test_lightbulb_syncs_global_and_guild_commands_once(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    await sync_once(emu, guild.id)
    first = [r for r in routes(emu) if "command" in r or "oauth2" in r]
    assert first == [
        "GET /oauth2/applications/@me",
        "GET /applications/{application_id}/commands",
        "PUT /applications/{application_id}/commands",
        "GET /applications/{application_id}/guilds/{guild_id}/commands",
        "PUT /applications/{application_id}/guilds/{guild_id}/commands",
    ]
    assert [c["name"] for c in emu.state.commands[None]] == ["ping"]
    assert [c["name"] for c in emu.state.commands[guild.id]] == ["apply-setup"]
    ids = {c["id"] for c in emu.state.commands[None]}

    emu.requests.clear()
    await sync_once(emu, guild.id)  # what the emulator stored round-trips: nothing to update
    assert not [r for r in routes(emu) if r.startswith("PUT ")]
    assert {c["id"] for c in emu.state.commands[None]} == ids
    assert emu.validation_errors == []
