"""Interaction semantics against a real hikari bot: deadlines, double acks, tokens, follow-ups."""

from __future__ import annotations

import time

import hikari
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator
from castbot_hikari.testing.emulator.ids import snowflake_time_ms
from tests.emulator.harness import SEED, TIMEOUT, FakeClock, running_bot

DEFERRED = hikari.ResponseType.DEFERRED_MESSAGE_CREATE
EPHEMERAL = hikari.MessageFlag.EPHEMERAL


def api_code(error: BaseException | None) -> int:
    """Return Discord's error code carried by a hikari client error."""
    assert isinstance(error, hikari.ClientHTTPResponseError), error
    return int(error.code)


@pytest.mark.asyncio
async def test_click_is_deferred_in_time_then_edited(emu: DiscordEmulator) -> None:
    guild = emu.add_guild(SEED)
    async with running_bot(emu) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        loading_seen = await inter.wait_acked(timeout=TIMEOUT)
        assert loading_seen.ack_type == 5
        await inter.wait_until(lambda i: i.content is not None and i.content.startswith("✅"), timeout=TIMEOUT)
        outcome = await running.next_outcome()
    assert outcome.error is None
    assert outcome.interaction.app_permissions is not None
    assert outcome.interaction.app_permissions & hikari.Permissions.MANAGE_CHANNELS
    assert outcome.interaction.member is not None
    assert outcome.interaction.member.username == "kevin_a"
    assert inter.ephemeral
    assert not inter.loading
    assert not inter.failed
    assert inter.ack_latency is not None
    assert inter.ack_latency < 3.0
    assert inter.content == "✅ done: apply_config_1"
    assert inter.edits == ["✅ done: apply_config_1"]
    assert [kind for _, kind, _ in inter.timeline] == ["dispatched", "acked", "original_edited"]
    assert inter.timeline[1][2] == {"type": 5, "flags": 64}
    assert abs(snowflake_time_ms(inter.id) - time.time() * 1000) < 60_000
    assert emu.interactions[inter.id] is inter
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_late_ack_gets_10062_and_the_interaction_failed(clock: FakeClock) -> None:
    async def late(interaction: hikari.ComponentInteraction) -> None:
        clock.advance(3.5)
        await interaction.create_initial_response(DEFERRED, flags=EPHEMERAL)

    async with DiscordEmulator(clock=clock) as emu:
        guild = emu.add_guild(SEED)
        async with running_bot(emu, late) as running:
            inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
            outcome = await running.next_outcome()
        assert isinstance(outcome.error, hikari.NotFoundError)
        assert api_code(outcome.error) == 10062
        assert inter.failed
        assert inter.ack_type is None
        assert inter.timeline[-1][1:] == ("ack_rejected", {"reason": "late", "type": 5, "age": 3.5})
        assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_second_ack_gets_40060(emu: DiscordEmulator) -> None:
    async def twice(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(DEFERRED, flags=EPHEMERAL)
        await interaction.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, "again")

    guild = emu.add_guild(SEED)
    async with running_bot(emu, twice) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        outcome = await running.next_outcome()
    assert isinstance(outcome.error, hikari.BadRequestError)
    assert api_code(outcome.error) == 40060
    assert inter.ack_type == 5
    assert inter.loading
    assert inter.timeline[-1][2]["reason"] == "double"


@pytest.mark.asyncio
async def test_webhook_before_ack_is_unknown_webhook(emu: DiscordEmulator) -> None:
    async def edit_first(interaction: hikari.ComponentInteraction) -> None:
        await interaction.edit_initial_response("too early")

    guild = emu.add_guild(SEED)
    async with running_bot(emu, edit_first) as running:
        await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        outcome = await running.next_outcome()
    assert isinstance(outcome.error, hikari.NotFoundError)
    assert api_code(outcome.error) == 10015


