"""Wiring of the ``/apps`` admin services, called once by the composition root (``app.build_app``)."""

import hikari
import lightbulb

from castbot_hikari.admin.hikari_ops import HikariAdminOps
from castbot_hikari.admin.ports import ConfigRepository, GuildSettings, MetricsReader, UndeliveredLog
from castbot_hikari.admin.reports import AdminReports, PendingRetrier
from castbot_hikari.admin.service import AdminService
from castbot_hikari.admin.setup import SetupSessions
from castbot_hikari.apply.recovery import Recovery
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import UserId


def register_admin(
    client: lightbulb.Client,
    bot: hikari.GatewayBot,
    configs: ConfigRepository,
    recovery: Recovery,
    *,
    undelivered: UndeliveredLog,
    metrics: MetricsReader,
    guild_settings: GuildSettings,
    clock: Clock,
    bot_user_id: UserId,
) -> None:
    """Build the admin services over the store's configs and register them for injection."""
    discord = HikariAdminOps(bot.rest, bot.cache, bot_user_id)
    admin = AdminService(configs, discord, guild_settings, SetupSessions(clock), clock)
    reports = AdminReports(configs, metrics, recovery, undelivered, started_at_ms=clock.now_ms())
    registry = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
    registry.register_value(AdminService, admin)
    registry.register_value(AdminReports, reports)
    registry.register_value(PendingRetrier, PendingRetrier(recovery, clock))
