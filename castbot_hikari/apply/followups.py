"""Delivering the applicant's result: bounded retries inside the interaction token's life.

hikari already retries 5xx and connection errors ``max_retries`` times inside every REST call and
waits out 429s, so this layer retries only what is left after that (a 5xx or connection failure that
outlasted hikari's retries, a rate limit too long to wait for), with exponential backoff and jitter,
and gives up before the token expires. 401/403/404 are final: the token is gone or unusable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import hikari

from castbot_hikari.apply import render
from castbot_hikari.apply.model import ApplyOutcome, Delivery, Progress, ReplyHandle
from castbot_hikari.core import metrics as names
from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.metrics import Metrics

logger = logging.getLogger(__name__)

TOKEN_LIFE_MS: Final = 15 * 60 * 1000
TOKEN_SAFETY_S: Final = 30.0
ACK_WINDOW_S: Final = 3.0
"""An interaction reaches the bot at most this long after Discord created it (else its ack fails): the token's
15 minutes are counted from receipt minus this, on the local clocks, never from the snowflake against the
local wall clock (a skewed clock would expire every token at once, or too late)."""


def token_deadline(received_at: float) -> float:
    """Return the monotonic time after which the token of an interaction received at ``received_at`` (local
    monotonic seconds) must not be relied on."""
    return received_at + TOKEN_LIFE_MS / 1000 - ACK_WINDOW_S - TOKEN_SAFETY_S


def token_expiry_ms(received_wall_ms: int) -> int:
    """Return the local wall-clock time (ms) at which the token of an interaction received then expires.

    Kept with a reservation, it outlives the process; the same machine's wall clock reads it after a restart.
    """
    return received_wall_ms + TOKEN_LIFE_MS - int(ACK_WINDOW_S * 1000)


def is_transient(exc: BaseException) -> bool:
    """Return whether a failed send may succeed if tried again later."""
    if isinstance(exc, hikari.InternalServerError | hikari.RateLimitTooLongError):
        return True
    # hikari raises a bare HTTPError for connection errors once its own retries are spent.
    return type(exc) is hikari.HTTPError


def describe_failure(exc: BaseException) -> str:
    """Return a log-safe reason (no token, no URL) for a failed send."""
    if isinstance(exc, hikari.UnauthorizedError | hikari.NotFoundError):
        return f"interaction token expired or unknown (status {int(exc.status)} code {exc.code})"
    if isinstance(exc, hikari.HTTPResponseError):
        return f"status {int(exc.status)} code {exc.code}"
    return type(exc).__name__


class FollowupSender:
    """Send interaction follow-ups with bounded, jittered exponential backoff.

    Args:
        clock: Time source for the token deadline.
        metrics: Counters ``followup.retry``, ``followup.delivered``, ``followup.failed``.
        sleep: Injected so tests never wait.
        max_attempts: Attempts per message, the first included.
        base_delay: Seconds before the first retry; doubled each time, up to ``max_delay``.
        rng: Returns a float in [0, 1) for jitter.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        metrics: Metrics,
        sleep: Sleep = asyncio.sleep,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._rng = rng

    def _delay(self, attempt: int) -> float:
        ceiling = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
        return ceiling * (0.5 + self._rng() / 2)

    async def deliver(self, send: Callable[[], Awaitable[object]], *, deadline: float) -> Delivery:
        """Call ``send`` until it succeeds, fails for good, runs out of attempts or of token life."""
        attempt = 0
        while True:
            if self._clock.monotonic() >= deadline:
                self._metrics.incr(names.FOLLOWUP_FAILED)
                return Delivery(False, attempt, "interaction token expired before the result was ready")
            attempt += 1
            try:
                await send()
            except Exception as exc:
                reason = describe_failure(exc)
                delay = self._delay(attempt)
                if not is_transient(exc) or attempt >= self._max_attempts:
                    self._metrics.incr(names.FOLLOWUP_FAILED)
                    return Delivery(False, attempt, reason)
                if self._clock.monotonic() + delay >= deadline:
                    self._metrics.incr(names.FOLLOWUP_FAILED)
                    return Delivery(False, attempt, f"{reason}; no token life left to retry")
                self._metrics.incr(names.FOLLOWUP_RETRY)
                logger.warning(
                    "follow-up failed (%s), backing off for %.2fs and retrying. Retries remaining: %s",
                    reason,
                    delay,
                    self._max_attempts - attempt,
                )
                await self._sleep(delay)
            else:
                self._metrics.incr(names.FOLLOWUP_DELIVERED)
                return Delivery(True, attempt)


ALREADY_ACKNOWLEDGED: Final = 40060


