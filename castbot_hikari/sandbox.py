"""``castbot-hikari sandbox``: the real bot against the local Discord emulator, with simulated applicants.

Runs on a fresh machine with no Discord account: seeds several servers (category, production role,
an Apply config each), starts the emulator on 127.0.0.1 and the real bot against it, clicks Apply as
many applicants would (some click twice), and prints what they saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from castbot_hikari.app import App, build_app
from castbot_hikari.apply import custom_ids, render
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.config import DEFAULT_CHANNEL_FORMAT
from castbot_hikari.castbot.document import DATA_FILE
from castbot_hikari.core import naming
from castbot_hikari.core.metrics import percentile
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.settings import Settings

if TYPE_CHECKING:  # the emulator is imported when the sandbox runs, never by `castbot-hikari run`
    from castbot_hikari.testing.emulator import DiscordEmulator, Guild, Interaction

logger = logging.getLogger(__name__)
CHANNEL_ROUTE = "POST /guilds/{guild_id}/channels"
MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
)


@dataclass(frozen=True, slots=True)
class SandboxOptions:
    """What the sandbox simulates."""

    clicks: int = 50
    servers: int = 5
    channel_latency: tuple[float, float] = (0.5, 1.0)
    message_latency: tuple[float, float] = (0.3, 0.8)
    double_click_share: float = 0.1
    spread_seconds: float = 1.0
    data_dir: Path | None = None
    keep_running: bool = False
    seed: int = 7
    result_timeout: float = 120.0


@dataclass(frozen=True, slots=True)
class SandboxReport:
    """The figures printed at the end."""

    clicks: int
    acked: int
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    failed_interactions: int
    results: Counter[str]
    no_result: int
    channels_created: int
    duplicates: int
    applications_recorded: int
    data_file: Path
    validation_errors: int
    invalid_requests: int
    seconds: float
    data_kept: bool = True

    @property
    def ok(self) -> bool:
        """Return whether every click was acknowledged in time and answered, without duplicates."""
        return not (self.failed_interactions or self.duplicates or self.no_result or self.validation_errors)


def _latency(value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 0.5-1.0, got {value!r}") from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= min <= max, got {value!r}")
    return pair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to its subcommand parser."""
    parser.add_argument("--clicks", type=int, default=50, help="number of Apply clicks (default 50)")
    parser.add_argument("--servers", type=int, default=5, help="number of simulated servers (default 5)")
    parser.add_argument(
        "--channel-latency",
        type=_latency,
        default=(0.5, 1.0),
        metavar="MIN-MAX",
        help="seconds Discord takes to create a channel (default 0.5-1.0)",
    )
    parser.add_argument(
        "--message-latency",
        type=_latency,
        default=(0.3, 0.8),
        metavar="MIN-MAX",
        help="seconds Discord takes to post or edit a message (default 0.3-0.8)",
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="where to write playerData.json (default: temp)")
    parser.add_argument("--keep-running", action="store_true", help="leave the emulator and bot up afterwards")
    parser.add_argument("--seed", type=int, default=7, help="random seed for latencies and clicks")


def options_from(args: argparse.Namespace) -> SandboxOptions:
    """Build options from parsed arguments."""
    return SandboxOptions(
        clicks=max(1, args.clicks),
        servers=max(1, args.servers),
        channel_latency=args.channel_latency,
        message_latency=args.message_latency,
        data_dir=args.data_dir,
        keep_running=args.keep_running,
        seed=args.seed,
    )


def seed_servers(emu: DiscordEmulator, options: SandboxOptions) -> tuple[list[Guild], dict[str, Any]]:
    """Create the servers in the emulator; return them and CastBot data with one Apply config each."""
    members_per_server = options.clicks // options.servers + 2
    data: dict[str, Any] = {}
    from castbot_hikari.testing.emulator import GuildSeed  # noqa: PLC0415 - see the TYPE_CHECKING import

    guilds: list[Guild] = []
    for number in range(1, options.servers + 1):
        members = [(f"applicant_{number}_{m}", f"Applicant {number}.{m}") for m in range(members_per_server)]
        guild = emu.add_guild(
            GuildSeed(
                name=f"ORG Season {number}",
                categories=["Applications"],
                text_channels=["apply-here"],
                roles=["Production"],
                members=members,
                bot_permissions=int(BOT_REQUIRED),
            )
        )
        guilds.append(guild)
        config_id = f"config_{1781015852414 + number}_{guild.id}"
        data[str(guild.id)] = {
            "applicationConfigs": {
                config_id: {
                    "buttonText": f"Apply to Season {number}",
                    "explanatoryText": "Sandbox",
                    "stage": "active",
                    "channelFormat": DEFAULT_CHANNEL_FORMAT,
                    "buttonStyle": "Success",
                    "targetChannelId": str(guild.text_channels["apply-here"]),
                    "categoryId": str(guild.categories["Applications"]),
                    "productionRole": str(guild.roles["Production"]),
                    "questions": [],
                }
            },
            "applications": {},
        }
    return guilds, data


