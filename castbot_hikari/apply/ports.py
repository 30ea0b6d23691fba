"""Protocols the services depend on; adapters implement them (hikari REST, JSON file, clocks)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from castbot_hikari.apply.model import Applicant, Application, ApplicationConfig, ChannelSpec, Welcome
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.core.permissions import Permission


@dataclass(frozen=True, slots=True, order=True)
class ApplyKey:
    """The identity of an application: one per (guild, user, config)."""

    guild_id: GuildId
    user_id: UserId
    config_id: ConfigId


class PendingState(enum.Enum):
    """How far an unfinished apply got; persisted so a crash can be recovered."""

    RESERVED = "reserved"
    CHANNEL_CREATED = "channel_created"
    WELCOMED = "welcomed"


@dataclass(frozen=True, slots=True)
class ReplyHandle:
    """What it takes to edit an applicant's ephemeral response later: kept with the reservation so a
    restart can still tell them the result while the interaction token lives (15 minutes)."""

    application_id: int
    token: str = field(repr=False)  # a secret: never in logs
    expires_at_ms: int = 0


@dataclass(frozen=True, slots=True)
class Pending:
    """A reservation: an apply that started and has not been recorded or released yet."""

    key: ApplyKey
    state: PendingState
    reserved_at_ms: int
    owner: str
    channel_id: ChannelId | None = None
    applicant: Applicant | None = None
    reply: ReplyHandle | None = None


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A result that could not be shown to the applicant; kept for the server's admins."""

    reference: str
    key: ApplyKey
    outcome: str
    message: str
    at_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Notice:
    """An admin notice waiting in the outbox: written with the change it reports, sent after it."""

    notice_id: str
    guild_id: GuildId
    text: str
    reply: ReplyHandle | None = None
    reply_text: str | None = None


class ApplicationRepository(Protocol):
    """Where configs, applications and reservations live.

    ``reserve`` is the atomic check-and-set every implementation must provide: of all processes and
    tasks that reserve the same key, exactly one wins until the reservation is released or committed.
    Every mutating method returns only once the change is durable, or raises ``StorageError`` with
    nothing changed.
    """

    async def get_config(self, guild_id: GuildId, config_id: ConfigId) -> ApplicationConfig | None:
        """Return a config of this guild only, or ``None``."""
        ...

    async def find_application(self, key: ApplyKey) -> Application | None:
        """Return the recorded application of this identity, if any."""
        ...

    async def reserve(
        self,
        key: ApplyKey,
        *,
        owner: str,
        now_ms: int,
        stale_after_ms: int,
        applicant: Applicant | None = None,
        reply: ReplyHandle | None = None,
    ) -> Pending | Application | None:
        """Reserve ``key``: ``None`` when won, else the live reservation or the recorded application.

        A reservation older than ``stale_after_ms`` (its process died) or made by ``owner`` itself (the
        caller holds the owner's in-process lock, so that reservation's apply is over) is taken over,
        which also returns ``None``; callers read ``get_pending`` first to learn what it had done.
        """
        ...

    async def get_pending(self, key: ApplyKey) -> Pending | None:
        """Return the reservation of ``key``, if any."""
        ...

    async def mark_channel(self, key: ApplyKey, channel_id: ChannelId) -> None:
        """Record that the reservation's channel exists (before anything else is done with it)."""
        ...

    async def mark_welcomed(self, key: ApplyKey) -> None:
        """Record that the welcome message was posted."""
        ...

    async def list_pending(self, guild_id: GuildId | None = None) -> list[Pending]:
        """Return unfinished applies (of one guild, or all), oldest first."""
        ...

    async def commit(self, application: Application, *, notice: Notice | None = None) -> None:
        """Record the application and drop its reservation (and queue ``notice``), atomically."""
        ...

    async def release(self, key: ApplyKey, *, notice: Notice | None = None) -> None:
        """Drop a reservation without recording anything (and queue ``notice``), atomically."""
        ...

    async def list_outbox(self) -> list[Notice]:
        """Return admin notices not sent yet."""
        ...

    async def drop_notice(self, notice_id: str) -> None:
        """Remove a notice from the outbox once it was sent."""
        ...

    async def remove_application(self, guild_id: GuildId, channel_id: ChannelId) -> None:
        """Forget an application whose channel no longer exists."""
        ...

    async def record_undelivered(self, item: Undelivered) -> None:
        """Keep a result the applicant never saw, for the admins."""
        ...

    async def list_undelivered(self, guild_id: GuildId | None = None) -> list[Undelivered]:
        """Return the kept undelivered results (of one guild, or all)."""
        ...


class DiscordOps(Protocol):
    """The Discord calls the apply flow makes; adapters raise ``DiscordError`` on failure."""

    @property
    def bot_user_id(self) -> UserId:
        """Return the bot's own user id."""
        ...

    async def channel_exists(self, channel_id: ChannelId) -> bool:
        """Return whether the channel still exists (``False`` on Unknown Channel)."""
        ...

    async def missing_permissions(self, guild_id: GuildId, category_id: ChannelId | None) -> Permission:
        """Return what the bot lacks to create an application channel there (``NONE`` if nothing or unknown).

        Checked before creating, so a misconfigured server costs no 403 (Discord bans IPs after 10,000
        invalid requests in 10 minutes).
        """
        ...

    async def create_channel(self, spec: ChannelSpec) -> ChannelId:
        """Create the private application channel and return its id."""
        ...

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        """Post the welcome message, pinging only the users and roles it names."""
        ...

    async def delete_channel(self, channel_id: ChannelId) -> None:
        """Delete a channel (used to undo a channel that could not be recorded)."""
        ...

    async def find_application_channel(self, key: ApplyKey) -> ChannelId | None:
        """Find the channel of an application by the identity marker in its topic, never by name."""
        ...

    async def overflow_category(self, guild_id: GuildId, full: ChannelId) -> ChannelId:
        """Return a category with room named after the full one ("Applications 2", ...), creating it
        with the full one's overwrites if none has room."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """Whether a message reached the applicant, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    reason: str | None = None


class Responder(Protocol):
    """The applicant's ephemeral response to one click (after the defer)."""

    def show_progress(self, text: str) -> None:
        """Replace the loading message with a progress line; best effort, never blocks the apply."""
        ...

    async def show_result(self, text: str) -> Delivery:
        """Replace the response with the final result, retrying within the token's life."""
        ...


class LateReplier(Protocol):
    """Edits an applicant's ephemeral response from a stored ``ReplyHandle`` (after a restart)."""

    async def reply(self, handle: ReplyHandle, text: str) -> bool:
        """Replace the response with ``text``; return whether it worked."""
        ...


class AdminNotifier(Protocol):
    """Tells a server's admins what they must know, in the notify channel they chose."""

    async def notify(self, guild_id: GuildId, text: str, *, topic: str | None = None) -> bool:
        """Post ``text``; return whether it was posted.

        Args:
            guild_id: The server whose admins are told.
            text: The message (mentions in it never ping).
            topic: Notices with the same topic are sent at most once per quiet period (storms stay quiet).
        """
        ...


class Clock(Protocol):
    """Time, injectable so tests never sleep."""

    def now_ms(self) -> int:
        """Return wall-clock Unix time in milliseconds."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic time in seconds."""
        ...


class Metrics(Protocol):
    """Counters and timings with dotted names, e.g. ``apply.created``."""

    def incr(self, name: str, value: int = 1) -> None:
        """Add ``value`` to a counter."""
        ...

    def observe(self, name: str, ms: float) -> None:
        """Record a duration in milliseconds."""
        ...


Sleep = Callable[[float], Awaitable[None]]
