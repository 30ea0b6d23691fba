"""In-process locks: one apply per (guild, user, config) at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Hashable


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
