"""The application in its channel: Start, Answer, Next, Complete, Withdraw, Resume. Glue only.

One component listener and one modal listener take every ``cbq:`` custom id (posted buttons outlive this
process, so they are matched by prefix, as Apply buttons are). Applicant presses are acknowledged first
(an ephemeral "thinking…" on the acks' own REST client), then the service decides by the stored progress
and the result replaces the "thinking…"; Answer opens its modal as the first response, which a defer could
never precede. The admins' question editor (``cbq:a-…``) is routed to ``extensions.apps._questions``.
Lightbulb's error handlers do not cover listeners: both guard themselves.
"""

import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import hikari
import lightbulb

from castbot_hikari.apply.followups import (
    FollowupSender,
    InteractionAcks,
    InteractionEdits,
    describe_failure,
    token_deadline,
)
from castbot_hikari.core.access import is_admin
from castbot_hikari.core.clock import Clock
from castbot_hikari.core.ids import ChannelId, GuildId, MessageId, UserId
from castbot_hikari.discord.listeners import Callback, PlainListener
from castbot_hikari.questions import custom_ids as ids
from castbot_hikari.questions import render
from castbot_hikari.questions.custom_ids import Action, QuestionsId
from castbot_hikari.questions.model import Outcome, Press
from castbot_hikari.questions.service import AnswerForm, QuestionsService, reconcile_names
from castbot_hikari.questions.wiring import Questions
from extensions.apps._questions import on_editor_component, on_editor_modal

logger = logging.getLogger(__name__)
loader = lightbulb.Loader()
BROKEN: str = "❌ This button is damaged. Ask the server's admins for help."
DM_ONLY: str = "These buttons work only inside a server."

Pressable = hikari.ComponentInteraction | hikari.ModalInteraction


@dataclass(frozen=True, slots=True)
class Deps:
    """What the listeners use, resolved once at load."""

    questions: Questions
    followups: FollowupSender
    acks: InteractionAcks
    edits: InteractionEdits
    clock: Clock


def press_of(inter: Pressable) -> Press | None:
    """Return the press (who, where, whether an admin), or ``None`` outside a server."""
    member = inter.member
    if inter.guild_id is None or member is None:
        return None
    message = inter.message.id if isinstance(inter, hikari.ComponentInteraction) else None
    return Press(
        GuildId(inter.guild_id),
        ChannelId(inter.channel_id),
        UserId(inter.user.id),
        is_admin(int(member.permissions)),
        MessageId(int(message)) if message is not None else None,
    )


async def quick_reply(deps: Deps, inter: Pressable, text: str) -> None:
    """Answer at once, ephemerally (failures are only logged)."""
    try:
        await deps.acks.reply_ephemeral(inter, text)
    except hikari.HTTPError as exc:
        logger.warning("questions reply failed interaction=%s error=%s", inter.id, describe_failure(exc))


@contextlib.asynccontextmanager
async def acknowledged(
    deps: Deps, inter: Pressable, what: str
) -> AsyncGenerator[Callable[[str], Awaitable[None]] | None]:
    """Defer ephemerally, then yield the function that shows the result (``None``: the defer failed).

    An unexpected error becomes a logged reference and a short message, never "thinking…" forever.
    """
    deadline = token_deadline(deps.clock.monotonic())
    try:
        await deps.acks.defer_ephemeral(inter)
    except hikari.HTTPError as exc:
        logger.warning("questions defer failed interaction=%s error=%s", inter.id, describe_failure(exc))
        yield None
        return

    async def show(text: str) -> None:
        application, token = int(inter.application_id), inter.token
        delivery = await deps.followups.deliver(
            lambda: deps.edits.edit_original(application, token, text), deadline=deadline
        )
        if not delivery.delivered:
            logger.warning("questions result not delivered interaction=%s reason=%s", inter.id, delivery.reason)

    try:
        yield show
    except Exception:
        reference = secrets.token_hex(4)
        logger.exception("questions %s failed interaction=%s ref=%s", what, inter.id, reference)
        with contextlib.suppress(Exception):
            await show(f"{render.UNEXPECTED}\nReference: `{reference}`")


def _step(service: QuestionsService, parsed: QuestionsId, press: Press) -> Callable[[], Awaitable[Outcome]] | None:
    match parsed.action:
        case Action.START:
            return lambda: service.start(press)
        case Action.WITHDRAW:
            return lambda: service.withdraw(press)
        case Action.RESUME:
            return lambda: service.resume(press)
        case Action.NEXT:
            return lambda: service.next(press, parsed.arg)
        case Action.COMPLETE:
            return lambda: service.complete(press, parsed.arg)
        case _:
            return None


