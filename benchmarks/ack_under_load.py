"""Ack latency under a click storm, with the bot in its own process (as in production).

The emulator and the simulated applicants run in this process; ``castbot-hikari run`` runs in another,
so the bot's event loop carries only the bot. Prints ack p50/p99/max as the emulator saw them (time from
dispatching INTERACTION_CREATE to receiving the callback), the results, and the wall time.
Run: ``nox -s bench`` or ``python -m benchmarks.ack_under_load [--clicks 1000 --servers 75]``.
Note: the emulator's own loop also works for every click, so these figures include its queueing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import orjson

from castbot_hikari.apply import render
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.sandbox import CHANNEL_ROUTE, MESSAGE_ROUTES, SandboxOptions, plan_clicks, report, seed_servers
from castbot_hikari.testing.emulator import DiscordEmulator, Interaction, Latency

PASSED_ON = ("CASTBOT_MAX_CONCURRENT_APPLIES",)


def settled(inter: Interaction) -> bool:
    return inter.failed or (
        inter.content is not None and not inter.loading and inter.content not in render.PROGRESS_TEXTS
    )


async def run(options: SandboxOptions) -> None:
    with tempfile.TemporaryDirectory(prefix="castbot-bench-") as tmp:
        data_dir = Path(tmp)
        async with DiscordEmulator(validate=False, seed=options.seed) as emu:
            emu.latency.set(CHANNEL_ROUTE, Latency.uniform(*options.channel_latency))
            for route in MESSAGE_ROUTES:
                emu.latency.set(route, Latency.uniform(*options.message_latency))
            guilds, data = seed_servers(emu, options)
            (data_dir / DATA_FILE).write_bytes(orjson.dumps(data))
            inherited = {k: v for k, v in os.environ.items() if not k.startswith("CASTBOT_") or k in PASSED_ON}
            env = {
                **inherited,
                "CASTBOT_TOKEN": emu.bot_token,
                "CASTBOT_API_URL": emu.rest_url,
                "CASTBOT_DATA_DIR": str(data_dir),
                "CASTBOT_LOG_LEVEL": "WARNING",
            }
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "castbot_hikari", "run", env=env, cwd=tmp)
            try:
                await emu.wait_ready(timeout=60)
                await asyncio.sleep(1.0)  # let start-up work (command sync, reconciliation) finish
                plan = plan_clicks(guilds, data, options)
                start = time.monotonic()

                async def one(delay: float, guild_id: int, user_id: int, custom_id: str) -> Interaction:
                    await asyncio.sleep(max(0.0, start + delay - time.monotonic()))
                    inter = await emu.click(guild_id, user_id, custom_id)
                    with contextlib.suppress(TimeoutError):
                        await inter.wait_until(settled, timeout=options.result_timeout)
                    return inter

                inters = list(await asyncio.gather(*(one(*step) for step in plan)))
                elapsed = time.monotonic() - start
            finally:
                proc.send_signal(2)
                await asyncio.wait_for(proc.wait(), timeout=60)
            rep = report(emu, inters, data_dir / DATA_FILE, elapsed)
            sys.stdout.write(
                f"clicks={rep.clicks} servers={options.servers} spread={options.spread_seconds}s\n"
                f"ack ms: p50={rep.ack_p50_ms:.1f} p99={rep.ack_p99_ms:.1f} max={rep.ack_max_ms:.1f}\n"
                f"failed interactions={rep.failed_interactions} no final message={rep.no_result} "
                f"duplicates={rep.duplicates} results={dict(rep.results)}\n"
                f"invalid requests={rep.invalid_requests} wall={elapsed:.1f}s\n"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clicks", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=75)
    args = parser.parse_args(argv)
    asyncio.run(run(SandboxOptions(clicks=args.clicks, servers=args.servers, result_timeout=300.0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
