"""The admin side of Discord against a real GatewayBot + lightbulb: slash commands, modals, selects, buttons."""

from __future__ import annotations

from typing import Any

import hikari
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator, Guild, Interaction, MessageState, components, messages
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.state import GUILD_VOICE
from tests.emulator.admin_bot import ADMIN_SEED, admin_bot
from tests.emulator.harness import TIMEOUT

EPHEMERAL = 64


def kinds(inter: Interaction) -> list[str]:
    """Return the timeline kinds of an interaction."""
    return [kind for _, kind, _ in inter.timeline]


def components_of(message: MessageState) -> dict[str, dict[str, Any]]:
    """Return a message's components that have a custom id, by custom id."""
    ids = ("pick_channel", "pick_role", "pick_mode", "confirm", "locked", "ask", "stop", "apply_cfg7")
    return {cid: c for cid in ids if (c := message.find_component(cid)) is not None}


async def open_panel(emu: DiscordEmulator, guild: Guild) -> Interaction:
    """Run ``/tadmin panel`` as ann and wait for the ephemeral panel."""
    inter = await emu.slash_command(guild.id, guild.members["ann"], "tadmin", subcommand="panel")
    return await inter.wait_until(lambda i: emu.visible_message(i) is not None, timeout=TIMEOUT)


