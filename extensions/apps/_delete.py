"""``/apps delete`` (with a confirm step) and ``/apps notify-channel``. Glue only."""

import hikari
import lightbulb

from castbot_hikari.admin import components as admin_components
from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.custom_ids import AdminId, Kind
from castbot_hikari.admin.model import Refusal
from castbot_hikari.admin.service import AdminService
from castbot_hikari.core.ids import ChannelId, ConfigId
from extensions.apps._common import (
    AdminDeps,
    Caller,
    Routable,
    Screen,
    config_option,
    refused,
    routed,
    run_command,
)


class Delete(lightbulb.SlashCommand, name="delete", description="Delete an Apply button (asks to confirm)"):
    """Ask to confirm; the confirmation button carries the config id, so it survives a restart."""

    config = config_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Show the confirmation."""

        async def work(who: Caller) -> Screen:
            found = await service.find(who.guild_id, ConfigId(self.config))
            if isinstance(found, Refusal):
                return refused(found)
            confirm = admin_ids.delete_confirm(found.config.config_id)
            if confirm is None:
                return Screen(admin_render.ID_TOO_LONG)
            return Screen(admin_render.delete_prompt(found), admin_components.delete_rows(confirm))

        await run_command(ctx, "delete", work)


@routed(Kind.DELETE, Kind.DELETE_CANCEL, update=True)
async def on_delete_button(inter: Routable, who: Caller, parsed: AdminId, deps: AdminDeps) -> Screen:
    """Delete after the confirmation, or keep it; the prompt is replaced by the result."""
    del inter
    if parsed.kind is Kind.DELETE_CANCEL or parsed.config_id is None:
        return Screen(admin_render.DELETE_CANCELLED)
    result = await deps.service.delete(who.guild_id, parsed.config_id)
    return refused(result) if isinstance(result, Refusal) else Screen(admin_render.deleted(result))


class NotifyChannel(
    lightbulb.SlashCommand, name="notify-channel", description="Where the bot tells admins what they must know"
):
    """Show, set or switch off the admins' notify channel."""

    channel = lightbulb.channel(
        "channel", "The text channel for admin notices", channel_types=[hikari.ChannelType.GUILD_TEXT], default=None
    )
    off = lightbulb.boolean("off", "Stop posting admin notices", default=False)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Show or change the notify channel."""

        async def work(who: Caller) -> Screen:
            if not self.off and self.channel is None:
                current = await service.notify_channel(who.guild_id)
                return Screen(admin_render.notify_channel(current, changed=False))
            wanted = None if self.off else ChannelId(self.channel.id) if self.channel else None
            result = await service.set_notify_channel(who.guild_id, wanted)
            if isinstance(result, Refusal):
                return refused(result)
            return Screen(admin_render.notify_channel(result, changed=True))

        await run_command(ctx, "notify-channel", work)
