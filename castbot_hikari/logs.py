"""Logging set-up, once per process, with secrets redacted from every line that reaches a handler.

Interaction tokens travel in request URLs (``/interactions/<id>/<token>/callback``,
``/webhooks/<application id>/<token>/...``), and hikari puts the URL into its error texts, so any
exception a log line carries could hold one; the bot token could appear in a misconfigured proxy's
error. ``RedactSecrets`` sits on the handlers, so it covers the bot's own lines, hikari's, lightbulb's
and aiohttp's, messages and tracebacks alike, whichever format the handler writes (text or JSON lines).
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Iterable
from typing import Final

import orjson

REDACTED: Final = "<redacted>"
_TOKEN_IN_URL: Final = re.compile(r"(/(?:interactions|webhooks)/\d+/)([^/\s'\"?#]+)")
_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with interaction tokens in URLs and every given secret replaced by ``<redacted>``."""
    text = _TOKEN_IN_URL.sub(rf"\g<1>{REDACTED}", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """A handler filter that redacts secrets from a record's message, traceback and stack."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if len(s) >= 8)  # never redact short, common strings
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place (the record is then formatted as usual); never drops a record."""
        message = redact(record.getMessage(), self._secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._secrets)
        record.msg, record.args = message, None
        return True


class JsonLines(logging.Formatter):
    """Format a record as one JSON object: the fields of the text lines, for log collectors.

    ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger`` and ``message``, plus ``exc_info`` and
    ``stack_info`` when the record has them. It formats what ``RedactSecrets`` left on the record (the
    handler's filters run before its formatter), so the JSON is redacted like the text.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        created = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        line: dict[str, str] = {
            "time": created.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return orjson.dumps(line).decode()


def configure_logging(level: int, *, secrets: Iterable[str] = (), json_lines: bool = False) -> None:
    """Log to stderr, one line per record (text with the logger's name, or JSON); redact tokens and ``secrets``."""
    logging.basicConfig(level=level, format=_FORMAT, force=True)
    redactor = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
        if json_lines:
            handler.setFormatter(JsonLines())
    # hikari's own per-request debug output is noise at the bot's DEBUG level.
    logging.getLogger("hikari").setLevel(max(level, logging.INFO))
