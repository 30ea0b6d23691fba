"""The ``/apps`` group, its loader, and the glue every ``/apps`` handler shares.

Every handler re-checks Manage Server from the interaction's member permissions (Discord's
``default_member_permissions`` can be overridden per server), acknowledges before any disk or REST
work, and guards itself: lightbulb's error handlers do not cover listeners.

Component and modal handlers are registered with ``@routed(kind)``: one listener per event type parses
the custom id, finds the handler and runs the shared preamble (caller check, acknowledge, guard), so no
handler repeats it. Commands that fail unexpectedly reach ``on_command_error``, the catch-all.
"""

import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import hikari
import lightbulb

from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.components import Rows
from castbot_hikari.admin.custom_ids import AdminId, Kind
from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.reports import PendingRetrier
from castbot_hikari.admin.service import AdminService
from castbot_hikari.apply.followups import describe_failure
from castbot_hikari.core.access import is_admin
from castbot_hikari.core.ids import GuildId, UserId
from castbot_hikari.discord.listeners import Callback, PlainListener

logger = logging.getLogger(__name__)
loader = lightbulb.Loader()
apps = lightbulb.Group(
    "apps",
    "Post and manage this server's Apply buttons",
    default_member_permissions=hikari.Permissions.MANAGE_GUILD,
    contexts=[hikari.ApplicationContextType.GUILD],
)
loader.command(apps)
EPHEMERAL = hikari.MessageFlag.EPHEMERAL
Respondable = hikari.CommandInteraction | hikari.ComponentInteraction | hikari.ModalInteraction


@dataclass(frozen=True, slots=True)
class Caller:
    """The admin behind an interaction."""

    guild_id: GuildId
    user_id: UserId


@dataclass(frozen=True, slots=True)
class Screen:
    """What an admin sees in their ephemeral response: text and, optionally, components."""

    content: str
    components: Rows = ()
    embed: hikari.Embed | None = None
    attachment: hikari.Resourceish | None = None


Work = Callable[[Caller], Awaitable[Screen]]
Routable = hikari.ComponentInteraction | hikari.ModalInteraction


@dataclass(frozen=True, slots=True)
class AdminDeps:
    """The services a routed handler may use (resolved once per event by the routing listener)."""

    service: AdminService
    retrier: PendingRetrier


Handler = Callable[[Routable, Caller, AdminId, AdminDeps], Awaitable[Screen]]


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Handler
    interaction: type[hikari.ComponentInteraction] | type[hikari.ModalInteraction]
    update: bool


_ROUTES: dict[Kind, _Route] = {}


def routed(*kinds: Kind, modal: bool = False, update: bool = False) -> Callable[[Handler], Handler]:
    """Register a handler for admin custom ids of ``kinds``.

    Args:
        kinds: The custom-id kinds it handles.
        modal: Whether it handles a modal submit (else a component).
        update: Acknowledge as an update of the component's message (else a new ephemeral response).
    """

    def register(handler: Handler) -> Handler:
        interaction = hikari.ModalInteraction if modal else hikari.ComponentInteraction
        for kind in kinds:
            _ROUTES[kind] = _Route(handler, interaction, update)
        return handler

    return register


def caller(inter: hikari.PartialInteraction) -> Caller | Refusal:
    """Return the admin behind ``inter``, or why they may not use ``/apps`` (checked server-side)."""
    member = getattr(inter, "member", None)
    if inter.guild_id is None or not isinstance(member, hikari.InteractionMember):
        return Refusal(Reason.NOT_IN_GUILD)
    if not is_admin(int(member.permissions)):
        return Refusal(Reason.NOT_ADMIN)
    return Caller(GuildId(inter.guild_id), UserId(inter.user.id))


def refused(refusal: Refusal) -> Screen:
    """Return the screen of a refusal."""
    return Screen(admin_render.refusal(refusal))


async def reply(inter: Respondable, text: str) -> None:
    """Answer an interaction at once with an ephemeral message (failures are only logged)."""
    try:
        await inter.create_initial_response(
            hikari.ResponseType.MESSAGE_CREATE, text, flags=EPHEMERAL, user_mentions=False, role_mentions=False
        )
    except hikari.HTTPError as exc:
        logger.warning("/apps reply failed interaction=%s error=%s", inter.id, describe_failure(exc))


async def acknowledge(inter: Respondable, *, update: bool = False) -> bool:
    """Defer: a new ephemeral response, or (``update``) an edit of the component's message."""
    try:
        if update and isinstance(inter, hikari.ComponentInteraction):
            await inter.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
        else:
            await inter.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=EPHEMERAL)
    except hikari.HTTPError as exc:
        logger.warning("/apps defer failed interaction=%s error=%s", inter.id, describe_failure(exc))
        return False
    return True


