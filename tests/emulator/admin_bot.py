"""A real GatewayBot + lightbulb client with a test-only ``/tadmin`` group, for the admin-flow tests.

The commands and component handlers report what they received to a queue (``Seen``), so tests
assert on the values the bot really deserialised, and wait on events instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import hikari
import lightbulb

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed
from castbot_hikari.testing.emulator import permissions as perms
from tests.emulator.harness import TIMEOUT, make_bot

EPHEMERAL = hikari.MessageFlag.EPHEMERAL
UPDATE = hikari.ResponseType.MESSAGE_UPDATE
DEFERRED_UPDATE = hikari.ResponseType.DEFERRED_MESSAGE_UPDATE
CREATE = hikari.ResponseType.MESSAGE_CREATE

ADMIN_SEED = GuildSeed(
    name="ORG 2",
    categories=["Applications"],
    text_channels=["apply-here", "staff"],
    roles=["Admins", "Production"],
    members=[("ann", "Ann"), ("bob", "Bob")],
    role_permissions={"Admins": perms.MANAGE_GUILD},
    member_roles={"ann": ["Admins"], "bob": ["Production"]},
)


@dataclass
class Seen:
    """What the bot's handlers received, and a switch the tests flip (the Stop button)."""

    queue: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue[tuple[str, Any]])
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def next(self, kind: str, timeout: float = TIMEOUT) -> Any:  # noqa: ASYNC109 - test helper
        """Return the detail of the next report, which must be of ``kind``."""
        got, detail = await asyncio.wait_for(self.queue.get(), timeout)
        if got == "error":
            raise AssertionError(f"a bot handler failed while the test waited for {kind!r}") from detail
        assert got == kind, (got, detail)
        return detail


def panel_rows(*, confirm_disabled: bool) -> list[hikari.impl.MessageActionRowBuilder]:
    """The ephemeral settings panel: channel, role and string selects, then Confirm and Locked buttons."""
    channels = hikari.impl.MessageActionRowBuilder()
    channels.add_channel_menu(
        "pick_channel", channel_types=[hikari.ChannelType.GUILD_TEXT, hikari.ChannelType.GUILD_CATEGORY]
    )
    roles = hikari.impl.MessageActionRowBuilder().add_select_menu(
        hikari.ComponentType.ROLE_SELECT_MENU, "pick_role", min_values=1, max_values=2
    )
    modes = hikari.impl.MessageActionRowBuilder()
    modes.add_text_menu("pick_mode", min_values=1).add_option("Open", "open").add_option("Closed", "closed")
    buttons = hikari.impl.MessageActionRowBuilder()
    buttons.add_interactive_button(hikari.ButtonStyle.SUCCESS, "confirm", label="Confirm", is_disabled=confirm_disabled)
    buttons.add_interactive_button(hikari.ButtonStyle.SECONDARY, "locked", label="Locked", is_disabled=True)
    buttons.add_interactive_button(hikari.ButtonStyle.SECONDARY, "ask", label="Add a note")
    return [channels, roles, modes, buttons]


def button_row(custom_id: str, *, disabled: bool = False) -> hikari.impl.MessageActionRowBuilder:
    """A row with one button."""
    row = hikari.impl.MessageActionRowBuilder()
    row.add_interactive_button(hikari.ButtonStyle.PRIMARY, custom_id, label=custom_id, is_disabled=disabled)
    return row


