"""Queued channel renames: Discord allows two renames per ten minutes per channel.

A status change (📝 → ☑️, ✖️) asks for a prefix; the queue renames the channel at once when the channel's
budget allows, otherwise when it does, with the latest prefix asked for (a withdraw then a resume within
the window costs no rename at all if neither could be sent yet). A failed rename is logged and retried
after the window a few times; it never fails the step that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Final, Protocol

from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.questions.model import with_prefix

logger = logging.getLogger(__name__)

RENAME_LIMIT: Final = 2
RENAME_WINDOW: Final = 600.0
MAX_ATTEMPTS: Final = 3


class ChannelNames(Protocol):
    """Reading and changing a channel's name; failures raise ``DiscordError``."""

    async def channel_name(self, channel_id: ChannelId) -> str | None:
        """Return the channel's name (``None``: the channel is gone)."""
        ...

    async def rename_channel(self, channel_id: ChannelId, name: str) -> None:
        """Rename the channel."""
        ...


class RenameQueue:
    """``Renamer``: one worker per channel with a wish pending, paced to ``limit`` renames per ``window``.

    Args:
        channels: The Discord calls.
        clock: Monotonic time for the budget.
        sleep: Waits (injected so tests never sleep).
        limit: Renames per window per channel (Discord: 2).
        window: The window in seconds (Discord: 600).
    """

    def __init__(
        self,
        channels: ChannelNames,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
        *,
        limit: int = RENAME_LIMIT,
        window: float = RENAME_WINDOW,
    ) -> None:
        self._channels = channels
        self._clock = clock
        self._sleep = sleep
        self._limit = limit
        self._window = window
        self._wanted: dict[ChannelId, str] = {}
        self._sent: dict[ChannelId, deque[float]] = {}
        self._workers: dict[ChannelId, asyncio.Task[None]] = {}

    def request(self, channel_id: ChannelId, prefix: str) -> None:
        """Ask for ``prefix``; the latest wish wins. Never raises."""
        self._wanted[channel_id] = prefix
        worker = self._workers.get(channel_id)
        if worker is None or worker.done():
            self._workers[channel_id] = asyncio.get_running_loop().create_task(
                self._work(channel_id), name=f"castbot-rename-{channel_id}"
            )

    def pending(self, channel_id: ChannelId) -> str | None:
        """Return the prefix still waiting for the channel's budget, if any."""
        return self._wanted.get(channel_id)

    def _wait_needed(self, channel_id: ChannelId) -> float:
        sent = self._sent.setdefault(channel_id, deque())
        now = self._clock.monotonic()
        while sent and now - sent[0] >= self._window:
            sent.popleft()
        return 0.0 if len(sent) < self._limit else self._window - (now - sent[0])

    async def _work(self, channel_id: ChannelId) -> None:
        attempts = 0
        while channel_id in self._wanted:
            wait = self._wait_needed(channel_id)
            if wait > 0:
                logger.info("rename queued channel=%s wait_s=%.0f", channel_id, wait)
                await self._sleep(wait)
                continue
            prefix = self._wanted.pop(channel_id)
            try:
                await self._rename(channel_id, prefix)
                attempts = 0
            except DiscordError as exc:
                attempts += 1
                logger.warning("rename failed channel=%s kind=%s attempt=%d", channel_id, exc.kind.value, attempts)
                if exc.kind in (DiscordErrorKind.NOT_FOUND, DiscordErrorKind.MISSING_PERMISSIONS):
                    continue
                if attempts < MAX_ATTEMPTS:  # wait a whole window: Discord may count renames we did not see
                    self._wanted.setdefault(channel_id, prefix)
                    self._sent[channel_id] = deque([self._clock.monotonic()] * self._limit)
            except Exception:  # a rename must never take the bot down; the log says what happened
                logger.exception("rename crashed channel=%s", channel_id)
        self._workers.pop(channel_id, None)

    async def _rename(self, channel_id: ChannelId, prefix: str) -> None:
        name = await self._channels.channel_name(channel_id)
        if name is None:
            return
        wanted = with_prefix(name, prefix)
        if wanted == name:
            return
        self._sent.setdefault(channel_id, deque()).append(self._clock.monotonic())
        await self._channels.rename_channel(channel_id, wanted)
        logger.info("channel renamed channel=%s prefix=%s", channel_id, prefix)

    async def close(self) -> None:
        """Stop the workers (wishes still waiting are dropped; the data holds the state)."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        for worker in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers.clear()
