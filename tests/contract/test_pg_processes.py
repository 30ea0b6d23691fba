"""What only a store shared by several OS processes can show: races between real processes on one database."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from castbot_hikari.admin.store import JsonGuildSettings
from castbot_hikari.apply.model import (
    Application,
    ApplyOutcome,
    OutboxItem,
    Pending,
    PendingState,
    Prewritten,
    Recovered,
    ReplyHandle,
    Undelivered,
    Won,
)
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import META
from castbot_hikari.core.ids import ChannelId, GuildId, UserId
from castbot_hikari.pg.migrate import migrate
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.pg.transfer import export_document, import_document
from tests.apply.fakes import CONFIG, GUILD, KEY, applicant, castbot_config
from tests.conftest import write_player_data
from tests.contract import pg_worker

ROOT = Path(__file__).parent.parent.parent
READY_S = 60.0


class Worker:
    """A ``pg_worker`` process: started, released with ``go``, read with ``result``, stopped by PID."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self) -> Any:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), READY_S)
        assert raw, "the worker exited early"
        return orjson.loads(raw)

    async def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()


@contextlib.asynccontextmanager
async def workers(url: str, task: str, arg: int = 0, *, count: int = 2) -> AsyncGenerator[list[Worker]]:
    """Start ``count`` workers, wait until all are connected; kill whatever still runs at the end."""
    started: list[Worker] = []
    try:
        for i in range(count):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.contract.pg_worker",
                url,
                f"proc-{i}",
                task,
                str(arg),
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            started.append(Worker(proc))
        for worker in started:
            assert await worker.line() == "ready"
        yield started
    finally:
        for worker in started:
            if worker.proc.returncode is None:
                worker.proc.kill()
            await worker.proc.wait()


async def release_all(started: Sequence[Worker]) -> list[Any]:
    await asyncio.gather(*(w.go() for w in started))
    return list(await asyncio.gather(*(w.line() for w in started)))


@pytest.mark.asyncio
async def test_two_processes_racing_200_keys_reserve_each_once(pg_url: str) -> None:
    setup = await PostgresStore.connect(pg_url, owner="setup")
    await setup.close()
    async with workers(pg_url, "reserve", 200) as both:
        won = await release_all(both)
    first, second = set(won[0]), set(won[1])
    assert not first & second
    assert first | second == set(range(1, 201))
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT user_id, owner FROM applies WHERE state = 'reserved'")
    finally:
        await conn.close()
    assert len(rows) == 200
    assert {row["user_id"] for row in rows if row["owner"] == "proc-0"} == first


@pytest.mark.asyncio
async def test_processes_starting_together_apply_each_migration_once(pg_url: str) -> None:
    async with workers(pg_url, "migrate", count=3) as three:
        applied = await release_all(three)
    versions = [m.version for m in pg_worker_migrations()]
    assert sorted(applied, key=len) == [[], [], versions]
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(versions)
        assert await migrate(conn) == []
    finally:
        await conn.close()


def pg_worker_migrations() -> list[Any]:
    from castbot_hikari.pg.migrate import migrations

    return migrations()


@pytest.mark.asyncio
async def test_a_live_processes_lease_is_never_taken_only_an_expired_one(pg_url: str) -> None:
    key = pg_worker.key_of(7)
    survivor = await PostgresStore.connect(pg_url, owner="survivor")
    try:
        async with workers(pg_url, "hold", 7, count=1) as (holder,):
            await holder.go()
            assert await holder.line() is True
            held = await survivor.reserve(key, owner="survivor", now_ms=0, stale_after_ms=0)
            assert isinstance(held, Pending)
            assert held.owner == "proc-0"
            assert await survivor.expired(owner="survivor") == []
            assert await survivor.take_over(held, owner="survivor") is None
            holder.proc.send_signal(signal.SIGKILL)  # dies mid-apply: its lease still runs
            await holder.proc.wait()
        assert isinstance(await survivor.reserve(key, owner="survivor", now_ms=0, stale_after_ms=0), Pending)
        await survivor.pool.execute("UPDATE applies SET lease_until = now() - interval '1 second'")  # time passes
        (gone,) = await survivor.expired(owner="survivor")
        taken = await survivor.take_over(gone, owner="survivor")
        assert taken is not None
        assert taken.owner == "survivor"
    finally:
        await survivor.close()


@pytest.mark.asyncio
async def test_a_process_whose_lease_was_taken_over_changes_nothing(pg_url: str) -> None:
    old = await PostgresStore.connect(pg_url, owner="old")
    new = await PostgresStore.connect(pg_url, owner="new")
    try:
        await old.configs.create(castbot_config_of())
        assert await old.reserve(KEY, owner="old", now_ms=0, stale_after_ms=0) == Won()
        await old.pool.execute("UPDATE applies SET lease_until = now() - interval '1 second'")
        assert isinstance(await new.reserve(KEY, owner="new", now_ms=0, stale_after_ms=0), Won)
        from castbot_hikari.core.errors import LeaseLostError

        with pytest.raises(LeaseLostError):
            await old.mark_channel(KEY, ChannelId(5))
        config = await old.get_config(GUILD, CONFIG)
        assert config is not None
        with pytest.raises(LeaseLostError):
            await old.commit(Application.new(config, applicant(), ChannelId(5), "x", 0))
        with pytest.raises(LeaseLostError):
            await old.release(KEY)
        assert not await old.renew(KEY, owner="old")
        pending = await new.get_pending(KEY)
        assert pending is not None
        assert (pending.owner, pending.channel_id) == ("new", None)
    finally:
        await old.close()
        await new.close()


