"""Settings from the environment (and an optional ``.env``): the only module that reads them."""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from dotenv import dotenv_values

DISCORD_API_URL: Final = "https://discord.com/api/v10"
LOG_LEVELS: Final = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LOG_FORMATS: Final = ("text", "json")


VARIABLES: Final = (
    ("CASTBOT_TOKEN", "(required)", "the bot token (Developer Portal > Bot), without a 'Bot ' prefix"),
    ("CASTBOT_API_URL", DISCORD_API_URL, "REST base URL including /api/v10 (any Discord-compatible API)"),
    ("CASTBOT_DATA_DIR", "./data", "folder of playerData.json and its journal"),
    ("CASTBOT_LOG_LEVEL", "INFO", ", ".join(LOG_LEVELS)),
    ("CASTBOT_APPLY_TIMEOUT", "600", "seconds after which one apply is stopped with a clear message"),
    ("CASTBOT_MAX_CONCURRENT_APPLIES", "200", "applies doing their work at once (more clicks wait their turn)"),
    ("CASTBOT_MAX_CONCURRENT_APPLIES_PER_SERVER", "10", "applies doing their work at once in one server"),
    ("CASTBOT_CREATE_CONFIRM_WINDOW", "60", "seconds an unconfirmed channel creation may still land"),
    (
        "CASTBOT_GLOBAL_RATE",
        "45",
        "REST requests this process sends at most in any one second (Discord allows 50 per bot)",
    ),
    ("CASTBOT_SHARD_IDS", "(all)", "the shards this process runs, e.g. 0-3 or 0,2 (needs CASTBOT_SHARD_COUNT)"),
    ("CASTBOT_SHARD_COUNT", "(Discord's)", "shards of the whole bot, all processes together"),
    ("CASTBOT_METRICS_PORT", "(off)", "port of /metrics, /livez and /readyz (0: any free port)"),
    ("CASTBOT_METRICS_HOST", "127.0.0.1", "address the metrics and health endpoints listen on"),
    ("CASTBOT_LOG_FORMAT", "text", "text (one line per record) or json (one JSON object per line)"),
    ("CASTBOT_STORE", "json", "json (playerData.json, one process) or postgres (shared by several processes)"),
    ("CASTBOT_DATABASE_URL", "(none)", "postgresql://user:password@host:5432/dbname (with CASTBOT_STORE=postgres)"),
    (
        "CASTBOT_LEASE_SECONDS",
        "60",
        "postgres: seconds a dead process's applies stay reserved before another process takes them over",
    ),
)
"""Every setting ``Settings.from_env`` reads: (name, default, meaning), for ``run --help``."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says what is expected."""


def bot_id_from_token(token: str) -> int:
    """Return the bot's user id, which a bot token carries base64-encoded in its first segment.

    Raises:
        ValueError: The token does not have that shape.
    """
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError("a bot token has three dot-separated parts")
    first = parts[0] + "=" * (-len(parts[0]) % 4)
    try:
        decoded = base64.b64decode(first, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("the token's first part is not a base64 user id") from exc
    if not decoded.isdigit():
        raise ValueError("the token's first part is not a base64 user id")
    return int(decoded)


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, got {raw!r}")
    return value


def _api_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"CASTBOT_API_URL must be an http(s) URL such as {DISCORD_API_URL}, got {raw!r}")
    return raw.rstrip("/")


