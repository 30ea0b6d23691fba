"""Protocols the apply flow depends on; adapters implement them (JSON file, hikari REST, admin notices)."""

from __future__ import annotations

from typing import Protocol

from castbot_hikari.apply.model import (
    Alert,
    Applicant,
    Application,
    ApplyKey,
    ApplyOutcome,
    ChannelSpec,
    Delivery,
    OutboxItem,
    Pending,
    Progress,
    ReplyHandle,
    Reservation,
    Undelivered,
    Welcome,
)
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, UserId
from castbot_hikari.core.permissions import Permission


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
    ) -> Reservation:
        """Reserve ``key``: ``Won``, else the live reservation or the recorded application that holds it.

        A reservation older than ``stale_after_ms`` (its process died) or made by ``owner`` itself (the
        caller holds the owner's in-process lock, so that reservation's apply is over) is taken over:
        ``Won.previous`` then tells what it had done.
        """
        ...

    async def get_pending(self, key: ApplyKey) -> Pending | None:
        """Return the reservation of ``key``, if any."""
        ...

    async def mark_creating(self, key: ApplyKey, attempt_ms: int) -> None:
        """Record that a channel creation is about to be sent at ``attempt_ms`` (wall clock)."""
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

    async def commit(self, application: Application, *, notice: OutboxItem | None = None) -> None:
        """Record the application and drop its reservation (and queue ``notice``), atomically."""
        ...

    async def release(self, key: ApplyKey, *, notice: OutboxItem | None = None) -> None:
        """Drop a reservation without recording anything (and queue ``notice``), atomically."""
        ...

    async def list_outbox(self) -> list[OutboxItem]:
        """Return admin notices not sent yet, claimed for this process for a while (a store shared by
        several processes hands each notice to one of them; one not dropped is handed out again later)."""
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


class Leases(Protocol):
    """Liveness of reservations shared by several processes: a reservation is its owner's while its lease lives.

    The owner renews the lease while the apply runs; a reservation whose lease ran out belongs to a process
    that died (or stalled), and only then may another process take it over. A store that one process owns
    (the JSON file) implements this trivially: nothing to renew, every other owner is gone.
    """

    @property
    def renew_every_s(self) -> float | None:
        """Return how often a running apply renews its lease (``None``: never needed)."""
        ...

    async def renew(self, key: ApplyKey, *, owner: str) -> bool:
        """Extend the lease of ``owner``'s reservation of ``key``; ``False`` if it is no longer ``owner``'s."""
        ...

    async def expired(self, *, owner: str) -> list[Pending]:
        """Return reservations of other owners whose lease ran out (their process is gone), oldest first."""
        ...

    async def take_over(self, pending: Pending, *, owner: str) -> Pending | None:
        """Make ``pending`` ``owner``'s if its lease ran out (or it is ``owner``'s already).

        Returns the reservation as it now stands (its latest step), or ``None`` when a live process holds it
        or it is gone: then the caller must leave it alone.
        """
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
        """Create the private application channel and return its id; sent once, never retried blindly.

        Raises:
            DiscordError: ``UNCONFIRMED`` when Discord may have created it anyway (look before retrying).
        """
        ...

    async def send_welcome(self, channel_id: ChannelId, welcome: Welcome) -> None:
        """Post the welcome message, pinging only the applicant and the production role."""
        ...

    async def welcome_posted(self, channel_id: ChannelId) -> bool:
        """Return whether the bot already posted in the channel (the welcome of an interrupted apply)."""
        ...

    async def delete_channel(self, channel_id: ChannelId) -> None:
        """Delete a channel (used to undo a channel that could not be recorded)."""
        ...

    async def find_application_channel(self, key: ApplyKey, *, fresh: bool = False) -> ChannelId | None:
        """Find the channel of an application by the identity marker in its topic, never by name.

        Args:
            key: The application's identity.
            fresh: Ask Discord itself (REST) instead of the gateway cache, which may not have seen a
                channel an unconfirmed request just created.
        """
        ...

    async def overflow_category(self, guild_id: GuildId, root: ChannelId, full: ChannelId) -> ChannelId:
        """Return a category with room in ``root``'s chain ("Applications 2", ...) other than ``full``,
        creating the next one with ``root``'s overwrites if none has room (one at a time per chain)."""
        ...


class Responder(Protocol):
    """The applicant's ephemeral response to one click (after the defer)."""

    def show_progress(self, step: Progress) -> None:
        """Replace the loading message with a progress line; best effort, never blocks the apply."""
        ...

    async def show_result(self, outcome: ApplyOutcome) -> Delivery:
        """Replace the response with the final result, retrying within the token's life."""
        ...


class LateReplier(Protocol):
    """Edits an applicant's ephemeral response from a stored ``ReplyHandle`` (after a restart)."""

    async def reply(self, handle: ReplyHandle, outcome: ApplyOutcome) -> bool:
        """Replace the response with the result of ``outcome``; return whether it worked."""
        ...


class AdminNotifier(Protocol):
    """Tells a server's admins what they must know, in the notify channel they chose."""

    async def notify(self, guild_id: GuildId, alert: Alert) -> bool:
        """Tell the admins ``alert`` (mentions never ping); return whether it was posted.

        Alerts with the same ``alert_topic`` are sent at most once per quiet period (storms stay quiet).
        """
        ...