async def show(inter: Respondable, screen: Screen) -> None:
    """Replace the (deferred) response with ``screen``; mentions in it never ping."""
    await inter.edit_initial_response(
        screen.content,
        components=list(screen.components),
        embed=screen.embed if screen.embed is not None else hikari.UNDEFINED,
        attachment=screen.attachment if screen.attachment is not None else hikari.UNDEFINED,
        mentions_everyone=False,
        user_mentions=False,
        role_mentions=False,
    )


@contextlib.asynccontextmanager
async def guarded(inter: Respondable, what: str) -> AsyncGenerator[None, None]:
    """Turn an unexpected error into a logged reference and a short message to the admin."""
    try:
        yield
    except Exception:
        reference = secrets.token_hex(4)
        logger.exception("/apps %s failed interaction=%s ref=%s", what, inter.id, reference)
        with contextlib.suppress(hikari.HTTPError):
            await show(inter, Screen(admin_render.unexpected(reference)))


def modal_values(inter: hikari.ModalInteraction) -> dict[str, str]:
    """Return the submitted text inputs by custom id."""
    return {item.custom_id: item.value for row in inter.components for item in row.components}


async def dispatch(inter: Routable, deps: AdminDeps) -> None:
    """Run the handler of an admin component or modal: check the admin, acknowledge, guard, show."""
    parsed = admin_ids.parse(inter.custom_id)
    route = _ROUTES.get(parsed.kind) if parsed is not None else None
    if parsed is None or route is None or not isinstance(inter, route.interaction):
        return  # not ours
    who = caller(inter)
    if isinstance(who, Refusal):
        await reply(inter, admin_render.refusal(who))
        return
    if not await acknowledge(inter, update=route.update):
        return
    async with guarded(inter, parsed.kind.value):
        await show(inter, await route.handler(inter, who, parsed, deps))


async def _deps(client: lightbulb.Client) -> AdminDeps:
    async with client.di.enter_context(lightbulb.di.Contexts.DEFAULT) as container:
        return AdminDeps(await container.get(AdminService), await container.get(PendingRetrier))


async def build_component_router(client: lightbulb.Client) -> Callback[hikari.ComponentInteractionCreateEvent]:
    """Return the listener that routes admin components (setup, delete confirmation, Stop) to their handlers."""
    deps = await _deps(client)

    async def on_component(event: hikari.ComponentInteractionCreateEvent) -> None:
        if event.interaction.custom_id.startswith(admin_ids.PREFIX):
            await dispatch(event.interaction, deps)

    return on_component


async def build_modal_router(client: lightbulb.Client) -> Callback[hikari.ModalInteractionCreateEvent]:
    """Return the listener that routes admin modals (post, edit) to their handlers."""
    deps = await _deps(client)

    async def on_modal(event: hikari.ModalInteractionCreateEvent) -> None:
        if event.interaction.custom_id.startswith(admin_ids.PREFIX):
            await dispatch(event.interaction, deps)

    return on_modal


# Plain listeners: the services are resolved once at load, not for every click the bot receives.
loader.add(PlainListener(hikari.ComponentInteractionCreateEvent, build_component_router))
loader.add(PlainListener(hikari.ModalInteractionCreateEvent, build_modal_router))


@loader.error_handler
async def on_command_error(exc: lightbulb.exceptions.ExecutionPipelineFailedException) -> bool:
    """Catch every command failure no handler expected: log it with a reference, tell the admin."""
    inter = exc.context.interaction
    reference = secrets.token_hex(4)
    logger.error(
        "/apps %s failed interaction=%s ref=%s",
        exc.context.command_data.qualified_name,
        inter.id,
        reference,
        exc_info=exc.__cause__ or exc,
    )
    text = admin_render.unexpected(reference)
    try:
        await inter.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, text, flags=EPHEMERAL)
    except hikari.BadRequestError:  # already acknowledged (deferred): replace the response instead
        with contextlib.suppress(hikari.HTTPError):
            await inter.edit_initial_response(text)
    except hikari.HTTPError:
        pass  # too late or Discord is down: the log line is all that is left
    return True


async def config_autocomplete(
    ctx: lightbulb.AutocompleteContext[str], service: AdminService = lightbulb.di.INJECTED
) -> None:
    """Offer this server's configs (none to a non-admin: the list itself is admin information)."""
    who = caller(ctx.interaction)
    if isinstance(who, Refusal):
        await ctx.respond([])
        return
    await ctx.respond(await service.choices(who.guild_id, str(ctx.focused.value or "")))


def config_option() -> str:
    """Return the ``config`` option every per-button subcommand takes."""
    return lightbulb.string("config", "The Apply button (type part of its title)", autocomplete=config_autocomplete)


async def run_command(ctx: lightbulb.Context, what: str, work: Work) -> None:
    """Check the admin, defer ephemerally, run ``work`` and show its screen (errors guarded)."""
    who = caller(ctx.interaction)
    if isinstance(who, Refusal):
        await reply(ctx.interaction, admin_render.refusal(who))
        return
    if not await acknowledge(ctx.interaction):
        return
    async with guarded(ctx.interaction, what):
        await show(ctx.interaction, await work(who))
