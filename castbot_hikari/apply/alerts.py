"""When the admins are told about applies: the alert policy of the apply flow (the words are in ``notices``)."""

from __future__ import annotations

import logging
from typing import Final

from castbot_hikari.apply.model import (
    ADMIN_FIXABLE,
    Alert,
    ApplyKey,
    ApplyOutcome,
    RepeatedFailures,
    SetupFailure,
)
from castbot_hikari.apply.ports import AdminNotifier, ApplicationRepository
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import GuildId

logger = logging.getLogger(__name__)

REPEAT_COUNT: Final = 3
REPEAT_WINDOW_S: Final = 600.0


class Alerts:
    """Decide which apply failures the admins hear about, and send alerts without ever breaking an apply.

    Failures of the server's setup (``ADMIN_FIXABLE``) are reported at once; the others (Discord down, disk
    trouble, bugs) only when they repeat: ``REPEAT_COUNT`` within ``REPEAT_WINDOW_S`` in one server.

    Args:
        repo: Where the failed apply's config (its category) is read.
        notifier: Tells each server's admins; without one, alerts are only logged.
        clock: Time source for the repeat window.
    """

    def __init__(self, repo: ApplicationRepository, notifier: AdminNotifier | None, clock: Clock) -> None:
        self._repo = repo
        self._notifier = notifier
        self._clock = clock
        self._recent_failures: dict[GuildId, list[float]] = {}

    async def after_apply(self, key: ApplyKey, outcome: ApplyOutcome) -> None:
        """Tell the admins about a failed apply when they can act on it, or when failures repeat."""
        if outcome.failure is None:
            return
        if outcome.failure in ADMIN_FIXABLE:
            config = await self._repo.get_config(key.guild_id, key.config_id)
            await self.send(key.guild_id, SetupFailure(key, outcome, config.category_id if config else None))
            return
        now = self._clock.monotonic()
        recent = [t for t in self._recent_failures.get(key.guild_id, []) if now - t < REPEAT_WINDOW_S] + [now]
        self._recent_failures[key.guild_id] = recent
        if len(recent) >= REPEAT_COUNT:
            await self.send(key.guild_id, RepeatedFailures(len(recent), REPEAT_WINDOW_S, outcome))

    async def send(self, guild_id: GuildId, alert: Alert) -> None:
        """Send ``alert`` to the guild's admins; a failure to notify is logged, never raised."""
        if self._notifier is None:
            logger.warning("admin alert guild=%s alert=%r", guild_id, alert)
            return
        try:
            await self._notifier.notify(guild_id, alert)
        except Exception:  # a notice must never break an apply
            logger.exception("admin notice failed guild=%s", guild_id)
