"""The ``castbot-hikari`` command line: ``run`` the bot, ``init`` a data folder, ``import`` CastBot's data,
``sandbox``, ``bench``.

Every failure an operator can meet at start is one line on stderr (details at DEBUG) and an exit code
from ``ExitCode``, so a service manager can tell "fix the setup" from "try again later".
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import importlib.metadata
import importlib.util
import logging
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import hikari

from castbot_hikari import sandbox as sandbox_module  # light: it imports the emulator only when it runs
from castbot_hikari.castbot.document import DATA_FILE, open_document
from castbot_hikari.castbot.folder import DataFolderError
from castbot_hikari.core.errors import CorruptDataError
from castbot_hikari.core.wording import plural
from castbot_hikari.logs import configure_logging
from castbot_hikari.settings import VARIABLES, Settings, SettingsError, configured_data_dir

if TYPE_CHECKING:
    from castbot_hikari.app import App  # imported for real only by `run`, after the settings

logger = logging.getLogger(__name__)

DISCORD_CHECK_SECONDS: Final = 15.0
"""How long the start-up check of the token and the API may take before the API counts as unreachable."""


class ExitCode(enum.IntEnum):
    """What the process's exit status means (the README's table and the systemd unit rely on these)."""

    OK = 0
    """Stopped cleanly; for ``sandbox``, every click was answered well."""
    PROBLEMS = 1
    """``sandbox`` found problems (the summary says which)."""
    USAGE = 2
    """A bad command line, setting or installation (argparse uses 2 as well): fix it, do not retry."""
    DATA = 3
    """A data folder or file was refused (missing, corrupt, in use, not writable, not importable); nothing
    was changed."""
    TOKEN_REFUSED = 4
    """Discord refused ``CASTBOT_TOKEN``: a new token is needed, retrying cannot help."""
    DISCORD_UNREACHABLE = 5
    """The Discord API could not be reached or answered with an error: retrying later may help."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C before it finished (``sandbox``, ``run`` during its start-up checks)."""


class DiscordCheckError(Exception):
    """The start-up request to the Discord API failed; the message is the line to show."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> int:
    """Write a one-line error (no traceback) and return the exit code."""
    sys.stderr.write(f"castbot-hikari: error: {message}\n")
    return int(code)


async def check_discord(settings: Settings, *, seconds: float = DISCORD_CHECK_SECONDS) -> None:
    """Make one request with the token (``GET /users/@me``), without retries and within ``seconds``.

    Without it a refused token shows after lightbulb's tracebacks, and an unreachable API after
    hikari's retries (19 s and 87 lines); this says it in one line within seconds.

    Raises:
        DiscordCheckError: The token was refused, or the API could not be reached or answered an error.
    """
    http = hikari.impl.HTTPSettings(timeouts=hikari.impl.HTTPTimeoutSettings(total=seconds))
    rest_app = hikari.RESTApp(http_settings=http, max_retries=0, url=settings.api_url)
    await rest_app.start()
    try:
        async with rest_app.acquire(settings.token, hikari.TokenType.BOT) as rest:
            await rest.fetch_my_user()
    except hikari.UnauthorizedError:
        logger.debug("token check refused", exc_info=True)
        raise DiscordCheckError(
            "Discord refused CASTBOT_TOKEN (401 Unauthorized): copy the bot's token again "
            "(Developer Portal > your application > Bot > Reset Token)",
            ExitCode.TOKEN_REFUSED,
        ) from None
    except hikari.HTTPResponseError as exc:
        logger.debug("token check failed", exc_info=True)
        raise DiscordCheckError(
            f"the Discord API at {settings.api_url} answered {exc.status}: Discord may be down (try again later), "
            "or CASTBOT_API_URL is wrong (it must end with /api/v10)",
            ExitCode.DISCORD_UNREACHABLE,
        ) from None
    except hikari.HTTPError as exc:
        logger.debug("token check failed", exc_info=True)
        reason = exc.message or f"no answer within {seconds:g} s"
        raise DiscordCheckError(
            f"could not reach the Discord API at {settings.api_url}: {reason}", ExitCode.DISCORD_UNREACHABLE
        ) from None
    finally:
        await rest_app.close()


def run_bot() -> int:
    """Start the bot with settings from the environment; return the exit code."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return fail(str(exc))
    configure_logging(settings.log_level_number, secrets=[settings.token], json_lines=settings.ops.log_format == "json")
    from castbot_hikari.app import build_app  # noqa: PLC0415
    from castbot_hikari.apply.store import JsonApplicationRepository  # noqa: PLC0415 - after settings

    try:
        repository = JsonApplicationRepository(open_document(settings.data_dir, create=False))
    except CorruptDataError as exc:
        return fail(f"refusing to start: {exc}. Fix or move the file; its content was not changed.", ExitCode.DATA)
    except DataFolderError as exc:
        return fail(f"refusing to start: {exc}", ExitCode.DATA)
    try:
        asyncio.run(check_discord(settings))
    except DiscordCheckError as exc:
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    app = build_app(settings, repository)
    if (refused := _listen(app, settings)) is not None:
        return refused
    try:
        app.bot.run(
            check_for_updates=False,
            close_loop=True,
            shard_ids=settings.ops.shard_ids,
            shard_count=settings.ops.shard_count,
        )
    except hikari.UnauthorizedError:
        return fail("Discord refused CASTBOT_TOKEN (401 Unauthorized)", ExitCode.TOKEN_REFUSED)
    except hikari.HTTPError as exc:
        return fail(f"could not reach the Discord API at {settings.api_url}: {exc}", ExitCode.DISCORD_UNREACHABLE)
    return int(ExitCode.OK)


