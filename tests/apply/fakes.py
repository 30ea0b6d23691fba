"""Stateful fakes of the service's ports: they hold state so tests assert on results, not calls."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from castbot_hikari.apply import notices, render
from castbot_hikari.apply.alerts import Alerts
from castbot_hikari.apply.model import (
    Alert,
    Applicant,
    ApplyKey,
    ApplyOutcome,
    ChannelSpec,
    Delivery,
    Progress,
    ReplyHandle,
    Welcome,
    alert_topic,
)
from castbot_hikari.apply.ports import AdminNotifier, ApplicationRepository, DiscordOps, LateReplier, Leases
from castbot_hikari.apply.recovery import Recovery
from castbot_hikari.apply.service import ApplicationService, ApplyTimeline
from castbot_hikari.core import naming
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.core.locks import KeyedLocks
from castbot_hikari.core.metrics import InMemoryMetrics
from castbot_hikari.core.permissions import Permission

GUILD = GuildId(111111111111111111)
OTHER_GUILD = GuildId(222222222222222222)
USER = UserId(333333333333333333)
BOT = UserId(444444444444444444)
CATEGORY = ChannelId(555555555555555555)
ROLE = 666666666666666666
CONFIG = ConfigId(f"config_1781015852414_{USER}")
KEY = ApplyKey(GUILD, USER, CONFIG)


def applicant(user_id: UserId = USER, display_name: str = "Kevin A") -> Applicant:
    """Return an applicant as the interaction payload would describe them."""
    return Applicant(user_id, "kevin_a", display_name, f"https://cdn.example/avatars/{user_id}.png")


def castbot_config(category: int = CATEGORY, role: int | None = ROLE, **extra: object) -> dict[str, object]:
    """Return a config object in CastBot's shape."""
    return {
        "seasonId": "season_3f9a1c2b7d4e5f60",
        "seasonName": "Season 14",
        "buttonText": "Apply to Season 14",
        "explanatoryText": "Sign-ups close Friday.",
        "channelFormat": "📝%name%-app",
        "targetChannelId": "777777777777777777",
        "categoryId": str(category),
        "buttonStyle": "Success",
        "productionRole": str(role) if role is not None else None,
        "createdBy": str(USER),
        "stage": "active",
        "createdAt": 1781015852414,
        "lastUpdated": 1781099999999,
        "questions": [],
        **extra,
    }


@dataclass
class FakeChannel:
    """A channel the fake Discord holds."""

    id: ChannelId
    spec: ChannelSpec
    messages: list[Welcome] = field(default_factory=list[Welcome])


class FakeDiscordOps:
    """An in-memory Discord: channels with their specs and messages, plus scripted failures.

    ``fail_next[method]`` holds errors raised by the next calls of that method, in order, before it acts.
    ``fail_after[method]`` holds errors raised after it acted ("done, then fail": the channel or message
    exists, the caller hears a 5xx, a timeout or a malformed answer). ``late_creates`` holds delays in
    seconds: the next channel creations answer ``UNCONFIRMED`` at once and land that long after (by
    ``clock``), as a request Discord finishes after the client gave up.
    ``gate`` (if set) is awaited inside ``create_channel`` so tests can hold applies mid-flight.
    """

    def __init__(self, bot_user_id: UserId = BOT, clock: FakeClock | None = None) -> None:
        self._ids = itertools.count(900_000_000_000_000_000)
        self.channels: dict[ChannelId, FakeChannel] = {}
        self.deleted: list[ChannelId] = []
        self.fail_next: dict[str, list[DiscordError]] = {}
        self.fail_after: dict[str, list[DiscordError]] = {}
        self.late_creates: list[float] = []
        self._landing: list[tuple[int, FakeChannel]] = []
        self.clock = clock
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.create_attempts = 0
        self.looks: list[bool] = []
        self.on_create: Callable[[], None] | None = None
        self.overflow_requests: list[ChannelId] = []
        self.lacking = Permission(0)
        self.overflow_to = ChannelId(888_888_888_888_888_888)
        self._bot = bot_user_id

    @property
    def bot_user_id(self) -> UserId:
        return self._bot

    def _maybe_fail(self, method: str) -> None:
        self.land()
        queue = self.fail_next.get(method)
        if queue:
            raise queue.pop(0)

    def _maybe_fail_after(self, method: str) -> None:
        queue = self.fail_after.get(method)
        if queue:
            raise queue.pop(0)

    def land(self) -> None:
        """Let late creations whose time has come appear."""
        if not self._landing:
            return
        assert self.clock is not None, "late creations need the fake's clock"
        now = self.clock.now_ms()
        for item in [item for item in self._landing if item[0] <= now]:
            self._landing.remove(item)
            self.channels[item[1].id] = item[1]

    @property
    def landing(self) -> int:
        """Return how many late creations have not landed yet."""
        return len(self._landing)

    async def missing_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> Permission:
        await asyncio.sleep(0)
        return self.lacking

    async def channel_exists(self, channel_id: ChannelId) -> bool:
        await asyncio.sleep(0)
        self._maybe_fail("channel_exists")
        return channel_id in self.channels

    async def create_channel(self, spec: ChannelSpec) -> ChannelId:
        self.create_attempts += 1
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        self._maybe_fail("create_channel")
        channel_id = ChannelId(next(self._ids))
        if self.late_creates:
            assert self.clock is not None, "late creations need the fake's clock"
            delay_ms = int(self.late_creates.pop(0) * 1000)
            self._landing.append((self.clock.now_ms() + delay_ms, FakeChannel(channel_id, spec)))
            raise DiscordError(DiscordErrorKind.UNCONFIRMED, "timed out (lands later)")
        self.channels[channel_id] = FakeChannel(channel_id, spec)
        if self.on_create is not None:
            self.on_create()
        self._maybe_fail_after("create_channel")
        return channel_id

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        await asyncio.sleep(0)
        self._maybe_fail("send_welcome")
        if channel_id not in self.channels:
            raise DiscordError(DiscordErrorKind.NOT_FOUND, "Unknown Channel", code=10003, status=404)
        self.channels[channel_id].messages.append(welcome)
        self._maybe_fail_after("send_welcome")

    async def welcome_posted(self, channel_id: ChannelId) -> bool:
        await asyncio.sleep(0)
        self._maybe_fail("welcome_posted")
        channel = self.channels.get(channel_id)
        return channel is not None and bool(channel.messages)

    async def delete_channel(self, channel_id: ChannelId) -> None:
        await asyncio.sleep(0)
        self._maybe_fail("delete_channel")
        if self.channels.pop(channel_id, None) is not None:
            self.deleted.append(channel_id)

    async def find_application_channel(self, key: ApplyKey, *, fresh: bool = False) -> ChannelId | None:
        await asyncio.sleep(0)
        self._maybe_fail("find_application_channel")
        self.looks.append(fresh)
        for channel in self.channels.values():
            if channel.spec.guild_id == key.guild_id and naming.parse_topic_marker(channel.spec.topic) == (
                key.user_id,
                key.config_id,
            ):
                return channel.id
        return None

    async def overflow_category(self, guild_id: GuildId, root: ChannelId, full: ChannelId) -> ChannelId:
        await asyncio.sleep(0)
        self._maybe_fail("overflow_category")
        self.overflow_requests.append(full)
        return self.overflow_to

    def channels_of(self, user_id: UserId) -> list[FakeChannel]:
        """Return the channels whose topic marks them as ``user_id``'s applications."""
        return [c for c in self.channels.values() if (m := naming.parse_topic_marker(c.spec.topic)) and m[0] == user_id]


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now_ms: int = 1_790_000_000_000) -> None:
        self._now_ms = now_ms
        self._mono = 1000.0

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now_ms += int(seconds * 1000)
        self._mono += seconds