def environment(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> dict[str, str]:
    """Return the settings' sources merged: the process environment wins over the ``.env`` file."""
    values: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def data_dir_of(values: Mapping[str, str]) -> Path:
    """Return ``CASTBOT_DATA_DIR`` from merged settings (``./data`` when unset)."""
    return Path(values.get("CASTBOT_DATA_DIR", "").strip() or "data")


def configured_data_dir(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Path:
    """Return the data folder as the bot reads it, for commands that need no token (``import``)."""
    return data_dir_of(environment(environ, env_file))


def _shard_ids(raw: str) -> tuple[int, ...]:
    """Parse ``0-3``, ``0,2`` or ``0-1,5`` into sorted, distinct shard ids."""
    ids: set[int] = set()
    for part in raw.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise SettingsError(f"CASTBOT_SHARD_IDS must list shard numbers such as 0-3 or 0,2, got {raw!r}") from None
        if first < 0 or last < first:
            raise SettingsError(f"CASTBOT_SHARD_IDS has a bad range {part.strip()!r} in {raw!r}")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"CASTBOT_METRICS_PORT must be a port number (0-65535), got {raw!r}") from None
    if not 0 <= value <= 65535:
        raise SettingsError(f"CASTBOT_METRICS_PORT must be between 0 and 65535, got {raw!r}")
    return value


@dataclass(frozen=True, slots=True)
class OpsSettings:
    """How the bot runs at scale: its shards, the metrics and health endpoint, the log format.

    Attributes:
        shard_ids: The shards this process runs (``None``: every shard of ``shard_count``).
        shard_count: Shards of the whole bot (``None``: the count Discord recommends in ``GET /gateway/bot``).
        metrics_host: Address of the metrics and health endpoint.
        metrics_port: Its port; ``None`` switches it off, ``0`` takes any free port (the log says which).
        log_format: ``text`` or ``json``.
    """

    shard_ids: tuple[int, ...] | None = None
    shard_count: int | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    log_format: str = "text"

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> OpsSettings:
        """Read the ``CASTBOT_SHARD_*``, ``CASTBOT_METRICS_*`` and ``CASTBOT_LOG_FORMAT`` settings.

        Raises:
            SettingsError: A setting is malformed, or the shards do not fit together.
        """
        raw_ids = values.get("CASTBOT_SHARD_IDS", "").strip()
        raw_count = values.get("CASTBOT_SHARD_COUNT", "").strip()
        ids = _shard_ids(raw_ids) if raw_ids else None
        count = _positive_int("CASTBOT_SHARD_COUNT", raw_count) if raw_count else None
        if ids is not None and count is None:
            raise SettingsError(
                "CASTBOT_SHARD_IDS needs CASTBOT_SHARD_COUNT: the number of shards of all processes together"
            )
        if ids is not None and count is not None and ids[-1] >= count:
            raise SettingsError(
                f"CASTBOT_SHARD_IDS has shard {ids[-1]}, but shards go 0-{count - 1} (CASTBOT_SHARD_COUNT)"
            )
        host = values.get("CASTBOT_METRICS_HOST", "").strip() or "127.0.0.1"
        if any(c.isspace() or c in "/[]" for c in host):
            raise SettingsError(f"CASTBOT_METRICS_HOST must be an address such as 127.0.0.1, got {host!r}")
        raw_port = values.get("CASTBOT_METRICS_PORT", "").strip()
        log_format = values.get("CASTBOT_LOG_FORMAT", "").strip().lower() or "text"
        if log_format not in LOG_FORMATS:
            raise SettingsError(f"CASTBOT_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
        return cls(ids, count, host, _port(raw_port) if raw_port else None, log_format)


STORES: Final = ("json", "postgres")


def redact_url(url: str) -> str:
    """Return a database URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Where the data lives.

    Attributes:
        kind: ``json`` (``playerData.json`` in the data folder, owned by one process) or ``postgres``.
        database_url: The ``postgresql://`` URL (``postgres`` only; never printed: excluded from ``repr``).
        lease_s: How long a reservation of a process that stopped renewing it stays reserved (``postgres``).
    """

    kind: str = "json"
    database_url: str | None = field(default=None, repr=False)
    lease_s: float = 60.0

    @classmethod
    def from_values(cls, values: Mapping[str, str]) -> StoreSettings:
        """Read ``CASTBOT_STORE``, ``CASTBOT_DATABASE_URL`` and ``CASTBOT_LEASE_SECONDS``.

        Raises:
            SettingsError: A setting is malformed, or ``postgres`` has no URL.
        """
        kind = values.get("CASTBOT_STORE", "").strip().lower() or "json"
        if kind not in STORES:
            raise SettingsError(f"CASTBOT_STORE must be one of {', '.join(STORES)}, got {kind!r}")
        url = values.get("CASTBOT_DATABASE_URL", "").strip() or None
        lease = _positive_float("CASTBOT_LEASE_SECONDS", values.get("CASTBOT_LEASE_SECONDS", "60"))
        if kind == "json":
            return cls("json", None, lease)
        if url is None:
            raise SettingsError(
                "CASTBOT_STORE=postgres needs CASTBOT_DATABASE_URL, e.g. postgresql://castbot:PASSWORD@localhost:5432/castbot"
            )
        scheme = urlsplit(url).scheme
        if scheme not in ("postgresql", "postgres"):
            raise SettingsError(
                f"CASTBOT_DATABASE_URL must start with postgresql:// (e.g. postgresql://castbot@localhost/castbot), "
                f"got a {scheme or 'schemeless'!s} URL"
            )
        return cls("postgres", url, lease)


def configured_store(environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> StoreSettings:
    """Return the store as the bot reads it, for commands that need no token (``migrate``, ``import``)."""
    return StoreSettings.from_values(environment(environ, env_file))


@dataclass(frozen=True, slots=True)
class Settings:
    """The bot's configuration.

    Attributes:
        token: The bot token (never printed: excluded from ``repr``).
        api_url: REST base URL including ``/api/v10``; any Discord-compatible API works.
        data_dir: Folder of ``playerData.json``.
        log_level: Logging level name.
        apply_timeout: Seconds after which an apply is stopped with a clear message.
        max_concurrent_applies: Applies that do their work at once in all servers (the rest wait, acknowledged).
        max_concurrent_applies_per_server: Applies that do their work at once in one server.
        create_confirm_window: Seconds during which a channel creation Discord did not confirm (a 5xx, a
            timeout) may still appear: nothing is created again, and no reservation released, before it ends.
        global_rate: REST requests (outside interaction callbacks and webhooks) this process sends at most
            in any one second; Discord allows a bot 50 in all.
        ops: Shards, the metrics and health endpoint, the log format.
        store: Where the data lives (the JSON file, or PostgreSQL).
    """

    token: str = field(repr=False)
    api_url: str = DISCORD_API_URL
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    apply_timeout: float = 600.0
    max_concurrent_applies: int = 200
    max_concurrent_applies_per_server: int = 10
    create_confirm_window: float = 60.0
    global_rate: float = 45.0
    ops: OpsSettings = OpsSettings()
    store: StoreSettings = StoreSettings()

    @property
    def bot_user_id(self) -> int:
        """Return the bot's user id from its token."""
        return bot_id_from_token(self.token)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
        """Read settings; the process environment wins over the ``.env`` file.

        Raises:
            SettingsError: A setting is missing or malformed (the message names it).
        """
        values = environment(environ, env_file)
        token = values.get("CASTBOT_TOKEN", "").strip()
        if not token:
            raise SettingsError("CASTBOT_TOKEN is not set: put your bot token in the environment or in .env")
        if token.lower().startswith("bot "):
            raise SettingsError("CASTBOT_TOKEN starts with 'Bot ': set the token alone, without the 'Bot ' prefix")
        try:
            bot_id_from_token(token)
        except ValueError as exc:
            raise SettingsError(f"CASTBOT_TOKEN is malformed: {exc}") from None
        level = values.get("CASTBOT_LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            raise SettingsError(f"CASTBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        return cls(
            token=token,
            api_url=_api_url(values.get("CASTBOT_API_URL", "").strip() or DISCORD_API_URL),
            data_dir=data_dir_of(values),
            log_level=level,
            apply_timeout=_positive_float("CASTBOT_APPLY_TIMEOUT", values.get("CASTBOT_APPLY_TIMEOUT", "600")),
            global_rate=_positive_float("CASTBOT_GLOBAL_RATE", values.get("CASTBOT_GLOBAL_RATE", "45")),
            create_confirm_window=_positive_float(
                "CASTBOT_CREATE_CONFIRM_WINDOW", values.get("CASTBOT_CREATE_CONFIRM_WINDOW", "60")
            ),
            max_concurrent_applies=_positive_int(
                "CASTBOT_MAX_CONCURRENT_APPLIES", values.get("CASTBOT_MAX_CONCURRENT_APPLIES", "200")
            ),
            max_concurrent_applies_per_server=_positive_int(
                "CASTBOT_MAX_CONCURRENT_APPLIES_PER_SERVER",
                values.get("CASTBOT_MAX_CONCURRENT_APPLIES_PER_SERVER", "10"),
            ),
            ops=OpsSettings.from_values(values),
            store=StoreSettings.from_values(values),
        )

    @property
    def log_level_number(self) -> int:
        """Return the numeric logging level."""
        return logging.getLevelNamesMapping()[self.log_level]