def _listen(app: App, settings: Settings) -> int | None:
    """Open the metrics and health port on the loop the bot will run on; an exit code if it cannot be bound."""
    if settings.ops.metrics_port is None:
        return None
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # GatewayBot.run takes the current loop: the site stays on it
    try:
        loop.run_until_complete(app.monitoring.listen())
    except OSError as exc:
        loop.close()
        where = f"{settings.ops.metrics_host}:{settings.ops.metrics_port}"
        return fail(f"cannot listen on {where} (CASTBOT_METRICS_HOST/PORT): {exc.strerror or exc}")
    return None


def init_data(data_dir: Path | None) -> int:
    """Create an empty data file for a new install; refuse if the folder already holds data."""
    target_dir = data_dir if data_dir is not None else configured_data_dir()
    data_file = target_dir / DATA_FILE
    if data_file.exists() or data_file.with_name(data_file.name + ".journal").exists():
        return fail(f"{data_file} already exists: this folder already holds data; nothing was changed", ExitCode.DATA)
    try:
        asyncio.run(open_document(target_dir, create=True).close())
    except (DataFolderError, CorruptDataError) as exc:
        return fail(str(exc), ExitCode.DATA)
    sys.stdout.write(
        f"created {data_file} (no server yet): start the bot with 'castbot-hikari run', "
        "then post an Apply button with /apps post\n"
    )
    return int(ExitCode.OK)


def import_data(path: Path, data_dir: Path | None, *, force: bool) -> int:
    """Check and copy a CastBot data file; print what it holds; return the exit code."""
    from castbot_hikari.castbot import importer  # noqa: PLC0415 - keeps `run` light

    target_dir = data_dir if data_dir is not None else configured_data_dir()
    try:
        summary, backup = importer.import_file(path, target_dir, force=force)
    except importer.ImportRefusedError as exc:
        return fail(str(exc), ExitCode.DATA)
    except DataFolderError as exc:
        return fail(f"nothing was imported: {exc}", ExitCode.DATA)
    lines = [
        f"{path}: {plural(len(summary.guilds), 'server')}, {plural(summary.configs, 'Apply config')}, "
        f"{plural(summary.applications, 'application')}"
    ]
    lines += [
        f"  server {g.guild_id}: {plural(g.configs, 'config')}, {plural(g.applications, 'application')}"
        for g in summary.guilds
    ]
    lines += [f"warning: {warning}" for warning in summary.warnings]
    lines.append(f"imported into {target_dir / DATA_FILE}")
    if backup is not None:
        lines.append(f"the previous file is kept as {backup}")
    sys.stdout.write("\n".join(lines) + "\n")
    return int(ExitCode.OK)


