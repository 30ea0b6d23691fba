"""The shared context REST handlers, the gateway and the interaction store work on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from castbot_hikari.testing.emulator.ids import IdFactory
from castbot_hikari.testing.emulator.state import EmulatorState, JSONObject
from castbot_hikari.testing.emulator.writes import ChannelWrites

RELAXABLE: Final = frozenset({"category_permissions", "component_layout", "duplicate_overwrites"})
"""Discord rules a test may switch off with ``DiscordEmulator(relax=...)`` (each is on by default):
``category_permissions`` (create a channel with the bot's guild permissions, ignoring the category's
overwrites), ``component_layout`` (accept duplicate custom ids and selects sharing a row) and
``duplicate_overwrites`` (accept one id twice in ``permission_overwrites``)."""


class Dispatcher(Protocol):
    """Sends gateway events to the sessions that should see them."""

    def dispatch(self, guild_id: int | None, event: str, data: JSONObject) -> None:
        """Queue ``event`` for every session covering ``guild_id`` (``None``: a DM, which goes to shard 0)."""
        ...


@dataclass(slots=True)
class Settings:
    """Behaviour switches from the emulator's constructor."""

    validate: bool
    strict: bool
    ack_deadline: float
    token_ttl: float
    heartbeat_interval: float
    shards: int = 1
    max_concurrency: int = 1
    enforce_identify_limit: bool = False
    relax: frozenset[str] = frozenset()

    def enforces(self, rule: str) -> bool:
        """Whether the Discord rule ``rule`` (one of :data:`RELAXABLE`) is enforced."""
        return rule not in self.relax


@dataclass(slots=True)
class Core:
    """Everything a handler needs: state, ids, clock, settings and the gateway dispatcher."""

    state: EmulatorState
    ids: IdFactory
    clock: Callable[[], float]
    settings: Settings
    dispatcher: Dispatcher
    writes: ChannelWrites = field(default_factory=ChannelWrites)