class FakeResponder:
    """What one applicant sees: progress lines and the final message (deliveries can be made to fail)."""

    def __init__(self, deliver: bool = True) -> None:
        self.progress: list[str] = []
        self.results: list[str] = []
        self._deliver = deliver

    def show_progress(self, step: Progress) -> None:
        self.progress.append(render.progress(step))

    async def show_result(self, outcome: ApplyOutcome) -> Delivery:
        await asyncio.sleep(0)
        text = render.apply_outcome(outcome)
        self.results.append(text)
        if self._deliver:
            return Delivery(True, 1, text=text)
        return Delivery(False, 1, "interaction token expired or unknown", text=text)


class SleepRecorder:
    """An injected ``sleep`` that advances a FakeClock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.calls: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self._clock.advance(seconds)
        await asyncio.sleep(0)  # what else runs meanwhile (a request in flight) gets its turn


class FakeNotifier:
    """Collects admin notices by guild (topics deduplicated like the real one, without a clock)."""

    def __init__(self) -> None:
        self.notices: list[tuple[GuildId, str]] = []
        self._topics: set[tuple[GuildId, str]] = set()

    async def notify(self, guild_id: GuildId, alert: Alert) -> bool:
        await asyncio.sleep(0)
        if (topic := alert_topic(alert)) is not None:
            if (guild_id, topic) in self._topics:
                return False
            self._topics.add((guild_id, topic))
        self.notices.append((guild_id, notices.render(alert)))
        return True


class FakeReplier:
    """Collects late replies to applicants (after a restart)."""

    def __init__(self) -> None:
        self.replies: list[tuple[str, str]] = []

    async def reply(self, handle: ReplyHandle, outcome: ApplyOutcome) -> bool:
        await asyncio.sleep(0)
        self.replies.append((handle.token, render.apply_outcome(outcome)))
        return True


@dataclass
class ApplyStack:
    """The apply feature wired as the composition root wires it, over fakes."""

    service: ApplicationService
    recovery: Recovery
    timeline: ApplyTimeline
    metrics: InMemoryMetrics


def make_stack(
    repo: ApplicationRepository,
    discord: DiscordOps,
    *,
    clock: FakeClock | None = None,
    owner: str = "test:1",
    notifier: AdminNotifier | None = None,
    replier: LateReplier | None = None,
    time_limit: float = 600.0,
    max_concurrent: int = 20,
    max_per_server: int = 20,
    metrics: InMemoryMetrics | None = None,
    window_s: float = 60.0,
    leases: Leases | None = None,
) -> ApplyStack:
    """Return the apply service, its recovery and their timeline over ``repo`` and ``discord``."""
    clock = clock or FakeClock()
    metrics = metrics or InMemoryMetrics()
    alerts = Alerts(repo, notifier, clock)
    timeline = ApplyTimeline(
        repo,
        discord,
        alerts=alerts,
        locks=KeyedLocks(),
        metrics=metrics,
        clock=clock,
        owner=owner,
        time_limit=time_limit,
        unconfirmed_window_s=window_s,
        sleep=SleepRecorder(clock),
        leases=leases,
    )
    service = ApplicationService(
        timeline,
        alerts=alerts,
        metrics=metrics,
        clock=clock,
        max_concurrent=max_concurrent,
        max_per_server=max_per_server,
    )
    recovery = Recovery(timeline, alerts=alerts, metrics=metrics, clock=clock, replier=replier)
    return ApplyStack(service, recovery, timeline, metrics)
