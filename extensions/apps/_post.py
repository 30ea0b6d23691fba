"""``/apps post``: the modal, then the ephemeral setup message, then Post. Glue only.

The setup's components are matched by prefix in a plain listener (not a lightbulb menu) so a click after
the setup expired, or after a restart, still gets a clear answer.
"""

import logging

import hikari
import lightbulb

from castbot_hikari.admin import components as admin_components
from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.custom_ids import AdminId, Kind, SetupPart
from castbot_hikari.admin.model import Reason, Refusal
from castbot_hikari.admin.service import AdminService, Posted
from castbot_hikari.admin.setup import Named, SetupDraft
from castbot_hikari.core.ids import ChannelId
from extensions.apps._common import (
    AdminDeps,
    Caller,
    Routable,
    Screen,
    caller,
    modal_values,
    refused,
    reply,
    routed,
)

logger = logging.getLogger(__name__)


class Post(lightbulb.SlashCommand, name="post", description="Post a new Apply button (opens a form)"):
    """Open the post modal (a modal must be the first response, so nothing is deferred)."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Check the admin, then show the modal."""
        who = caller(ctx.interaction)
        if isinstance(who, Refusal):
            await reply(ctx.interaction, admin_render.refusal(who))
            return
        await ctx.respond_with_modal(
            admin_components.POST_MODAL_TITLE, admin_ids.POST_MODAL, components=admin_components.post_modal()
        )


def setup_screen(draft: SetupDraft, notice: str | None = None) -> Screen:
    """Return the setup message for a draft."""
    return Screen(admin_render.setup(draft, notice), admin_components.setup_rows(draft))


@routed(Kind.POST_MODAL, modal=True)
async def on_post_modal(inter: Routable, who: Caller, parsed: AdminId, deps: AdminDeps) -> Screen:
    """Validate the modal and answer with the setup message."""
    del parsed
    values = modal_values(inter) if isinstance(inter, hikari.ModalInteraction) else {}
    result = await deps.service.start_setup(
        who.guild_id,
        who.user_id,
        values.get(admin_ids.TITLE_INPUT, ""),
        values.get(admin_ids.DESCRIPTION_INPUT, ""),
        values.get(admin_ids.FORMAT_INPUT, ""),
    )
    return refused(result) if isinstance(result, Refusal) else setup_screen(result)


def _named(inter: hikari.ComponentInteraction, *, role: bool) -> Named | None:
    """Return the picked channel or role with its name (``None`` when the pick was cleared)."""
    if not inter.values:
        return None
    picked = hikari.Snowflake(inter.values[0])
    resolved = inter.resolved
    found = (resolved.roles if role else resolved.channels).get(picked) if resolved else None
    return Named(int(picked), (found.name if found is not None else None) or str(picked))


async def _step(
    service: AdminService, who: Caller, sid: str, part: SetupPart, inter: hikari.ComponentInteraction
) -> SetupDraft | Posted | Refusal | None:
    """Apply one setup component; ``None`` means the setup was cancelled."""
    g, u = who.guild_id, who.user_id
    match part:
        case SetupPart.CHANNEL:
            picked = _named(inter, role=False)
            return service.choose_channel(g, u, sid, picked) if picked else service.setup(g, u, sid)
        case SetupPart.CATEGORY:
            if not inter.values or not inter.values[0].isdigit():
                return service.setup(g, u, sid)
            return await service.choose_category(g, u, sid, ChannelId(int(inter.values[0])))
        case SetupPart.STYLE:
            return service.choose_style(g, u, sid, inter.values[0] if inter.values else "")
        case SetupPart.ROLE:
            return service.choose_role(g, u, sid, _named(inter, role=True))
        case SetupPart.POST:
            return await service.post(g, u, sid)
        case SetupPart.CANCEL:
            return None if service.cancel_setup(g, u, sid) else Refusal(Reason.SETUP_EXPIRED)


def _after(service: AdminService, who: Caller, sid: str, result: SetupDraft | Posted | Refusal | None) -> Screen:
    if result is None:
        return Screen(admin_render.SETUP_CANCELLED)
    if isinstance(result, Posted):
        return Screen(admin_render.posted(result.config))
    if isinstance(result, SetupDraft):
        return setup_screen(result)
    draft = service.setup(who.guild_id, who.user_id, sid)
    if result.reason is Reason.SETUP_EXPIRED or isinstance(draft, Refusal):
        return Screen(admin_render.setup_expired())  # the stale controls go away with the message's text
    return setup_screen(draft, notice=admin_render.refusal(result))


@routed(Kind.SETUP, update=True)
async def on_setup_component(inter: Routable, who: Caller, parsed: AdminId, deps: AdminDeps) -> Screen:
    """Apply a select or button of the setup message, then redraw the message in place."""
    if parsed.session_id is None or parsed.part is None or not isinstance(inter, hikari.ComponentInteraction):
        return Screen(admin_render.setup_expired())
    result = await _step(deps.service, who, parsed.session_id, parsed.part, inter)
    return _after(deps.service, who, parsed.session_id, result)
