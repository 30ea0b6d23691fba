"""What admins read: ``/apps stats`` and ``/apps pending``, and ``/apps retry-pending`` as a paced batch.

Figures "since start" come from this process's in-memory metrics (they count every server this bot runs,
and reset at restart); totals come from the data file and are this server's only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.ports import ConfigRepository, MetricsReader, PendingApplies, UndeliveredLog
from castbot_hikari.apply.model import Pending, Undelivered
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core import metrics as names
from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.ids import GuildId
from castbot_hikari.core.metrics import Summary

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SinceStart:
    """Counters and timings of this process (all servers), since ``started_at_ms``."""

    started_at_ms: int
    clicks: int
    created: int
    duplicates_prevented: int
    rejected: Mapping[str, int]
    failed: Mapping[str, int]
    delivered: int
    given_up: int
    ack: Summary
    result: Summary
    processes: int = 1


@dataclass(frozen=True, slots=True)
class Stats:
    """``/apps stats``: this process since start, and this server's totals from the data file."""

    since_start: SinceStart
    per_config: tuple[tuple[ApplicationConfig, int], ...]
    orphaned_applications: int
    pending: int
    undelivered: int

    @property
    def total_applications(self) -> int:
        """Return every application recorded in this server (configs deleted since included)."""
        return sum(count for _, count in self.per_config) + self.orphaned_applications


@dataclass(frozen=True, slots=True)
class PendingReport:
    """``/apps pending``: unfinished applies and results that never reached the applicant."""

    pending: tuple[Pending, ...]
    undelivered: tuple[Undelivered, ...]


def _by_suffix(counters: Mapping[str, int], prefix: str) -> dict[str, int]:
    return {name[len(prefix) :]: value for name, value in sorted(counters.items()) if name.startswith(prefix) and value}


class AdminReports:
    """Build the admins' reports.

    Args:
        configs: The guilds' Apply configs (for applications per config).
        metrics: This process's counters and timings.
        pending: Unfinished applies.
        undelivered: Results the applicants never saw.
        started_at_ms: When this process started (what "since start" means).
    """

    def __init__(
        self,
        configs: ConfigRepository,
        metrics: MetricsReader,
        pending: PendingApplies,
        undelivered: UndeliveredLog,
        *,
        started_at_ms: int,
    ) -> None:
        self._configs = configs
        self._metrics = metrics
        self._pending = pending
        self._undelivered = undelivered
        self._started_at_ms = started_at_ms

    def since_start(self) -> SinceStart:
        """Return this process's counters and timings."""
        counters = self._metrics.snapshot()
        rejected = _by_suffix(counters, names.APPLY_REJECTED)
        return SinceStart(
            started_at_ms=self._started_at_ms,
            clicks=counters.get(names.APPLY_CLICKS, 0),
            created=counters.get(names.APPLY_CREATED, 0),
            # A duplicate is prevented when the applicant already has a channel or a click of theirs is running.
            duplicates_prevented=rejected.get("already_applied", 0) + rejected.get("in_progress", 0),
            rejected=rejected,
            failed=_by_suffix(counters, names.APPLY_FAILED),
            delivered=counters.get(names.FOLLOWUP_DELIVERED, 0),
            given_up=counters.get(names.FOLLOWUP_GIVEN_UP, 0),
            ack=self._metrics.summary(names.APPLY_ACK_MS),
            result=self._metrics.summary(names.APPLY_RESULT_MS),
            processes=self._metrics.processes(),
        )

    async def stats(self, guild_id: GuildId) -> Stats:
        """Return the stats shown to one server's admins."""
        configs = await self._configs.all_configs(guild_id)
        counts = dict(await self._configs.application_counts(guild_id))
        per_config = tuple((config, counts.pop(config.config_id, 0)) for config in configs)
        return Stats(
            since_start=self.since_start(),
            per_config=per_config,
            orphaned_applications=sum(counts.values()),
            pending=len(await self._pending.list_pending(guild_id)),
            undelivered=len(await self._undelivered.list_undelivered(guild_id)),
        )

    async def pending(self, guild_id: GuildId) -> PendingReport:
        """Return the server's unfinished applies and undelivered results."""
        return PendingReport(
            tuple(await self._pending.list_pending(guild_id)), tuple(await self._undelivered.list_undelivered(guild_id))
        )


