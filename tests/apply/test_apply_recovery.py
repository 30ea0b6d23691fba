"""Reliability of the apply workflow: restarts, Discord's limits, permission storms, admin notices."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import pytest

from castbot_hikari.apply.model import (
    ApplyOutcome,
    Click,
    Failure,
    OutcomeKind,
    PendingState,
    Rejection,
    ReplyHandle,
    Won,
    channel_spec,
)
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.permissions import Permission
from tests.apply.fakes import (
    BOT,
    CATEGORY,
    CONFIG,
    GUILD,
    KEY,
    USER,
    ApplyStack,
    FakeClock,
    FakeDiscordOps,
    FakeNotifier,
    FakeReplier,
    FakeResponder,
    applicant,
    make_stack,
)


def service_for(
    repo: JsonApplicationRepository,
    discord: FakeDiscordOps,
    notifier: FakeNotifier,
    clock: FakeClock | None = None,
    owner: str = "proc:2",
) -> ApplyStack:
    return make_stack(repo, discord, clock=clock, owner=owner, notifier=notifier)


async def click(stack: ApplyStack) -> tuple[ApplyOutcome, FakeResponder]:
    seen = FakeResponder()
    outcome = await stack.service.handle_click(Click(KEY, applicant(), 0.0, 1.0), seen)
    return outcome, seen


async def crash_after(repo: JsonApplicationRepository, discord: FakeDiscordOps, state: PendingState) -> int | None:
    """Leave the store and Discord as a process killed at ``state`` would."""
    clock = FakeClock()
    assert (
        await repo.reserve(KEY, owner="dead:1", now_ms=clock.now_ms(), stale_after_ms=1, applicant=applicant()) == Won()
    )
    if state is PendingState.RESERVED:
        return None
    config = await repo.get_config(GUILD, CONFIG)
    assert config is not None
    channel = await discord.create_channel(channel_spec(config, applicant(), BOT))
    await repo.mark_channel(KEY, channel)
    if state is PendingState.WELCOMED:
        await repo.mark_welcomed(KEY)
    return channel


@pytest.mark.parametrize("state", [PendingState.CHANNEL_CREATED, PendingState.WELCOMED])
@pytest.mark.asyncio
async def test_startup_adopts_the_channel_of_a_crashed_apply(
    repo: JsonApplicationRepository, state: PendingState
) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    channel = await crash_after(repo, discord, state)
    ((pending, outcome),) = await service_for(repo, discord, notifier).recovery.reconcile()
    assert pending.state is state
    assert outcome.kind is OutcomeKind.CREATED
    assert outcome.channel_id == channel
    recorded = await repo.find_application(KEY)
    assert recorded is not None
    assert recorded.channel_id == channel
    assert recorded.extra["displayName"] == "Kevin A"  # the applicant's name was kept with the reservation
    assert await repo.list_pending() == []
    assert len(discord.channels) == 1
    (only,) = discord.channels.values()
    assert len(only.messages) == (1 if state is PendingState.CHANNEL_CREATED else 0)  # welcome sent once, not twice
    assert notifier.notices == [(GUILD, f"🔧 After a restart I finished the application of <@{USER}>: <#{channel}>.")]


@pytest.mark.asyncio
async def test_startup_releases_a_reservation_without_channel_and_the_user_can_apply(
    repo: JsonApplicationRepository,
) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    await crash_after(repo, discord, PendingState.RESERVED)
    stack = service_for(repo, discord, notifier)
    ((_, outcome),) = await stack.recovery.reconcile()
    assert outcome.rejection is Rejection.INTERRUPTED
    assert await repo.list_pending() == []
    assert "click Apply again" in notifier.notices[0][1]
    again, _ = await click(stack)
    assert again.kind is OutcomeKind.CREATED
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_startup_finds_a_channel_created_before_its_id_was_saved(repo: JsonApplicationRepository) -> None:
    """Killed between Discord creating the channel and the store saving its id: found by topic marker."""
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    await crash_after(repo, discord, PendingState.RESERVED)
    config = await repo.get_config(GUILD, CONFIG)
    assert config is not None
    channel = await discord.create_channel(channel_spec(config, applicant(), BOT))
    ((_, outcome),) = await service_for(repo, discord, notifier).recovery.reconcile()
    assert outcome.channel_id == channel
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_admin_retry_creates_the_missing_channel(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    await crash_after(repo, discord, PendingState.RESERVED)
    stack = service_for(repo, discord, notifier)
    (pending,) = await stack.recovery.list_pending(GUILD)
    outcome = await stack.recovery.resume(pending)
    assert outcome.kind is OutcomeKind.CREATED
    assert len(discord.channels) == 1
    assert await stack.recovery.resume(pending) == ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, outcome.channel_id)


@pytest.mark.asyncio
async def test_full_category_overflows_and_tells_admins_once(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    stack = service_for(repo, discord, notifier)
    for _ in range(2):
        discord.fail_next["create_channel"] = [DiscordError(DiscordErrorKind.CATEGORY_FULL, "full", code=50035)]
        outcome, _ = await click(stack)
        assert outcome.kind is OutcomeKind.CREATED
        assert outcome.channel_id is not None
        await discord.delete_channel(outcome.channel_id)  # deleted by hand: the next apply creates anew
    assert discord.overflow_requests == [CATEGORY, CATEGORY]
    assert all(c.spec.category_id == discord.overflow_to for c in discord.channels.values())
    overflow_notices = [text for _, text in notifier.notices if text.startswith("📁")]
    assert overflow_notices == [
        f"📁 <#{CATEGORY}> is full (Discord allows 50 channels per category). "
        f"New application channels go to <#{discord.overflow_to}>."
    ]


@pytest.mark.asyncio
async def test_missing_permissions_fail_fast_without_a_storm_of_403s(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    clock = FakeClock()
    stack = service_for(repo, discord, notifier, clock)
    discord.fail_next["create_channel"] = [
        DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, "Missing Permissions", code=50013, status=403)
    ]
    outcomes = [(await click(stack))[0] for _ in range(5)]
    assert discord.create_attempts == 1  # one 403, then fast failures for a while
    assert all(o.failure is Failure.MISSING_PERMISSIONS for o in outcomes)
    (_, seen) = await click(stack)
    assert "setup is incomplete" in seen.results[0]
    permission_notices = [text for _, text in notifier.notices if "missing permissions" in text]
    assert len(permission_notices) == 1
    assert "Manage Channels" in permission_notices[0]
    clock.advance(61)  # the admins fixed it; after the back-off the bot tries again
    outcome, _ = await click(stack)
    assert outcome.kind is OutcomeKind.CREATED


@pytest.mark.asyncio
async def test_result_that_outlives_the_token_goes_to_the_admins(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    stack = service_for(repo, discord, notifier)
    outcome = await stack.service.handle_click(Click(KEY, applicant(), 0.0, 1.0), FakeResponder(deliver=False))
    assert outcome.kind is OutcomeKind.CREATED
    assert await repo.find_application(KEY) is not None  # still recorded
    ((guild, text),) = notifier.notices
    assert guild == GUILD
    assert f"<@{USER}>" in text
    assert f"<#{outcome.channel_id}>" in text


@pytest.mark.asyncio
async def test_permissions_checked_before_creating_cost_no_request(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    discord.lacking = Permission.MANAGE_CHANNELS
    outcome, seen = await click(service_for(repo, discord, notifier))
    assert outcome.failure is Failure.MISSING_PERMISSIONS
    assert "setup is incomplete" in seen.results[0]
    assert discord.create_attempts == 0
    assert await repo.get_pending(KEY) is None


@pytest.mark.parametrize(("token_left_s", "told"), [(600, True), (10, False)])
@pytest.mark.asyncio
async def test_after_a_restart_the_applicant_is_told_while_the_token_lives(
    repo: JsonApplicationRepository, token_left_s: int, told: bool
) -> None:
    discord, notifier, replier, clock = FakeDiscordOps(), FakeNotifier(), FakeReplier(), FakeClock()
    handle = ReplyHandle(BOT, "secret-token", clock.now_ms() + token_left_s * 1000)
    assert (
        await repo.reserve(
            KEY, owner="dead:1", now_ms=clock.now_ms(), stale_after_ms=1, applicant=applicant(), reply=handle
        )
        == Won()
    )
    assert "secret-token" not in repr(await repo.get_pending(KEY))
    stack = make_stack(repo, discord, clock=clock, owner="proc:2", notifier=notifier, replier=replier)
    await stack.recovery.reconcile()
    expected = [
        ("secret-token", "⚠️ Your application was interrupted before its channel was created. Please click Apply again.")
    ]
    assert replier.replies == (expected if told else [])
    assert len(notifier.notices) == 1  # the admins are told either way
    assert await repo.list_outbox() == []


@pytest.mark.asyncio
async def test_repeated_failures_are_reported_once_they_repeat(repo: JsonApplicationRepository) -> None:
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    stack = service_for(repo, discord, notifier)
    unavailable = DiscordError(DiscordErrorKind.UNAVAILABLE, "503", status=503)
    for attempt in range(3):
        discord.fail_next["create_channel"] = [unavailable]
        discord.fail_next["find_application_channel"] = [unavailable]
        outcome, _ = await click(stack)
        assert outcome.failure is Failure.DISCORD_UNAVAILABLE
        assert len(notifier.notices) == (1 if attempt == 2 else 0)  # silent until it repeats
    assert notifier.notices[0][1].startswith("⚠️ 3 applications failed in the last 10 minutes")


@pytest.mark.asyncio
async def test_a_spoofing_display_name_does_not_hide_the_channel_from_recovery(
    repo: JsonApplicationRepository,
) -> None:
    """Killed before the channel id was saved, for an applicant named like a marker: still found, no twin."""
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    spoof = applicant(display_name="[castbot-app:1:config_x] Kevin")
    clock = FakeClock()
    assert await repo.reserve(KEY, owner="dead:1", now_ms=clock.now_ms(), stale_after_ms=1, applicant=spoof) == Won()
    config = await repo.get_config(GUILD, CONFIG)
    assert config is not None
    channel = await discord.create_channel(channel_spec(config, spoof, BOT))
    ((_, outcome),) = await service_for(repo, discord, notifier).recovery.reconcile()
    assert outcome.channel_id == channel
    assert len(discord.channels) == 1


class Halt:
    """A call that never returns: the process is killed there (the test cancels the apply, as a kill -9 would)."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    async def __call__(self, *_: object, **__: object) -> None:
        self.reached.set()
        await asyncio.Event().wait()


