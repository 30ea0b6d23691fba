"""Event listeners without per-event dependency injection, for the hot path of every interaction.

``@loader.listener`` enters two lightbulb DI contexts for every event it receives, before the callback can
even look at the event, and every component listener receives every click. ``PlainListener`` resolves what
its callback needs once, when its loader is loaded, and subscribes a plain callback: a click that is not
for it costs one string comparison.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

import hikari
import lightbulb

EventT = TypeVar("EventT", bound=hikari.Event)
Callback = Callable[[EventT], Coroutine[Any, Any, None]]


class PlainListener(lightbulb.Loadable, Generic[EventT]):
    """A listener whose callback is built once at load from the client (its DI registry resolved then).

    Args:
        event_type: The event to listen to.
        build: Returns the callback, given the client (resolve dependencies here, once).
    """

    def __init__(
        self, event_type: type[EventT], build: Callable[[lightbulb.Client], Awaitable[Callback[EventT]]]
    ) -> None:
        self._event_type = event_type
        self._build = build
        # One callback per client: an extension module (and its loader) is shared by every client of a process
        # (lightbulb's clients take no weak references, so they are compared by identity).
        self._loaded: list[tuple[lightbulb.Client, Callback[EventT]]] = []

    async def load(self, client: lightbulb.Client) -> None:
        """Build the callback for ``client`` and subscribe it (once per client)."""
        if any(loaded is client for loaded, _ in self._loaded):
            return
        callback = await self._build(client)
        self._loaded.append((client, callback))
        _events(client).subscribe(self._event_type, callback)

    async def unload(self, client: lightbulb.Client) -> None:
        """Unsubscribe ``client``'s callback."""
        for entry in [entry for entry in self._loaded if entry[0] is client]:
            self._loaded.remove(entry)
            _events(client).unsubscribe(self._event_type, entry[1])


def _events(client: lightbulb.Client) -> hikari.api.EventManager:
    manager = getattr(client.app, "event_manager", None)
    if not isinstance(manager, hikari.api.EventManager):
        msg = "a PlainListener needs a bot with an event manager (a GatewayBot)"
        raise TypeError(msg)
    return manager
