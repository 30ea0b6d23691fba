"""Pure parts of the emulator: permission arithmetic, names, component ids, ids, latency."""

from __future__ import annotations

import random
import time

import hikari
import pytest

from castbot_hikari.testing.emulator import DiscordEmulator, GuildSeed, Latency, sessions
from castbot_hikari.testing.emulator import permissions as perms
from castbot_hikari.testing.emulator.ids import IdFactory, snowflake_time_ms
from castbot_hikari.testing.emulator.messages import with_component_ids
from castbot_hikari.testing.emulator.state import GUILD_CATEGORY, GUILD_TEXT, EmulatorState, Overwrite, normalise_name

VIEW_SEND = perms.VIEW_CHANNEL | perms.SEND_MESSAGES


def world(**seed: object) -> tuple[EmulatorState, int, dict[str, int], dict[str, int]]:
    """Return a state with one seeded guild: (state, guild id, roles, members)."""
    emu = DiscordEmulator(validate=False, seed=3)
    guild = emu.add_guild(
        GuildSeed(
            name="Org",
            roles=["Production", "Muted"],
            members=[("ann", "Ann"), ("bob", "Bob")],
            member_roles={"ann": ["Production"], "bob": ["Production", "Muted"]},
            **seed,  # pyright: ignore[reportArgumentType] - test parameters
        )
    )
    return emu.state, guild.id, dict(guild.roles), dict(guild.members)


def test_overwrites_apply_everyone_then_roles_then_member() -> None:
    state, gid, roles, members = world()
    channel = state.add_channel(gid, GUILD_TEXT, "private")
    channel.permission_overwrites = [
        Overwrite(id=gid, type=0, allow=0, deny=perms.VIEW_CHANNEL),
        Overwrite(id=roles["Production"], type=0, allow=VIEW_SEND, deny=0),
        Overwrite(id=roles["Muted"], type=0, allow=0, deny=perms.SEND_MESSAGES),
        Overwrite(id=members["bob"], type=1, allow=perms.SEND_MESSAGES, deny=0),
    ]
    guild = state.guilds[gid]
    ann = perms.channel_permissions(guild, members["ann"], channel)
    bob = perms.channel_permissions(guild, members["bob"], channel)
    owner = perms.channel_permissions(guild, guild.owner_id, channel)
    assert ann & VIEW_SEND == VIEW_SEND
    # Role allows and denies combine before the member overwrite, which wins.
    assert bob & VIEW_SEND == VIEW_SEND
    assert owner == perms.ALL
    channel.permission_overwrites.pop()
    # Role overwrites are summed, then denies go before allows: Production's allow beats Muted's deny.
    assert perms.channel_permissions(guild, members["bob"], channel) & perms.SEND_MESSAGES
    channel.permission_overwrites.append(Overwrite(id=members["ann"], type=1, allow=0, deny=perms.SEND_MESSAGES))
    assert not perms.channel_permissions(guild, members["ann"], channel) & perms.SEND_MESSAGES


def test_no_view_channel_means_no_permissions_and_admin_means_all() -> None:
    state, gid, _, members = world(role_permissions={"Production": perms.ADMINISTRATOR})
    channel = state.add_channel(gid, GUILD_TEXT, "hidden")
    channel.permission_overwrites = [Overwrite(id=gid, type=0, allow=0, deny=perms.VIEW_CHANNEL)]
    guild = state.guilds[gid]
    user = state.add_user("carl")
    state.add_member(gid, user)
    assert perms.channel_permissions(guild, user.id, channel) == 0
    assert perms.channel_permissions(guild, members["ann"], channel) == perms.ALL


def test_text_channel_names_are_normalised_like_discord() -> None:
    assert normalise_name("Kevin A 🎬  App", GUILD_TEXT) == "kevin-a-🎬-app"
    assert normalise_name("Season 14 Apps", GUILD_CATEGORY) == "Season 14 Apps"


def test_component_ids_are_numbered_depth_first_keeping_given_ones() -> None:
    rows = [
        {"type": 1, "components": [{"type": 2, "custom_id": "a"}, {"type": 2, "custom_id": "b", "id": 2}]},
        {"type": 1, "components": [{"type": 2, "custom_id": "c"}]},
    ]
    numbered = with_component_ids(rows)
    assert [numbered[0]["id"], *(c["id"] for c in numbered[0]["components"])] == [1, 3, 2]
    assert [numbered[1]["id"], numbered[1]["components"][0]["id"]] == [4, 5]
    assert "id" not in rows[0]  # the request body is not mutated


def test_snowflakes_carry_the_current_time_and_are_unique() -> None:
    ids = IdFactory(seed=1)
    made = [ids.snowflake() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)
    assert abs(snowflake_time_ms(made[0]) - time.time() * 1000) < 5_000


def test_bot_token_encodes_the_bot_id_for_hikari() -> None:
    emu = DiscordEmulator(validate=False)
    assert hikari.applications.get_token_id(emu.bot_token) == emu.bot_user_id
    assert emu.application_id == emu.bot_user_id


def test_latency_distributions() -> None:
    rng = random.Random(5)
    assert Latency.fixed(0.25).sample(rng) == 0.25
    draws = [Latency.uniform(0.5, 1.0).sample(rng) for _ in range(100)]
    assert all(0.5 <= d <= 1.0 for d in draws)
    with pytest.raises(ValueError, match="high"):
        Latency.uniform(1.0, 0.5)


def test_faults_and_limits_refuse_unknown_routes() -> None:
    emu = DiscordEmulator(validate=False)
    with pytest.raises(KeyError, match="serves no route"):
        emu.faults.inject(method="POST", route="/guilds/{guild}/channels")
    with pytest.raises(KeyError, match="serves no route"):
        emu.rate_limits.set("POST /guilds/{guild}/channels", limit=5, per=5.0)
    assert "POST /guilds/{guild_id}/channels" in emu.routes


@pytest.mark.asyncio
async def test_stop_is_idempotent_and_wait_ready_times_out() -> None:
    async with DiscordEmulator(validate=False) as emu:
        assert emu.rest_url.startswith("http://127.0.0.1:")
        with pytest.raises(TimeoutError):
            await emu.wait_ready(timeout=0.01)
        await emu.stop()
        with pytest.raises(RuntimeError, match="not started"):
            _ = emu.rest_url
    await emu.stop()


def test_dms_go_to_shard_0_and_their_messages_need_direct_messages() -> None:
    guild_messages = sessions.GUILDS_INTENT | sessions.GUILD_MESSAGES_INTENT
    zero = sessions.Session("a", (0, 2), guild_messages, 50)
    one = sessions.Session("b", (1, 2), sessions.DIRECT_MESSAGES_INTENT, 50)
    assert (zero.covers(None), one.covers(None)) == (True, False)
    assert (zero.covers(1 << 22), one.covers(1 << 22)) == (False, True)
    assert not zero.wants("MESSAGE_CREATE", None)
    assert zero.wants("MESSAGE_CREATE", 1 << 22)
    assert one.wants("MESSAGE_CREATE", None)
    assert not one.wants("MESSAGE_CREATE", 1 << 22)
    assert zero.wants("INTERACTION_CREATE", None)
