"""The apply flow's values: who applies, the channel they get, reservations, outcomes and admin alerts.

No hikari, no I/O, no user-facing text: ``render`` (applicants) and ``notices`` (admins) turn these values
into messages.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core import naming, permissions
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, RoleId, UserId


@dataclass(frozen=True, slots=True, order=True)
class ApplyKey:
    """The identity of an application: one per (guild, user, config)."""

    guild_id: GuildId
    user_id: UserId
    config_id: ConfigId


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who clicked, as the interaction payload describes them (never a cached object)."""

    user_id: UserId
    username: str
    display_name: str
    avatar_url: str | None

    @classmethod
    def unknown(cls, user_id: UserId) -> Applicant:
        """Return an applicant known only by id (a reservation written without the clicker's names)."""
        return cls(user_id, str(user_id), str(user_id), None)


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """Everything needed to create one private application channel."""

    guild_id: GuildId
    name: str
    category_id: ChannelId | None
    topic: str
    overwrites: tuple[permissions.Overwrite, ...]


def channel_spec(config: ApplicationConfig, applicant: Applicant, bot_user_id: UserId) -> ChannelSpec:
    """Return the channel an applicant gets for a config."""
    return ChannelSpec(
        guild_id=config.guild_id,
        name=naming.channel_name(config.channel_format, applicant.display_name, applicant.user_id),
        category_id=config.category_id,
        topic=naming.application_topic(applicant.user_id, config.config_id, applicant.display_name, config.title),
        overwrites=permissions.application_overwrites(
            config.guild_id, applicant.user_id, bot_user_id, config.production_role
        ),
    )


@dataclass(frozen=True, slots=True)
class Welcome:
    """The welcome message posted in a new application channel: who it is for, and whom it pings."""

    applicant: UserId
    title: str
    production_role: RoleId | None

    @property
    def mention_users(self) -> tuple[UserId, ...]:
        """Return the users the welcome pings (the applicant only)."""
        return (self.applicant,)

    @property
    def mention_roles(self) -> tuple[RoleId, ...]:
        """Return the roles the welcome pings (the production role, if any)."""
        return (self.production_role,) if self.production_role is not None else ()


def welcome(config: ApplicationConfig, applicant: Applicant) -> Welcome:
    """Return the welcome message for a new application channel."""
    return Welcome(applicant.user_id, config.title, config.production_role)


@dataclass(frozen=True, slots=True)
class Application:
    """A recorded application, stored in CastBot's schema keyed by channel id."""

    guild_id: GuildId
    channel_id: ChannelId
    user_id: UserId
    config_id: ConfigId
    extra: Mapping[str, Any] = field(default_factory=dict[str, Any])

    @classmethod
    def new(
        cls,
        config: ApplicationConfig,
        applicant: Applicant,
        channel_id: ChannelId,
        channel_name: str,
        now_ms: int,
    ) -> Application:
        """Return a new application record as CastBot writes it."""
        created = datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
        extra: dict[str, Any] = {
            "username": applicant.username,
            "displayName": applicant.display_name,
            "avatarURL": applicant.avatar_url,
            "channelName": channel_name,
            "createdAt": created.replace("+00:00", "Z"),
        }
        return cls(config.guild_id, channel_id, applicant.user_id, config.config_id, extra)

    @property
    def key(self) -> ApplyKey:
        """Return the application's identity."""
        return ApplyKey(self.guild_id, self.user_id, self.config_id)

    def to_castbot(self) -> dict[str, Any]:
        """Return the CastBot JSON object, keeping every extra field as it came."""
        return {
            **self.extra,
            "userId": str(self.user_id),
            "channelId": str(self.channel_id),
            "configId": self.config_id,
        }


class PendingState(enum.Enum):
    """How far an unfinished apply got; persisted so a crash can be recovered."""

    RESERVED = "reserved"
    CREATING = "creating"
    """A channel creation was sent (at ``Pending.create_attempt_ms``) and not confirmed: it may still land."""
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
    create_attempt_ms: int | None = None
    """When the last channel creation was sent, if one was and its outcome is not known."""


@dataclass(frozen=True, slots=True)
class Won:
    """A reservation won; ``previous`` is the stale (or own, finished) reservation it took over, if any."""

    previous: Pending | None = None


Reservation = Won | Pending | Application
"""What ``reserve`` returns: ``Won``, or the live reservation or recorded application that holds the key."""


class Rejection(enum.Enum):
    """Expected reasons an apply creates nothing."""

    IN_PROGRESS = "in_progress"
    CONFIG_NOT_FOUND = "config_not_found"
    CLOSED = "closed"
    ALREADY_APPLIED = "already_applied"
    INTERRUPTED = "interrupted"