def plan_clicks(
    guilds: Sequence[Guild], data: dict[str, Any], options: SandboxOptions
) -> list[tuple[float, int, int, str]]:
    """Return (delay, guild, user, custom_id) for every click, some users clicking twice."""
    rng = random.Random(options.seed)  # noqa: S311 - a simulation, not security
    people: list[tuple[int, int, str]] = []
    for guild in guilds:
        (config_id,) = data[str(guild.id)]["applicationConfigs"]
        people.extend((guild.id, user_id, custom_ids.apply_button(config_id)) for user_id in guild.members.values())
    rng.shuffle(people)
    doubles = int(options.clicks * options.double_click_share)
    chosen = people[: options.clicks - doubles]
    chosen += chosen[:doubles]  # the impatient ones click again
    return sorted((rng.uniform(0, options.spread_seconds), *person) for person in chosen)


class Progress:
    """A one-line progress bar on a terminal (plain lines elsewhere)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self._total = total
        self._done = 0
        self._out = out
        self._tty = out.isatty()

    def tick(self) -> None:
        """Count one finished click and redraw."""
        self._done += 1
        filled = self._done * 30 // self._total
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {self._done}/{self._total} results"
        if self._tty:
            self._out.write(f"\r{line}")
        elif self._done == self._total or self._done % max(1, self._total // 5) == 0:
            self._out.write(f"{line}\n")
        self._out.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self._tty:
            self._out.write("\n")


def _settled(inter: Interaction) -> bool:
    content = inter.content
    return bool(inter.failed) or (content is not None and content not in render.PROGRESS_TEXTS and not inter.loading)


async def simulate(
    emu: DiscordEmulator, plan: Sequence[tuple[float, int, int, str]], wait_s: float, out: TextIO
) -> list[Interaction]:
    """Click as planned and wait for every click's final message."""
    progress = Progress(len(plan), out)
    start = time.monotonic()

    async def one(delay: float, guild_id: int, user_id: int, custom_id: str) -> Interaction:
        await asyncio.sleep(max(0.0, start + delay - time.monotonic()))
        inter = await emu.click(guild_id, user_id, custom_id)
        with contextlib.suppress(TimeoutError):
            await inter.wait_until(_settled, timeout=wait_s)
        progress.tick()
        return inter

    try:
        return list(await asyncio.gather(*(one(*step) for step in plan)))
    finally:
        progress.close()


def report(
    emu: DiscordEmulator,
    interactions: list[Interaction],
    data_file: Path,
    seconds: float,
    doc: dict[str, Any] | None = None,
) -> SandboxReport:
    """Compute the summary from what the emulator saw and what the data file holds."""
    acks = [inter.ack_latency * 1000 for inter in interactions if inter.ack_latency is not None]
    results: Counter[str] = Counter()
    no_result = 0
    for inter in interactions:
        content = inter.content or ""
        if not _settled(inter) or inter.failed:
            no_result += 1
        elif content.startswith("✅"):
            results["created"] += 1
        elif content.startswith("⏳"):
            results["already in progress"] += 1
        elif content.startswith("You already have"):
            results["already applied"] += 1
        else:
            results["failed"] += 1
    owners = Counter(
        marker
        for channel in emu.state.channels.values()
        if (marker := naming.parse_topic_marker(getattr(channel, "topic", None))) is not None
    )
    # The bot's saved state: its document (snapshot plus journal) while it runs, else the file.
    saved: dict[str, Any] = doc if doc is not None else orjson.loads(data_file.read_bytes())
    recorded = sum(len(guild.get("applications", {})) for key, guild in saved.items() if key.isdigit())
    return SandboxReport(
        clicks=len(interactions),
        acked=len(acks),
        ack_p50_ms=percentile(acks, 0.5),
        ack_p99_ms=percentile(acks, 0.99),
        ack_max_ms=max(acks, default=0.0),
        failed_interactions=sum(1 for i in interactions if i.failed),
        results=results,
        no_result=no_result,
        channels_created=sum(owners.values()),
        duplicates=sum(count - 1 for count in owners.values() if count > 1),
        applications_recorded=recorded,
        data_file=data_file,
        validation_errors=len(emu.validation_errors),
        seconds=seconds,
        invalid_requests=sum(1 for r in emu.requests if r.status in (401, 403, 429)),
    )


