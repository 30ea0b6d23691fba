"""Property-based test of the apply workflow: random clicks, crashes, restarts, Discord and disk faults.

A "process" is a service with its own store object over the shared data folder, and a view of the shared
fake Discord. Its requests travel over a "network" that outlives it: a request sent before a crash can
still land after the restart (a create Discord completes although its client is gone). A crash cuts the
process's disk and cancels its tasks; a new process opens the data folder and reconciles. Faults strike
before Discord acts (a refusal), after it acted (done, then a 5xx/timeout/malformed answer), or late (the
answer is a timeout and the action lands seconds later). Time is a fake clock that the service's sleeps
and explicit ``wait`` steps advance; file writes run inline, so every example is deterministic.

``HYPOTHESIS_PROFILE=long`` (see tests/conftest.py) runs many more examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from castbot_hikari.apply.model import ApplyKey, ApplyOutcome, ChannelSpec, Click, Welcome
from castbot_hikari.apply.service import ApplicationService
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.castbot.folder import LOCK_FILE
from castbot_hikari.castbot.journal import DataFiles
from castbot_hikari.core import naming
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, GuildId, UserId
from castbot_hikari.core.permissions import Permission
from tests.apply.fakes import (
    CONFIG,
    GUILD,
    FakeClock,
    FakeDiscordOps,
    FakeNotifier,
    FakeResponder,
    applicant,
    castbot_config,
    make_stack,
)
from tests.conftest import write_player_data

T = TypeVar("T")
USERS = [UserId(10_001 + n) for n in range(3)]
WINDOW_S = 60.0
REFUSALS = [DiscordErrorKind.CATEGORY_FULL, DiscordErrorKind.NAME_REJECTED, DiscordErrorKind.MISSING_PERMISSIONS]
UNCONFIRMED = DiscordError(DiscordErrorKind.UNCONFIRMED, "injected: 503 or timeout")


async def inline(func: Callable[[Any], Any], payload: Any, /) -> Any:
    return func(payload)


class ControlledFiles(DataFiles):
    """The disk as one process sees it: it can fill up for a few writes, or vanish with the process."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, fsync=False)
        self.dead = False
        self.full_for = 0

    def _check(self) -> None:
        if self.dead:
            raise OSError(5, "process is dead")
        if self.full_for:
            self.full_for -= 1
            raise OSError(28, "No space left on device")

    def write_temp(self, parts: Sequence[bytes]) -> Path:
        self._check()
        return super().write_temp(parts)

    def install(self, tmp: Path) -> None:
        self._check()
        super().install(tmp)

    def rotate(self, number: int) -> Path | None:
        if self.dead:  # a dead process renames nothing (a full disk does not stop a rename)
            raise OSError(5, "process is dead")
        return super().rotate(number)

    def discard(self, paths: Sequence[Path]) -> None:
        if self.dead:
            raise OSError(5, "process is dead")
        super().discard(paths)

    def append_journal(self, lines: bytes) -> None:
        self._check()
        super().append_journal(lines)


class Network:
    """Requests in flight: each reaches the shared Discord after a few ticks, even if its sender died."""

    def __init__(self) -> None:
        self.in_flight: list[asyncio.Task[None]] = []
        self.flight_ticks = 2

    async def send(self, request: Callable[[], Awaitable[T]]) -> T:
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()

        async def deliver() -> None:
            for _ in range(self.flight_ticks):
                await asyncio.sleep(0)
            try:
                result = await request()
            except DiscordError as exc:
                if not answer.done():
                    answer.set_exception(exc)
                return
            if not answer.done():
                answer.set_result(result)

        self.in_flight.append(asyncio.create_task(deliver()))
        return await answer  # a crash cancels this wait, never the delivery

    async def settle(self) -> None:
        await asyncio.gather(*self.in_flight, return_exceptions=True)


