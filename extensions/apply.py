"""The Apply button: parse, defer, hand over to the service. Glue only.

Posted Apply buttons (``apply_<configId>``) outlive this process, so they are matched by prefix rather
than by lightbulb's per-process component menus. The listener is a ``PlainListener``: its dependencies
are resolved once when the extension loads, not for every click, and the ack goes out on a REST client
of its own (``InteractionAcks``) so it never waits behind background requests. Lightbulb's error handlers
do not cover listeners: this one guards itself, and the service never raises for expected failures.
"""

import logging

import hikari
import lightbulb

from castbot_hikari.apply import custom_ids, render
from castbot_hikari.apply.followups import (
    FollowupSender,
    HikariResponder,
    InteractionAcks,
    InteractionEdits,
    describe_failure,
    token_deadline,
    token_expiry_ms,
)
from castbot_hikari.apply.model import Applicant, ApplyKey, Click, ReplyHandle
from castbot_hikari.apply.service import ApplicationService
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import GuildId, UserId
from castbot_hikari.discord.listeners import Callback, PlainListener

logger = logging.getLogger(__name__)
loader = lightbulb.Loader()


async def build_apply_listener(client: lightbulb.Client) -> Callback[hikari.ComponentInteractionCreateEvent]:
    """Resolve the Apply flow's services once and return the listener of Apply clicks."""
    async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
        service = await container.get(ApplicationService)
        followups = await container.get(FollowupSender)
        acks = await container.get(InteractionAcks)
        edits = await container.get(InteractionEdits)
        clock = await container.get(Clock)
    return apply_listener(service=service, followups=followups, acks=acks, edits=edits, clock=clock)


def apply_listener(
    *,
    service: ApplicationService,
    followups: FollowupSender,
    acks: InteractionAcks,
    edits: InteractionEdits,
    clock: Clock,
) -> Callback[hikari.ComponentInteractionCreateEvent]:
    """Return the listener of Apply clicks over these services (a click on anything else costs one check)."""

    async def on_component(event: hikari.ComponentInteractionCreateEvent) -> None:
        if event.interaction.custom_id.startswith(custom_ids.APPLY_PREFIX):
            await on_apply_click(
                event.interaction, service=service, followups=followups, acks=acks, edits=edits, clock=clock
            )

    return on_component


async def on_apply_click(
    inter: hikari.ComponentInteraction,
    *,
    service: ApplicationService,
    followups: FollowupSender,
    acks: InteractionAcks,
    edits: InteractionEdits,
    clock: Clock,
) -> None:
    """Acknowledge an Apply click first, then run the apply in this listener's own task."""
    received, received_ms = clock.monotonic(), clock.now_ms()
    config_id = custom_ids.parse_apply(inter.custom_id)
    if config_id is None or inter.guild_id is None or inter.member is None:
        text = render.BROKEN_BUTTON if config_id is None else render.DM_NOT_SUPPORTED
        await _reply_quietly(acks, inter, text)
        return
    try:
        # The first thing done: nothing (no disk, no cache miss, no REST) may delay the 3 s ack.
        await acks.defer_ephemeral(inter)
    except hikari.HTTPError as exc:
        logger.warning("defer failed interaction=%s guild=%s error=%s", inter.id, inter.guild_id, describe_failure(exc))
        return  # the user saw "This interaction failed" and nothing was created: a new click starts over
    ack_ms = (clock.monotonic() - received) * 1000
    logger.debug("defer sent interaction=%s guild=%s ack_ms=%.1f", inter.id, inter.guild_id, ack_ms)
    member = inter.member
    click = Click(
        key=ApplyKey(GuildId(inter.guild_id), UserId(inter.user.id), config_id),
        applicant=Applicant(UserId(member.id), member.username, member.display_name, str(member.display_avatar_url)),
        received_at=received,
        ack_ms=ack_ms,
        reply=ReplyHandle(int(inter.application_id), inter.token, token_expiry_ms(received_ms)),
        interaction_id=int(inter.id),
    )
    await service.handle_click(click, HikariResponder(inter, followups, edits, deadline=token_deadline(received)))


async def _reply_quietly(acks: InteractionAcks, inter: hikari.ComponentInteraction, text: str) -> None:
    try:
        await acks.reply_ephemeral(inter, text)
    except hikari.HTTPError as exc:
        logger.warning("reply failed interaction=%s error=%s", inter.id, describe_failure(exc))


loader.add(PlainListener(hikari.ComponentInteractionCreateEvent, build_apply_listener))
