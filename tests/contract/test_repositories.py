"""The repository contract: the SAME tests against both stores (the JSON file and PostgreSQL).

What the apply flow and the admin commands rely on is written once here; a store that passes can stand
behind either. What only a shared store can show (other processes) is in ``test_pg_processes.py``.
"""

from __future__ import annotations

import asyncio

import pytest

from castbot_hikari.apply.model import (
    Application,
    ApplyKey,
    ApplyOutcome,
    OutboxItem,
    Pending,
    PendingState,
    Recovered,
    Rejection,
    ReplyHandle,
    Undelivered,
    Won,
)
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from tests.apply.fakes import CONFIG, GUILD, KEY, applicant
from tests.contract.stores import OWNER_A, OWNER_B, Stores, seeded_config, stores

__all__ = ["stores"]  # the fixture, imported to be found

STALE = 600_000
NOW = 1_790_000_000_000


def key_of(user: int) -> ApplyKey:
    return ApplyKey(GUILD, UserId(user), CONFIG)


async def record(s: Stores, key: ApplyKey = KEY, channel: int = 42, *, notice: OutboxItem | None = None) -> Application:
    config = await s.a.get_config(key.guild_id, key.config_id)
    assert config is not None
    assert isinstance(await s.a.reserve(key, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE), Won)
    app = Application.new(config, applicant(key.user_id), ChannelId(channel), "📝kevina-app", NOW)
    await s.a.commit(app, notice=notice)
    return app


@pytest.mark.asyncio
async def test_configs_are_read_from_their_own_guild_only(stores: Stores) -> None:
    config = await stores.a.get_config(GUILD, CONFIG)
    assert config is not None
    assert config == seeded_config()
    assert await stores.a.get_config(GuildId(999), CONFIG) is None
    assert await stores.a.get_config(GUILD, ConfigId("config_1_1")) is None


@pytest.mark.asyncio
async def test_one_reservation_per_identity_and_the_loser_sees_the_holder(stores: Stores) -> None:
    who, reply = applicant(), ReplyHandle(1, "tok", NOW + 900_000)
    won = await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE, applicant=who, reply=reply)
    assert won == Won()
    held = await stores.b.reserve(KEY, owner=OWNER_B, now_ms=NOW + 1, stale_after_ms=STALE)
    assert isinstance(held, Pending)
    assert held.owner == OWNER_A
    assert held.applicant == who
    assert held.reply == reply
    assert held.state is PendingState.RESERVED
    assert await stores.a.get_pending(KEY) == held


@pytest.mark.asyncio
async def test_concurrent_reserves_of_one_key_by_many_owners_win_once(stores: Stores) -> None:
    results = await asyncio.gather(
        *(
            (stores.a if i % 2 else stores.b).reserve(KEY, owner=f"host:{i}:x", now_ms=NOW, stale_after_ms=STALE)
            for i in range(20)
        )
    )
    assert sum(isinstance(r, Won) for r in results) == 1
    assert all(isinstance(r, Won | Pending) for r in results)


@pytest.mark.asyncio
async def test_the_owner_takes_its_own_reservation_over_with_what_it_had_done(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    await stores.a.mark_creating(KEY, NOW + 5)
    await stores.a.mark_channel(KEY, ChannelId(77))
    again = await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW + 10, stale_after_ms=STALE)
    assert isinstance(again, Won)
    assert again.previous is not None
    assert again.previous.state is PendingState.CHANNEL_CREATED
    assert again.previous.channel_id == ChannelId(77)
    assert again.previous.create_attempt_ms == NOW + 5


