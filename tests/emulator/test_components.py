"""Component layout rules: custom ids unique within a message, a select alone in its action row."""

from __future__ import annotations

from typing import Any

import aiohttp
import hikari
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator
from tests.emulator.harness import SEED, running_bot

SUCCESS = hikari.ButtonStyle.SUCCESS


def twin_buttons(rest: hikari.api.RESTClient) -> list[hikari.api.ComponentBuilder]:
    """Two rows whose buttons share the custom id ``apply_config_1``."""
    first = rest.build_message_action_row().add_interactive_button(SUCCESS, "apply_config_1", label="Apply")
    second = rest.build_message_action_row().add_interactive_button(SUCCESS, "apply_config_1", label="Again")
    return [first, second]


def two_selects(rest: hikari.api.RESTClient) -> list[hikari.api.ComponentBuilder]:
    """One row holding two selects (hikari builds it; Discord refuses it)."""
    row = rest.build_message_action_row()
    row.add_text_menu("season").add_option("S14", "14")
    row.add_text_menu("stage").add_option("Open", "open")
    return [row]


def form_error(error: BaseException | None) -> tuple[int, Any]:
    """Return ``(code, errors)`` of a hikari 400."""
    assert isinstance(error, hikari.BadRequestError), error
    return int(error.code), error.errors


@pytest.mark.asyncio
async def test_duplicate_custom_ids_and_two_selects_in_a_row_are_refused(
    emu: DiscordEmulator, rest: hikari.api.RESTClient
) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    with pytest.raises(hikari.BadRequestError) as duplicated:
        await rest.create_message(channel_id, "Apply", components=twin_buttons(rest))
    with pytest.raises(hikari.BadRequestError) as crowded:
        await rest.create_message(channel_id, "Pick", components=two_selects(rest))
    ok = await rest.create_message(channel_id, "Apply", components=twin_buttons(rest)[:1])
    with pytest.raises(hikari.BadRequestError) as edited:
        await rest.edit_message(channel_id, ok.id, components=twin_buttons(rest))
    code, errors = form_error(duplicated.value)
    assert code == 50035
    assert errors["components"]["1"]["components"]["0"]["custom_id"]["_errors"][0]["code"] == (
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    )
    code, errors = form_error(crowded.value)
    assert errors["components"]["0"]["components"]["1"]["_errors"][0]["code"] == "COMPONENT_LAYOUT_WIDTH_EXCEEDED"
    assert form_error(edited.value)[0] == 50035
    assert [m.id for m in emu.state.messages[channel_id]] == [ok.id]
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_a_select_beside_a_button_is_refused(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    button = {"type": 2, "style": 3, "custom_id": "apply", "label": "Apply"}
    select = {"type": 3, "custom_id": "season", "options": [{"label": "S14", "value": "14"}]}
    body = {"content": "x", "components": [{"type": 1, "components": [button, select]}]}
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emu.rest_url}/channels/{channel_id}/messages", json=body, headers=headers) as response,
    ):
        error = await response.json()
    assert response.status == 400
    assert error["errors"]["components"]["0"]["components"]["1"]["_errors"][0]["code"] == (
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED"
    )


@pytest.mark.asyncio
async def test_interaction_responses_and_webhook_edits_follow_the_layout_rules(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)

    async def respond(interaction: hikari.ComponentInteraction) -> None:
        rest = interaction.app.rest
        if interaction.custom_id == "reply":
            await interaction.create_initial_response(
                hikari.ResponseType.MESSAGE_CREATE, "Pick", components=two_selects(rest)
            )
            return
        await interaction.create_initial_response(hikari.ResponseType.DEFERRED_MESSAGE_CREATE)
        await interaction.edit_initial_response("Apply", components=twin_buttons(rest))

    async with running_bot(emu, respond) as running:
        replied = await emu.click(guild.id, guild.members["zoe"], "reply")
        reply_outcome = await running.next_outcome()
        edited = await emu.click(guild.id, guild.members["zoe"], "edit")
        edit_outcome = await running.next_outcome()
    assert form_error(reply_outcome.error)[0] == 50035
    assert replied.ack_type is None
    assert [kind for _, kind, _ in replied.timeline] == ["dispatched", "ack_rejected"]
    assert form_error(edit_outcome.error)[0] == 50035
    assert edited.loading  # the refused edit left "thinking..."


@pytest.mark.asyncio
async def test_the_layout_rules_can_be_relaxed() -> None:
    async with DiscordEmulator(relax={"component_layout"}) as emu:
        guild = emu.add_guild(SEED)
        app = hikari.RESTApp(url=emu.rest_url)
        await app.start()
        try:
            async with app.acquire(emu.bot_token, hikari.TokenType.BOT) as relaxed:
                await relaxed.create_message(guild.text_channels["apply-here"], "x", components=twin_buttons(relaxed))
        finally:
            await app.close()
        assert len(emu.state.messages[guild.text_channels["apply-here"]]) == 1


def test_unknown_rules_cannot_be_relaxed() -> None:
    with pytest.raises(ValueError, match="unknown rules"):
        DiscordEmulator(relax={"component_layoutt"})
