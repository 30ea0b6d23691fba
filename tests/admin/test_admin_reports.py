"""/apps stats, /apps pending and the retry-pending batch, with stateful fakes."""

from __future__ import annotations

import asyncio

import pytest

from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.ports import MetricsReader
from castbot_hikari.admin.reports import AdminReports, PendingRetrier, RetryRun
from castbot_hikari.admin.store import JsonConfigRepository
from castbot_hikari.apply.model import ApplyKey, ApplyOutcome, Failure, Pending, PendingState, Undelivered
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.ids import ChannelId, GuildId, UserId
from castbot_hikari.core.metrics import InMemoryMetrics
from castbot_hikari.monitoring.cluster import ClusterMetrics
from castbot_hikari.monitoring.prometheus import PrometheusMetrics
from tests.admin.fakes import FakePendingApplies
from tests.apply.fakes import CONFIG, GUILD, OTHER_GUILD, FakeClock, SleepRecorder

pytestmark = pytest.mark.asyncio


def pending(user: int, guild: GuildId = GUILD, channel: int | None = None) -> Pending:
    state = PendingState.CHANNEL_CREATED if channel else PendingState.RESERVED
    return Pending(
        ApplyKey(guild, UserId(user), CONFIG),
        state,
        1_790_000_000_000 + user,
        "old:1",
        ChannelId(channel) if channel else None,
    )


def reports_over(repo: JsonApplicationRepository, metrics: MetricsReader, work: FakePendingApplies) -> AdminReports:
    return AdminReports(JsonConfigRepository(repo.document), metrics, work, repo, started_at_ms=1_790_000_000_000)


async def test_stats_count_what_happened_since_start_and_totals_from_the_file(repo: JsonApplicationRepository) -> None:
    metrics = InMemoryMetrics()
    for name, value in {
        "apply.clicks": 9,
        "apply.created": 4,
        "apply.rejected.already_applied": 2,
        "apply.rejected.in_progress": 1,
        "apply.rejected.closed": 1,
        "apply.failed.category_full": 1,
        "followup.delivered": 8,
        "followup.given_up": 1,
    }.items():
        metrics.incr(name, value)
    for ms in (2.0, 3.0, 50.0):
        metrics.observe("apply.ack_ms", ms)
    for ms in (500.0, 900.0):
        metrics.observe("apply.result_ms", ms)
    doc = repo.document.doc
    doc[str(GUILD)]["applications"] = {
        "1": {"userId": "5", "configId": CONFIG},
        "2": {"userId": "6", "configId": CONFIG},
        "3": {"userId": "7", "configId": "config_deleted_1"},
    }
    work = FakePendingApplies([pending(1), pending(2, OTHER_GUILD)])
    key = ApplyKey(GUILD, UserId(8), CONFIG)
    await repo.record_undelivered(Undelivered("ref1", key, "created", "✅ ...", 1, "token expired"))
    stats = await reports_over(repo, metrics, work).stats(GUILD)
    since = stats.since_start
    assert (since.clicks, since.created, since.duplicates_prevented) == (9, 4, 3)
    assert since.rejected == {"already_applied": 2, "closed": 1, "in_progress": 1}
    assert since.failed == {"category_full": 1}
    assert (since.delivered, since.given_up) == (8, 1)
    assert (since.ack.count, since.ack.p50, since.ack.p99) == (3, 3.0, 50.0)
    assert (since.result.p50, since.result.p99) == (500.0, 900.0)
    assert [(c.config_id, n) for c, n in stats.per_config] == [(CONFIG, 2)]
    assert (stats.orphaned_applications, stats.total_applications) == (1, 3)
    assert (stats.pending, stats.undelivered) == (1, 1)
    text = admin_render.stats(stats)
    assert "Clicks: 9 · Channels created: 4 · Duplicates prevented: 3" in text
    assert "p50 3 ms / p99 50 ms" in text
    assert "Applications: 3" in text
    assert "Since start" in text
    assert "In total" in text


async def test_stats_read_the_prometheus_registry(repo: JsonApplicationRepository) -> None:
    """What the bot runs with: /apps stats reads the registry that /metrics serves."""
    metrics = PrometheusMetrics(process=False)
    for name, value in {"apply.clicks": 5, "apply.created": 3, "apply.rejected.in_progress": 2}.items():
        metrics.incr(name, value)
    metrics.incr("followup.given_up")
    for ms in (2.0, 3.0, 50.0):
        metrics.observe("apply.ack_ms", ms)
    since = (await reports_over(repo, metrics, FakePendingApplies([])).stats(GUILD)).since_start
    assert (since.clicks, since.created, since.duplicates_prevented, since.given_up) == (5, 3, 2, 1)
    assert since.rejected == {"in_progress": 2}
    assert since.ack.count == 3
    assert 2.0 <= since.ack.p50 <= 5.0
    assert 20.0 <= since.ack.p99 <= 50.0


async def test_stats_with_a_shared_store_cover_every_live_process(repo: JsonApplicationRepository) -> None:
    here, peer = PrometheusMetrics(process=False), PrometheusMetrics(process=False)
    here.incr("apply.clicks", 2)
    peer.incr("apply.clicks", 5)
    cluster = ClusterMetrics(here)
    cluster.set_peers([ClusterMetrics(peer).state()])
    stats = await reports_over(repo, cluster, FakePendingApplies([])).stats(GUILD)
    assert (stats.since_start.clicks, stats.since_start.processes) == (7, 2)
    text = admin_render.stats(stats)
    assert "all 2 bot processes" in text
    assert "Clicks: 7" in text
    alone = await reports_over(repo, here, FakePendingApplies([])).stats(GUILD)
    assert "this bot process" in admin_render.stats(alone)