@pytest.mark.asyncio
async def test_a_gone_owners_reservation_is_taken_over(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    await stores.a.mark_welcomed(KEY)
    await stores.expire(KEY)
    taken = await stores.b.reserve(KEY, owner=OWNER_B, now_ms=NOW + STALE + 1, stale_after_ms=STALE)
    assert isinstance(taken, Won)
    assert taken.previous is not None
    assert taken.previous.state is PendingState.WELCOMED
    pending = await stores.b.get_pending(KEY)
    assert pending is not None
    assert pending.owner == OWNER_B


@pytest.mark.asyncio
async def test_steps_are_kept_with_the_reservation(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE, applicant=applicant())
    await stores.a.mark_creating(KEY, NOW + 3)
    pending = await stores.a.get_pending(KEY)
    assert pending is not None
    assert (pending.state, pending.create_attempt_ms, pending.channel_id) == (PendingState.CREATING, NOW + 3, None)
    await stores.a.mark_channel(KEY, ChannelId(88))
    await stores.a.mark_welcomed(KEY)
    pending = await stores.a.get_pending(KEY)
    assert pending is not None
    assert (pending.state, pending.channel_id) == (PendingState.WELCOMED, ChannelId(88))


@pytest.mark.asyncio
async def test_list_pending_oldest_first_and_by_guild(stores: Stores) -> None:
    for user in (5, 6, 7):
        await stores.a.reserve(key_of(user), owner=OWNER_A, now_ms=NOW + user, stale_after_ms=STALE)
        await asyncio.sleep(0.002)  # the database stamps reservations with its own clock
    assert [p.key.user_id for p in await stores.a.list_pending()] == [5, 6, 7]
    assert [p.key.user_id for p in await stores.a.list_pending(GUILD)] == [5, 6, 7]
    assert await stores.a.list_pending(GuildId(999)) == []


@pytest.mark.asyncio
async def test_commit_records_keeps_extra_fields_and_drops_the_reservation(stores: Stores) -> None:
    app = await record(stores)
    found = await stores.b.find_application(KEY)
    assert found == app
    assert found is not None
    assert found.extra["channelName"] == "📝kevina-app"
    assert await stores.a.get_pending(KEY) is None
    assert await stores.a.list_pending() == []
    held = await stores.b.reserve(KEY, owner=OWNER_B, now_ms=NOW, stale_after_ms=STALE)
    assert held == app
    assert await stores.configs.application_counts(GUILD) == {CONFIG: 1}


@pytest.mark.asyncio
async def test_commit_and_release_queue_their_notice_atomically(stores: Stores) -> None:
    reply = ReplyHandle(5, "token-x", NOW + 900_000)
    created = OutboxItem("n1", GUILD, Recovered(KEY, ApplyOutcome.created(ChannelId(42))), reply)
    await record(stores, notice=created)
    other = key_of(9)
    await stores.a.reserve(other, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    released = OutboxItem("n2", GUILD, Recovered(other, ApplyOutcome.rejected(Rejection.INTERRUPTED)))
    await stores.a.release(other, notice=released)
    assert await stores.a.get_pending(other) is None
    outbox = await stores.a.list_outbox()
    assert [item.notice_id for item in outbox] == ["n1", "n2"]
    assert outbox[0] == created
    assert outbox[1] == released
    await stores.a.drop_notice("n1")
    await stores.a.drop_notice("n2")
    assert await stores.b.list_outbox() == []


@pytest.mark.asyncio
async def test_released_key_can_be_reserved_again(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    await stores.a.release(KEY)
    assert await stores.b.reserve(KEY, owner=OWNER_B, now_ms=NOW, stale_after_ms=STALE) == Won()


@pytest.mark.asyncio
async def test_removed_application_frees_the_identity(stores: Stores) -> None:
    await record(stores)
    await stores.a.remove_application(GUILD, ChannelId(42))
    assert await stores.a.find_application(KEY) is None
    assert await stores.b.reserve(KEY, owner=OWNER_B, now_ms=NOW, stale_after_ms=STALE) == Won()


@pytest.mark.asyncio
async def test_undelivered_results_are_kept_per_guild_oldest_first(stores: Stores) -> None:
    later = Undelivered("ref2", KEY, "created", "✅ Your channel", NOW + 10, "token expired")
    first = Undelivered("ref1", key_of(8), "failed.storage", "❌ Something", NOW, "unknown webhook")
    elsewhere = Undelivered("ref3", ApplyKey(GuildId(999), UserId(1), CONFIG), "created", "x", NOW, "r")
    for item in (later, first, elsewhere):
        await stores.a.record_undelivered(item)
    assert await stores.b.list_undelivered(GUILD) == [first, later]
    assert len(await stores.b.list_undelivered()) == 3


@pytest.mark.asyncio
async def test_leases_renew_for_the_owner_only_and_gone_owners_are_listed(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    assert await stores.a.renew(KEY, owner=OWNER_A)
    assert not await stores.b.renew(KEY, owner=OWNER_B)
    assert not await stores.a.renew(key_of(5), owner=OWNER_A)
    assert await stores.a.expired(owner=OWNER_A) == []
    await stores.expire(KEY)
    (gone,) = await stores.b.expired(owner=OWNER_B)
    assert gone.key == KEY
    assert gone.owner == OWNER_A
    taken = await stores.b.take_over(gone, owner=OWNER_B)
    assert taken is not None
    assert taken.key == KEY


@pytest.mark.asyncio
async def test_take_over_of_a_settled_reservation_gives_nothing(stores: Stores) -> None:
    await stores.a.reserve(KEY, owner=OWNER_A, now_ms=NOW, stale_after_ms=STALE)
    pending = await stores.a.get_pending(KEY)
    assert pending is not None
    await stores.a.release(KEY)
    assert await stores.b.take_over(pending, owner=OWNER_B) is None


@pytest.mark.asyncio
async def test_configs_create_update_delete_keep_unknown_keys(stores: Stores) -> None:
    configs = stores.configs
    assert [c.config_id for c in await configs.all_configs(GUILD)] == [CONFIG]
    assert await configs.update(GUILD, CONFIG, {"stage": "closed", "buttonText": "Closed"})
    found = await configs.find(GUILD, CONFIG)
    assert found is not None
    assert not found.is_open
    raw = await stores.raw_config()
    assert raw is not None
    assert raw["questions"] == []  # CastBot keys this bot does not model
    assert raw["seasonName"] == "Season 14"
    assert raw["stage"] == "closed"
    assert not await configs.update(GUILD, ConfigId("config_2_2"), {"stage": "active"})
    assert await configs.delete(GUILD, CONFIG)
    assert not await configs.delete(GUILD, CONFIG)
    assert await configs.find(GUILD, CONFIG) is None
    assert await configs.all_configs(GUILD) == []


@pytest.mark.asyncio
async def test_notify_channel_is_set_and_cleared_per_guild(stores: Stores) -> None:
    assert await stores.settings.get_notify_channel(GUILD) is None
    await stores.settings.set_notify_channel(GUILD, ChannelId(1234))
    assert await stores.settings.get_notify_channel(GUILD) == ChannelId(1234)
    assert await stores.settings.get_notify_channel(GuildId(999)) is None
    await stores.settings.set_notify_channel(GUILD, None)
    assert await stores.settings.get_notify_channel(GUILD) is None
