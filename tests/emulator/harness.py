"""Helpers for the emulator tests: a fake clock and a real GatewayBot running a tiny listener."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

import hikari

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed

Handler = Callable[[hikari.ComponentInteraction], Awaitable[None]]
TIMEOUT = 10.0

SEED = GuildSeed(
    name="ORG 1",
    categories=["Applications"],
    text_channels=["apply-here"],
    roles=["Production"],
    members=[("kevin_a", "Kevin A"), ("zoe", "Zoë")],
)


class FakeClock:
    """A manual monotonic clock for deadlines and token expiry."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


async def defer_then_edit(interaction: hikari.ComponentInteraction) -> None:
    """What the bot's Apply handler does: ephemeral defer, then replace the loading message."""
    await interaction.create_initial_response(
        hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=hikari.MessageFlag.EPHEMERAL
    )
    await interaction.edit_initial_response(f"✅ done: {interaction.custom_id}")


@dataclass
class Outcome:
    """How the listener's handler ended for one interaction."""

    interaction: hikari.ComponentInteraction
    error: BaseException | None


@dataclass
class RunningBot:
    """A started GatewayBot whose listener runs ``handler`` and reports each outcome."""

    bot: hikari.GatewayBot
    outcomes: asyncio.Queue[Outcome] = field(default_factory=asyncio.Queue[Outcome])
    guilds: set[int] = field(default_factory=set[int])
    guild_seen: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_guild(self, guild_id: int, timeout: float = TIMEOUT) -> None:  # noqa: ASYNC109 - test helper
        """Wait until hikari has processed a GUILD_CREATE for ``guild_id``."""
        async with asyncio.timeout(timeout):
            while guild_id not in self.guilds:
                self.guild_seen.clear()
                await self.guild_seen.wait()

    async def next_outcome(self, timeout: float = TIMEOUT) -> Outcome:  # noqa: ASYNC109 - test helper
        """Wait for the handler to finish with the next interaction."""
        return await asyncio.wait_for(self.outcomes.get(), timeout)


def make_bot(emu: DiscordEmulator, intents: hikari.Intents = hikari.Intents.ALL_UNPRIVILEGED) -> hikari.GatewayBot:
    """Build a real GatewayBot pointed at the emulator (hikari does not configure logging)."""
    return hikari.GatewayBot(emu.bot_token, rest_url=emu.rest_url, intents=intents, banner=None, logs=None)


@contextlib.asynccontextmanager
async def running_bot(
    emu: DiscordEmulator,
    handler: Handler = defer_then_edit,
    *,
    intents: hikari.Intents = hikari.Intents.ALL_UNPRIVILEGED,
    shard_ids: list[int] | None = None,
    shard_count: int | None = None,
) -> AsyncGenerator[RunningBot]:
    """Start a bot with a component listener running ``handler``; close it on exit.

    ``shard_ids``/``shard_count`` go to ``GatewayBot.start`` (default: what ``GET /gateway/bot`` says).
    """
    bot = make_bot(emu, intents)
    running = RunningBot(bot)

    async def on_component(event: hikari.ComponentInteractionCreateEvent) -> None:
        error: BaseException | None = None
        try:
            await handler(event.interaction)
        except Exception as exc:  # reported to the test, which asserts on it
            error = exc
        running.outcomes.put_nowait(Outcome(event.interaction, error))

    async def on_guild(event: hikari.GuildAvailableEvent | hikari.GuildJoinEvent) -> None:
        running.guilds.add(event.guild_id)
        running.guild_seen.set()

    bot.subscribe(hikari.ComponentInteractionCreateEvent, on_component)
    bot.subscribe(hikari.GuildAvailableEvent, on_guild)
    bot.subscribe(hikari.GuildJoinEvent, on_guild)
    await bot.start(check_for_updates=False, shard_ids=shard_ids, shard_count=shard_count)
    try:
        await emu.wait_ready(timeout=TIMEOUT)
        yield running
    finally:
        await bot.close()
