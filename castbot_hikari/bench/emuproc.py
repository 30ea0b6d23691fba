"""``python -m castbot_hikari.bench.emuproc``: the Discord emulator in its own process, for one run.

The emulator listens on 127.0.0.1 only. It talks to the benchmark over its standard streams:

* stdin, first line: the run's configuration (JSON, see ``EmuConfig``); later lines: ``go``, ``stop``
  (end of input also stops it, so it never outlives the benchmark);
* stdout, one JSON object a line: ``listening`` (REST URL and bot token), ``ready`` (the bot identified
  and got its guilds), ``progress`` while the clicks run, ``result`` at the end.

Clicks are fired by one driver coroutine in this process's loop, because a click is the emulator
dispatching INTERACTION_CREATE. The ack is measured here as well, from that dispatch to the emulator
receiving the bot's callback; this loop also serves every REST request, so its own lag (reported as
``lag_max_ms``, from a stall meter) is included in the ack figures. The benchmark waits in another process.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO, cast

import orjson

from castbot_hikari.bench import botside, documents
from castbot_hikari.bench.procs import PIPE_LIMIT
from castbot_hikari.bench.profile import CHAINS, Profile, floor_seconds, profile_from_json
from castbot_hikari.bench.scenarios import PlannedClick, applies_by_guild, last_click_s, repeat_clicks
from castbot_hikari.bench.stall import StallMeter
from castbot_hikari.testing.emulator import DiscordEmulator, Guild, GuildSeed, Interaction, Latency

logger = logging.getLogger(__name__)

POLL_S: Final = 0.1
PROGRESS_S: Final = 0.5
READY_TIMEOUT_S: Final = 300.0
INVALID_STATUSES: Final = frozenset({401, 403, 429})  # what Discord counts towards its 10,000 / 10 min ban
# A realistic server (the memory scenario): 30 channels, 20 roles, an ORG's membership.
REALISTIC_CATEGORIES: Final = ("Applications", "Production", "Archive")
REALISTIC_TEXT: Final = ("apply-here", *(f"channel-{n}" for n in range(26)))
REALISTIC_ROLES: Final = ("Production", *(f"role-{n}" for n in range(19)))
REALISTIC_MEMBERS: Final = (60, 500)


@dataclass(frozen=True, slots=True)
class EmuConfig:
    """What the emulator process simulates (the first stdin line, as JSON)."""

    world: str
    users: int
    servers: int
    spread_s: float
    clicks_per_user: int
    repeat_gap_s: tuple[float, float]
    seed: int
    profile: Profile
    chain: str
    data_dir: Path
    result_timeout_s: float
    data_bytes: int = 3_650_000
    shards: int = 1

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> EmuConfig:
        """Read the configuration line."""
        gap = raw.get("repeat_gap_s", [0.05, 0.3])
        return cls(
            world=str(raw["world"]),
            users=int(raw["users"]),
            servers=int(raw["servers"]),
            spread_s=float(raw["spread_s"]),
            clicks_per_user=int(raw.get("clicks_per_user", 1)),
            repeat_gap_s=(float(gap[0]), float(gap[1])),
            seed=int(raw.get("seed", 7)),
            profile=profile_from_json(raw["profile"]),
            chain=str(raw["chain"]),
            data_dir=Path(raw["data_dir"]),
            result_timeout_s=float(raw["result_timeout_s"]),
            data_bytes=int(raw.get("data_bytes", 3_650_000)),
            shards=int(raw.get("shards", 1)),
        )


def apply_profile(emu: DiscordEmulator, profile: Profile) -> None:
    """Configure the emulator's latencies and rate limits."""
    for route, (low, high) in profile.latencies.items():
        emu.latency.set(route, Latency.uniform(low, high))
    for route, bucket in profile.buckets.items():
        emu.rate_limits.set(route, limit=bucket.limit, per=bucket.per)
    if profile.global_bucket is not None:
        emu.rate_limits.set_global(profile.global_bucket.limit, profile.global_bucket.per)


