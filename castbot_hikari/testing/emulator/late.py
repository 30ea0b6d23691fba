"""Late completion: a request's action that lands after the client was told it failed.

Discord sometimes answers 5xx, drops the connection or times out, and still completes the request a
few seconds later (the channel appears, CHANNEL_CREATE is dispatched). The emulator reproduces it
deterministically: the delay runs on the emulator's own loop from the moment the answer ended,
whatever the client does (it may have retried, given up or exited), and a test can await every
pending action with :meth:`LateActions.wait` or land them at once with :meth:`LateActions.land_now`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from castbot_hikari.testing.emulator.faults import RequestInfo

logger = logging.getLogger(__name__)

Action = Callable[[], tuple[int, object]]
"""Runs the request's handler and returns its ``(status, body)``."""


@dataclass(slots=True)
class LateAction:
    """One request whose action lands late.

    Attributes:
        request: The request, as fault predicates see it.
        delay: Seconds between the end of the answer and the landing.
        landed: Whether the action ran.
        status: HTTP status the action produced when it landed (its error, if it failed then).
        body: JSON body it produced.
    """

    request: RequestInfo
    delay: float
    run: Action = field(repr=False)
    landed: bool = False
    status: int | None = None
    body: object = None
    timer: asyncio.Task[None] | None = field(default=None, repr=False)

    def land(self) -> None:
        """Run the action now (once)."""
        if self.landed:
            return
        self.landed = True
        self.status, self.body = self.run()
        logger.info("emulator: late action landed %s %s -> %s", self.request.method, self.request.path, self.status)


class LateActions:
    """The late actions of one emulator: scheduled, pending and landed."""

    def __init__(self) -> None:
        self.actions: list[LateAction] = []
        self._changed = asyncio.Condition()

    @property
    def pending(self) -> list[LateAction]:
        """Actions not landed yet."""
        return [a for a in self.actions if not a.landed]

    def add(self, request: RequestInfo, delay: float, run: Action) -> LateAction:
        """Register an action; its timer starts with :meth:`start` (when the answer has ended)."""
        action = LateAction(request, delay, run)
        self.actions.append(action)
        return action

    def start(self, action: LateAction) -> None:
        """Start the action's timer: it lands ``action.delay`` seconds from now."""
        if action.landed or action.timer is not None:
            return
        action.timer = asyncio.get_running_loop().create_task(self._land_later(action))

    async def _land_later(self, action: LateAction) -> None:
        await asyncio.sleep(action.delay)
        await self._land(action)

    async def _land(self, action: LateAction) -> None:
        action.land()
        async with self._changed:
            self._changed.notify_all()

    async def land_now(self) -> list[LateAction]:
        """Land every pending action at once, in the order they were scheduled; return them."""
        landing = self.pending
        for action in landing:
            if action.timer is not None:
                action.timer.cancel()
            await self._land(action)
        return landing

    async def wait(self, timeout: float = 30.0) -> list[LateAction]:  # noqa: ASYNC109 - public API: callers pass timeouts
        """Wait until every action scheduled so far has landed; return all actions.

        Raises:
            TimeoutError: If some are still pending after ``timeout`` real seconds.
        """
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: not self.pending)
        return list(self.actions)

    def cancel(self) -> None:
        """Cancel every pending timer (the emulator is stopping); those actions never land."""
        for action in self.pending:
            if action.timer is not None:
                action.timer.cancel()
