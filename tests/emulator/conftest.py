"""Fixtures for the emulator suite: a started emulator with one seeded guild."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
