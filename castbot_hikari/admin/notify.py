"""Admin notices in each server's notify channel: the apply flow's ``AdminNotifier`` over hikari REST."""

from __future__ import annotations

import logging

import hikari

from castbot_hikari.admin.ports import GuildSettings
from castbot_hikari.apply import notices
from castbot_hikari.apply.followups import describe_failure
from castbot_hikari.apply.model import Alert, alert_topic
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import GuildId

logger = logging.getLogger(__name__)


class HikariNotifier:
    """Post admin notices; alerts of one topic are sent at most once per ``quiet_s`` per server.

    Without a notify channel (or when posting fails) the notice is logged instead, so nothing an admin
    must know is silently dropped. Mentions in a notice never ping.
    """

    def __init__(
        self, rest: hikari.api.RESTClient, settings: GuildSettings, clock: Clock, quiet_s: float = 600.0
    ) -> None:
        self._rest = rest
        self._settings = settings
        self._clock = clock
        self._quiet_s = quiet_s
        self._last: dict[tuple[GuildId, str], float] = {}

    async def notify(self, guild_id: GuildId, alert: Alert) -> bool:
        """Post ``alert`` in the guild's notify channel; return whether it was posted."""
        now = self._clock.monotonic()
        if (topic := alert_topic(alert)) is not None:
            last = self._last.get((guild_id, topic))
            if last is not None and now - last < self._quiet_s:
                return False
            self._last[(guild_id, topic)] = now  # set before the await: concurrent notices stay single
        text = notices.render(alert)
        channel = await self._settings.get_notify_channel(guild_id)
        if channel is None:
            logger.warning("admin notice (no notify channel set) guild=%s: %s", guild_id, text)
            return False
        try:
            await self._rest.create_message(
                channel, text, mentions_everyone=False, user_mentions=False, role_mentions=False
            )
        except hikari.HTTPError as exc:
            logger.warning(
                "admin notice failed guild=%s channel=%s error=%s: %s", guild_id, channel, describe_failure(exc), text
            )
            return False
        return True