class ProcessDiscord:
    """One process's connection to the shared fake Discord: a dead process sends nothing new."""

    def __init__(self, shared: FakeDiscordOps, network: Network) -> None:
        self.shared = shared
        self.network = network
        self.alive = True

    def _gate(self) -> None:
        if not self.alive:
            raise DiscordError(DiscordErrorKind.UNAVAILABLE, "process is dead")

    @property
    def bot_user_id(self) -> UserId:
        return self.shared.bot_user_id

    async def channel_exists(self, channel_id: ChannelId) -> bool:
        self._gate()
        return await self.shared.channel_exists(channel_id)

    async def missing_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> Permission:
        self._gate()
        return await self.shared.missing_permissions(guild_id, category_id)

    async def create_channel(self, spec: ChannelSpec) -> ChannelId:
        self._gate()
        return await self.network.send(lambda: self.shared.create_channel(spec))

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        self._gate()
        await self.network.send(lambda: self.shared.send_welcome(channel_id, welcome))

    async def welcome_posted(self, channel_id: ChannelId) -> bool:
        self._gate()
        return await self.shared.welcome_posted(channel_id)

    async def delete_channel(self, channel_id: ChannelId) -> None:
        self._gate()
        await self.shared.delete_channel(channel_id)

    async def find_application_channel(self, key: ApplyKey, *, fresh: bool = False) -> ChannelId | None:
        self._gate()
        return await self.shared.find_application_channel(key, fresh=fresh)

    async def overflow_category(self, guild_id: GuildId, root: ChannelId, full: ChannelId) -> ChannelId:
        self._gate()
        return await self.shared.overflow_category(guild_id, root, full)


@dataclass
class ClickRecord:
    user: UserId
    seen: FakeResponder
    task: asyncio.Task[ApplyOutcome]


@dataclass
class Process:
    repo: JsonApplicationRepository
    files: ControlledFiles
    discord: ProcessDiscord
    service: ApplicationService
    tasks: list[asyncio.Task[object]] = field(default_factory=list[asyncio.Task[object]])


class World:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.clock = FakeClock()
        self.discord = FakeDiscordOps(clock=self.clock)
        self.network = Network()
        self.notifier = FakeNotifier()
        self.clicks: list[ClickRecord] = []
        self.owed_notice: set[UserId] = set()  # users whose apply was interrupted after its reservation
        self.generation = 0
        self.proc = self._start()

    def _start(self) -> Process:
        self.generation += 1
        repo = JsonApplicationRepository.open(self.data_dir, fsync=False, compact_every=4, offload=inline)
        files = ControlledFiles(repo.document.files.path)
        repo.document.files = files
        discord = ProcessDiscord(self.discord, self.network)
        stack = make_stack(
            repo, discord, clock=self.clock, owner=f"proc:{self.generation}", notifier=self.notifier, window_s=WINDOW_S
        )
        proc = Process(repo, files, discord, stack.service)
        proc.tasks.append(asyncio.create_task(stack.recovery.reconcile()))
        return proc

    def click(self, user: UserId) -> None:
        seen = FakeResponder()
        task = asyncio.create_task(
            self.proc.service.handle_click(Click(ApplyKey(GUILD, user, CONFIG), applicant(user), 0.0, 1.0), seen)
        )
        self.clicks.append(ClickRecord(user, seen, task))
        self.proc.tasks.append(task)

    async def crash(self) -> None:
        old = self.proc
        old.files.dead = True
        old.discord.alive = False
        for task in old.tasks:
            task.cancel()
        await asyncio.gather(*old.tasks, return_exceptions=True)
        # The data file must always parse, and the restart must be able to read what is on disk.
        assert isinstance(orjson.loads((self.data_dir / DATA_FILE).read_bytes()), dict)
        self.proc = self._start()
        self.owed_notice |= {p.key.user_id for p in await self.proc.repo.list_pending()}

    async def settle(self) -> None:
        while True:
            await asyncio.gather(*self.proc.tasks, return_exceptions=True)
            await self.network.settle()
            if all(task.done() for task in self.proc.tasks):
                return


def inject(world: World, step: tuple[object, ...]) -> bool:
    """Arm a Discord or disk fault for what comes next; ``False`` if ``step`` is not a fault."""
    discord = world.discord
    match step:
        case ("refuse", DiscordErrorKind() as kind):
            discord.fail_next.setdefault("create_channel", []).append(DiscordError(kind, "injected"))
        case ("lost",):  # failed before acting, but answered like a timeout: the bot cannot tell
            discord.fail_next.setdefault("create_channel", []).append(UNCONFIRMED)
        case ("acted_then_failed", str(method)):
            discord.fail_after.setdefault(method, []).append(UNCONFIRMED)
        case ("late", float(seconds)):
            discord.late_creates.append(seconds)
        case ("flight", int(ticks)):
            world.network.flight_ticks = ticks
        case ("disk_full", int(writes)):
            world.proc.files.full_for = writes
        case _:
            return False
    return True


