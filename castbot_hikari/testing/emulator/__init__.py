"""A faithful, loopback-only Discord emulator for end-to-end tests, fault injection and benchmarks.

The real ``hikari.GatewayBot`` (and a lightbulb client) connect to it unmodified::

    async with DiscordEmulator() as emu:
        guild = emu.add_guild(GuildSeed(name="ORG 1", text_channels=["apply-here"]))
        bot = hikari.GatewayBot(emu.bot_token, rest_url=emu.rest_url)
        await bot.start(check_for_updates=False)
        await emu.wait_ready()
        inter = await emu.click(guild.id, user_id, "apply_config_1")
        await inter.wait_acked()
"""

from castbot_hikari.testing.emulator.abuse import Ban
from castbot_hikari.testing.emulator.faults import FaultRule, Latency, RequestInfo
from castbot_hikari.testing.emulator.http_interactions import EndpointCheck
from castbot_hikari.testing.emulator.identify import IdentifyRecord
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.late import LateAction
from castbot_hikari.testing.emulator.rest import RequestRecord
from castbot_hikari.testing.emulator.server import DiscordEmulator
from castbot_hikari.testing.emulator.state import (
    ChannelState,
    EmulatorState,
    Guild,
    GuildSeed,
    GuildState,
    MemberState,
    MessageState,
    Overwrite,
    RoleState,
    UserState,
)

__all__ = [
    "Ban",
    "ChannelState",
    "DiscordEmulator",
    "EmulatorState",
    "EndpointCheck",
    "FaultRule",
    "Guild",
    "GuildSeed",
    "GuildState",
    "IdentifyRecord",
    "Interaction",
    "LateAction",
    "Latency",
    "MemberState",
    "MessageState",
    "Overwrite",
    "RequestInfo",
    "RequestRecord",
    "RoleState",
    "UserState",
]
