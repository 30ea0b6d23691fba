"""The apply flow on PostgreSQL: a running apply keeps its lease alive; reconciliation takes over only
what a dead process left (its lease ran out), never a live process's applies."""

from __future__ import annotations

import asyncio

import pytest

from castbot_hikari.apply.model import ApplyKey, Click, OutcomeKind, Pending, Rejection, Won
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core.ids import UserId
from castbot_hikari.pg.store import PostgresStore
from tests.apply.fakes import CONFIG, GUILD, FakeDiscordOps, FakeResponder, applicant, castbot_config, make_stack

LEASE_S = 1.5  # renewed every 0.5 s while the apply runs


async def stores(url: str) -> tuple[PostgresStore, PostgresStore]:
    a = await PostgresStore.connect(url, owner="proc-a", lease_s=LEASE_S)
    b = await PostgresStore.connect(url, owner="proc-b", lease_s=LEASE_S)
    await a.configs.create(ApplicationConfig.from_castbot(GUILD, CONFIG, castbot_config()))
    return a, b


@pytest.mark.asyncio
async def test_a_running_apply_renews_its_lease_so_no_other_process_takes_it(pg_url: str) -> None:
    a, b = await stores(pg_url)
    try:
        discord = FakeDiscordOps()
        discord.gate = asyncio.Event()  # the channel creation hangs: the apply runs longer than its lease
        stack = make_stack(a, discord, owner="proc-a", leases=a)
        key = ApplyKey(GUILD, UserId(5), CONFIG)
        who = applicant(UserId(5))
        responder = FakeResponder()
        running = asyncio.create_task(stack.service.handle_click(Click(key, who, 0.0, 1.0), responder))
        await asyncio.wait_for(discord.entered.wait(), 10)
        for _ in range(8):  # 4 s: over twice the lease
            await asyncio.sleep(LEASE_S / 3)
            held = await b.reserve(key, owner="proc-b", now_ms=0, stale_after_ms=0)
            assert isinstance(held, Pending)
            assert held.owner == "proc-a"
            assert await b.expired(owner="proc-b") == []
        discord.gate.set()
        outcome = await asyncio.wait_for(running, 10)
        assert outcome.kind is OutcomeKind.CREATED
        assert await b.find_application(key) is not None
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_reconciliation_takes_over_only_expired_leases(pg_url: str) -> None:
    a, b = await stores(pg_url)
    try:
        live, dead = ApplyKey(GUILD, UserId(6), CONFIG), ApplyKey(GUILD, UserId(7), CONFIG)
        for key in (live, dead):
            assert isinstance(await a.reserve(key, owner="proc-a", now_ms=0, stale_after_ms=0), Won)
        await a.pool.execute("UPDATE applies SET lease_until = now() - interval '1 second' WHERE user_id = 7")
        survivor = make_stack(b, FakeDiscordOps(), owner="proc-b", leases=b)
        results = await survivor.recovery.reconcile()
        assert [(pending.key, outcome.rejection) for pending, outcome in results] == [(dead, Rejection.INTERRUPTED)]
        still = await b.get_pending(live)
        assert still is not None
        assert still.owner == "proc-a"  # a live process's apply is left to it
        assert await b.get_pending(dead) is None
        # an admin's retry of the live one does not take it either
        assert (await survivor.recovery.resume(still)).rejection is Rejection.IN_PROGRESS
    finally:
        await a.close()
        await b.close()
