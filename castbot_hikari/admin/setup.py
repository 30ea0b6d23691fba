"""The ``/apps post`` setup state between the modal and the Post button, held in memory.

A setup lives for ``ttl`` seconds after its last change. It is keyed by a random id carried in the setup
message's custom ids, so a component clicked after it expired (or after a restart) is recognised and
answered with a clear message instead of failing.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Final

from castbot_hikari.admin.model import CardText, CategoryUse, Reason, Refusal
from castbot_hikari.castbot.config import ButtonStyle
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import ChannelId, GuildId, RoleId, UserId

SETUP_TTL_S: Final = 14 * 60.0  # inside the 15 minutes an interaction token lives
MAX_SETUPS_PER_GUILD: Final = 25
"""Setups one server may have at once; the oldest of that server are dropped first, never another's."""


@dataclass(frozen=True, slots=True)
class Named:
    """A channel or role chosen in the setup, with the name shown back to the admin."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class SetupDraft:
    """One admin's ``/apps post`` in progress.

    Attributes:
        categories: The guild's categories with their use, as listed when the setup started.
        touched_at: Monotonic time of the last change (the setup expires ``ttl`` after it).
        posting: Whether a Post is running (a second click is refused, so a card is never posted twice).
    """

    session_id: str
    guild_id: GuildId
    admin_id: UserId
    text: CardText
    categories: tuple[CategoryUse, ...]
    touched_at: float
    channel: Named | None = None
    category: CategoryUse | None = None
    style: ButtonStyle | None = None
    role: Named | None = None
    posting: bool = False

    @property
    def ready(self) -> bool:
        """Whether channel, category and style are chosen (the Post button is enabled)."""
        return self.channel is not None and self.category is not None and self.style is not None

    @property
    def channel_id(self) -> ChannelId | None:
        """Return the chosen target channel's id."""
        return ChannelId(self.channel.id) if self.channel is not None else None

    @property
    def role_id(self) -> RoleId | None:
        """Return the chosen production role's id."""
        return RoleId(self.role.id) if self.role is not None else None


class SetupSessions:
    """In-memory setups by id, expiring ``ttl`` seconds after their last change.

    Args:
        clock: Time source (monotonic seconds).
        ttl: Seconds of inactivity after which a setup is gone.
        capacity: Most setups kept per server; that server's oldest are dropped first.
    """

    def __init__(self, clock: Clock, *, ttl: float = SETUP_TTL_S, capacity: int = MAX_SETUPS_PER_GUILD) -> None:
        self._clock = clock
        self._ttl = ttl
        self._capacity = capacity
        self._drafts: dict[str, SetupDraft] = {}

    def create(
        self, guild_id: GuildId, admin_id: UserId, text: CardText, categories: tuple[CategoryUse, ...]
    ) -> SetupDraft:
        """Start a setup and return it."""
        self._prune(guild_id)
        draft = SetupDraft(secrets.token_hex(6), guild_id, admin_id, text, categories, self._clock.monotonic())
        self._drafts[draft.session_id] = draft
        return draft

    def get(self, session_id: str, guild_id: GuildId, admin_id: UserId) -> SetupDraft | Refusal:
        """Return a live setup of this admin in this guild, or ``SETUP_EXPIRED``."""
        draft = self._drafts.get(session_id)
        if draft is None or draft.guild_id != guild_id or draft.admin_id != admin_id:
            return Refusal(Reason.SETUP_EXPIRED)
        if self._clock.monotonic() - draft.touched_at > self._ttl:
            del self._drafts[session_id]
            return Refusal(Reason.SETUP_EXPIRED)
        return draft

    def save(self, draft: SetupDraft) -> SetupDraft:
        """Store a changed setup (and refresh its expiry); a setup dropped meanwhile stays dropped."""
        updated = dataclasses.replace(draft, touched_at=self._clock.monotonic())
        if draft.session_id in self._drafts:
            self._drafts[draft.session_id] = updated
        return updated

    def drop(self, session_id: str) -> None:
        """Forget a setup (posted)."""
        self._drafts.pop(session_id, None)

    def cancel(self, session_id: str, guild_id: GuildId, admin_id: UserId) -> bool:
        """Forget a setup of this admin in this server; ``False`` (and nothing changed) for anyone else's."""
        draft = self._drafts.get(session_id)
        if draft is None or draft.guild_id != guild_id or draft.admin_id != admin_id:
            return False
        del self._drafts[session_id]
        return True

    def __len__(self) -> int:
        return len(self._drafts)

    def _prune(self, guild_id: GuildId) -> None:
        now = self._clock.monotonic()
        for session_id in [s for s, d in self._drafts.items() if now - d.touched_at > self._ttl]:
            del self._drafts[session_id]
        own = sorted((d for d in self._drafts.values() if d.guild_id == guild_id), key=lambda d: d.touched_at)
        for draft in own[: max(0, len(own) - self._capacity + 1)]:
            del self._drafts[draft.session_id]