@pytest.mark.asyncio
async def test_expired_token_is_401_50027_and_unknown_token_10015(clock: FakeClock) -> None:
    async def defer(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(DEFERRED, flags=EPHEMERAL)

    async with DiscordEmulator(clock=clock, token_ttl=60.0) as emu:
        guild = emu.add_guild(SEED)
        async with running_bot(emu, defer) as running:
            inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
            assert (await running.next_outcome()).error is None
            clock.advance(61.0)
            with pytest.raises(hikari.UnauthorizedError) as expired:
                await running.bot.rest.edit_interaction_response(emu.application_id, inter.token, "late")
            with pytest.raises(hikari.NotFoundError) as unknown:
                await running.bot.rest.edit_interaction_response(emu.application_id, "no-such-token", "x")
        assert api_code(expired.value) == 50027
        assert api_code(unknown.value) == 10015
        assert inter.loading
        assert not inter.failed  # it was acknowledged in time; only the later edit failed


@pytest.mark.asyncio
async def test_followup_right_after_defer_replaces_the_loading_message(emu: DiscordEmulator) -> None:
    async def defer_then_followups(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(DEFERRED, flags=EPHEMERAL)
        await interaction.execute("first")  # replaces "thinking..."
        await interaction.execute("second", flags=EPHEMERAL)  # a real follow-up

    guild = emu.add_guild(SEED)
    async with running_bot(emu, defer_then_followups) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        assert (await running.next_outcome()).error is None
    assert inter.content == "first"
    assert not inter.loading
    assert [f["content"] for f in inter.followups] == ["second"]
    followups = [detail for _, kind, detail in inter.timeline if kind == "followup"]
    assert [f["replaced_loading"] for f in followups] == [True, False]
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_public_message_response_lands_in_the_channel(emu: DiscordEmulator) -> None:
    async def reply(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(hikari.ResponseType.MESSAGE_CREATE, "hello")
        await interaction.delete_initial_response()

    guild = emu.add_guild(SEED)
    channel_id = guild.text_channels["apply-here"]
    async with running_bot(emu, reply) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        assert (await running.next_outcome()).error is None
    assert not inter.ephemeral
    assert inter.content is None
    assert inter.timeline[-1][1] == "original_deleted"
    assert [m.content for m in emu.state.messages[channel_id]] == [""]  # only the Apply panel is left


@pytest.mark.asyncio
async def test_modal_must_be_the_first_response(emu: DiscordEmulator) -> None:
    def modal_row(interaction: hikari.ComponentInteraction) -> hikari.api.ModalActionRowBuilder:
        return interaction.app.rest.build_modal_action_row().add_text_input("why", "Why?")

    async def modal_first(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_modal_response("Apply", "apply_modal", modal_row(interaction))

    async def modal_after_defer(interaction: hikari.ComponentInteraction) -> None:
        await interaction.create_initial_response(DEFERRED, flags=EPHEMERAL)
        await interaction.create_modal_response("Apply", "apply_modal", modal_row(interaction))

    guild = emu.add_guild(SEED)
    async with running_bot(emu, modal_first) as running:
        first = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        assert (await running.next_outcome()).error is None
    async with running_bot(emu, modal_after_defer) as running:
        second = await emu.click(guild.id, guild.members["zoe"], "apply_config_1")
        outcome = await running.next_outcome()
    assert first.ack_type == 9
    assert first.modal is not None
    assert first.modal["custom_id"] == "apply_modal"
    assert api_code(outcome.error) == 40060
    assert second.ack_type == 5
    assert emu.validation_errors == []


@pytest.mark.asyncio
async def test_deferred_response_accepts_only_the_ephemeral_flag(emu: DiscordEmulator) -> None:
    async def bad_flags(interaction: hikari.ComponentInteraction) -> None:
        flags = EPHEMERAL | hikari.MessageFlag.SUPPRESS_EMBEDS
        await interaction.create_initial_response(DEFERRED, flags=flags)

    guild = emu.add_guild(SEED)
    async with running_bot(emu, bad_flags) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        outcome = await running.next_outcome()
    assert api_code(outcome.error) == 50035
    assert inter.ack_type is None
    assert inter.timeline[-1][2]["reason"] == "invalid"


@pytest.mark.asyncio
async def test_wait_until_timeout_reports_the_timeline(emu: DiscordEmulator) -> None:
    async def ignore(_: hikari.ComponentInteraction) -> None:
        return None

    guild = emu.add_guild(SEED)
    async with running_bot(emu, ignore) as running:
        inter = await emu.click(guild.id, guild.members["kevin_a"], "apply_config_1")
        await running.next_outcome()
        with pytest.raises(TimeoutError, match=r"not acked within 0\.05s; timeline:\n.*dispatched"):
            await inter.wait_acked(timeout=0.05)
