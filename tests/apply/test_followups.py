"""Result delivery: retry only what hikari does not, never past the token's life, 401/404 final."""

from __future__ import annotations

from unittest import mock

import hikari
import pytest

from castbot_hikari.apply.followups import (
    TOKEN_LIFE_MS,
    FollowupSender,
    InteractionAcks,
    token_deadline,
    token_expiry_ms,
)
from castbot_hikari.core.metrics import InMemoryMetrics
from tests.apply.fakes import FakeClock, SleepRecorder


def http_error(cls: type[hikari.HTTPResponseError], status: int, code: int = 0) -> hikari.HTTPResponseError:
    if cls in (hikari.NotFoundError, hikari.UnauthorizedError, hikari.ForbiddenError, hikari.BadRequestError):
        # The 4xx subclasses fix their own status.
        return cls(url="http://127.0.0.1/x", headers={}, raw_body="", message="m", code=code)
    return cls(url="http://127.0.0.1/x", status=status, headers={}, raw_body="", message="m", code=code)


class Script:
    """A send that raises the scripted errors in order, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def sender(clock: FakeClock, sleep: SleepRecorder, metrics: InMemoryMetrics | None = None) -> FollowupSender:
    return FollowupSender(
        clock=clock,
        metrics=metrics or InMemoryMetrics(),
        sleep=sleep,
        max_attempts=4,
        base_delay=1.0,
        max_delay=8.0,
        rng=lambda: 0.999,
    )


@pytest.mark.asyncio
async def test_server_errors_left_after_hikari_retries_are_retried_with_backoff() -> None:
    clock = FakeClock()
    sleep = SleepRecorder(clock)
    metrics = InMemoryMetrics()
    send = Script(http_error(hikari.InternalServerError, 503), hikari.HTTPError("connection reset"))
    delivery = await sender(clock, sleep, metrics).deliver(send, deadline=clock.monotonic() + 600)
    assert delivery.delivered
    assert delivery.attempts == 3
    assert send.calls == 3
    assert [round(s, 2) for s in sleep.calls] == [1.0, 2.0]  # exponential (jitter pinned near its top)
    assert metrics.counters["followup.retry"] == 2
    assert metrics.counters["followup.delivered"] == 1


@pytest.mark.parametrize(
    "error",
    [
        http_error(hikari.NotFoundError, 404, 10015),
        http_error(hikari.UnauthorizedError, 401, 50027),
        http_error(hikari.ForbiddenError, 403, 50013),
        http_error(hikari.BadRequestError, 400, 50035),
    ],
)
@pytest.mark.asyncio
async def test_final_errors_are_not_retried(error: hikari.HTTPResponseError) -> None:
    clock = FakeClock()
    sleep = SleepRecorder(clock)
    send = Script(error)
    delivery = await sender(clock, sleep).deliver(send, deadline=clock.monotonic() + 600)
    assert not delivery.delivered
    assert send.calls == 1
    assert sleep.calls == []
    assert delivery.reason is not None
    assert str(error.code) in delivery.reason


@pytest.mark.asyncio
async def test_attempts_are_bounded() -> None:
    clock = FakeClock()
    sleep = SleepRecorder(clock)
    send = Script(*(http_error(hikari.InternalServerError, 502) for _ in range(10)))
    delivery = await sender(clock, sleep).deliver(send, deadline=clock.monotonic() + 600)
    assert not delivery.delivered
    assert send.calls == 4
    assert len(sleep.calls) == 3


@pytest.mark.asyncio
async def test_no_retry_that_would_outlive_the_token() -> None:
    clock = FakeClock()
    sleep = SleepRecorder(clock)
    send = Script(http_error(hikari.InternalServerError, 500))
    delivery = await sender(clock, sleep).deliver(send, deadline=clock.monotonic() + 0.5)
    assert not delivery.delivered
    assert send.calls == 1
    assert sleep.calls == []
    assert delivery.reason is not None
    assert "token" in delivery.reason


@pytest.mark.asyncio
async def test_expired_token_is_not_even_tried() -> None:
    clock = FakeClock()
    send = Script()
    delivery = await sender(clock, SleepRecorder(clock)).deliver(send, deadline=clock.monotonic() - 1)
    assert not delivery.delivered
    assert send.calls == 0


def test_token_deadline_is_inside_the_15_minutes_from_receipt() -> None:
    received = 1000.0  # local monotonic seconds when the click arrived
    remaining = token_deadline(received) - received
    assert 0 < remaining < TOKEN_LIFE_MS / 1000
    assert remaining > TOKEN_LIFE_MS / 1000 - 60  # but not wastefully early


def test_token_life_ignores_a_skewed_wall_clock() -> None:
    """With the local clock 14.5 minutes ahead of Discord, results are still delivered for ~14 minutes."""
    received_wall_ms = 1_790_000_000_000
    assert token_expiry_ms(received_wall_ms) - received_wall_ms > 14 * 60 * 1000


@pytest.mark.asyncio
async def test_an_ack_answered_already_acknowledged_counts_as_done() -> None:
    """hikari retried a callback Discord had taken (answered 5xx): the retry's 40060 is not a failure."""
    rest = mock.Mock(spec=hikari.api.RESTClient)
    rest.create_interaction_response = mock.AsyncMock(
        side_effect=hikari.BadRequestError(url="u", headers={}, raw_body="", message="already acknowledged", code=40060)
    )
    inter = mock.Mock(spec=hikari.ComponentInteraction, token="t")
    await InteractionAcks(rest).defer_ephemeral(inter)  # no exception
    rest.create_interaction_response.side_effect = hikari.NotFoundError(
        url="u", headers={}, raw_body="", message="Unknown interaction", code=10062
    )
    with pytest.raises(hikari.NotFoundError):
        await InteractionAcks(rest).defer_ephemeral(inter)