async def open_answer(deps: Deps, inter: hikari.ComponentInteraction, press: Press, question_id: str) -> None:
    """Answer: the modal is the first response (the form is read from memory: no disk, no REST)."""
    form = await deps.questions.service.answer_form(press, question_id)
    if not isinstance(form, AnswerForm):
        await quick_reply(deps, inter, render.outcome(form))
        return
    title, custom_id, rows = render.answer_modal(form.question, form.current)
    try:
        await deps.acks.open_modal(inter, title, custom_id, list(rows))
    except hikari.HTTPError as exc:
        logger.warning("questions modal failed interaction=%s error=%s", inter.id, describe_failure(exc))


async def on_press(deps: Deps, inter: hikari.ComponentInteraction) -> None:
    """Route one ``cbq:`` component."""
    parsed = ids.parse(inter.custom_id)
    if parsed is not None and parsed.action.admin:
        await on_editor_component(inter, parsed, deps.questions)
        return
    press = press_of(inter)
    if parsed is None or press is None:
        await quick_reply(deps, inter, BROKEN if parsed is None else DM_ONLY)
        return
    if parsed.action is Action.ANSWER:
        await open_answer(deps, inter, press, parsed.arg)
        return
    step = _step(deps.questions.service, parsed, press)
    if step is None:
        await quick_reply(deps, inter, BROKEN)
        return
    async with acknowledged(deps, inter, parsed.action.value) as show:
        if show is not None:
            await show(render.outcome(await step()))


async def on_modal(deps: Deps, inter: hikari.ModalInteraction) -> None:
    """Route one ``cbq:`` modal: an answer, or the admins' editor."""
    parsed = ids.parse(inter.custom_id)
    if parsed is not None and parsed.action.admin:
        await on_editor_modal(inter, parsed, deps.questions)
        return
    press = press_of(inter)
    if parsed is None or press is None or parsed.action is not Action.ANSWER_MODAL:
        await quick_reply(deps, inter, BROKEN if press is not None else DM_ONLY)
        return
    text = next((c.value for row in inter.components for c in row.components if c.custom_id == ids.ANSWER_INPUT), "")
    async with acknowledged(deps, inter, "answer") as show:
        if show is not None:
            await show(render.outcome(await deps.questions.service.save_answer(press, parsed.arg, text)))


async def _deps(client: lightbulb.Client) -> Deps:
    async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
        return Deps(
            await container.get(Questions),
            await container.get(FollowupSender),
            await container.get(InteractionAcks),
            await container.get(InteractionEdits),
            await container.get(Clock),
        )


async def build_press_listener(client: lightbulb.Client) -> Callback[hikari.ComponentInteractionCreateEvent]:
    """Return the listener of ``cbq:`` components (a click on anything else costs one check)."""
    deps = await _deps(client)

    async def on_component(event: hikari.ComponentInteractionCreateEvent) -> None:
        if event.interaction.custom_id.startswith(ids.PREFIX):
            await on_press(deps, event.interaction)

    return on_component


async def build_modal_listener(client: lightbulb.Client) -> Callback[hikari.ModalInteractionCreateEvent]:
    """Return the listener of ``cbq:`` modals."""
    deps = await _deps(client)

    async def on_submit(event: hikari.ModalInteractionCreateEvent) -> None:
        if event.interaction.custom_id.startswith(ids.PREFIX):
            await on_modal(deps, event.interaction)

    return on_submit


loader.add(PlainListener(hikari.ComponentInteractionCreateEvent, build_press_listener))
loader.add(PlainListener(hikari.ModalInteractionCreateEvent, build_modal_listener))


async def build_guild_listener(client: lightbulb.Client) -> Callback[hikari.GuildAvailableEvent]:
    """Return the listener that resends, once a guild is available, renames a stopped process had queued."""
    deps = await _deps(client)

    async def on_guild(event: hikari.GuildAvailableEvent) -> None:
        names = {ChannelId(int(c.id)): c.name or "" for c in event.channels.values()}
        try:
            await reconcile_names(deps.questions.store, deps.questions.renames, GuildId(event.guild_id), names)
        except Exception:  # never let one guild's data stop the event loop's listeners
            logger.exception("questions rename reconciliation failed guild=%s", event.guild_id)

    return on_guild


loader.add(PlainListener(hikari.GuildAvailableEvent, build_guild_listener))
