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
import orjson

from castbot_hikari import sandbox as sandbox_module  # light: it imports the emulator only when it runs
from castbot_hikari.castbot.document import DATA_FILE, open_document
from castbot_hikari.castbot.folder import DataFolderError
from castbot_hikari.core.errors import CorruptDataError
from castbot_hikari.core.wording import plural
from castbot_hikari.logs import configure_logging
from castbot_hikari.settings import (
    VARIABLES,
    Settings,
    SettingsError,
    StoreSettings,
    configured_data_dir,
    configured_store,
    redact_url,
)

if TYPE_CHECKING:
    from castbot_hikari.app import App  # imported for real only by `run`, after the settings
    from castbot_hikari.apply.store import JsonApplicationRepository
    from castbot_hikari.pg.store import PostgresStore

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
    DATABASE_UNREACHABLE = 6
    """PostgreSQL (``CASTBOT_DATABASE_URL``) could not be reached or refused the connection: retrying later may
    help, once the database is up."""
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


class StoreRefusedError(Exception):
    """The store could not be opened; the message is the line to show."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


async def connect_postgres(store: StoreSettings, owner: str, *, apply_migrations: bool = True) -> PostgresStore:
    """Connect to PostgreSQL and bring its schema up to date.

    Raises:
        StoreRefusedError: It cannot be reached (``DATABASE_UNREACHABLE``) or was written by a newer version.
    """
    from castbot_hikari.core.errors import StorageError  # noqa: PLC0415 - keeps `run --help` light
    from castbot_hikari.pg.migrate import SchemaError  # noqa: PLC0415
    from castbot_hikari.pg.store import PostgresStore  # noqa: PLC0415

    assert store.database_url is not None
    try:
        return await PostgresStore.connect(
            store.database_url, owner=owner, lease_s=store.lease_s, apply_migrations=apply_migrations
        )
    except StorageError as exc:
        logger.debug("connecting to PostgreSQL failed", exc_info=True)
        raise StoreRefusedError(
            f"could not use PostgreSQL at {redact_url(store.database_url)} (CASTBOT_DATABASE_URL): "
            f"{str(exc).removeprefix('PostgreSQL: ')}",
            ExitCode.DATABASE_UNREACHABLE,
        ) from None
    except SchemaError as exc:
        raise StoreRefusedError(f"refusing to start: {exc}", ExitCode.DATA) from None


def open_store(settings: Settings, loop: asyncio.AbstractEventLoop) -> JsonApplicationRepository | PostgresStore:
    """Open the configured store on ``loop`` (the loop the bot will run on).

    Raises:
        StoreRefusedError: The data folder or the database was refused.
    """
    from castbot_hikari.app import process_owner  # noqa: PLC0415 - after settings
    from castbot_hikari.apply.store import JsonApplicationRepository  # noqa: PLC0415 - after settings

    if settings.store.kind == "postgres":  # no data folder: the database is the one truth of every process
        return loop.run_until_complete(connect_postgres(settings.store, process_owner()))
    try:
        return JsonApplicationRepository(open_document(settings.data_dir, create=False))
    except CorruptDataError as exc:
        raise StoreRefusedError(
            f"refusing to start: {exc}. Fix or move the file; its content was not changed.", ExitCode.DATA
        ) from None
    except DataFolderError as exc:
        raise StoreRefusedError(f"refusing to start: {exc}", ExitCode.DATA) from None


def run_bot() -> int:
    """Start the bot with settings from the environment; return the exit code."""
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return fail(str(exc))
    secrets = [settings.token] + ([settings.store.database_url] if settings.store.database_url else [])
    configure_logging(settings.log_level_number, secrets=secrets, json_lines=settings.ops.log_format == "json")
    from castbot_hikari.app import build_app  # noqa: PLC0415

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # GatewayBot.run takes the current loop: the store's pool lives on it
    try:
        repository = open_store(settings, loop)
    except StoreRefusedError as exc:
        loop.close()
        return fail(str(exc), exc.code)
    except KeyboardInterrupt:
        loop.close()
        return int(ExitCode.INTERRUPTED)
    try:
        loop.run_until_complete(check_discord(settings))
    except (DiscordCheckError, KeyboardInterrupt) as exc:
        loop.run_until_complete(repository.close())
        loop.close()
        if isinstance(exc, KeyboardInterrupt):
            return int(ExitCode.INTERRUPTED)
        return fail(str(exc), exc.code)
    app = build_app(settings, repository)
    if (refused := _listen(app, settings, loop)) is not None:
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


def _listen(app: App, settings: Settings, loop: asyncio.AbstractEventLoop) -> int | None:
    """Open the metrics and health port on the loop the bot will run on; an exit code if it cannot be bound."""
    if settings.ops.metrics_port is None:
        return None
    try:
        loop.run_until_complete(app.monitoring.listen())
    except OSError as exc:
        loop.run_until_complete(app.store.close())
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


def _postgres_settings(command: str) -> StoreSettings | int:
    """Return the PostgreSQL settings, or the exit code of a one-line error when they are missing or bad."""
    try:
        store = configured_store()
    except SettingsError as exc:
        return fail(str(exc))
    if store.kind != "postgres":
        return fail(
            f"'{command}' works on PostgreSQL: set CASTBOT_STORE=postgres and CASTBOT_DATABASE_URL "
            "(for the JSON data folder use 'castbot-hikari backup')"
        )
    return store


def _counts_line(counts: object) -> str:
    from castbot_hikari.pg.transfer import Counts  # noqa: PLC0415

    assert isinstance(counts, Counts)
    return (
        f"{plural(counts.guilds, 'server')}, {plural(counts.configs, 'Apply config')}, "
        f"{plural(counts.applications, 'application')}, "
        f"{plural(counts.pending, 'unfinished apply', 'unfinished applies')}, "
        f"{plural(counts.notices, 'queued notice')}, {plural(counts.undelivered, 'undelivered result')}"
    )


def migrate_database() -> int:
    """Bring the PostgreSQL schema up to date (``castbot-hikari migrate``)."""
    store = _postgres_settings("migrate")
    if isinstance(store, int):
        return store

    async def go() -> list[str]:
        from castbot_hikari.pg.migrate import SchemaError, migrate  # noqa: PLC0415

        pg = await connect_postgres(store, "castbot-hikari migrate", apply_migrations=False)
        try:
            async with pg.pool.acquire() as conn:
                return await migrate(conn)
        except SchemaError as exc:
            raise StoreRefusedError(str(exc), ExitCode.DATA) from None
        finally:
            await pg.close()

    try:
        applied = asyncio.run(go())
    except StoreRefusedError as exc:
        return fail(str(exc), exc.code)
    where = redact_url(store.database_url or "")
    if applied:
        sys.stdout.write(f"applied {plural(len(applied), 'migration')} to {where}: {', '.join(applied)}\n")
    else:
        sys.stdout.write(f"the schema of {where} was already up to date\n")
    return int(ExitCode.OK)


def import_postgres(path: Path, *, force: bool) -> int:
    """Check a CastBot data file and load it into PostgreSQL; print what it holds."""
    from castbot_hikari.castbot import importer  # noqa: PLC0415 - keeps `run` light
    from castbot_hikari.pg.transfer import DatabaseNotEmptyError, import_document  # noqa: PLC0415

    store = _postgres_settings("import")
    if isinstance(store, int):
        return store
    try:
        raw = path.read_bytes()
        importer.check(raw, str(path))
    except OSError as exc:
        return fail(f"nothing was imported: cannot read {path}: {exc.strerror or exc}", ExitCode.DATA)
    except importer.ImportRefusedError as exc:
        return fail(f"nothing was imported: {exc}", ExitCode.DATA)

    async def go() -> object:
        pg = await connect_postgres(store, "castbot-hikari import")
        try:
            async with pg.pool.acquire() as conn:
                return await import_document(conn, orjson.loads(raw), replace=force)
        finally:
            await pg.close()

    try:
        counts = asyncio.run(go())
    except StoreRefusedError as exc:
        return fail(str(exc), exc.code)
    except DatabaseNotEmptyError:
        return fail(
            f"nothing was imported: the database at {redact_url(store.database_url or '')} already holds data; "
            "use --force to replace it (export it first to keep a copy)",
            ExitCode.DATA,
        )
    sys.stdout.write(f"imported {path} into PostgreSQL: {_counts_line(counts)}\n")
    return int(ExitCode.OK)


def export_postgres(dest: Path, *, force: bool) -> int:
    """Write PostgreSQL's data as one CastBot ``playerData.json`` (``castbot-hikari export``)."""
    from castbot_hikari.castbot import backup  # noqa: PLC0415
    from castbot_hikari.pg.transfer import export_document  # noqa: PLC0415

    store = _postgres_settings("export")
    if isinstance(store, int):
        return store

    async def go() -> tuple[dict[str, object], object]:
        pg = await connect_postgres(store, "castbot-hikari export")
        try:
            async with pg.pool.acquire() as conn:
                return await export_document(conn)
        finally:
            await pg.close()

    try:
        doc, counts = asyncio.run(go())
        target = backup.write_backup(backup.Backup(doc, 0, 0), dest, force=force)
    except StoreRefusedError as exc:
        return fail(str(exc), exc.code)
    except backup.BackupError as exc:
        return fail(f"nothing was exported: {exc}", ExitCode.DATA)
    sys.stdout.write(f"exported PostgreSQL into {target}: {_counts_line(counts)}\n")
    return int(ExitCode.OK)


