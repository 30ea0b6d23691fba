"""The apply workflow with stateful fakes: locking, duplicates, orphans, failures and compensation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from castbot_hikari.apply import render
from castbot_hikari.apply.model import (
    Application,
    ApplyKey,
    ApplyOutcome,
    Click,
    Failure,
    OutboxItem,
    OutcomeKind,
    PendingState,
    Rejection,
    Won,
    channel_spec,
)
from castbot_hikari.apply.service import ApplicationService
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind, StorageError
from castbot_hikari.core.ids import ConfigId, UserId
from castbot_hikari.core.permissions import (
    APPLICANT_ALLOW,
    BOT_ALLOW,
    PRODUCTION_ALLOW,
    Overwrite,
    OverwriteTarget,
    Permission,
)
from tests.apply.fakes import (
    BOT,
    CATEGORY,
    CONFIG,
    GUILD,
    KEY,
    OTHER_GUILD,
    ROLE,
    USER,
    FakeClock,
    FakeDiscordOps,
    FakeResponder,
    applicant,
    castbot_config,
    make_stack,
)
from tests.conftest import write_player_data


def make_service(
    repo: JsonApplicationRepository, discord: FakeDiscordOps, clock: FakeClock | None = None, *, time_limit: float = 600
) -> ApplicationService:
    return make_stack(repo, discord, clock=clock, time_limit=time_limit).service


async def click(
    service: ApplicationService, key: ApplyKey = KEY, name: str = "Kevin A"
) -> tuple[ApplyOutcome, FakeResponder]:
    responder = FakeResponder()
    outcome = await service.handle_click(Click(key, applicant(key.user_id, name), 0.0, 1.0), responder)
    return outcome, responder


@pytest.mark.asyncio
async def test_single_click_creates_channel_welcome_record_and_result(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    outcome, seen = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    (channel,) = discord.channels.values()
    assert channel.spec.name == "📝kevina-app"
    assert channel.spec.category_id == CATEGORY
    assert f"[castbot-app:{USER}:{CONFIG}]" in channel.spec.topic
    (welcome,) = channel.messages
    assert f"<@{USER}>" in render.welcome(welcome)
    assert f"<@&{ROLE}>" in render.welcome(welcome)
    assert seen.progress == [render.PROGRESS_CREATING]
    assert seen.results == [f"✅ Your application channel has been created: <#{channel.id}>"]
    recorded = await repo.find_application(KEY)
    assert recorded is not None
    assert recorded.channel_id == channel.id
    assert recorded.extra["displayName"] == "Kevin A"
    assert recorded.extra["channelName"] == "📝kevina-app"
    assert await repo.get_pending(KEY) is None


@pytest.mark.asyncio
async def test_five_concurrent_clicks_make_one_channel_and_five_final_messages(
    repo: JsonApplicationRepository,
) -> None:
    discord = FakeDiscordOps()
    discord.gate = asyncio.Event()
    service = make_service(repo, discord)
    clicks = [asyncio.create_task(click(service)) for _ in range(5)]
    await discord.entered.wait()  # the first click is inside channel creation, holding the lock
    discord.gate.set()
    results = await asyncio.gather(*clicks)
    kinds = sorted(outcome.label for outcome, _ in results)
    assert kinds == ["created"] + ["rejected.in_progress"] * 4
    assert len(discord.channels) == 1
    finals = [text for _, seen in results for text in seen.results]
    assert len(finals) == 5
    assert sum(text.startswith("⏳ Your application is already being processed") for text in finals) == 4


@pytest.mark.asyncio
async def test_second_click_after_success_points_to_existing_channel(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    service = make_service(repo, discord)
    first, _ = await click(service)
    second, seen = await click(service)
    assert second.rejection is Rejection.ALREADY_APPLIED
    assert second.channel_id == first.channel_id
    assert seen.results == [f"You already have an application channel: <#{first.channel_id}>"]
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_renamed_channel_still_counts_as_existing(repo: JsonApplicationRepository) -> None:
    """Identity is (guild, user, config), never the channel's name."""
    discord = FakeDiscordOps()
    service = make_service(repo, discord)
    await click(service)
    await click(service, name="Completely Different Name")
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_orphan_record_is_removed_and_reapply_works(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    service = make_service(repo, discord)
    first, _ = await click(service)
    assert first.channel_id is not None
    del discord.channels[first.channel_id]  # an admin deleted the channel by hand
    second, seen = await click(service)
    assert second.kind is OutcomeKind.CREATED
    assert second.channel_id != first.channel_id
    assert seen.results[0].startswith("✅")
    recorded = await repo.find_application(KEY)
    assert recorded is not None
    assert recorded.channel_id == second.channel_id
    apps = repo.document.doc[str(GUILD)]["applications"]
    assert list(apps) == [str(second.channel_id)]


@pytest.mark.asyncio
async def test_unknown_config_creates_nothing(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    outcome, seen = await click(make_service(repo, discord), ApplyKey(GUILD, USER, ConfigId("config_1_2")))
    assert outcome.rejection is Rejection.CONFIG_NOT_FOUND
    assert "no longer set up" in seen.results[0]
    assert discord.channels == {}
    assert discord.create_attempts == 0


@pytest.mark.asyncio
async def test_config_of_another_guild_is_not_found(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    outcome, _ = await click(make_service(repo, discord), ApplyKey(OTHER_GUILD, USER, CONFIG))
    assert outcome.rejection is Rejection.CONFIG_NOT_FOUND
    assert discord.channels == {}


@pytest.mark.asyncio
async def test_closed_config_is_refused(data_dir: Path) -> None:
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    repo.document.doc[str(GUILD)]["applicationConfigs"][CONFIG]["stage"] = "closed"
    outcome, seen = await click(make_service(repo, FakeDiscordOps()))
    assert outcome.rejection is Rejection.CLOSED
    assert seen.results == ["🔒 Applications are closed."]


@pytest.mark.asyncio
async def test_channel_gets_exactly_the_private_overwrites(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    await click(make_service(repo, discord))
    (channel,) = discord.channels.values()
    assert channel.spec.overwrites == (
        Overwrite(GUILD, OverwriteTarget.ROLE, deny=Permission.VIEW_CHANNEL),
        Overwrite(USER, OverwriteTarget.MEMBER, allow=APPLICANT_ALLOW),
        Overwrite(ROLE, OverwriteTarget.ROLE, allow=PRODUCTION_ALLOW),
        Overwrite(BOT, OverwriteTarget.MEMBER, allow=BOT_ALLOW),
    )
    assert int(APPLICANT_ALLOW) == (1 << 10) | (1 << 11) | (1 << 16) | (1 << 15) | (1 << 14) | (1 << 6)
    assert int(PRODUCTION_ALLOW) == (1 << 10) | (1 << 11) | (1 << 16)
    assert int(BOT_ALLOW) == (1 << 10) | (1 << 11) | (1 << 16) | (1 << 4)


@pytest.mark.asyncio
async def test_everyone_as_production_role_never_makes_two_overwrites_for_one_id(data_dir: Path) -> None:
    """CastBot data may name @everyone (the guild id) as production role: it is left out, not doubled."""
    write_player_data(data_dir, {str(GUILD): {"applicationConfigs": {CONFIG: castbot_config(role=GUILD)}}})
    repo = JsonApplicationRepository.open(data_dir, fsync=False)
    discord = FakeDiscordOps()
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    (channel,) = discord.channels.values()
    ids = [o.target_id for o in channel.spec.overwrites]
    assert len(ids) == len(set(ids))
    assert Overwrite(GUILD, OverwriteTarget.ROLE, deny=Permission.VIEW_CHANNEL) in channel.spec.overwrites


@pytest.mark.asyncio
async def test_category_full_everywhere_fails_clearly_and_releases_reservation(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    full = DiscordError(DiscordErrorKind.CATEGORY_FULL, "Maximum", code=50035)
    discord.fail_next["create_channel"] = [full]
    discord.fail_next["overflow_category"] = [DiscordError(DiscordErrorKind.GUILD_FULL, "Maximum channels", code=30013)]
    service = make_service(repo, discord)
    outcome, seen = await click(service)
    assert outcome.failure is Failure.GUILD_FULL
    assert outcome.reference
    assert "500 channels" in seen.results[0]
    assert outcome.reference in seen.results[0]
    assert "30013" not in seen.results[0]  # no raw Discord text
    assert "Maximum" not in seen.results[0]
    assert await repo.get_pending(KEY) is None
    again, _ = await click(service)  # the admins made room: the next click works
    assert again.kind is OutcomeKind.CREATED


@pytest.mark.asyncio
async def test_word_filter_retries_once_with_neutral_name(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.fail_next["create_channel"] = [DiscordError(DiscordErrorKind.NAME_REJECTED, "filtered", code=20031)]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    (channel,) = discord.channels.values()
    assert channel.spec.name == f"app-{USER}"


UNCONFIRMED = DiscordError(DiscordErrorKind.UNCONFIRMED, "status 503", status=503)


@pytest.mark.asyncio
async def test_a_5xx_after_discord_created_the_channel_adopts_it(repo: JsonApplicationRepository) -> None:
    """Done, then fail: the channel exists, the answer is a 5xx. It is found and adopted, never twinned."""
    discord = FakeDiscordOps()
    discord.fail_after["create_channel"] = [UNCONFIRMED]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    assert len(discord.channels) == 1
    assert discord.create_attempts == 1
    recorded = await repo.find_application(KEY)
    assert recorded is not None
    assert recorded.channel_id == outcome.channel_id


@pytest.mark.asyncio
async def test_a_creation_that_lands_late_is_awaited_and_adopted(repo: JsonApplicationRepository) -> None:
    """The create times out and Discord finishes it 20 s later: the apply waits for it instead of creating again."""
    clock = FakeClock()
    discord = FakeDiscordOps(clock=clock)
    discord.late_creates = [20.0]
    outcome, seen = await click(make_stack(repo, discord, clock=clock, window_s=60).service)
    assert outcome.kind is OutcomeKind.CREATED
    assert discord.create_attempts == 1
    assert len(discord.channels) == 1
    assert render.PROGRESS_SLOW in seen.progress


@pytest.mark.asyncio
async def test_an_unconfirmed_creation_that_never_lands_is_retried_only_after_its_window(
    repo: JsonApplicationRepository,
) -> None:
    clock = FakeClock()
    discord = FakeDiscordOps(clock=clock)
    discord.fail_next["create_channel"] = [UNCONFIRMED]  # failed before acting, but the bot cannot know
    start = clock.now_ms()
    created_at: list[int] = []
    discord.on_create = lambda: created_at.append(clock.now_ms())
    outcome, _ = await click(make_stack(repo, discord, clock=clock, window_s=60).service)
    assert outcome.kind is OutcomeKind.CREATED
    assert discord.create_attempts == 2
    assert len(discord.channels) == 1
    assert created_at[0] - start >= 60_000  # nothing was sent again while the first could still land


@pytest.mark.asyncio
async def test_creations_that_stay_unconfirmed_end_in_a_clear_failure_and_release(
    repo: JsonApplicationRepository,
) -> None:
    clock = FakeClock()
    discord = FakeDiscordOps(clock=clock)
    discord.fail_next["create_channel"] = [UNCONFIRMED, UNCONFIRMED, UNCONFIRMED]
    outcome, seen = await click(make_stack(repo, discord, clock=clock, window_s=60).service)
    assert outcome.failure is Failure.DISCORD_UNAVAILABLE
    assert discord.channels == {}
    assert await repo.get_pending(KEY) is None  # released only once no attempt could land any more
    assert seen.results[-1].startswith("❌ Discord is having trouble")


@pytest.mark.asyncio
async def test_a_refused_creation_releases_at_once(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.fail_next["create_channel"] = [DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, "no", status=403)]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.failure is Failure.MISSING_PERMISSIONS
    assert await repo.get_pending(KEY) is None


@pytest.mark.asyncio
async def test_an_unconfirmed_welcome_that_was_posted_is_not_posted_again(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.fail_after["send_welcome"] = [UNCONFIRMED]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    (channel,) = discord.channels.values()
    assert len(channel.messages) == 1


@pytest.mark.asyncio
async def test_an_unconfirmed_welcome_that_was_not_posted_is_sent_once_more(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.fail_next["send_welcome"] = [UNCONFIRMED]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    (channel,) = discord.channels.values()
    assert len(channel.messages) == 1


@pytest.mark.asyncio
async def test_welcome_failure_still_records_the_application(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.fail_next["send_welcome"] = [DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, "no", code=50013)]
    outcome, _ = await click(make_service(repo, discord))
    assert outcome.kind is OutcomeKind.CREATED
    assert await repo.find_application(KEY) is not None


@pytest.mark.asyncio
async def test_storage_failure_on_record_deletes_channel_and_allows_retry(
    repo: JsonApplicationRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    discord = FakeDiscordOps()
    service = make_service(repo, discord)
    real_commit = repo.commit
    calls = 0

    async def failing_commit(application: Application, *, notice: OutboxItem | None = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageError("could not save playerData.json: No space left on device")
        await real_commit(application, notice=notice)

    monkeypatch.setattr(repo, "commit", failing_commit)
    outcome, seen = await click(service)
    assert outcome.failure is Failure.STORAGE
    assert "could not be saved" in seen.results[0]
    assert discord.channels == {}
    assert len(discord.deleted) == 1
    assert await repo.get_pending(KEY) is None
    again, _ = await click(service)
    assert again.kind is OutcomeKind.CREATED
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_unexpected_error_becomes_generic_message_with_reference(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()

    async def broken(_: object) -> object:
        raise RuntimeError("secret internal detail")

    real_create = discord.create_channel
    discord.create_channel = broken  # type: ignore[method-assign]
    clock = FakeClock()
    service = make_stack(repo, discord, clock=clock).service
    outcome, seen = await click(service)
    assert outcome.failure is Failure.UNEXPECTED
    assert "secret internal detail" not in seen.results[0]
    assert str(outcome.reference) in seen.results[0]
    # The create may have been sent: the reservation stays until a look after its window settles it.
    pending = await repo.get_pending(KEY)
    assert pending is not None
    assert pending.state is PendingState.CREATING
    discord.create_channel = real_create
    again, _ = await click(service)
    assert again.kind is OutcomeKind.CREATED
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_time_limit_ends_in_clear_message_and_releases(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.gate = asyncio.Event()  # channel creation never returns
    outcome, seen = await click(make_service(repo, discord, time_limit=0.05))
    assert outcome.failure is Failure.TIMED_OUT
    assert "took too long" in seen.results[0]
    assert await repo.get_pending(KEY) is None
    assert discord.channels == {}


@pytest.mark.asyncio
async def test_undelivered_result_is_kept_for_admins(repo: JsonApplicationRepository) -> None:
    service = make_service(repo, FakeDiscordOps())
    responder = FakeResponder(deliver=False)
    outcome = await service.handle_click(Click(KEY, applicant(), 0.0, 1.0), responder)
    (kept,) = await repo.list_undelivered(GUILD)
    assert kept.key == KEY
    assert kept.outcome == outcome.label == "created"
    assert kept.message.startswith("✅")
    assert "expired" in kept.reason


@pytest.mark.asyncio
async def test_reservation_of_crashed_process_is_adopted_not_duplicated(repo: JsonApplicationRepository) -> None:
    """A process died after creating the channel: the next click adopts it instead of making another."""
    discord = FakeDiscordOps()
    clock = FakeClock()
    assert await repo.reserve(KEY, owner="dead:1", now_ms=clock.now_ms(), stale_after_ms=1) == Won()
    config = await repo.get_config(GUILD, CONFIG)
    assert config is not None
    channel_id = await discord.create_channel(channel_spec(config, applicant(), BOT))
    clock.advance(3600)  # long past the stale limit
    outcome, _ = await click(make_service(repo, discord, clock))
    assert outcome.kind is OutcomeKind.CREATED
    assert outcome.channel_id == channel_id
    assert len(discord.channels) == 1


@pytest.mark.asyncio
async def test_live_reservation_of_another_process_is_respected(repo: JsonApplicationRepository) -> None:
    clock = FakeClock()
    assert await repo.reserve(KEY, owner="other:2", now_ms=clock.now_ms(), stale_after_ms=60_000) == Won()
    discord = FakeDiscordOps()
    outcome, _ = await click(make_service(repo, discord, clock))
    assert outcome.rejection is Rejection.IN_PROGRESS
    assert discord.channels == {}


@pytest.mark.asyncio
async def test_many_users_at_once_lose_no_record(data_dir: Path) -> None:
    repo = JsonApplicationRepository.open(data_dir, fsync=False, compact_every=7)
    discord = FakeDiscordOps()
    service = make_service(repo, discord)
    users = [UserId(10_000 + n) for n in range(60)]
    await asyncio.gather(*(click(service, ApplyKey(GUILD, user, CONFIG)) for user in users))
    await repo.close()
    reopened = JsonApplicationRepository.open(data_dir, fsync=False)
    for user in users:
        assert await reopened.find_application(ApplyKey(GUILD, user, CONFIG)) is not None
    assert len(discord.channels) == 60


@pytest.mark.asyncio
async def test_at_most_max_concurrent_applies_do_work_at_once(repo: JsonApplicationRepository) -> None:
    discord = FakeDiscordOps()
    discord.gate = asyncio.Event()
    service = make_stack(repo, discord, max_concurrent=2).service
    clicks = [asyncio.create_task(click(service, ApplyKey(GUILD, UserId(20_000 + n), CONFIG))) for n in range(5)]
    await discord.entered.wait()
    for _ in range(50):  # give the other three every chance to (wrongly) start
        await asyncio.sleep(0)
    assert discord.create_attempts == 2
    discord.gate.set()
    outcomes = await asyncio.gather(*clicks)
    assert [o.kind for o, _ in outcomes] == [OutcomeKind.CREATED] * 5


@pytest.mark.asyncio
async def test_one_busy_server_never_holds_up_another(data_dir: Path) -> None:
    """Per-server slots: a server at its limit makes its own clicks wait, never another server's."""
    write_player_data(
        data_dir,
        {
            str(GUILD): {"applicationConfigs": {CONFIG: castbot_config()}},
            str(OTHER_GUILD): {"applicationConfigs": {CONFIG: castbot_config()}},
        },
    )

    async def inline(func: Callable[[Any], Any], payload: Any, /) -> Any:
        return func(payload)  # saves complete within the tick: the test counts ticks, not time

    repo = JsonApplicationRepository.open(data_dir, fsync=False, offload=inline)
    discord = FakeDiscordOps()
    discord.gate = asyncio.Event()  # channel creation holds until released
    service = make_stack(repo, discord, max_concurrent=100, max_per_server=2).service
    busy = [asyncio.create_task(click(service, ApplyKey(GUILD, UserId(30_000 + n), CONFIG))) for n in range(5)]
    for _ in range(50):
        await asyncio.sleep(0)
    assert discord.create_attempts == 2  # the busy server's other three wait
    other = asyncio.create_task(click(service, ApplyKey(OTHER_GUILD, UserId(40_000), CONFIG)))
    for _ in range(50):
        await asyncio.sleep(0)
    assert discord.create_attempts == 3  # the other server went straight in
    discord.gate.set()
    outcomes = await asyncio.gather(*busy, other)
    assert all(outcome.kind is OutcomeKind.CREATED for outcome, _ in outcomes)
