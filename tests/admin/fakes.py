"""Stateful fakes of the admin ports: a small Discord guild with channels, roles and posted cards."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from castbot_hikari.admin.model import Card, CategoryUse, ChannelInfo, ChannelKind, RoleInfo
from castbot_hikari.admin.service import AdminService
from castbot_hikari.admin.setup import Named, SetupSessions
from castbot_hikari.admin.store import JsonConfigRepository, JsonGuildSettings
from castbot_hikari.apply.model import ApplyOutcome, Pending, Rejection
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.access import ALL
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind
from castbot_hikari.core.ids import ChannelId, GuildId, MessageId, RoleId, UserId
from tests.apply.fakes import GUILD, OTHER_GUILD, FakeClock

ADMIN = UserId(123456789012345678)
TARGET = ChannelId(700000000000000001)
OTHER_TEXT = ChannelId(700000000000000002)
CATEGORY = ChannelId(700000000000000010)
FULL_CATEGORY = ChannelId(700000000000000011)
LOCKED_CATEGORY = ChannelId(700000000000000012)
VOICE = ChannelId(700000000000000020)
FOREIGN = ChannelId(700000000000000030)
PRODUCTION = RoleId(800000000000000001)


@dataclass
class PostedCard:
    """A card the fake Discord holds."""

    channel_id: ChannelId
    card: Card
    edits: list[Card] = field(default_factory=list[Card])


class FakeAdminDiscord:
    """One guild (plus a foreign channel of another guild) with channels, categories, roles and cards.

    ``fail_next[method]`` holds errors raised by the next calls of that method; ``gate`` (if set) is
    awaited inside ``post_card`` so tests can hold a post mid-flight.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(900_000_000_000_000_000)
        self.channels: dict[ChannelId, ChannelInfo] = {
            TARGET: ChannelInfo(TARGET, GUILD, "apply-here", ChannelKind.TEXT, ALL),
            OTHER_TEXT: ChannelInfo(OTHER_TEXT, GUILD, "general", ChannelKind.TEXT, ALL),
            CATEGORY: ChannelInfo(CATEGORY, GUILD, "Applications", ChannelKind.CATEGORY, ALL),
            FULL_CATEGORY: ChannelInfo(FULL_CATEGORY, GUILD, "Season 13", ChannelKind.CATEGORY, ALL),
            LOCKED_CATEGORY: ChannelInfo(LOCKED_CATEGORY, GUILD, "Locked", ChannelKind.CATEGORY, 1 << 10),
            VOICE: ChannelInfo(VOICE, GUILD, "Voice", ChannelKind.OTHER, ALL),
            FOREIGN: ChannelInfo(FOREIGN, OTHER_GUILD, "elsewhere", ChannelKind.TEXT, ALL),
        }
        self.used: dict[ChannelId, int] = {CATEGORY: 12, FULL_CATEGORY: 50, LOCKED_CATEGORY: 0}
        self.roles: set[RoleId] = {PRODUCTION}
        self.managed_roles: set[RoleId] = set()
        self.cards: dict[MessageId, PostedCard] = {}
        self.deleted_cards: list[MessageId] = []
        self.fail_next: dict[str, list[DiscordError]] = {}
        self.gate: asyncio.Event | None = None
        self.calls: list[str] = []

    def _maybe_fail(self, method: str) -> None:
        self.calls.append(method)
        queue = self.fail_next.get(method)
        if queue:
            raise queue.pop(0)

    async def channel(self, guild_id: GuildId, channel_id: ChannelId) -> ChannelInfo | None:
        await asyncio.sleep(0)
        self._maybe_fail("channel")
        info = self.channels.get(channel_id)
        return info if info is not None and info.guild_id == guild_id else None

    async def categories(self, guild_id: GuildId) -> list[CategoryUse]:
        await asyncio.sleep(0)
        self._maybe_fail("categories")
        return [
            CategoryUse(c.id, c.name, self.used.get(c.id, 0))
            for c in self.channels.values()
            if c.kind is ChannelKind.CATEGORY and c.guild_id == guild_id
        ]

    async def role(self, guild_id: GuildId, role_id: RoleId) -> RoleInfo | None:
        await asyncio.sleep(0)
        self._maybe_fail("role")
        if guild_id != GUILD or role_id not in self.roles:
            return None
        return RoleInfo(role_id, managed=role_id in self.managed_roles)

    async def post_card(self, channel_id: ChannelId, card: Card) -> MessageId:
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        self._maybe_fail("post_card")
        message_id = MessageId(next(self._ids))
        self.cards[message_id] = PostedCard(channel_id, card)
        return message_id

    async def edit_card(self, channel_id: ChannelId, message_id: MessageId, card: Card) -> bool:
        await asyncio.sleep(0)
        self._maybe_fail("edit_card")
        posted = self.cards.get(message_id)
        if posted is None or posted.channel_id != channel_id:
            return False
        posted.card = card
        posted.edits.append(card)
        return True

    async def delete_card(self, channel_id: ChannelId, message_id: MessageId) -> None:
        await asyncio.sleep(0)
        self._maybe_fail("delete_card")
        if self.cards.pop(message_id, None) is not None:
            self.deleted_cards.append(message_id)


def unavailable() -> DiscordError:
    """Return the error of a Discord outage (after hikari's retries)."""
    return DiscordError(DiscordErrorKind.UNAVAILABLE, "Service Unavailable", status=503)


@dataclass
class AdminKit:
    """An ``AdminService`` over the real JSON stores in a temp folder, a fake Discord and a fake clock."""

    service: AdminService
    discord: FakeAdminDiscord
    configs: JsonConfigRepository
    settings: JsonGuildSettings
    repository: JsonApplicationRepository
    clock: FakeClock
    sessions: SetupSessions


def admin_kit(repository: JsonApplicationRepository, clock: FakeClock | None = None) -> AdminKit:
    """Build an ``AdminService`` over ``repository``'s document."""
    clock = clock or FakeClock()
    discord = FakeAdminDiscord()
    configs = JsonConfigRepository(repository.document)
    settings = JsonGuildSettings(repository.document)
    sessions = SetupSessions(clock)
    service = AdminService(configs, discord, settings, sessions, clock)
    return AdminKit(service, discord, configs, settings, repository, clock, sessions)


def open_repository(data_dir: Path) -> JsonApplicationRepository:
    """Open the JSON repository of a data folder (fsync off: logic tests)."""
    return JsonApplicationRepository.open(data_dir, fsync=False)


TARGET_NAMED = Named(TARGET, "apply-here")
PRODUCTION_NAMED = Named(PRODUCTION, "Production")


class FakePendingApplies:
    """Unfinished applies that ``resume`` finishes (and forgets), with scripted outcomes.

    ``gate`` (if set) is awaited inside ``resume`` so tests can stop a batch mid-flight.
    """

    def __init__(self, pending: list[Pending]) -> None:
        self.pending = list(pending)
        self.resumed: list[Pending] = []
        self.outcome: Callable[[Pending], ApplyOutcome] = lambda p: ApplyOutcome.created(
            ChannelId(600_000_000_000_000_000 + p.key.user_id % 1000)
        )
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def list_pending(self, guild_id: GuildId) -> list[Pending]:
        await asyncio.sleep(0)
        return [p for p in self.pending if p.key.guild_id == guild_id]

    async def resume(self, pending: Pending) -> ApplyOutcome:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if pending not in self.pending:  # finished meanwhile: resuming again changes nothing
            return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED)
        self.pending.remove(pending)
        self.resumed.append(pending)
        return self.outcome(pending)
