"""The shared context REST handlers, the gateway and the interaction store work on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from castbot_hikari.testing.emulator.ids import IdFactory
from castbot_hikari.testing.emulator.state import EmulatorState, JSONObject


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


@dataclass(slots=True)
class Core:
    """Everything a handler needs: state, ids, clock, settings and the gateway dispatcher."""

    state: EmulatorState
    ids: IdFactory
    clock: Callable[[], float]
    settings: Settings
    dispatcher: Dispatcher