class Failure(enum.Enum):
    """Reasons an apply that should have worked did not; each has a user-facing message."""

    MISSING_PERMISSIONS = "missing_permissions"
    CATEGORY_MISSING = "category_missing"
    CATEGORY_FULL = "category_full"
    GUILD_FULL = "guild_full"
    DISCORD_UNAVAILABLE = "discord_unavailable"
    DISCORD_UNCONFIRMED = "discord_unconfirmed"
    STORAGE = "storage"
    TIMED_OUT = "timed_out"
    UNEXPECTED = "unexpected"


ADMIN_FIXABLE: frozenset[Failure] = frozenset(
    {Failure.MISSING_PERMISSIONS, Failure.CATEGORY_MISSING, Failure.CATEGORY_FULL, Failure.GUILD_FULL}
)
"""Failures of the server's setup: the admins are told at once (the others only when they repeat)."""


class OutcomeKind(enum.Enum):
    """The three shapes of an apply's result."""

    CREATED = "created"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    """The result of one click on an Apply button."""

    kind: OutcomeKind
    channel_id: ChannelId | None = None
    rejection: Rejection | None = None
    failure: Failure | None = None
    reference: str | None = None
    detail: str | None = None

    @classmethod
    def created(cls, channel_id: ChannelId) -> ApplyOutcome:
        """Return the outcome of a newly created application channel."""
        return cls(OutcomeKind.CREATED, channel_id=channel_id)

    @classmethod
    def rejected(cls, reason: Rejection, channel_id: ChannelId | None = None) -> ApplyOutcome:
        """Return an expected refusal (nothing was created)."""
        return cls(OutcomeKind.REJECTED, channel_id=channel_id, rejection=reason)

    @classmethod
    def failed(cls, reason: Failure, reference: str, detail: str | None = None) -> ApplyOutcome:
        """Return a failure with the reference id that ties the user's message to the logs."""
        return cls(OutcomeKind.FAILED, failure=reason, reference=reference, detail=detail)

    @property
    def label(self) -> str:
        """Return a short dotted name for logs and metrics, e.g. ``rejected.already_applied``."""
        reason = self.rejection or self.failure
        return f"{self.kind.value}.{reason.value}" if reason else self.kind.value


class Progress(enum.Enum):
    """A step the applicant is shown while their apply runs."""

    CREATING = "creating"
    DISCORD_SLOW = "discord_slow"


@dataclass(frozen=True, slots=True)
class Click:
    """One click on an Apply button, as the glue hands it over after the defer."""

    key: ApplyKey
    applicant: Applicant
    received_at: float
    ack_ms: float
    reply: ReplyHandle | None = None
    interaction_id: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """Whether a result reached the applicant, after how many attempts, and why not.

    Attributes:
        text: What the applicant was to be shown (kept for the admins when it was not delivered).
    """

    delivered: bool
    attempts: int
    reason: str | None = None
    text: str = ""


# ---- admin alerts: what the server's admins must be told (``notices`` words them) -------------------


@dataclass(frozen=True, slots=True)
class SetupFailure:
    """An apply failed because of the server's setup (missing permissions, category gone or full...)."""

    key: ApplyKey
    outcome: ApplyOutcome
    category_id: ChannelId | None


@dataclass(frozen=True, slots=True)
class RoleMissing:
    """The production role of a config was deleted: channels are created without it."""


@dataclass(frozen=True, slots=True)
class RepeatedFailures:
    """Applies keep failing for reasons the admins cannot fix one by one."""

    count: int
    window_s: float
    last: ApplyOutcome


@dataclass(frozen=True, slots=True)
class CategoryOverflow:
    """A category is full; new application channels go to ``target``."""

    full: ChannelId
    target: ChannelId


@dataclass(frozen=True, slots=True)
class ResultUndelivered:
    """A result the applicant could not be shown."""

    key: ApplyKey
    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Recovered:
    """An interrupted apply was finished or released after a restart."""

    key: ApplyKey
    outcome: ApplyOutcome


@dataclass(frozen=True, slots=True)
class Prewritten:
    """A notice whose words an earlier version wrote into the outbox."""

    text: str


Alert = SetupFailure | RoleMissing | RepeatedFailures | CategoryOverflow | ResultUndelivered | Recovered | Prewritten


def alert_topic(alert: Alert) -> str | None:
    """Return the topic that keeps a storm of the same alert quiet (``None``: always sent)."""
    match alert:
        case SetupFailure(outcome=outcome):
            return outcome.failure.value if outcome.failure else None
        case RoleMissing():
            return "role_missing"
        case RepeatedFailures():
            return "repeated"
        case CategoryOverflow(full=full, target=target):
            return f"overflow:{full}:{target}"
        case ResultUndelivered(key=key):
            return f"undelivered:{key.user_id}:{key.config_id}"
        case Recovered() | Prewritten():
            return None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """An admin notice waiting in the outbox: written with the change it reports, sent after it.

    Attributes:
        reply: When set, the applicant's token still may live: they are told ``alert.outcome`` too.
    """

    notice_id: str
    guild_id: GuildId
    alert: Recovered | Prewritten
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