def castbot_config_of() -> Any:
    from castbot_hikari.castbot.config import ApplicationConfig

    return ApplicationConfig.from_castbot(GUILD, CONFIG, castbot_config())


@pytest.mark.asyncio
async def test_two_processes_flushing_the_outbox_send_each_notice_once(pg_url: str) -> None:
    store = await PostgresStore.connect(pg_url, owner="writer")
    try:
        for i in range(300):
            key = pg_worker.key_of(1000 + i)
            await store.reserve(key, owner="writer", now_ms=0, stale_after_ms=0)
            await store.release(key, notice=OutboxItem(f"n{i:03}", GUILD, Prewritten(f"notice {i}")))
    finally:
        await store.close()
    async with workers(pg_url, "outbox") as both:
        sent = await release_all(both)
    assert not set(sent[0]) & set(sent[1])
    assert sorted(sent[0] + sent[1]) == [f"n{i:03}" for i in range(300)]


@pytest.mark.asyncio
async def test_import_then_export_gives_back_the_same_document(pg_url: str, tmp_path: Path) -> None:
    doc = await json_made_document(tmp_path)
    store = await PostgresStore.connect(pg_url, owner="importer")
    try:
        async with store.pool.acquire() as conn:
            counts = await import_document(conn, doc)
            again, exported = await export_document(conn)
        assert again == doc
        assert (counts.guilds, counts.configs, counts.applications, counts.pending) == (2, 1, 3, 2)
        assert (counts.notices, counts.undelivered) == (1, 1)
        assert exported == counts
        # and the bot sees it: the twin stays a twin, the recorded one is found, the reservations are there
        found = await store.find_application(KEY)
        assert found is not None
        assert found.extra["rankings"] == {"9": 4}
        assert len(await store.list_pending()) == 2
        assert await store.guild_settings.get_notify_channel(GUILD) == ChannelId(4242)
        (undelivered,) = await store.list_undelivered(GUILD)
        assert undelivered.reference == "ref1"
    finally:
        await store.close()


async def json_made_document(tmp_path: Path) -> dict[str, Any]:
    """Return a document as the JSON store leaves it: CastBot's keys, twins, odd entries, and this bot's own."""
    write_player_data(
        tmp_path,
        {
            str(GUILD): {
                "players": {"1": {"age": 24}},
                "applicationConfigs": {CONFIG: castbot_config()},
                "applications": {
                    "42": {"userId": str(KEY.user_id), "channelId": "42", "configId": CONFIG, "rankings": {"9": 4}},
                    "43": {"userId": str(KEY.user_id), "channelId": "43", "configId": CONFIG, "castingStatus": "x"},
                    "draft": {"note": "an entry CastBot left half-written"},
                },
            },
            "222222222222222222": {"tribes": {}, "applications": {"9": {"userId": "5", "configId": "c"}}},
            "environmentConfig": {"liveDiscordLogging": True},
            META: {"schemaVersion": 1, "somethingNew": [1, 2]},
        },
    )
    repo = JsonApplicationRepository.open(tmp_path, fsync=False)
    other = pg_worker.key_of(77)
    reply = ReplyHandle(9, "tok", 1_790_000_900_000)
    await repo.reserve(KEY.__class__(GUILD, UserId(8), CONFIG), owner="a", now_ms=1_790_000_000_123, stale_after_ms=1)
    await repo.reserve(other, owner="b", now_ms=1_790_000_000_456, stale_after_ms=1, applicant=applicant(), reply=reply)
    await repo.mark_creating(other, 1_790_000_000_500)
    await repo.mark_channel(other, ChannelId(555))
    notice = OutboxItem("n1", GUILD, Recovered(other, ApplyOutcome.created(ChannelId(555))), reply)
    third = pg_worker.key_of(78)
    await repo.reserve(third, owner="c", now_ms=1, stale_after_ms=1)
    await repo.release(third, notice=notice)
    await repo.record_undelivered(Undelivered("ref1", KEY, "created", "✅", 1_790_000_000_000, "expired"))
    await JsonGuildSettings(repo.document).set_notify_channel(GUILD, ChannelId(4242))
    await JsonGuildSettings(repo.document).set_notify_channel(GuildId(333), None)
    doc = orjson.loads(orjson.dumps(repo.document.doc))
    await repo.close()
    assert isinstance(doc[META]["pending"][f"{GUILD}:{other.user_id}:{other.config_id}"], dict)
    assert PendingState.CHANNEL_CREATED.value in orjson.dumps(doc).decode()
    return doc
