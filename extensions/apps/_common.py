"""The ``/apps`` group, its loader, and the glue every ``/apps`` handler shares.

Every handler re-checks Manage Server from the interaction's member permissions (Discord's
``default_member_permissions`` can be overridden per server), acknowledges before any disk or REST
work, and guards itself: lightbulb's error handlers do not cover listeners.
"""

import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

import hikari
import lightbulb

from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.components import Rows
from castbot_hikari.admin.model import Reason, Refusal, is_admin
from castbot_hikari.admin.service import AdminService
from castbot_hikari.core.ids import GuildId, UserId

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


Work = Callable[[Caller], Awaitable[Screen]]


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
        logger.warning("/apps reply failed interaction=%s error=%s", inter.id, exc)


async def acknowledge(inter: Respondable, *, update: bool = False) -> bool:
    """Defer: a new ephemeral response, or (``update``) an edit of the component's message."""
    try:
        if update and isinstance(inter, hikari.ComponentInteraction):
            await inter.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_UPDATE)
        else:
            await inter.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE, flags=EPHEMERAL)
    except hikari.HTTPError as exc:
        logger.warning("/apps defer failed interaction=%s error=%s", inter.id, exc)
        return False
    return True


async def show(inter: Respondable, screen: Screen) -> None:
    """Replace the (deferred) response with ``screen``; mentions in it never ping."""
    await inter.edit_initial_response(
        screen.content,
        components=list(screen.components),
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
