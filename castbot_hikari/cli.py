"""The ``castbot-hikari`` command line: ``run`` the bot, ``import`` CastBot's data, ``sandbox``, ``bench``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import hikari

from castbot_hikari.domain.errors import CorruptDataError
from castbot_hikari.settings import Settings, SettingsError

logger = logging.getLogger(__name__)


def configure_logging(level: int) -> None:
    """Log to stderr, one line per record, with the logger's name."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", force=True)
    # hikari's own per-request debug output is noise at the bot's DEBUG level.
    logging.getLogger("hikari").setLevel(max(level, logging.INFO))


def fail(message: str, code: int = 2) -> int:
    """Write a one-line error (no traceback) and return the exit code."""
    sys.stderr.write(f"castbot-hikari: error: {message}\n")
    return code


def run_bot() -> int:
    """Start the bot with settings from the environment; return the exit code."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return fail(str(exc))
    configure_logging(settings.log_level_number)
    from castbot_hikari.adapters.json_store import JsonApplicationRepository  # noqa: PLC0415 - after settings
    from castbot_hikari.app import build_app  # noqa: PLC0415

    try:
        repository = JsonApplicationRepository.open(settings.data_dir)
    except CorruptDataError as exc:
        return fail(f"refusing to start: {exc}. Fix or move the file; it was not changed.", 1)
    app = build_app(settings, repository)
    try:
        app.bot.run(check_for_updates=False, close_loop=True)
    except hikari.UnauthorizedError:
        return fail("CASTBOT_TOKEN was refused by the Discord API (401 Unauthorized)", 1)
    except hikari.HTTPError as exc:
        return fail(f"could not reach the Discord API at {settings.api_url}: {exc}", 1)
    return 0


def import_data(path: Path, data_dir: Path | None, *, force: bool) -> int:
    """Check and copy a CastBot data file; print what it holds; return the exit code."""
    from castbot_hikari import importer  # noqa: PLC0415 - keeps `run` light

    target_dir = data_dir if data_dir is not None else importer.configured_data_dir()
    try:
        summary, backup = importer.import_file(path, target_dir, force=force)
    except importer.ImportRefusedError as exc:
        return fail(str(exc), 1)
    lines = [
        f"{path}: {len(summary.guilds)} servers, {summary.configs} Apply configs, {summary.applications} applications"
    ]
    lines += [f"  server {g.guild_id}: {g.configs} configs, {g.applications} applications" for g in summary.guilds]
    lines += [f"warning: {warning}" for warning in summary.warnings]
    lines.append(f"imported into {target_dir / 'playerData.json'}")
    if backup is not None:
        lines.append(f"the previous file is kept as {backup}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="castbot-hikari", description="Season applications for ORGs on Discord.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="start the bot (settings from the environment and .env)")
    importing = commands.add_parser(
        "import", help="check a CastBot playerData.json and copy it into the data folder (stop the bot first)"
    )
    importing.add_argument("path", type=Path, help="the CastBot playerData.json to import")
    importing.add_argument("--force", action="store_true", help="replace existing data (a .bak copy is kept)")
    importing.add_argument(
        "--data-dir", type=Path, default=None, help="the data folder (default: CASTBOT_DATA_DIR, else ./data)"
    )
    sandbox = commands.add_parser(
        "sandbox", help="run the real bot against a local Discord emulator with simulated applicants"
    )
    from castbot_hikari import sandbox as sandbox_module  # noqa: PLC0415 - keeps `run` free of the emulator

    sandbox_module.add_arguments(sandbox)
    from castbot_hikari.bench import cli as bench_cli  # noqa: PLC0415 - standard library only at import

    bench_cli.add_arguments(commands.add_parser("bench", help="benchmark the deferred bot against the old pattern"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_bot()
    if args.command == "import":
        return import_data(args.path, args.data_dir, force=args.force)
    if args.command == "sandbox":
        from castbot_hikari import sandbox  # noqa: PLC0415

        return sandbox.main(args)
    if args.command == "bench":
        from castbot_hikari.bench import cli as bench_cli  # noqa: PLC0415

        return bench_cli.main(args)
    return fail(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
