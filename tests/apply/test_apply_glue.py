"""The Apply listener's glue: defer first, hand plain values to the service, refuse what is not for it."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import hikari
import pytest

from castbot_hikari.apply import render
from castbot_hikari.apply.followups import (
    TOKEN_LIFE_MS,
    FollowupSender,
    InteractionAcks,
    InteractionEdits,
    token_expiry_ms,
)
from castbot_hikari.apply.model import Click
from castbot_hikari.apply.service import ApplicationService
from castbot_hikari.core.ids import snowflake_time_ms
from extensions import apply
from tests.apply.fakes import CONFIG, GUILD, USER, FakeClock

INTERACTION_ID = 1_300_000_000_000_000_000


def event(custom_id: str, *, guild: int | None = GUILD, member: bool = True) -> tuple[mock.Mock, mock.Mock]:
    inter = mock.Mock(spec=hikari.ComponentInteraction)
    inter.id = hikari.Snowflake(INTERACTION_ID)
    inter.custom_id = custom_id
    inter.guild_id = hikari.Snowflake(guild) if guild else None
    inter.application_id = hikari.Snowflake(444)
    inter.token = "interaction-token"
    inter.user = mock.Mock(spec=hikari.User, id=hikari.Snowflake(USER))
    if member:
        inter.member = mock.Mock(
            spec=hikari.InteractionMember,
            id=hikari.Snowflake(USER),
            username="kevin_a",
            display_name="Kevin A",
            display_avatar_url="https://cdn.example/a.png",
        )
    else:
        inter.member = None
    inter.create_initial_response = mock.AsyncMock()  # the defer, sent through InteractionAcks
    inter.reply_ephemeral = mock.AsyncMock()
    ev = mock.Mock(spec=hikari.ComponentInteractionCreateEvent)
    ev.interaction = inter
    return ev, inter


def make_acks(inter: mock.Mock) -> mock.Mock:
    """The ack client, recording into the interaction's own mock so tests read one order of events."""
    acks = mock.Mock(spec=InteractionAcks)
    acks.defer_ephemeral = inter.create_initial_response
    acks.reply_ephemeral = inter.reply_ephemeral
    return acks


async def run(ev: mock.Mock, service: mock.Mock, clock: FakeClock | None = None) -> None:
    listener = apply.apply_listener(
        service=service,
        followups=mock.Mock(spec=FollowupSender),
        acks=make_acks(ev.interaction),
        edits=mock.Mock(spec=InteractionEdits),
        clock=clock or FakeClock(),
    )
    await listener(ev)


@pytest.mark.asyncio
async def test_defer_comes_first_then_the_service_gets_plain_values() -> None:
    ev, inter = event(f"apply_{CONFIG}")
    order: list[str] = []

    def recorder(step: str) -> Callable[..., None]:
        def record(*_: object, **__: object) -> None:
            order.append(step)

        return record

    inter.create_initial_response.side_effect = recorder("defer")
    service = mock.Mock(spec=ApplicationService)
    service.handle_click = mock.AsyncMock(side_effect=recorder("service"))
    await run(ev, service)
    assert order == ["defer", "service"]
    assert inter.create_initial_response.await_args == mock.call(inter)
    click: Click = service.handle_click.await_args.args[0]
    assert (click.key.guild_id, click.key.user_id, click.key.config_id) == (GUILD, USER, CONFIG)
    assert click.applicant.display_name == "Kevin A"  # from the payload, never the cache
    assert click.reply is not None
    assert click.reply.token == "interaction-token"
    assert click.reply.expires_at_ms == token_expiry_ms(FakeClock().now_ms())


@pytest.mark.asyncio
async def test_the_token_life_is_counted_from_receipt_whatever_the_wall_clock_says() -> None:
    """The local clock is far ahead of the interaction's snowflake time: results are still delivered."""
    ev, _ = event(f"apply_{CONFIG}")
    clock = FakeClock()
    assert clock.now_ms() - snowflake_time_ms(INTERACTION_ID) > 15 * 60 * 1000  # the snowflake says "expired"
    service = mock.Mock(spec=ApplicationService)
    service.handle_click = mock.AsyncMock()
    await run(ev, service, clock)
    responder = service.handle_click.await_args.args[1]
    assert responder.deadline - clock.monotonic() > 14 * 60  # 15 minutes from receipt, minus margins
    assert responder.deadline - clock.monotonic() < TOKEN_LIFE_MS / 1000


@pytest.mark.parametrize(
    ("guild", "member", "text"), [(None, False, render.DM_NOT_SUPPORTED), (GUILD, False, render.DM_NOT_SUPPORTED)]
)
@pytest.mark.asyncio
async def test_click_outside_a_server_gets_a_clear_message(guild: int | None, member: bool, text: str) -> None:
    ev, inter = event(f"apply_{CONFIG}", guild=guild, member=member)
    service = mock.Mock(spec=ApplicationService)
    await run(ev, service)
    assert inter.reply_ephemeral.await_args == mock.call(inter, text)
    inter.create_initial_response.assert_not_called()
    service.handle_click.assert_not_called()


@pytest.mark.asyncio
async def test_other_buttons_are_left_alone() -> None:
    ev, inter = event("apps:v1:something")
    await run(ev, mock.Mock(spec=ApplicationService))
    inter.create_initial_response.assert_not_called()
    inter.reply_ephemeral.assert_not_called()


@pytest.mark.asyncio
async def test_a_failed_defer_creates_nothing() -> None:
    ev, inter = event(f"apply_{CONFIG}")
    inter.create_initial_response.side_effect = hikari.NotFoundError(
        url="http://x", headers={}, raw_body="", message="Unknown interaction", code=10062
    )
    service = mock.Mock(spec=ApplicationService)
    await run(ev, service)
    service.handle_click.assert_not_called()