def import_data(path: Path, data_dir: Path | None, *, force: bool) -> int:
    """Check and copy a CastBot data file; print what it holds; return the exit code."""
    from castbot_hikari.castbot import importer  # noqa: PLC0415 - keeps `run` light

    try:
        if data_dir is None and configured_store().kind == "postgres":
            return import_postgres(path, force=force)
    except SettingsError as exc:
        return fail(str(exc))

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
        "import",
        help="check a CastBot playerData.json and copy it into the data folder, or into PostgreSQL with "
        "CASTBOT_STORE=postgres (stop the bot first)",
    )
    importing.add_argument("path", type=Path, help="the CastBot playerData.json to import")
    importing.add_argument(
        "--force", action="store_true", help="replace existing data (the JSON folder keeps a .bak copy)"
    )
    importing.add_argument("--data-dir", type=Path, default=None, help=data_dir_help + "; given: the JSON folder")
    exporting = commands.add_parser(
        "export", help="write PostgreSQL's data (CASTBOT_STORE=postgres) as one CastBot playerData.json"
    )
    exporting.add_argument("dest", type=Path, help="the file to write (or a folder to hold playerData.json)")
    exporting.add_argument("--force", action="store_true", help="replace DEST if it exists")
    commands.add_parser(
        "migrate", help="bring PostgreSQL's schema up to date (CASTBOT_STORE=postgres; 'run' does it too)"
    )
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
    if args.command == "export":
        return export_postgres(args.dest, force=args.force)
    if args.command == "migrate":
        return migrate_database()
    if args.command == "backup":
        return backup_data(args.dest, args.data_dir, force=args.force)
    if args.command == "sandbox":
        return run_sandbox(args)
    if args.command == "bench":
        from castbot_hikari.bench import cli as bench_cli  # noqa: PLC0415

        return bench_cli.main(args)
    return fail(f"unknown command {args.command!r}")  # pragma: no cover - argparse rejects it first
