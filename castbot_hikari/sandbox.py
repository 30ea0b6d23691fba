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
import enum
import functools
import logging
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import orjson

from castbot_hikari.app import DRAIN_SECONDS, App, build_app
from castbot_hikari.apply import custom_ids, render
from castbot_hikari.apply.model import ApplyOutcome, Failure, Rejection
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.castbot.config import DEFAULT_CHANNEL_FORMAT
from castbot_hikari.castbot.document import DATA_FILE, JOURNAL_SUFFIX, open_document
from castbot_hikari.castbot.folder import DataFolderError, FolderLock, FolderNotWritableError, lock_folder
from castbot_hikari.core import naming
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.core.metrics import percentile
from castbot_hikari.core.permissions import BOT_REQUIRED
from castbot_hikari.core.wording import plural
from castbot_hikari.settings import Settings

if TYPE_CHECKING:  # the emulator is imported when the sandbox runs, never by `castbot-hikari run`
    from castbot_hikari.testing.emulator import DiscordEmulator, Guild, Interaction

logger = logging.getLogger(__name__)
CHANNEL_ROUTE = "POST /guilds/{guild_id}/channels"
MESSAGE_ROUTES = (
    "POST /channels/{channel_id}/messages",
    "PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original",
)


ACK_P99_LIMIT_MS: Final = 1000.0
"""Acks slower than this at p99 fail the verdict: Discord allows 3 s, and a real network adds its own delay."""


SETTLE_SECONDS: Final = 3.0
"""After Ctrl-C, how long the clicks already made may take to get their final message before the summary."""


class Verdict(enum.Enum):
    """How a sandbox run ended (the CLI maps it to an exit code)."""

    OK = "ok"
    PROBLEMS = "problems"
    INTERRUPTED = "interrupted"


class SandboxRefusedError(DataFolderError):
    """``--data-dir`` names a folder the sandbox must not write (it holds data); nothing was changed."""


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


EXPECTED_RESULTS: Final = frozenset({"created", "already in progress", "already applied"})
"""Results a user would not call a failure; any other result in the sandbox is a failure the bot could have
avoided, because every simulated server is set up so that every apply can succeed."""


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
    planned: int = field(default=0)
    interrupted: bool = False

    @property
    def avoidable_failures(self) -> Counter[str]:
        """Return the results that are failures (refusals and errors), by kind."""
        return Counter({kind: n for kind, n in self.results.items() if kind not in EXPECTED_RESULTS})

    @property
    def problems(self) -> list[str]:
        """Return what a user would call a failure, one sentence each (empty when all went well)."""
        found: list[str] = []
        if self.failed_interactions:
            found.append(
                f'{plural(self.failed_interactions, "click")} saw "This interaction failed" '
                "(no acknowledgement within Discord's 3 s)"
            )
        if self.ack_p99_ms > ACK_P99_LIMIT_MS:
            found.append(
                f"acknowledgements too slow: p99 {self.ack_p99_ms:.0f} ms is above {ACK_P99_LIMIT_MS:.0f} ms "
                "(Discord allows 3 s, and a real network adds its own delay)"
            )
        if failures := self.avoidable_failures:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(failures.items()))
            found.append(
                f"{plural(failures.total(), 'apply', 'applies')} failed although every simulated server lets "
                f"every apply succeed ({kinds})"
            )
        if self.no_result:
            found.append(f"{plural(self.no_result, 'click')} got no final message")
        if self.duplicates:
            found.append(f"{plural(self.duplicates, 'duplicate channel')}")
        if self.validation_errors:
            found.append(f"{plural(self.validation_errors, 'request')} broke Discord's API spec")
        return found

    @property
    def ok(self) -> bool:
        """Return whether every click was acknowledged quickly and answered well, without duplicates."""
        return not self.interrupted and not self.problems

    @property
    def verdict(self) -> Verdict:
        """Return how the run ended."""
        if self.interrupted:
            return Verdict.INTERRUPTED
        return Verdict.OK if self.ok else Verdict.PROBLEMS


