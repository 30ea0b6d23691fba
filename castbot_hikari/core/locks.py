"""In-process locks: one apply per (guild, user, config) at a time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Generator, Hashable


class KeyedLocks:
    """Non-blocking locks by key: a second holder is refused, never queued.

    The apply flow rejects a concurrent click ("already being processed") instead of waiting, so the
    lock is a set of held keys; there is nothing to wait on and nothing that can leak.
    """

    def __init__(self) -> None:
        self._held: set[Hashable] = set()

    @contextlib.contextmanager
    def try_hold(self, key: Hashable) -> Generator[bool]:
        """Hold ``key`` for the ``with`` block; yields ``False`` (and holds nothing) if already held."""
        if key in self._held:
            yield False
            return
        self._held.add(key)
        try:
            yield True
        finally:
            self._held.discard(key)

    def __len__(self) -> int:
        return len(self._held)


class KeyedSemaphores:
    """A semaphore per key, created on first use and dropped when no one holds or waits on it.

    Args:
        value: How many may hold one key at once.
    """

    def __init__(self, value: int) -> None:
        self._value = value
        self._semaphores: dict[Hashable, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncGenerator[None]:
        """Hold one of ``key``'s ``value`` places for the ``async with`` block (waiting for one if needed)."""
        semaphore, users = self._semaphores.get(key) or (asyncio.Semaphore(self._value), 0)
        self._semaphores[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._semaphores[key]
            if users == 1:
                del self._semaphores[key]
            else:
                self._semaphores[key] = (semaphore, users - 1)

    def __len__(self) -> int:
        return len(self._semaphores)
