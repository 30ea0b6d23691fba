"""Finishing what an earlier process left unfinished: interrupted applies, the outbox, late replies."""

from __future__ import annotations

import dataclasses
import logging
from typing import Final

from castbot_hikari.apply.alerts import Alerts
from castbot_hikari.apply.model import Applicant, ApplyOutcome, OutboxItem, Pending, Recovered, Rejection
from castbot_hikari.apply.ports import LateReplier
from castbot_hikari.apply.service import ApplyTimeline
from castbot_hikari.core import metrics as names
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.errors import StorageError
from castbot_hikari.core.ids import GuildId
from castbot_hikari.core.metrics import Metrics

logger = logging.getLogger(__name__)

TOKEN_SAFETY_S: Final = 30.0


class Recovery:
    """Resume interrupted applies (at start-up and on an admin's retry) and send what the outbox holds.

    Args:
        timeline: The steps of an apply.
        alerts: Sends the admins' notices.
        metrics: Where counters go.
        clock: Time source (for the applicants' token deadlines).
        replier: Answers applicants from a stored reply handle after a restart (optional).
    """

    def __init__(
        self,
        timeline: ApplyTimeline,
        *,
        alerts: Alerts,
        metrics: Metrics,
        clock: Clock,
        replier: LateReplier | None = None,
    ) -> None:
        self._timeline = timeline
        self._repo = timeline.repo
        self._alerts = alerts
        self._metrics = metrics
        self._clock = clock
        self._replier = replier

    async def list_pending(self, guild_id: GuildId | None = None) -> list[Pending]:
        """Return applies that did not finish (reserved, or with a channel but no record)."""
        return await self._repo.list_pending(guild_id)

    async def resume(self, pending: Pending, *, create_missing: bool = True, announce: bool = False) -> ApplyOutcome:
        """Finish an interrupted apply: adopt its channel if it exists, else create it or release it.

        Args:
            pending: The reservation left by an apply that did not finish.
            create_missing: Create the channel when none exists (an admin's retry); ``False`` releases
                the reservation instead (start-up: the applicant is told to click again).
            announce: Queue a notice for the admins in the same write that settles the reservation, so a
                crash can never settle it silently (``flush_outbox`` sends it).
        """
        applicant = pending.applicant or Applicant.unknown(pending.key.user_id)
        return await self._timeline.guarded(
            pending.key, applicant, lambda: self._resume(pending, applicant, create_missing, announce)
        )

    async def _resume(
        self, pending: Pending, applicant: Applicant, create_missing: bool, announce: bool
    ) -> ApplyOutcome:
        current = await self._timeline.leases.take_over(pending, owner=self._timeline.owner)
        if current is None:  # settled meanwhile, or a live process holds it: leave it alone
            if (recorded := await self._repo.find_application(pending.key)) is not None:
                return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, recorded.channel_id)
            live = await self._repo.get_pending(pending.key) is not None
            return ApplyOutcome.rejected(Rejection.IN_PROGRESS if live else Rejection.INTERRUPTED)
        pending = dataclasses.replace(current, applicant=current.applicant or pending.applicant)
        key, recovering = pending.key, pending if announce else None
        if (recorded := await self._repo.find_application(key)) is not None:
            outcome = ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, recorded.channel_id)
            return await self._timeline.release(key, outcome, recovering)
        config = await self._repo.get_config(key.guild_id, key.config_id)
        if config is None:
            return await self._timeline.release(key, ApplyOutcome.rejected(Rejection.CONFIG_NOT_FOUND), recovering)
        return await self._timeline.settle(
            key, config, applicant, pending, create=create_missing, recovering=recovering
        )

    async def reconcile(self) -> list[tuple[Pending, ApplyOutcome]]:
        """At start-up, finish or release every apply an earlier process left unfinished, and tell the admins.

        Only reservations whose lease ran out are taken over (with the JSON store, which one process owns,
        that is every reservation another process made); a live process's are left to it. Notices go
        through the outbox: at least once, even across crashes.
        """
        await self.flush_outbox()
        results: list[tuple[Pending, ApplyOutcome]] = []
        for pending in await self._timeline.leases.expired(owner=self._timeline.owner):
            outcome = await self.resume(pending, create_missing=False, announce=True)
            logger.info("reconciled key=%s state=%s outcome=%s", pending.key, pending.state.value, outcome.label)
            self._metrics.incr(names.RECONCILED + outcome.label)
            results.append((pending, outcome))
        await self.flush_outbox()
        return results

    async def flush_outbox(self) -> int:
        """Send queued admin notices (each is dropped after its attempt); return how many were sent."""
        sent = 0
        for item in await self._repo.list_outbox():
            await self._reply_late(item)
            await self._alerts.send(item.guild_id, item.alert)
            try:
                await self._repo.drop_notice(item.notice_id)
            except StorageError as exc:
                logger.error("could not drop sent notice id=%s error=%s", item.notice_id, exc)
                break
            sent += 1
        return sent

    async def _reply_late(self, item: OutboxItem) -> None:
        """Tell the applicant the result of an apply a restart interrupted, if their token still lives."""
        handle = item.reply
        if handle is None or not isinstance(item.alert, Recovered) or self._replier is None:
            return
        if self._clock.now_ms() >= handle.expires_at_ms - int(TOKEN_SAFETY_S * 1000):
            return  # too late: the admins' notice is all that is left
        try:
            delivered = await self._replier.reply(handle, item.alert.outcome)
        except Exception:  # best effort: the admins are told either way
            logger.exception("late reply failed notice=%s", item.notice_id)
            return
        self._metrics.incr(names.LATE_REPLIED if delivered else names.LATE_REPLY_FAILED)
