"""``/apps pending``, ``/apps retry-pending`` (live progress, Stop button) and ``/apps stats``. Glue only."""

import logging

import lightbulb

from castbot_hikari.admin import components as admin_components
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.custom_ids import AdminId, Kind
from castbot_hikari.admin.model import Refusal
from castbot_hikari.admin.reports import AdminReports, PendingRetrier, RetryRun
from castbot_hikari.apply.followups import token_deadline
from castbot_hikari.core.clock import Clock
from extensions.apps._common import (
    AdminDeps,
    Caller,
    Routable,
    Screen,
    refused,
    routed,
    run_command,
    show,
)

logger = logging.getLogger(__name__)


class PendingList(lightbulb.SlashCommand, name="pending", description="Applications that did not finish"):
    """Unfinished applies, and results the applicants never saw."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reports: AdminReports) -> None:
        """Show the report."""

        async def work(who: Caller) -> Screen:
            return Screen(admin_render.pending(await reports.pending(who.guild_id)))

        await run_command(ctx, "pending", work)


class RetryPending(lightbulb.SlashCommand, name="retry-pending", description="Finish unfinished applications"):
    """Resume every unfinished apply, paced, with live progress and a Stop button."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, retrier: PendingRetrier, clock: Clock) -> None:
        """Run the batch in this command's task; progress edits the ephemeral response."""
        inter = ctx.interaction
        # Progress is shown through this interaction's token: stop editing before it expires (measured on
        # the local monotonic clock from receipt, never from the snowflake against a possibly skewed clock).
        edit_until = token_deadline(clock.monotonic())

        async def report(run: RetryRun) -> None:
            if clock.monotonic() < edit_until:
                rows = () if run.finished else admin_components.retry_rows(run.guild_id)
                await show(inter, Screen(admin_render.retry_progress(run), rows))

        async def work(who: Caller) -> Screen:
            result = await retrier.run(who.guild_id, report)
            if isinstance(result, Refusal):
                return refused(result)
            return Screen(admin_render.retry_progress(result))

        await run_command(ctx, "retry-pending", work)


@routed(Kind.RETRY_STOP, update=True)
async def on_retry_stop(inter: Routable, who: Caller, parsed: AdminId, deps: AdminDeps) -> Screen:
    """Ask the server's batch to stop after the apply in progress (only this server's, by its admins)."""
    del inter
    stopping = parsed.guild_id == who.guild_id and deps.retrier.stop(who.guild_id)
    logger.info("retry-pending stop guild=%s by=%s running=%s", who.guild_id, who.user_id, stopping)
    return Screen(admin_render.STOPPING if stopping else admin_render.NOT_RUNNING)


class Stats(lightbulb.SlashCommand, name="stats", description="Apply statistics: since start and in total"):
    """Clicks, channels, duplicates prevented, failures, timings; applications per button."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, reports: AdminReports) -> None:
        """Show the stats."""

        async def work(who: Caller) -> Screen:
            return Screen(admin_render.stats(await reports.stats(who.guild_id)))

        await run_command(ctx, "stats", work)