def realistic_world(emu: DiscordEmulator, config: EmuConfig) -> tuple[list[Guild], dict[str, Any]]:
    """Seed servers of realistic size with a CastBot-sized history each; one open Apply config per server."""
    rng = random.Random(config.seed)  # noqa: S311 - a simulation
    ids = documents.Snowflakes(rng)
    guilds: list[Guild] = []
    data: dict[str, Any] = {}
    for number in range(1, config.servers + 1):
        count = rng.randint(*REALISTIC_MEMBERS)
        guild = emu.add_guild(
            GuildSeed(
                name=f"ORG {number}",
                categories=REALISTIC_CATEGORIES,
                text_channels=REALISTIC_TEXT,
                roles=REALISTIC_ROLES,
                members=[(f"org{number}_m{m}", f"Member {number}.{m}") for m in range(count)],
                bot_permissions=botside.BOT_PERMISSIONS,
            )
        )
        creator = str(guild.members[f"org{number}_m0"])
        configs = {
            f"config_{1_781_015_852_414 + number}_{creator}": documents.apply_config(
                rng,
                season=number,
                creator=creator,
                target_channel=str(guild.text_channels["apply-here"]),
                category=str(guild.categories["Applications"]),
                role=str(guild.roles["Production"]),
            )
        }
        entry = documents.server_history(rng, ids, config.data_bytes // config.servers - len(orjson.dumps(configs)))
        entry["applicationConfigs"] = configs
        data[str(guild.id)] = entry
        guilds.append(guild)
    return guilds, data


def build_world(emu: DiscordEmulator, config: EmuConfig) -> tuple[list[Guild], dict[str, Any]]:
    """Seed the servers the configuration names and return them with the bot's data file content."""
    if config.world == "realistic":
        return realistic_world(emu, config)
    guilds, data, _ = botside.sandbox_world(emu, config.users, config.servers, config.seed)
    return guilds, data


def build_plan(guilds: Sequence[Guild], data: dict[str, Any], config: EmuConfig) -> list[PlannedClick]:
    """Return the clicks of the run: the sandbox's plan, repeated per user for a storm."""
    plan = botside.plan_sandbox_clicks(guilds, data, config.users, config.spread_s, config.seed)
    if config.clicks_per_user > 1:
        rng = random.Random(config.seed + 1)  # noqa: S311 - a simulation
        plan = repeat_clicks(plan, config.clicks_per_user, config.repeat_gap_s, rng)
    return plan


def click_record(fired_at: float, inter: Interaction) -> dict[str, Any]:
    """Return what the clicking user experienced (see ``stats.ClickRecord``), from the timeline."""
    dispatched = next((t for t, kind, _ in inter.timeline if kind == "dispatched"), 0.0)
    ack: float | None = None
    final: float | None = None
    for t, kind, detail in inter.timeline:
        answered = kind == "acked" or (kind == "ack_rejected" and detail.get("reason") in ("late", "invalid"))
        if ack is None and answered:
            ack = t - dispatched
        shown = (kind == "acked" and detail.get("type") == 4) or kind == "original_edited"
        if final is None and shown and botside.is_final_text(detail.get("content", inter.content)):
            final = t - dispatched
    final = final if botside.is_final(inter) else None
    return {
        "t": round(fired_at, 4),
        "ack": ack,
        "accepted": inter.ack_type is not None,
        "ack_type": inter.ack_type,
        "final": final,
        "kind": botside.outcome_kind(inter.content) if final is not None else None,
    }


def settled(inter: Interaction) -> bool:
    """Return whether nothing more will change for the user: a final message, or a refused answer."""
    return botside.is_final(inter) or any(kind == "ack_rejected" for _, kind, _ in inter.timeline)


class Run:
    """Fire a plan of clicks, watch them settle, and report."""

    def __init__(self, emu: DiscordEmulator, plan: Sequence[PlannedClick], out: TextIO) -> None:
        self._emu = emu
        self._plan = plan
        self._out = out
        self.fired: list[tuple[float, Interaction]] = []

    async def drive(self) -> None:
        """Dispatch every click at its planned time (one coroutine: no task per click)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        for delay, guild_id, user_id, custom_id in self._plan:
            wait = start + delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            inter = await self._emu.click(guild_id, user_id, custom_id)
            self.fired.append((loop.time() - start, inter))

    async def watch(self, timeout_s: float) -> None:
        """Wait until every click settled (bounded by ``timeout_s`` after the last click)."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        next_report = 0.0
        done = 0
        pending: list[Interaction] = []
        while deadline is None or loop.time() < deadline:
            if deadline is None and len(self.fired) == len(self._plan):
                deadline = loop.time() + timeout_s
            pending.extend(inter for _, inter in self.fired[done + len(pending) :])
            pending = [inter for inter in pending if not settled(inter)]
            done = len(self.fired) - len(pending)
            if loop.time() >= next_report:
                emit(self._out, {"event": "progress", "settled": done, "total": len(self._plan)})
                next_report = loop.time() + PROGRESS_S
            if done == len(self._plan):
                break
            await asyncio.sleep(POLL_S)
        emit(self._out, {"event": "progress", "settled": done, "total": len(self._plan)})

    def duplicates(self) -> int:
        """Return channels beyond the first per application identity (topic marker)."""
        owners = Counter(
            marker
            for channel in self._emu.state.channels.values()
            if (marker := botside.parse_topic_marker(channel.topic)) is not None
        )
        return sum(count - 1 for count in owners.values() if count > 1)


def log_requests(emu: DiscordEmulator, started: float) -> None:
    """Log, per route, how many requests came, how many were refused 429, and when (for the run's log)."""
    routes: dict[str, list[tuple[float, int]]] = {}
    for record in emu.requests:
        if record.t >= started:
            routes.setdefault(f"{record.method} {record.route_template}", []).append(
                (record.t - started, record.status)
            )
    for route, seen in sorted(routes.items()):
        limited = sum(1 for _, status in seen if status == 429)
        per_10s = Counter(int(t // 10) for t, _ in seen)
        histogram = ",".join(str(per_10s.get(n, 0)) for n in range(max(per_10s) + 1))
        logger.warning(
            "requests route=%s count=%d status_429=%d first_s=%.2f last_s=%.2f per_10s=%s",
            route,
            len(seen),
            limited,
            seen[0][0],
            seen[-1][0],
            histogram,
        )


async def every_shard_connected(emu: DiscordEmulator, shards: int) -> None:
    """Wait (bounded) until a session of every shard is identified: several processes start one by one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_S
    while {s.shard[0] for s in emu.gateway.sessions.values() if s.sender is not None} != set(range(shards)):
        if loop.time() > deadline:
            msg = f"not every one of {shards} shards connected within {READY_TIMEOUT_S:.0f} s"
            raise TimeoutError(msg)
        await asyncio.sleep(POLL_S)


def emit(out: TextIO, event: dict[str, Any]) -> None:
    """Write one event line."""
    out.write(orjson.dumps(event).decode() + "\n")
    out.flush()


async def _stdin() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=PIPE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _command(reader: asyncio.StreamReader) -> str:
    """Return the next command line (``stop`` at end of input)."""
    line = await reader.readline()
    return line.decode().strip() or "stop"


async def serve(config: EmuConfig, reader: asyncio.StreamReader, out: TextIO) -> None:
    """Run the emulator for one benchmark run."""
    async with DiscordEmulator(
        validate=False,
        seed=config.seed,
        ack_deadline=config.profile.ack_deadline,
        shards=config.shards,
        max_concurrency=config.shards,
    ) as emu:
        apply_profile(emu, config.profile)
        guilds, data = build_world(emu, config)
        (config.data_dir / botside.DATA_FILE).write_bytes(orjson.dumps(data))
        plan = build_plan(guilds, data, config)
        emit(out, {"event": "listening", "rest_url": emu.rest_url, "token": emu.bot_token})
        await emu.wait_ready(timeout=READY_TIMEOUT_S)
        await every_shard_connected(emu, config.shards)
        emit(out, {"event": "ready", "guilds": len(guilds)})
        if await _command(reader) != "go":
            return
        floor = floor_seconds(CHAINS[config.chain], applies_by_guild(plan), last_click_s(plan), config.profile)
        run = Run(emu, plan, out)
        started = time.monotonic()  # the emulator's clock (the default one)
        async with StallMeter(0.01) as meter:
            driver = asyncio.create_task(run.drive(), name="bench-clicks")
            await run.watch(config.result_timeout_s)
            await driver
        log_requests(emu, started)
        emit(
            out,
            {
                "event": "result",
                "records": [click_record(t, inter) for t, inter in run.fired],
                "duplicates": run.duplicates(),
                "floor_s": floor,
                "lag_max_ms": meter.longest * 1000,
                "lag_p99_ms": meter.quantile(0.99) * 1000,
                "requests": len(emu.requests),
                "rate_limited": sum(1 for r in emu.requests if r.status == 429),
                "invalid": sum(1 for r in emu.requests if r.status in INVALID_STATUSES),
            },
        )
        await _command(reader)


async def _main() -> None:
    reader = await _stdin()
    line = await reader.readline()
    if not line.strip():
        return
    config = EmuConfig.from_json(cast("dict[str, Any]", orjson.loads(line)))
    await serve(config, reader, sys.stdout)


def main() -> int:
    """Entry point; logs go to stderr, events to stdout."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