def backup_data(dest: Path, data_dir: Path | None, *, force: bool) -> int:
    """Write a consistent copy of the data folder (also while the bot runs) to ``dest``."""
    from castbot_hikari.castbot import backup  # noqa: PLC0415 - keeps `run` light

    source = data_dir if data_dir is not None else configured_data_dir()
    try:
        copy = backup.consistent_copy(source)
        target = backup.write_backup(copy, dest, force=force)
    except (backup.BackupError, CorruptDataError) as exc:
        return fail(f"no backup was written: {exc}", ExitCode.DATA)
    sys.stdout.write(
        f"backed up {source / DATA_FILE} ({plural(copy.servers, 'server')}, "
        f"{plural(copy.applications, 'application')}, up to change {copy.seq}) into {target}\n"
    )
    return int(ExitCode.OK)


def run_sandbox(args: argparse.Namespace) -> int:
    """Run the sandbox; map its verdict and refusals to exit codes."""
    if importlib.util.find_spec("jsonschema") is None:
        return fail("the sandbox needs the emulator's extras: python3 -m pip install 'castbot-hikari[sandbox]'")
    try:
        verdict = sandbox_module.main(args)
    except DataFolderError as exc:
        return fail(f"sandbox: {exc}", ExitCode.DATA)
    codes = {
        sandbox_module.Verdict.OK: ExitCode.OK,
        sandbox_module.Verdict.PROBLEMS: ExitCode.PROBLEMS,
        sandbox_module.Verdict.INTERRUPTED: ExitCode.INTERRUPTED,
    }
    return int(codes[verdict])


def version() -> str:
    """Return this package's version and those of the libraries a bug report needs."""
    installed = {name: importlib.metadata.version(name) for name in ("castbot-hikari", "hikari", "hikari-lightbulb")}
    return (
        f"castbot-hikari {installed['castbot-hikari']} (hikari {installed['hikari']}, "
        f"hikari-lightbulb {installed['hikari-lightbulb']}, Python {platform.python_version()})"
    )


def _environment_help() -> str:
    rows = "\n".join(f"  {name:<32} {meaning} (default: {default})" for name, default, meaning in VARIABLES)
    return f"environment variables (also read from ./.env; the environment wins):\n{rows}"


def _exit_codes_help() -> str:
    return "exit codes: " + ", ".join(f"{int(code)} {code.name.lower().replace('_', ' ')}" for code in ExitCode)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="castbot-hikari", description="Season applications for ORGs on Discord.", epilog=_exit_codes_help()
    )
    parser.add_argument("--version", action="version", version=version())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run",
        help="start the bot (settings from the environment and .env)",
        description="Start the bot. It needs an existing data file: 'init' (new install) or 'import' makes one.",
        epilog=f"{_environment_help()}\n\n{_exit_codes_help()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data_dir_help = "the data folder (default: CASTBOT_DATA_DIR, else ./data)"
    initializing = commands.add_parser(
        "init", help="create an empty data file for a new install (refuses if the folder holds data)"
    )
    initializing.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    importing = commands.add_parser(
        "import", help="check a CastBot playerData.json and copy it into the data folder (stop the bot first)"
    )
    importing.add_argument("path", type=Path, help="the CastBot playerData.json to import")
    importing.add_argument("--force", action="store_true", help="replace existing data (a .bak copy is kept)")
    importing.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    backing_up = commands.add_parser(
        "backup", help="write a consistent copy of the data folder to DEST (the bot may keep running)"
    )
    backing_up.add_argument("dest", type=Path, help="the file to write (or a folder to hold playerData.json)")
    backing_up.add_argument("--force", action="store_true", help="replace DEST if it exists")
    backing_up.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    sandbox = commands.add_parser(
        "sandbox", help="run the real bot against a local Discord emulator with simulated applicants"
    )
    sandbox_module.add_arguments(sandbox)
    from castbot_hikari.bench import cli as bench_cli  # noqa: PLC0415 - standard library only at import

    bench_cli.add_arguments(commands.add_parser("bench", help="benchmark the deferred bot against the old pattern"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return run_bot()
    if args.command == "init":
        return init_data(args.data_dir)
    if args.command == "import":
        return import_data(args.path, args.data_dir, force=args.force)
    if args.command == "backup":
        return backup_data(args.dest, args.data_dir, force=args.force)
    if args.command == "sandbox":
        return run_sandbox(args)
    if args.command == "bench":
        from castbot_hikari.bench import cli as bench_cli  # noqa: PLC0415

        return bench_cli.main(args)
    return fail(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