async def test_stats_without_any_data_say_so(repo: JsonApplicationRepository) -> None:
    stats = await reports_over(repo, InMemoryMetrics(), FakePendingApplies([])).stats(OTHER_GUILD)
    assert stats.total_applications == 0
    assert "no data yet" in admin_render.stats(stats)


async def test_pending_lists_this_guilds_unfinished_applies_and_undelivered_results(
    repo: JsonApplicationRepository,
) -> None:
    work = FakePendingApplies([pending(1), pending(2, channel=99), pending(3, OTHER_GUILD)])
    report = await reports_over(repo, InMemoryMetrics(), work).pending(GUILD)
    assert [p.key.user_id for p in report.pending] == [1, 2]
    text = admin_render.pending(report)
    assert "**Unfinished applies** (2)" in text
    assert "channel <#99> created, not recorded" in text
    assert "/apps retry-pending" in text


def retrier(work: FakePendingApplies, clock: FakeClock | None = None, **options: float) -> PendingRetrier:
    clock = clock or FakeClock()
    return PendingRetrier(work, clock, sleep=SleepRecorder(clock), **options)


class Progress:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int, bool, bool]] = []

    async def __call__(self, run: RetryRun) -> None:
        await asyncio.sleep(0)
        self.seen.append((run.done, run.total, run.finished, run.stopped))


async def test_retry_finishes_every_pending_apply_paced_with_progress() -> None:
    clock = FakeClock()
    work = FakePendingApplies([pending(n) for n in range(1, 6)] + [pending(9, OTHER_GUILD)])
    work.outcome = lambda p: (
        ApplyOutcome.failed(Failure.CATEGORY_FULL, "ref") if p.key.user_id == 3 else ApplyOutcome.created(ChannelId(1))
    )
    sleeps = SleepRecorder(clock)
    progress = Progress()
    run = await PendingRetrier(work, clock, sleep=sleeps, pace_s=1.0, report_every_s=2.0).run(GUILD, progress)
    assert isinstance(run, RetryRun)
    assert (run.done, run.total, run.finished, run.stopped) == (5, 5, True, False)
    assert dict(run.outcomes) == {"created": 4, "failed.category_full": 1}
    assert sleeps.calls == [1.0] * 4  # paced between resumes, not before the first
    assert [p.key.user_id for p in work.pending] == [9]  # other guilds untouched
    assert progress.seen[0] == (0, 5, False, False)
    assert progress.seen[-1] == (5, 5, True, False)
    assert progress.seen[1] == (3, 5, False, False)  # throttled: once 2 s of pacing have passed
    assert len(progress.seen) < 7
    assert admin_render.retry_progress(run) == "✅ Retry finished: 5/5 done (created 4, category full 1)."


async def test_a_second_retry_while_one_runs_is_refused_and_one_after_is_harmless() -> None:
    work = FakePendingApplies([pending(1), pending(2)])
    work.gate = asyncio.Event()
    batch = retrier(work)
    first = asyncio.create_task(batch.run(GUILD, Progress()))
    await work.entered.wait()
    second = await batch.run(GUILD, Progress())
    assert second == Refusal(Reason.RETRY_RUNNING, "0/2")
    assert batch.current(GUILD) is not None
    work.gate.set()
    assert isinstance(await first, RetryRun)
    assert batch.current(GUILD) is None
    again = await batch.run(GUILD, Progress())
    assert isinstance(again, RetryRun)
    assert (again.total, again.done) == (0, 0)
    assert admin_render.retry_progress(again).startswith("✅ Nothing to retry")
    assert len(work.resumed) == 2


async def test_stop_ends_the_batch_after_the_apply_in_progress() -> None:
    work = FakePendingApplies([pending(n) for n in range(1, 5)])
    work.gate = asyncio.Event()
    batch = retrier(work)
    task = asyncio.create_task(batch.run(GUILD, Progress()))
    await work.entered.wait()
    assert batch.stop(GUILD)
    assert not batch.stop(OTHER_GUILD)
    work.gate.set()
    run = await task
    assert isinstance(run, RetryRun)
    assert (run.done, run.stopped, run.finished) == (1, True, True)
    assert len(work.pending) == 3
    assert admin_render.retry_progress(run).startswith("⏹ Stopped: 1/4 done")


async def test_a_failing_progress_report_does_not_stop_the_batch() -> None:
    async def broken(_: RetryRun) -> None:
        raise RuntimeError("token expired")

    work = FakePendingApplies([pending(1), pending(2)])
    run = await retrier(work, report_every_s=0).run(GUILD, broken)
    assert isinstance(run, RetryRun)
    assert run.done == 2


async def test_a_pending_finished_meanwhile_is_counted_not_redone() -> None:
    first = pending(1)
    work = FakePendingApplies([first, pending(2)])
    original = work.list_pending

    async def stale(guild_id: GuildId) -> list[Pending]:
        items = await original(guild_id)
        work.pending.remove(first)  # the applicant clicked again and it finished meanwhile
        return items

    work.list_pending = stale
    run = await retrier(work).run(GUILD, Progress())
    assert isinstance(run, RetryRun)
    assert dict(run.outcomes) == {"rejected.already_applied": 1, "created": 1}