async def scenario(data_dir: Path, steps: list[tuple[object, ...]]) -> World:
    world = World(data_dir)
    for step in steps:
        match step:
            case ("click", int(index)):
                world.click(USERS[index])
            case ("run", int(ticks)):
                for _ in range(ticks):
                    await asyncio.sleep(0)
            case ("wait", float(seconds)):
                world.clock.advance(seconds)
                world.discord.land()
            case ("crash",):
                await world.crash()
            case _:
                assert inject(world, step), step
    await world.settle()
    world.clock.advance(WINDOW_S)  # every late landing is due by now
    await world.crash()  # a last restart reconciles anything a failed write left behind
    await world.settle()
    return world


STEP = st.one_of(
    st.tuples(st.just("click"), st.integers(0, len(USERS) - 1)),
    st.tuples(st.just("run"), st.integers(1, 12)),
    st.tuples(st.just("wait"), st.floats(0.5, 90.0)),
    st.tuples(st.just("refuse"), st.sampled_from(REFUSALS)),
    st.just(("lost",)),
    st.tuples(st.just("acted_then_failed"), st.sampled_from(["create_channel", "send_welcome"])),
    st.tuples(st.just("late"), st.floats(0.5, WINDOW_S * 0.9)),
    st.tuples(st.just("flight"), st.integers(0, 6)),
    st.tuples(st.just("disk_full"), st.integers(1, 2)),
    st.just(("crash",)),
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder for every example, emptied before each: a store keeps its folder locked (one open
    descriptor) until the process ends, so a new folder per example ran out of descriptors in long runs."""
    return tmp_path_factory.mktemp("apply-properties")


def seeded(folder: Path) -> Path:
    """Empty ``folder`` (but for the lock file this process holds) and write one Apply config into it."""
    for entry in folder.iterdir():
        if entry.name != LOCK_FILE:
            entry.unlink()  # the store writes only files
    write_player_data(folder, {str(GUILD): {"applicationConfigs": {CONFIG: castbot_config()}, "applications": {}}})
    return folder


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=30))
@example(steps=[("flight", 6), ("click", 0), ("run", 8), ("crash",), ("click", 1), ("run", 3), ("crash",)])
@example(steps=[("late", 20.0), ("click", 0), ("run", 6), ("crash",), ("wait", 30.0), ("click", 0)])
def test_apply_workflow_invariants(folder: Path, steps: list[tuple[object, ...]]) -> None:
    data_dir = seeded(folder)
    world = asyncio.run(scenario(data_dir, steps))
    check_invariants(world)


def test_a_create_that_lands_after_a_crash_and_restart_is_adopted(folder: Path) -> None:
    """The minimal example that made a twin before: click, the create is on the wire, crash, restart."""
    steps: list[tuple[object, ...]] = [("flight", 6), ("click", 0), ("run", 8), ("crash",)]
    test_apply_workflow_invariants.hypothesis.inner_test(folder, steps)  # type: ignore[attr-defined]


def check_invariants(world: World) -> None:
    channels_by_user: dict[UserId, list[ChannelId]] = {}
    for channel in world.discord.channels.values():
        marker = naming.parse_topic_marker(channel.spec.topic)
        assert marker is not None
        channels_by_user.setdefault(marker[0], []).append(channel.id)
    # At most one channel per (guild, user, config), whatever crashed or failed, with at most one welcome.
    assert all(len(ids) == 1 for ids in channels_by_user.values()), channels_by_user
    assert all(len(c.messages) <= 1 for c in world.discord.channels.values())
    # No lost record and no record without its channel: Discord and the data file agree.
    fresh = JsonApplicationRepository.open(world.data_dir, fsync=False)
    apps = fresh.document.doc[str(GUILD)]["applications"]
    recorded = {UserId(int(a["userId"])): ChannelId(int(cid)) for cid, a in apps.items()}
    assert recorded == {user: ids[0] for user, ids in channels_by_user.items()}
    assert asyncio.run(fresh.list_pending()) == []
    # Every click ends in a final message, unless its process died; an apply a crash interrupted after
    # its reservation is reported to the admins.
    for record in world.clicks:
        if not record.task.cancelled():
            assert len(record.seen.results) == 1, record
    noticed = {user for user in USERS for _, text in world.notifier.notices if f"<@{user}>" in text and "🔧" in text}
    assert world.owed_notice <= noticed