@dataclass(slots=True)
class RetryRun:
    """The progress of one ``/apps retry-pending`` batch."""

    guild_id: GuildId
    total: int
    done: int = 0
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter[str])
    stop_requested: bool = False
    stopped: bool = False
    finished: bool = False


Report = Callable[[RetryRun], Awaitable[None]]


class PendingRetrier:
    """Finish a server's unfinished applies as a batch: one at a time, paced, stoppable, one batch per server.

    Running it twice is safe: a second run while one is going is refused with its progress, and a run
    after another only finds what is still unfinished (``resume`` of a finished apply changes nothing).

    Args:
        pending: Lists and resumes unfinished applies.
        clock: Time source for throttling progress reports.
        sleep: Injected so tests never wait.
        pace_s: Seconds between two resumes: each may create a channel, and Discord limits channel
            creation per server.
        report_every_s: Least seconds between two progress reports (the last one is always sent).
    """

    def __init__(
        self,
        pending: PendingApplies,
        clock: Clock,
        *,
        sleep: Sleep = asyncio.sleep,
        pace_s: float = 1.0,
        report_every_s: float = 2.0,
    ) -> None:
        self._pending = pending
        self._clock = clock
        self._sleep = sleep
        self._pace_s = pace_s
        self._report_every_s = report_every_s
        self._runs: dict[GuildId, RetryRun] = {}

    def current(self, guild_id: GuildId) -> RetryRun | None:
        """Return the server's running batch, if any."""
        return self._runs.get(guild_id)

    def stop(self, guild_id: GuildId) -> bool:
        """Ask the server's running batch to stop after the apply in progress; ``False`` if none runs."""
        run = self._runs.get(guild_id)
        if run is None:
            return False
        run.stop_requested = True
        return True

    async def run(self, guild_id: GuildId, report: Report) -> RetryRun | Refusal:
        """Resume every unfinished apply of the server, reporting progress; ``RETRY_RUNNING`` if one runs."""
        if (running := self._runs.get(guild_id)) is not None:
            return Refusal(Reason.RETRY_RUNNING, f"{running.done}/{running.total}")
        run = RetryRun(guild_id, 0)
        self._runs[guild_id] = run  # claimed before the first await: a concurrent run is refused
        try:
            items = await self._pending.list_pending(guild_id)
            run.total = len(items)
            if items:
                await self._report(report, run)
                await self._work(run, items, report)
        finally:
            del self._runs[guild_id]
        run.finished = True
        logger.info(
            "retry-pending guild=%s done=%d total=%d stopped=%s outcomes=%s",
            guild_id,
            run.done,
            run.total,
            run.stopped,
            dict(run.outcomes),
        )
        await self._report(report, run)
        return run

    async def _work(self, run: RetryRun, items: list[Pending], report: Report) -> None:
        last = self._clock.monotonic()
        for index, item in enumerate(items):
            if index:
                await self._sleep(self._pace_s)
            if run.stop_requested:
                run.stopped = True
                return
            outcome = await self._pending.resume(item)
            run.done += 1
            run.outcomes[outcome.label] += 1
            if self._clock.monotonic() - last >= self._report_every_s and run.done < run.total:
                last = self._clock.monotonic()
                await self._report(report, run)

    async def _report(self, report: Report, run: RetryRun) -> None:
        try:
            await report(run)
        except Exception:  # progress is shown best effort; the batch goes on
            logger.exception("retry-pending progress report failed guild=%s", run.guild_id)
