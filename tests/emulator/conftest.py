"""Fixtures for the emulator suite: a started emulator with one seeded guild."""

from __future__ import annotations

from collections.abc import AsyncIterator

import hikari
import pytest
import pytest_asyncio

from castbot_hikari.testing.emulator import DiscordEmulator
from tests.emulator.harness import FakeClock


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    """A started, validating emulator (real clock)."""
    async with DiscordEmulator(seed=7) as emulator:
        yield emulator


@pytest.fixture
def clock() -> FakeClock:
    """A manual clock to inject into an emulator."""
    return FakeClock()


@pytest_asyncio.fixture
async def rest(emu: DiscordEmulator) -> AsyncIterator[hikari.api.RESTClient]:
    """hikari's REST client on the emulator (no gateway needed)."""
    app = hikari.RESTApp(url=emu.rest_url)
    await app.start()
    try:
        async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as client:
            yield client
    finally:
        await app.close()
