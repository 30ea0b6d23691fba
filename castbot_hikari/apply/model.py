"""Plain domain values: application configs, applicants, applications and apply outcomes."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from castbot_hikari.core import naming, permissions
from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, RoleId, UserId

DEFAULT_CHANNEL_FORMAT: Final = "📝%name%-app"


def _snowflake(value: object) -> int | None:
    """Read an optional snowflake stored as a string (CastBot) or int; anything else is ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class ApplicationConfig:
    """An Apply button's configuration, read from CastBot's ``applicationConfigs``."""

    guild_id: GuildId
    config_id: ConfigId
    button_text: str
    channel_format: str
    category_id: ChannelId | None
    production_role: RoleId | None
    stage: str

    @classmethod
    def from_castbot(cls, guild_id: GuildId, config_id: ConfigId, raw: Mapping[str, Any]) -> ApplicationConfig:
        """Build a config from its CastBot JSON object, tolerating missing or odd fields."""
        category = _snowflake(raw.get("categoryId"))
        role = _snowflake(raw.get("productionRole"))
        fmt = raw.get("channelFormat")
        return cls(
            guild_id=guild_id,
            config_id=config_id,
            button_text=str(raw.get("buttonText") or "Apply"),
            channel_format=fmt if isinstance(fmt, str) and fmt.strip() else DEFAULT_CHANNEL_FORMAT,
            category_id=ChannelId(category) if category is not None else None,
            production_role=RoleId(role) if role is not None else None,
            stage=str(raw.get("stage") or "active"),
        )


@dataclass(frozen=True, slots=True)
class Applicant:
    """Who clicked, as the interaction payload describes them (never a cached object)."""

    user_id: UserId
    username: str
    display_name: str
    avatar_url: str | None


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
    marker = naming.topic_marker(applicant.user_id, config.config_id)
    return ChannelSpec(
        guild_id=config.guild_id,
        name=naming.channel_name(config.channel_format, applicant.display_name, applicant.user_id),
        category_id=config.category_id,
        topic=f"Application of {applicant.display_name[:100]} for {config.button_text[:80]} {marker}",
        overwrites=permissions.application_overwrites(
            config.guild_id, applicant.user_id, bot_user_id, config.production_role
        ),
    )


@dataclass(frozen=True, slots=True)
class Welcome:
    """The welcome message posted in a new application channel."""

    content: str
    mention_users: tuple[UserId, ...]
    mention_roles: tuple[RoleId, ...]


def welcome(config: ApplicationConfig, applicant: Applicant) -> Welcome:
    """Return the welcome message for a new application channel."""
    lines = [
        f"👋 Welcome <@{applicant.user_id}>! This is your private application channel for **{config.button_text}**.",
        "Only you, the production team and the bot can see it. Answer here when you are ready.",
    ]
    roles: tuple[RoleId, ...] = ()
    if config.production_role is not None:
        lines.append(f"<@&{config.production_role}> a new application has arrived.")
        roles = (config.production_role,)
    return Welcome("\n".join(lines), (applicant.user_id,), roles)


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

    def to_castbot(self) -> dict[str, Any]:
        """Return the CastBot JSON object, keeping every extra field as it came."""
        return {
            **self.extra,
            "userId": str(self.user_id),
            "channelId": str(self.channel_id),
            "configId": self.config_id,
        }


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
    STORAGE = "storage"
    TIMED_OUT = "timed_out"
    UNEXPECTED = "unexpected"


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