def render_report(rep: SandboxReport) -> str:
    """Return the summary table."""
    rows = [
        ("clicks", str(rep.clicks)),
        (
            "acknowledged",
            f"{rep.acked} (p50 {rep.ack_p50_ms:.1f} ms, p99 {rep.ack_p99_ms:.1f} ms, max {rep.ack_max_ms:.1f} ms)",
        ),
        ("failed interactions (no ack in 3 s)", str(rep.failed_interactions)),
        *((f"result: {name}", str(count)) for name, count in sorted(rep.results.items())),
        ("clicks without a final message", str(rep.no_result)),
        ("channels created", str(rep.channels_created)),
        ("duplicate channels", str(rep.duplicates)),
        (
            "applications recorded",
            f"{rep.applications_recorded} in {rep.data_file}"
            + ("" if rep.data_kept else " (a temp folder, removed now: use --data-dir to keep it)"),
        ),
        ("requests violating Discord's API spec", str(rep.validation_errors)),
        (
            "invalid requests (401/403/429)",
            f"{rep.invalid_requests} ({rep.invalid_requests * 1000 / max(1, rep.clicks):.1f} per 1,000 clicks)",
        ),
        ("wall time", f"{rep.seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in rows]
    verdict = "OK: every click was acknowledged and answered, no duplicates" if rep.ok else "PROBLEMS FOUND (see above)"
    return "\n".join(["", "castbot-hikari sandbox summary", *lines, "", verdict, ""])


async def run_sandbox(options: SandboxOptions, out: TextIO = sys.stdout) -> SandboxReport:
    """Run the whole sandbox and return its report (also printed to ``out``)."""
    with contextlib.ExitStack() as stack:
        data_dir = options.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="castbot-sandbox-")))
        from castbot_hikari.testing.emulator import DiscordEmulator, Latency  # noqa: PLC0415 - as above

        async with DiscordEmulator(validate=True, seed=options.seed) as emu:
            emu.latency.set(CHANNEL_ROUTE, Latency.uniform(*options.channel_latency))
            for route in MESSAGE_ROUTES:
                emu.latency.set(route, Latency.uniform(*options.message_latency))
            guilds, data = seed_servers(emu, options)
            data_dir.mkdir(parents=True, exist_ok=True)
            (data_dir / DATA_FILE).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            settings = Settings(token=emu.bot_token, api_url=emu.rest_url, data_dir=data_dir, log_level="WARNING")
            app = build_app(settings, JsonApplicationRepository.open(data_dir))
            out.write(f"Discord emulator on {emu.rest_url}; {options.servers} servers; starting the bot…\n")
            await app.bot.start(check_for_updates=False)
            try:
                await emu.wait_ready(timeout=30)
                started = time.monotonic()
                interactions = await simulate(emu, plan_clicks(guilds, data, options), options.result_timeout, out)
                elapsed = time.monotonic() - started
                rep = dataclasses.replace(
                    report(emu, interactions, data_dir / DATA_FILE, elapsed, app.repository.document.doc),
                    data_kept=options.data_dir is not None,
                )
                out.write(render_report(rep))
                await _keep_running(app, emu, options, out)
            finally:
                await app.bot.close()
            return rep


async def _keep_running(app: App, emu: DiscordEmulator, options: SandboxOptions, out: TextIO) -> None:
    if not options.keep_running:
        return
    out.write(f"\nStill running (Ctrl-C to stop): REST {emu.rest_url}, data in {options.data_dir or 'a temp folder'}\n")
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    out.write("Stopping the bot and the emulator…\n")


def main(args: argparse.Namespace) -> int:
    """Run the sandbox from parsed arguments; exit 0 when everything was answered without duplicates."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        rep = asyncio.run(run_sandbox(options_from(args)))
    except KeyboardInterrupt:
        return 130
    return 0 if rep.ok else 1