class Form(lightbulb.components.Modal):
    """The modal ``/tadmin modal`` opens: a required short title, an optional pre-filled format."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen
        self.title = self.add_short_text_input("Title", custom_id="title", max_length=10)
        self.format = self.add_paragraph_text_input("Format", custom_id="format", required=False, value="📝%name%")

    async def on_submit(self, ctx: lightbulb.components.ModalContext) -> None:
        """Report the submitted values and answer with an ephemeral message."""
        self.seen.queue.put_nowait(("modal", (ctx.value_for(self.title), ctx.value_for(self.format))))
        await ctx.respond(f"saved {ctx.value_for(self.title)}", ephemeral=True)


def make_commands(seen: Seen) -> tuple[lightbulb.Group, lightbulb.Group]:
    """Return ``/tadmin`` (everyone) and ``/tlocked`` (default_member_permissions=MANAGE_GUILD)."""
    group = lightbulb.Group("tadmin", "Test admin commands")
    locked = lightbulb.Group("tlocked", "Admins only", default_member_permissions=hikari.Permissions.MANAGE_GUILD)

    @group.register
    class Options(lightbulb.SlashCommand, name="options", description="Echo options"):
        name = lightbulb.string("name", "A name", max_length=20)
        channel = lightbulb.channel(
            "channel", "A text channel", channel_types=[hikari.ChannelType.GUILD_TEXT], default=None
        )
        role = lightbulb.role("role", "A role", default=None)
        count = lightbulb.integer("count", "A count", min_value=1, max_value=10, default=1)
        flag = lightbulb.boolean("flag", "A flag", default=False)

        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            assert ctx.member is not None
            channel = (self.channel.id, self.channel.name, self.channel.type) if self.channel else None
            role = (self.role.id, self.role.name) if self.role else None
            options = {"name": self.name, "channel": channel, "role": role, "count": self.count, "flag": self.flag}
            seen.queue.put_nowait(("options", (options, ctx.member.permissions, ctx.interaction.app_permissions)))
            await ctx.respond("ok", ephemeral=True)

    @group.register
    class OpenModal(lightbulb.SlashCommand, name="modal", description="Open a modal"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            form = Form(seen)
            custom_id = f"form_{ctx.interaction.id}"
            await ctx.respond_with_modal("Season", custom_id, components=form)
            seen.queue.put_nowait(("modal_open", custom_id))  # attach() registers before its first await
            await form.attach(ctx.client, custom_id, timeout=TIMEOUT)

    @group.register
    class Panel(lightbulb.SlashCommand, name="panel", description="Settings panel"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            await ctx.respond("Pick a channel", ephemeral=True, components=panel_rows(confirm_disabled=True))

    @group.register
    class Progress(lightbulb.SlashCommand, name="progress", description="Live progress"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            response = await ctx.respond("step 0", ephemeral=True, components=[button_row("stop")])
            for step in (1, 2):
                await ctx.edit_response(response, f"step {step}")
            await seen.stop.wait()
            await ctx.edit_response(response, "stopped", components=[])

    @group.register
    class Post(lightbulb.SlashCommand, name="post", description="Post an Apply card"):
        channel = lightbulb.channel("channel", "Where", channel_types=[hikari.ChannelType.GUILD_TEXT])

        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            card = await ctx.client.rest.create_message(
                self.channel.id, "Apply for Season 15", component=button_row("apply_cfg7")
            )
            await ctx.respond(f"posted {card.id}", ephemeral=True)

    @group.register
    class Update(lightbulb.SlashCommand, name="update", description="Answer type 7 (invalid here)"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            try:
                await ctx.interaction.create_initial_response(UPDATE, "nope")  # pyright: ignore[reportArgumentType] - invalid on purpose
            except hikari.NotFoundError as exc:
                seen.queue.put_nowait(("update_rejected", exc.code))

    @locked.register
    class Secret(lightbulb.SlashCommand, name="secret", description="Admins only"):
        @lightbulb.invoke
        async def invoke(self, ctx: lightbulb.Context) -> None:
            seen.queue.put_nowait(("secret", ctx.user.id))
            await ctx.respond("secret", ephemeral=True)

    return group, locked


async def on_component(seen: Seen, interaction: hikari.ComponentInteraction) -> None:
    """The bot's component handlers, by custom id."""
    custom_id = interaction.custom_id
    seen.queue.put_nowait((custom_id, interaction))
    if custom_id == "pick_channel":
        channel = (
            interaction.resolved.channels[hikari.Snowflake(interaction.values[0])] if interaction.resolved else None
        )
        name = channel.name if channel else "?"
        await interaction.create_initial_response(
            UPDATE, f"channel: #{name}", components=panel_rows(confirm_disabled=False)
        )
    elif custom_id == "pick_role":
        await interaction.create_initial_response(DEFERRED_UPDATE)
    elif custom_id == "pick_mode":
        await interaction.create_initial_response(CREATE, f"mode: {interaction.values[0]}", flags=EPHEMERAL)
    elif custom_id == "confirm":
        await interaction.create_initial_response(DEFERRED_UPDATE)
        await interaction.edit_initial_response("confirmed", components=[])
    elif custom_id == "ask":
        note = hikari.impl.ModalActionRowBuilder().add_text_input("note", "Note", max_length=50)
        await interaction.create_modal_response("Note", "note_modal", components=[note])
    elif custom_id == "stop":
        await interaction.create_initial_response(DEFERRED_UPDATE)
        seen.stop.set()
    elif custom_id.startswith("apply_"):
        await interaction.create_initial_response(CREATE, "applied", flags=EPHEMERAL)


@dataclass
class AdminBot:
    """The running bot and what its handlers saw."""

    bot: hikari.GatewayBot
    seen: Seen


@contextlib.asynccontextmanager
async def admin_bot(emu: DiscordEmulator, guild_id: int) -> AsyncGenerator[AdminBot]:
    """Start a bot whose lightbulb client registered the test groups for ``guild_id``; stop both on exit."""
    bot = make_bot(emu)
    seen = Seen()
    client = lightbulb.client_from_app(bot)
    for group in make_commands(seen):
        client.register(group, guilds=[guild_id])

    async def component_listener(event: hikari.ComponentInteractionCreateEvent) -> None:
        try:
            await on_component(seen, event.interaction)
        except Exception as exc:  # reported to the test, which fails on it
            seen.queue.put_nowait(("error", exc))

    async def modal_listener(event: hikari.ModalInteractionCreateEvent) -> None:
        interaction = event.interaction
        if interaction.custom_id != "note_modal":
            return  # lightbulb's attached modals
        seen.queue.put_nowait(("note_modal", interaction))
        note = interaction.components[0].components[0].value
        await interaction.create_initial_response(UPDATE, f"note: {note}")

    bot.subscribe(hikari.ComponentInteractionCreateEvent, component_listener)
    bot.subscribe(hikari.ModalInteractionCreateEvent, modal_listener)
    await bot.start(check_for_updates=False)
    try:
        await client.start()
        await emu.wait_ready(timeout=TIMEOUT)
        yield AdminBot(bot, seen)
    finally:
        await client.stop()
        await bot.close()