async def killed_at(stack: ApplyStack, halt: Halt) -> None:
    """Click, and kill the process once the apply reaches ``halt``."""
    task = asyncio.create_task(click(stack))
    async with asyncio.timeout(10):  # a safety net: the fakes answer at once
        await halt.reached.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_startup_adopts_a_channel_by_its_saved_id_when_its_topic_was_edited(
    repo: JsonApplicationRepository, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed while welcoming: the saved channel id, not the topic search, finds the channel, so an admin
    who replaced the topic meanwhile cannot make the restart release the apply and the next click a twin."""
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    halt = Halt()
    monkeypatch.setattr(discord, "send_welcome", halt)
    await killed_at(service_for(repo, discord, notifier, owner="dead:1"), halt)
    monkeypatch.undo()
    (channel,) = discord.channels.values()
    channel.spec = dataclasses.replace(channel.spec, topic="Kevin: interview on Friday")
    restarted = JsonApplicationRepository.open(data_dir, fsync=False)
    ((_, outcome),) = await service_for(restarted, discord, notifier).recovery.reconcile()
    assert outcome == ApplyOutcome.created(channel.id)
    assert list(discord.channels) == [channel.id]
    recorded = await restarted.find_application(KEY)
    assert recorded is not None
    assert recorded.channel_id == channel.id
    await restarted.close()


@pytest.mark.asyncio
async def test_startup_does_not_welcome_again_when_it_cannot_read_the_channel(
    repo: JsonApplicationRepository, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after the welcome was posted, before the record: the saved "welcomed" state keeps the restart
    from a second welcome even when reading the channel fails (which otherwise means "welcome again")."""
    discord, notifier = FakeDiscordOps(), FakeNotifier()
    halt = Halt()
    monkeypatch.setattr(repo, "commit", halt)
    await killed_at(service_for(repo, discord, notifier, owner="dead:1"), halt)
    (channel,) = discord.channels.values()
    assert len(channel.messages) == 1
    discord.fail_next["welcome_posted"] = [DiscordError(DiscordErrorKind.UNAVAILABLE, "503 Service Unavailable")]
    restarted = JsonApplicationRepository.open(data_dir, fsync=False)
    ((pending, outcome),) = await service_for(restarted, discord, notifier).recovery.reconcile()
    assert pending.state is PendingState.WELCOMED
    assert outcome == ApplyOutcome.created(channel.id)
    assert len(channel.messages) == 1
    await restarted.close()