def _latency(value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds like 0.5-1.0 (or 0.5 for a fixed latency), got {value!r}"
        ) from None
    if pair[0] < 0 or pair[1] < pair[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= min <= max, got {value!r}")
    return pair


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value!r}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's options to its subcommand parser."""
    parser.add_argument("--clicks", type=_at_least_one, default=50, metavar="N", help="Apply clicks (default 50)")
    parser.add_argument("--servers", type=_at_least_one, default=5, metavar="N", help="simulated servers (default 5)")
    parser.add_argument(
        "--channel-latency",
        type=_latency,
        default=(0.5, 1.0),
        metavar="MIN-MAX",
        help="seconds Discord takes to create a channel, a range or one number (default 0.5-1.0)",
    )
    parser.add_argument(
        "--message-latency",
        type=_latency,
        default=(0.3, 0.8),
        metavar="MIN-MAX",
        help="seconds Discord takes to post or edit a message, a range or one number (default 0.3-0.8)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="an empty or new folder for playerData.json, kept afterwards (default: a temp folder, deleted)",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the emulator and the bot up after the summary"
    )
    parser.add_argument("--seed", type=int, default=7, metavar="N", help="random seed for latencies and clicks")


def options_from(args: argparse.Namespace) -> SandboxOptions:
    """Build options from parsed arguments (argparse has checked them)."""
    return SandboxOptions(
        clicks=args.clicks,
        servers=args.servers,
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
    emu: DiscordEmulator,
    plan: Sequence[tuple[float, int, int, str]],
    wait_s: float,
    out: TextIO,
    clicked: list[Interaction] | None = None,
) -> list[Interaction]:
    """Click as planned and wait for every click's final message.

    Each click is appended to ``clicked`` as it is made, so an interrupted run can still be reported.
    """
    progress = Progress(len(plan), out)
    made = clicked if clicked is not None else []
    start = time.monotonic()

    async def one(delay: float, guild_id: int, user_id: int, custom_id: str) -> Interaction:
        await asyncio.sleep(max(0.0, start + delay - time.monotonic()))
        inter = await emu.click(guild_id, user_id, custom_id)
        made.append(inter)
        with contextlib.suppress(TimeoutError):
            await inter.wait_until(_settled, timeout=wait_s)
        progress.tick()
        return inter

    try:
        return list(await asyncio.gather(*(one(*step) for step in plan)))
    finally:
        progress.close()


@functools.cache
def _result_kinds() -> tuple[tuple[str, str], ...]:
    """Return (start of the applicant's final message, kind) for every refusal and failure the bot words."""
    kinds: list[tuple[str, str]] = []
    for rejection in Rejection:
        text = render.apply_outcome(ApplyOutcome.rejected(rejection, ChannelId(1)))
        kind = {Rejection.IN_PROGRESS: "already in progress", Rejection.ALREADY_APPLIED: "already applied"}.get(
            rejection, f"refused: {rejection.value.replace('_', ' ')}"
        )
        kinds.append((text.split("<#", 1)[0], kind))
    for failure in Failure:
        text = render.apply_outcome(ApplyOutcome.failed(failure, "-"))
        kinds.append((text.split("\n", 1)[0], f"failed: {failure.value.replace('_', ' ')}"))
    return tuple(kinds)