class InteractionAcks:
    """First responses to interactions, sent through a REST client of their own.

    An ack must reach Discord within 3 s whatever the bot is doing; on the bot's main client it could wait
    for a pooled connection behind hundreds of background requests. This client has its own connection pool
    and buckets (interaction callbacks are exempt from the global rate limit).

    Args:
        rest: A REST client used for nothing but first responses.
    """

    def __init__(self, rest: hikari.api.RESTClient) -> None:
        self._rest = rest

    async def defer_ephemeral(self, interaction: hikari.ComponentInteraction | hikari.ModalInteraction) -> None:
        """Acknowledge with "thinking…", visible to the clicker only.

        A 40060 ("already acknowledged") counts as done: a callback that Discord took and then answered with
        a 5xx is retried by hikari, and the retry meets the first one's success.

        Raises:
            hikari.HTTPError: The ack failed (the user sees "This interaction failed").
        """
        try:
            await self._rest.create_interaction_response(
                interaction,
                interaction.token,
                hikari.ResponseType.DEFERRED_MESSAGE_CREATE,
                flags=hikari.MessageFlag.EPHEMERAL,
            )
        except hikari.BadRequestError as exc:
            if exc.code != ALREADY_ACKNOWLEDGED:
                raise

    async def open_modal(
        self,
        interaction: hikari.ComponentInteraction,
        title: str,
        custom_id: str,
        components: Sequence[hikari.api.ComponentBuilder],
    ) -> None:
        """Answer at once with a modal (which can only ever be a first response)."""
        await self._rest.create_modal_response(
            interaction, interaction.token, title=title, custom_id=custom_id, components=components
        )

    async def reply_ephemeral(
        self, interaction: hikari.ComponentInteraction | hikari.ModalInteraction, text: str
    ) -> None:
        """Answer at once with a message visible to the clicker only (mentions never ping)."""
        await self._rest.create_interaction_response(
            interaction,
            interaction.token,
            hikari.ResponseType.MESSAGE_CREATE,
            text,
            flags=hikari.MessageFlag.EPHEMERAL,
            mentions_everyone=False,
            user_mentions=False,
            role_mentions=False,
        )


class InteractionEdits:
    """Edits of interaction responses (progress, results, late replies), on a REST client of their own.

    Interaction webhooks are exempt from Discord's global limit, so these are not paced with the bot's
    other requests; and they do not share the acks' connections, so a storm of results never delays a
    first response.

    Args:
        rest: A REST client used for nothing but edits of interaction responses.
    """

    def __init__(self, rest: hikari.api.RESTClient) -> None:
        self._rest = rest

    async def edit_original(self, application_id: int, token: str, text: str) -> None:
        """Replace an interaction's response with ``text`` (mentions never ping).

        Raises:
            hikari.HTTPError: Discord refused or the token is gone.
        """
        await self._rest.edit_interaction_response(
            application_id, token, text, mentions_everyone=False, user_mentions=False, role_mentions=False
        )


class HikariResponder:
    """The ``Responder`` of one deferred component interaction: edits of its original response.

    Progress is sent in the background and never delays the apply; the result waits for it, so a slow
    progress edit can never land after (and hide) the result.
    """

    def __init__(
        self,
        interaction: hikari.ComponentInteraction,
        sender: FollowupSender,
        edits: InteractionEdits,
        *,
        deadline: float,
    ) -> None:
        self._interaction = interaction
        self._sender = sender
        self._edits = edits
        self._deadline = deadline
        self._progress: asyncio.Task[None] | None = None
        self._finished = False

    @property
    def deadline(self) -> float:
        """Return the monotonic time after which this interaction's token is not relied on."""
        return self._deadline

    def show_progress(self, step: Progress) -> None:
        """Start replacing the loading message with ``step`` (one attempt, failures only logged).

        Steps are shown in order: a step waits for the edit of the one before it.
        """
        if not self._finished:
            text = render.progress(step)
            self._progress = asyncio.create_task(self._edit_once(text, self._progress), name="apply-progress")

    async def _edit_once(self, text: str, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await before
        try:
            await self._edit(text)
        except Exception as exc:  # best effort by design: the result edit follows and is retried
            logger.info("progress edit failed interaction=%s reason=%s", self._interaction.id, describe_failure(exc))

    async def _edit(self, text: str) -> None:
        inter = self._interaction
        await self._edits.edit_original(inter.application_id, inter.token, text)

    async def show_result(self, outcome: ApplyOutcome) -> Delivery:
        """Replace the response with the result, with retries (see ``FollowupSender``)."""
        self._finished = True
        if self._progress is not None:
            await self._progress
        text = render.apply_outcome(outcome)
        delivery = dataclasses.replace(
            await self._sender.deliver(lambda: self._edit(text), deadline=self._deadline), text=text
        )
        if delivery.delivered:
            logger.info("result delivered interaction=%s attempts=%d", self._interaction.id, delivery.attempts)
        return delivery


class HikariLateReplier:
    """Edits an applicant's ephemeral response from a stored handle (the ``LateReplier`` port); one try."""

    def __init__(self, edits: InteractionEdits) -> None:
        self._edits = edits

    async def reply(self, handle: ReplyHandle, outcome: ApplyOutcome) -> bool:
        """Show the result of ``outcome``; ``False`` when the token is gone or Discord refused."""
        try:
            await self._edits.edit_original(handle.application_id, handle.token, render.apply_outcome(outcome))
        except hikari.HTTPError as exc:
            logger.info("late reply not delivered reason=%s", describe_failure(exc))
            return False
        return True