@pytest.mark.asyncio
async def test_slash_command_options_and_member_permissions(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    staff, production = guild.text_channels["staff"], guild.roles["Production"]
    async with admin_bot(emu, guild.id) as running:
        options = {"name": "Season 15", "channel": staff, "role": production, "count": 3, "flag": True}
        inter = await emu.slash_command(guild.id, guild.members["ann"], "tadmin", subcommand="options", options=options)
        seen, member_perms, app_perms = await running.seen.next("options")
        assert seen == {
            "name": "Season 15",
            "channel": (staff, "staff", hikari.ChannelType.GUILD_TEXT),
            "role": (production, "Production"),
            "count": 3,
            "flag": True,
        }
        assert member_perms & hikari.Permissions.MANAGE_GUILD  # ann holds Admins (MANAGE_GUILD)
        assert app_perms & hikari.Permissions.MANAGE_CHANNELS
        await inter.wait_until(lambda i: i.content == "ok", timeout=TIMEOUT)
        assert inter.command == "tadmin options"
        assert inter.ephemeral
        assert inter.payload is not None
        data = inter.payload["data"]
        command = next(c for c in emu.state.commands[guild.id] if c["name"] == "tadmin")
        assert (data["id"], data["name"], data["type"], data["guild_id"]) == (command["id"], "tadmin", 1, str(guild.id))
        assert data["options"] == [
            {
                "type": 1,
                "name": "options",
                "options": [
                    {"type": 3, "name": "name", "value": "Season 15"},
                    {"type": 7, "name": "channel", "value": str(staff)},
                    {"type": 8, "name": "role", "value": str(production)},
                    {"type": 4, "name": "count", "value": 3},
                    {"type": 5, "name": "flag", "value": True},
                ],
            }
        ]
        assert set(data["resolved"]) == {"channels", "roles"}
        assert data["resolved"]["channels"][str(staff)]["permissions"] == inter.payload["member"]["permissions"]

        bob = await emu.slash_command(
            guild.id, guild.members["bob"], "tadmin", subcommand="options", options={"name": "x"}
        )
        seen, member_perms, _ = await running.seen.next("options")
        assert seen["channel"] is None
        assert seen["count"] == 1
        assert not member_perms & hikari.Permissions.MANAGE_GUILD
        assert member_perms & hikari.Permissions.VIEW_CHANNEL
        await bob.wait_acked(timeout=TIMEOUT)
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_slash_command_refuses_what_the_client_would_not_send(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    ann, bob = guild.members["ann"], guild.members["bob"]
    category = guild.categories["Applications"]
    async with admin_bot(emu, guild.id) as running:
        bad: list[tuple[str, str | None, dict[str, object]]] = [
            ("apps", "post", {}),  # never registered
            ("tadmin", None, {}),  # a group needs a subcommand
            ("tadmin", "nope", {}),
            ("tadmin", "options", {}),  # required "name" missing
            ("tadmin", "options", {"name": "x", "colour": "red"}),
            ("tadmin", "options", {"name": "x" * 21}),  # max_length 20
            ("tadmin", "options", {"name": "x", "count": 11}),  # max_value 10
            ("tadmin", "options", {"name": "x", "channel": category}),  # channel_types: text only
            ("tadmin", "options", {"name": "x", "role": 42}),
        ]
        for name, subcommand, options in bad:
            with pytest.raises(ValueError, match=r"."):
                await emu.slash_command(guild.id, ann, name, subcommand=subcommand, options=options)
        with pytest.raises(ValueError, match="default_member_permissions"):
            await emu.slash_command(guild.id, bob, "tlocked", subcommand="secret")
        await emu.slash_command(guild.id, ann, "tlocked", subcommand="secret")
        assert await running.seen.next("secret") == ann
        await emu.slash_command(guild.id, bob, "tlocked", subcommand="secret", ignore_default_permissions=True)
        assert await running.seen.next("secret") == bob

        update = await emu.slash_command(guild.id, ann, "tadmin", subcommand="update")
        assert await running.seen.next("update_rejected") == 10008  # no message to update
        assert update.ack_type is None
        assert update.timeline[-1][2]["reason"] == "invalid"
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_modal_first_response_then_submit(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    async with admin_bot(emu, guild.id) as running:
        inter = await emu.slash_command(guild.id, guild.members["ann"], "tadmin", subcommand="modal")
        custom_id = await running.seen.next("modal_open")
        assert inter.ack_type == 9
        assert inter.modal is not None
        assert inter.modal["custom_id"] == custom_id
        assert emu.visible_message(inter) is None  # the user sees the modal, not a message
        with pytest.raises(ValueError, match="takes 0 to 10"):
            await emu.submit_modal(inter, {"title": "Season 15 is long"})  # max_length 10
        with pytest.raises(ValueError, match="required"):
            await emu.submit_modal(inter, {"format": "x"})
        with pytest.raises(ValueError, match="no text input"):
            await emu.submit_modal(inter, {"title": "S15", "colour": "red"})

        submit = await emu.submit_modal(inter, {"title": "Season 15"})
        assert await running.seen.next("modal") == ("Season 15", "📝%name%")  # untouched input keeps its value
        await submit.wait_until(lambda i: i.content == "saved Season 15", timeout=TIMEOUT)
        assert submit.interaction_type == 5
        assert submit.payload is not None
        assert "message" not in submit.payload  # opened by a slash command: no message
        rows = submit.payload["data"]["components"]
        assert [[(c["custom_id"], c["value"]) for c in row["components"]] for row in rows] == [
            [("title", "Season 15")],
            [("format", "📝%name%")],
        ]
        assert submit.custom_id == custom_id
        assert submit.ephemeral
        assert inter.submission is submit
        assert kinds(inter)[-1] == "modal_submitted"
        with pytest.raises(ValueError, match="already submitted"):
            await emu.submit_modal(inter, {"title": "again"})
        with pytest.raises(ValueError, match="not a modal"):
            await emu.submit_modal(submit, {"title": "S15"})
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_ephemeral_panel_selects_and_buttons(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    ann, bob = guild.members["ann"], guild.members["bob"]
    async with admin_bot(emu, guild.id) as running:
        panel = await open_panel(emu, guild)
        message = emu.visible_message(panel)
        assert message is not None
        assert message.flags & EPHEMERAL
        assert emu.state.find_message(message.channel_id, message.id) is None  # ephemeral: not in the channel
        assert set(components_of(message)) == {"pick_channel", "pick_role", "pick_mode", "confirm", "locked", "ask"}
        assert message.is_disabled("confirm")
        assert message.is_disabled("locked")

        for custom_id in ("locked", "confirm"):
            with pytest.raises(ValueError, match="disabled"):
                await emu.click_component(panel, ann, custom_id)
        with pytest.raises(ValueError, match="ephemeral"):
            await emu.click_component(message, bob, "pick_channel")
        voice = emu.state.add_channel(guild.id, GUILD_VOICE, "Auditions")
        with pytest.raises(ValueError, match="channel_types"):
            await emu.select(panel, ann, "pick_channel", values=[voice.id])
        with pytest.raises(ValueError, match="unknown channel"):
            await emu.select(panel, ann, "pick_channel", values=[guild.roles["Admins"]])
        with pytest.raises(ValueError, match="takes 0 to 1 values, not 2"):
            await emu.select(
                panel, ann, "pick_channel", values=[guild.text_channels["staff"], guild.categories["Applications"]]
            )

        picked = await emu.select(panel, ann, "pick_channel", values=[guild.text_channels["staff"]])
        event: hikari.ComponentInteraction = await running.seen.next("pick_channel")
        assert event.message.flags & hikari.MessageFlag.EPHEMERAL
        assert event.member is not None
        assert event.member.permissions & hikari.Permissions.MANAGE_GUILD
        assert event.resolved is not None
        assert [c.name for c in event.resolved.channels.values()] == ["staff"]
        await picked.wait_acked(timeout=TIMEOUT)
        assert picked.ack_type == 7
        assert emu.visible_message(panel) is message
        assert message.content == "channel: #staff"
        assert not message.is_disabled("confirm")
        assert "message_updated" in kinds(panel)
        assert "message_updated" in kinds(picked)
        assert emu.visible_message(picked) is message

        roles = await emu.select(message, ann, "pick_role", values=[guild.roles["Admins"], guild.roles["Production"]])
        event = await running.seen.next("pick_role")
        assert event.resolved is not None
        assert sorted(r.name for r in event.resolved.roles.values()) == ["Admins", "Production"]
        await roles.wait_acked(timeout=TIMEOUT)
        with pytest.raises(ValueError, match="not an option"):
            await emu.select(panel, ann, "pick_mode", values=["maybe"])

        mode = await emu.select(panel, ann, "pick_mode", values=["closed"])
        assert (await running.seen.next("pick_mode")).values == ["closed"]
        await mode.wait_until(lambda i: i.content == "mode: closed", timeout=TIMEOUT)
        reply = emu.visible_message(mode)
        assert reply is not None
        assert reply is not message
        assert reply.flags & EPHEMERAL
        assert message.content == "channel: #staff"  # a new ephemeral message left the panel as it was

        confirm = await emu.click_component(panel, ann, "confirm")
        await running.seen.next("confirm")
        await panel.wait_until(lambda i: i.content == "confirmed", timeout=TIMEOUT)
        assert confirm.ack_type == 6
        assert message.components == []
        assert kinds(confirm)[-2:] == ["acked", "original_edited"]
        with pytest.raises(ValueError, match="no component"):
            await emu.click_component(panel, ann, "confirm")
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_modal_from_a_button_then_update_message(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    ann = guild.members["ann"]
    async with admin_bot(emu, guild.id) as running:
        panel = await open_panel(emu, guild)
        message = emu.visible_message(panel)
        assert message is not None
        ask = await emu.click_component(panel, ann, "ask")
        await running.seen.next("ask")
        await ask.wait_acked(timeout=TIMEOUT)
        assert ask.ack_type == 9
        with pytest.raises(ValueError, match="takes 0 to 50"):
            await emu.submit_modal(ask, {"note": "x" * 51})
        submit = await emu.submit_modal(ask, {"note": "ring Zoë"})
        event: hikari.ModalInteraction = await running.seen.next("note_modal")
        assert event.message is not None
        assert event.message.id == message.id
        assert event.message.flags & hikari.MessageFlag.EPHEMERAL
        await panel.wait_until(lambda i: i.content == "note: ring Zoë", timeout=TIMEOUT)
        assert submit.ack_type == 7
        assert emu.visible_message(submit) is message
        assert message.find_component("ask") is not None  # type 7 without components keeps them
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_live_progress_message_with_stop_button(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    ann = guild.members["ann"]
    async with admin_bot(emu, guild.id) as running:
        inter = await emu.slash_command(guild.id, ann, "tadmin", subcommand="progress")
        await inter.wait_until(lambda i: i.content == "step 2", timeout=TIMEOUT)
        assert inter.edits == ["step 1", "step 2"]
        stop = await emu.click_component(inter, ann, "stop")
        await running.seen.next("stop")
        await inter.wait_until(lambda i: i.content == "stopped", timeout=TIMEOUT)
        assert stop.ack_type == 6
        shown = emu.visible_message(inter)
        assert shown is not None
        assert shown.components == []
        assert shown.flags & EPHEMERAL
        assert emu.visible_message(stop) is shown
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_posted_card_is_clickable_until_its_button_is_disabled(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(ADMIN_SEED)
    ann, bob = guild.members["ann"], guild.members["bob"]
    channel = guild.text_channels["apply-here"]
    async with admin_bot(emu, guild.id) as running:
        post = await emu.slash_command(guild.id, ann, "tadmin", subcommand="post", options={"channel": channel})
        await post.wait_until(lambda i: (i.content or "").startswith("posted"), timeout=TIMEOUT)
        card = emu.state.messages[channel][-1]
        assert post.content == f"posted {card.id}"
        assert not card.is_disabled("apply_cfg7")

        click = await emu.click(guild.id, bob, "apply_cfg7", channel_id=channel, message_id=card.id)
        event: hikari.ComponentInteraction = await running.seen.next("apply_cfg7")
        assert event.message.id == card.id
        assert not event.message.flags & hikari.MessageFlag.EPHEMERAL
        await click.wait_until(lambda i: i.content == "applied", timeout=TIMEOUT)
        with pytest.raises(ValueError, match="no component"):
            await emu.click(guild.id, bob, "apply_other", channel_id=channel, message_id=card.id)

        row = hikari.impl.MessageActionRowBuilder()
        row.add_interactive_button(hikari.ButtonStyle.PRIMARY, "apply_cfg7", label="Closed", is_disabled=True)
        await running.bot.rest.edit_message(channel, card.id, "Applications closed", component=row)
        assert card.content == "Applications closed"
        assert card.is_disabled("apply_cfg7")
        with pytest.raises(ValueError, match="disabled"):
            await emu.click(guild.id, bob, "apply_cfg7", channel_id=channel, message_id=card.id)
        with pytest.raises(ValueError, match="disabled"):
            await emu.click_component(card, bob, "apply_cfg7")

        await running.bot.rest.delete_message(channel, card.id)
        with pytest.raises(ValueError, match="no longer exists"):
            await emu.click_component(card, bob, "apply_cfg7")
    assert emu.validation_errors == []


def test_message_component_helpers() -> None:
    emu = DiscordEmulator(validate=False, seed=5)
    guild = emu.add_guild(ADMIN_SEED)
    channel = guild.text_channels["staff"]
    label: dict[str, Any] = {"type": 18, "label": "Name", "component": {"type": 4, "custom_id": "name", "style": 1}}
    row: dict[str, Any] = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "go", "disabled": True}]}
    message = MessageState(1, channel, guild.id, emu.state.bot, "", components=[row, label])
    assert message.find_component("go") == row["components"][0]
    assert message.find_component("name") == label["component"]
    assert message.find_component("missing") is None
    assert message.is_disabled("go")
    assert not message.is_disabled("name")
    with pytest.raises(KeyError):
        message.is_disabled("missing")
    assert int(hikari.Permissions.MANAGE_GUILD) == perms.MANAGE_GUILD


def test_modal_submission_mirrors_rows_and_labels() -> None:
    modal = {
        "custom_id": "form",
        "components": messages.with_component_ids(
            [
                {"type": 1, "components": [{"type": 4, "custom_id": "title", "style": 1, "max_length": 5}]},
                {"type": 10, "content": "Pick wisely"},
                {"type": 18, "label": "Notes", "component": {"type": 4, "custom_id": "notes", "required": False}},
            ]
        ),
    }
    assert components.modal_submission(modal, {"title": "S15"}) == [
        {"type": 1, "id": 1, "components": [{"type": 4, "id": 2, "custom_id": "title", "value": "S15"}]},
        {"type": 10, "id": 3},
        {"type": 18, "id": 4, "component": {"type": 4, "id": 5, "custom_id": "notes", "value": ""}},
    ]
    with pytest.raises(ValueError, match="takes 0 to 5"):
        components.modal_submission(modal, {"title": "Season"})