def result_kind(content: str) -> str:
    """Return the kind of an applicant's final message (``created``, ``already applied``, ``failed: …``)."""
    if content.startswith("✅"):
        return "created"
    for start, kind in _result_kinds():
        if content.startswith(start):
            return kind
    return "failed: unexpected message"


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
        if not _settled(inter) or inter.failed:
            no_result += 1
        else:
            results[result_kind(inter.content or "")] += 1
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
    """Return the summary table and the verdict, with the reason for each problem."""
    clicks = f"{rep.clicks} of {rep.planned} (interrupted)" if rep.interrupted else str(rep.clicks)
    where = (
        str(rep.data_file)
        if rep.data_kept
        else f"{rep.data_file} (a temp folder, deleted when the sandbox ends: use --data-dir DIR to keep it)"
    )
    rows = [
        ("clicks", clicks),
        (
            "acknowledged",
            f"{rep.acked} (p50 {rep.ack_p50_ms:.1f} ms, p99 {rep.ack_p99_ms:.1f} ms, max {rep.ack_max_ms:.1f} ms)",
        ),
        ("failed interactions (no ack in 3 s)", str(rep.failed_interactions)),
        *((f"result: {name}", str(count)) for name, count in sorted(rep.results.items())),
        ("clicks without a final message", str(rep.no_result)),
        ("channels created", str(rep.channels_created)),
        ("duplicate channels", str(rep.duplicates)),
        ("applications recorded", f"{rep.applications_recorded} in {where}"),
        ("requests violating Discord's API spec", str(rep.validation_errors)),
        (
            "invalid requests (401/403/429)",
            f"{rep.invalid_requests} ({rep.invalid_requests * 1000 / max(1, rep.clicks):.1f} per 1,000 clicks)",
        ),
        ("wall time", f"{rep.seconds:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name.ljust(width)}  {value}" for name, value in rows]
    title = "castbot-hikari sandbox summary" + (" (partial: interrupted)" if rep.interrupted else "")
    return "\n".join(["", title, *lines, "", *_verdict_lines(rep), ""])


def _verdict_lines(rep: SandboxReport) -> list[str]:
    if rep.interrupted:
        head = f"INTERRUPTED after {plural(rep.clicks, 'click')} of {rep.planned}: the figures cover those only"
        return [head, *(f"  - {problem}" for problem in rep.problems)]
    if rep.ok:
        return [
            f"OK: every click was acknowledged and answered (ack p99 within {ACK_P99_LIMIT_MS:.0f} ms), "
            "no failed apply, no duplicates"
        ]
    return ["PROBLEMS FOUND:", *(f"  - {problem}" for problem in rep.problems)]


def prepare_data_dir(options: SandboxOptions, stack: contextlib.ExitStack) -> Path:
    """Return the folder to write (a temp folder unless ``--data-dir``), locked for this run.

    Raises:
        SandboxRefusedError: ``--data-dir`` already holds a data file or journal (never overwritten).
        DataFolderError: It is a file, cannot be created or written, or another process holds it.
    """
    if options.data_dir is None:
        return Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="castbot-sandbox-")))
    folder = options.data_dir
    if folder.exists() and not folder.is_dir():
        raise DataFolderError(f"--data-dir {folder} is a file, not a folder")
    held = [name for name in (DATA_FILE, DATA_FILE + JOURNAL_SUFFIX) if (folder / name).exists()]
    if held:
        raise SandboxRefusedError(
            f"--data-dir {folder} already holds {' and '.join(held)}; the sandbox writes simulated servers there "
            "and would replace it: give it an empty or new folder (nothing was changed)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FolderNotWritableError(f"cannot create --data-dir {folder}: {exc.strerror or exc}") from exc
    lock: FolderLock = stack.enter_context(lock_folder(folder))
    return lock.folder


@contextlib.contextmanager
def _signals(handler: asyncio.Event) -> Generator[None]:
    """Set ``handler`` on Ctrl-C or SIGTERM instead of raising, for as long as the block runs."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handler.set)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _simulate_until_stopped(
    emu: DiscordEmulator, plan: list[tuple[float, int, int, str]], options: SandboxOptions, out: TextIO
) -> tuple[list[Interaction], bool]:
    """Run the clicks; on Ctrl-C stop clicking at once. Return the clicks made and whether it was interrupted."""
    clicked: list[Interaction] = []
    stop = asyncio.Event()
    with _signals(stop):
        out.write(
            f"Clicking Apply {plural(len(plan), 'time')} over {options.spread_seconds:g} s "
            "(Ctrl-C stops and prints what was seen so far)…\n"
        )
        out.flush()
        clicking = asyncio.create_task(simulate(emu, plan, options.result_timeout, out, clicked))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({clicking, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if clicking.done():
            return clicking.result(), False
        clicking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await clicking
    out.write("\nInterrupted: no more clicks; letting the applies under way finish…\n")
    out.flush()
    for route in (CHANNEL_ROUTE, *MESSAGE_ROUTES):
        emu.latency.set(route, None)  # the applies under way then finish in milliseconds
    await asyncio.gather(
        *(inter.wait_until(_settled, timeout=SETTLE_SECONDS) for inter in clicked), return_exceptions=True
    )
    return clicked, True


async def run_sandbox(options: SandboxOptions, out: TextIO = sys.stdout) -> SandboxReport:
    """Run the whole sandbox and return its report (also printed to ``out``).

    Raises:
        DataFolderError: ``--data-dir`` cannot be used (see ``prepare_data_dir``).
    """
    with contextlib.ExitStack() as stack:
        data_dir = prepare_data_dir(options, stack)
        from castbot_hikari.testing.emulator import DiscordEmulator, Latency  # noqa: PLC0415 - as above

        async with DiscordEmulator(validate=True, seed=options.seed) as emu:
            emu.latency.set(CHANNEL_ROUTE, Latency.uniform(*options.channel_latency))
            for route in MESSAGE_ROUTES:
                emu.latency.set(route, Latency.uniform(*options.message_latency))
            guilds, data = seed_servers(emu, options)
            (data_dir / DATA_FILE).write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            settings = Settings(token=emu.bot_token, api_url=emu.rest_url, data_dir=data_dir, log_level="WARNING")
            app = build_app(settings, JsonApplicationRepository(open_document(data_dir)))
            out.write(
                f"Discord emulator on {emu.rest_url}; {plural(options.servers, 'server')}, "
                f"{plural(options.clicks, 'click')}; starting the bot…\n"
            )
            out.flush()
            await app.bot.start(check_for_updates=False)
            try:
                await emu.wait_ready(timeout=30)
                started = time.monotonic()
                plan = plan_clicks(guilds, data, options)
                interactions, interrupted = await _simulate_until_stopped(emu, plan, options, out)
                elapsed = time.monotonic() - started
                rep = dataclasses.replace(
                    report(emu, interactions, data_dir / DATA_FILE, elapsed, app.repository.document.doc),
                    data_kept=options.data_dir is not None,
                    planned=len(plan),
                    interrupted=interrupted,
                )
                out.write(render_report(rep))
                if interrupted:
                    out.write(f"Stopping the bot: it gives the applies under way up to {DRAIN_SECONDS:g} s…\n")
                out.flush()
                if not interrupted:
                    await _keep_running(app, emu, guilds, options, out)
            finally:
                await app.bot.close()
            return rep


async def _keep_running(
    app: App, emu: DiscordEmulator, guilds: Sequence[Guild], options: SandboxOptions, out: TextIO
) -> None:
    if not options.keep_running:
        return
    data_file = app.repository.document.files.path
    folder = "kept" if options.data_dir is not None else "deleted then (pass --data-dir DIR to keep it)"
    stop = asyncio.Event()
    with _signals(stop):  # before the text that invites Ctrl-C
        out.write(
            "\nStill running. Ctrl-C (or SIGTERM) stops the bot and the emulator.\n"
            f"  data: {data_file} (the bot adds each change to its journal beside it; a complete snapshot is "
            f"written when it stops; the folder is {folder})\n"
            f"  the emulator's REST API: {emu.rest_url}, for example the first server's channels:\n"
            f"    curl -s -H 'Authorization: Bot {emu.bot_token}' {emu.rest_url}/guilds/{guilds[0].id}/channels\n"
            "  (that token is the emulator's own, valid on this 127.0.0.1 emulator only, not a Discord token)\n"
        )
        out.flush()
        await stop.wait()
    out.write("Stopping the bot and the emulator…\n")


def main(args: argparse.Namespace) -> Verdict:
    """Run the sandbox from parsed arguments and return its verdict.

    Raises:
        DataFolderError: ``--data-dir`` cannot be used; nothing was written.
    """
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        rep = asyncio.run(run_sandbox(options_from(args)))
    except KeyboardInterrupt:  # before the clicks started or while the bot stops
        return Verdict.INTERRUPTED
    return rep.verdict
