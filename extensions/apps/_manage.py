"""``/apps list``, ``/apps edit`` (options, or a modal for the text), ``/apps open``, ``/apps close``. Glue only."""

import hikari
import lightbulb

from castbot_hikari.admin import components as admin_components
from castbot_hikari.admin import custom_ids as admin_ids
from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.custom_ids import AdminId, Kind
from castbot_hikari.admin.model import ConfigChanges, Refusal
from castbot_hikari.admin.service import AdminService
from castbot_hikari.castbot.config import ACTIVE, CLOSED, ButtonStyle
from castbot_hikari.core.ids import ChannelId, ConfigId, RoleId
from extensions.apps._common import (
    AdminDeps,
    Caller,
    Routable,
    Screen,
    caller,
    config_option,
    modal_values,
    refused,
    reply,
    routed,
    run_command,
)

STYLE_CHOICES = [lightbulb.Choice(style.value, style.value) for style in ButtonStyle]


class List(lightbulb.SlashCommand, name="list", description="List this server's Apply buttons"):
    """Every config with its channel, category use, applications count, open or closed."""

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Show the list."""

        async def work(who: Caller) -> Screen:
            return Screen(admin_render.config_list(await service.list_configs(who.guild_id)))

        await run_command(ctx, "list", work)


class Edit(
    lightbulb.SlashCommand, name="edit", description="Change an Apply button; with only `config`, edit its text"
):
    """Change text, style, category or role; the posted card is updated in place."""

    config = config_option()
    title = lightbulb.string("title", "New title (at most 80 characters)", default=None, max_length=80)
    description = lightbulb.string("description", "New description (at most 2000)", default=None, max_length=2000)
    channel_format = lightbulb.string("channel_format", "New channel name format (with %name%)", default=None)
    style = lightbulb.string("style", "New button style", choices=STYLE_CHOICES, default=None)
    category = lightbulb.channel(
        "category",
        "New category for application channels",
        channel_types=[hikari.ChannelType.GUILD_CATEGORY],
        default=None,
    )
    role = lightbulb.role("role", "New production role", default=None)
    remove_role = lightbulb.boolean("remove_role", "Remove the production role", default=False)

    def changes(self) -> ConfigChanges:
        """Return what the options ask to change."""
        return ConfigChanges(
            title=self.title,
            description=self.description,
            channel_format=self.channel_format,
            button_style=ButtonStyle.parse(self.style),
            category_id=ChannelId(self.category.id) if self.category else None,
            production_role=RoleId(self.role.id) if self.role else None,
            remove_role=self.remove_role,
        )

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Apply the options, or open the text modal when only ``config`` was given."""
        changes = self.changes()
        if changes.empty and not isinstance(who := caller(ctx.interaction), Refusal):
            # A modal must be the first response: the config is read from memory only, no disk or REST.
            await self._open_modal(ctx, service, who, ConfigId(self.config))
            return

        async def work(who: Caller) -> Screen:
            result = await service.edit(who.guild_id, ConfigId(self.config), changes)
            return refused(result) if isinstance(result, Refusal) else Screen(admin_render.edited(result))

        await run_command(ctx, "edit", work)

    @staticmethod
    async def _open_modal(ctx: lightbulb.Context, service: AdminService, who: Caller, config_id: ConfigId) -> None:
        found = await service.find(who.guild_id, config_id)
        custom_id = admin_ids.edit_modal(config_id)
        if isinstance(found, Refusal):
            await reply(ctx.interaction, admin_render.refusal(found))
            return
        if custom_id is None:
            await reply(ctx.interaction, admin_render.ID_TOO_LONG)
            return
        rows = admin_components.edit_modal(found.config)
        await ctx.respond_with_modal(admin_components.EDIT_MODAL_TITLE, custom_id, components=rows)


@routed(Kind.EDIT_MODAL, modal=True)
async def on_edit_modal(inter: Routable, who: Caller, parsed: AdminId, deps: AdminDeps) -> Screen:
    """Save the edited text and update the posted card."""
    if parsed.config_id is None or not isinstance(inter, hikari.ModalInteraction):
        return Screen(admin_render.ID_TOO_LONG)
    values = modal_values(inter)
    changes = ConfigChanges(
        title=values.get(admin_ids.TITLE_INPUT, ""),
        description=values.get(admin_ids.DESCRIPTION_INPUT, ""),
        channel_format=values.get(admin_ids.FORMAT_INPUT, ""),
    )
    result = await deps.service.edit(who.guild_id, parsed.config_id, changes)
    return refused(result) if isinstance(result, Refusal) else Screen(admin_render.edited(result))


async def _set_stage(ctx: lightbulb.Context, service: AdminService, config_id: str, stage: str) -> None:
    async def work(who: Caller) -> Screen:
        result = await service.set_stage(who.guild_id, ConfigId(config_id), stage)
        return refused(result) if isinstance(result, Refusal) else Screen(admin_render.stage_changed(result))

    await run_command(ctx, stage, work)


class Close(lightbulb.SlashCommand, name="close", description="Pause applications: the button is disabled"):
    """Set ``stage`` to ``closed``."""

    config = config_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Close."""
        await _set_stage(ctx, service, self.config, CLOSED)


class Open(lightbulb.SlashCommand, name="open", description="Resume applications: the button is enabled again"):
    """Set ``stage`` to ``active``."""

    config = config_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, service: AdminService) -> None:
        """Open."""
        await _set_stage(ctx, service, self.config, ACTIVE)
