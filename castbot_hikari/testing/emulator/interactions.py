"""The record of one simulated interaction, as the clicking user experiences it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from castbot_hikari.testing.emulator.state import JSONObject, MessageState

TimelineEntry = tuple[float, str, JSONObject]
"""``(seconds since the click, kind, detail)``."""

DEFAULT_TIMEOUT: Final = 10.0
APPLICATION_COMMAND: Final = 2
MESSAGE_COMPONENT: Final = 3
MODAL_SUBMIT: Final = 5


class Interaction:
    """One INTERACTION_CREATE the emulator dispatched, and everything the bot did with it.

    Timeline kinds: ``"dispatched"``, ``"acked"`` (detail: ``type``, ``flags``), ``"ack_rejected"``
    (detail: ``reason`` ``"late"``/``"double"``/``"invalid"``/``"failed"``), ``"original_edited"`` (``content``),
    ``"followup"`` (``content``, ``flags``, ``replaced_loading``), ``"followup_edited"``,
    ``"followup_deleted"``, ``"original_deleted"``, ``"message_updated"`` (``message_id``, ``content``,
    ``by``: the interaction whose response changed a message this one shows, or this one's type 7),
    ``"message_deleted"`` (another interaction deleted the message this one shows) and
    ``"modal_submitted"`` (``by``: the MODAL_SUBMIT interaction). Delivered to an interactions
    endpoint URL instead of the gateway: ``"dispatched"`` has ``endpoint`` (else ``connected``),
    ``"http_replied"`` (``status``, ``type``: the reply body's callback type or ``None``) when the
    endpoint answered, and ``"http_failed"`` (``reason``) when its answer made the interaction fail.

    Attributes:
        id: Interaction id (its snowflake time is the click time).
        token: Interaction token.
        guild_id: Guild of the click (``None`` in a DM).
        user_id: The clicking user.
        channel_id: Channel of the clicked message (or where the command was used).
        message_id: The clicked message (``None`` for a slash command or a modal opened by one).
        custom_id: The component's or the modal's custom id (``""`` for a slash command).
        interaction_type: 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT or 5 MODAL_SUBMIT.
        command: The invoked command path for slash commands (``"apps post"``), else ``None``.
        values: The selected values of a select menu interaction.
        created_at: Emulator clock time of the click.
        timeline: What happened, in order.
        ack_type: Callback type of the accepted first response, or ``None``.
        ephemeral: Whether the response is ephemeral.
        loading: Whether the user sees "<bot> is thinking..." (deferred, not yet edited).
        content: Visible content of the original response (``None`` when none or deleted).
        followups: Follow-up messages (message JSON), in order.
        edits: Contents of the original response after each edit, in order.
        modal: The modal's data when the bot answered with a modal (type 9), with component ids.
        original: The original response message (type 4/5), or the clicked message (type 6/7).
        submission: The MODAL_SUBMIT interaction of this interaction's modal, once submitted.
        payload: The INTERACTION_CREATE payload dispatched to the bot (``None`` until dispatched).
        http_failure: Why the interactions endpoint's answer failed the interaction (an error
            status, a timeout, an invalid body), or ``None``.
    """

    def __init__(
        self,
        *,
        id: int,  # noqa: A002 - mirrors Discord's field name
        token: str,
        guild_id: int | None,
        user_id: int,
        channel_id: int,
        message_id: int | None = None,
        custom_id: str = "",
        clock: Callable[[], float],
        ack_deadline: float,
        interaction_type: int = MESSAGE_COMPONENT,
        command: str | None = None,
        values: list[str] | None = None,
    ) -> None:
        self.id = id
        self.token = token
        self.guild_id = guild_id
        self.user_id = user_id
        self.channel_id = channel_id
        self.message_id = message_id
        self.custom_id = custom_id
        self.interaction_type = interaction_type
        self.command = command
        self.values: list[str] = values or []
        self._clock = clock
        self._ack_deadline = ack_deadline
        self.created_at = clock()
        self.timeline: list[TimelineEntry] = []
        self.ack_type: int | None = None
        self.acked_at: float | None = None
        self.ephemeral = False
        self.loading = False
        self.content: str | None = None
        self.followups: list[JSONObject] = []
        self.edits: list[str | None] = []
        self.modal: JSONObject | None = None
        self.original: MessageState | None = None
        self.followup_messages: dict[int, MessageState] = {}
        self.submission: Interaction | None = None
        self.payload: JSONObject | None = None
        self.http_failure: str | None = None
        self._changed = asyncio.Event()

    @property
    def ack_latency(self) -> float | None:
        """Seconds from click to the accepted first response, or ``None`` if not acked."""
        return None if self.acked_at is None else self.acked_at - self.created_at

    @property
    def failed(self) -> bool:
        """Whether the user sees "This interaction failed".

        That is: no accepted response within the ack deadline, or the interactions endpoint
        answered with an error, an invalid body or not at all (:attr:`http_failure`).
        """
        if self.ack_type is not None:
            return False
        return self.http_failure is not None or self._clock() - self.created_at > self._ack_deadline

    @property
    def age(self) -> float:
        """Seconds on the emulator clock since the click."""
        return self._clock() - self.created_at

    def record(self, kind: str, **detail: object) -> None:
        """Append a timeline entry and wake waiters."""
        self.timeline.append((self.age, kind, dict(detail)))
        self.notify()

    def notify(self) -> None:
        """Wake every coroutine waiting on this interaction (they re-check their predicate)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_acked(self, timeout: float = DEFAULT_TIMEOUT) -> Interaction:  # noqa: ASYNC109 - public API: callers pass timeouts
        """Wait until the bot's first response was accepted.

        Raises:
            TimeoutError: If it was not within ``timeout`` real seconds (message has the timeline).
        """
        return await self.wait_until(lambda i: i.ack_type is not None, timeout=timeout, what="acked")

    async def wait_until(
        self,
        predicate: Callable[[Interaction], bool],
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 - public API: callers pass timeouts
        what: str = "predicate",
    ) -> Interaction:
        """Wait until ``predicate(self)`` holds, re-checking after every change.

        Raises:
            TimeoutError: If it does not hold within ``timeout`` real seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_message(what, timeout))
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                raise TimeoutError(self._timeout_message(what, timeout)) from None
        return self

    @property
    def label(self) -> str:
        """``/command path`` for slash commands, else ``custom_id=...`` (for messages and reprs)."""
        return f"/{self.command}" if self.command is not None else f"custom_id={self.custom_id!r}"

    def _timeout_message(self, what: str, timeout: float) -> str:
        lines = [f"  {t:8.3f}s {kind} {detail}" for t, kind, detail in self.timeline] or ["  (empty)"]
        return f"interaction {self.id} ({self.label}) not {what} within {timeout}s; timeline:\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"Interaction(id={self.id}, {self.label}, ack_type={self.ack_type}, "
            f"loading={self.loading}, content={self.content!r}, failed={self.failed})"
        )
