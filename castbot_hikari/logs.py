"""Logging set-up, once per process, with secrets redacted from every line that reaches a handler.

Interaction tokens travel in request URLs (``/interactions/<id>/<token>/callback``,
``/webhooks/<application id>/<token>/...``), and hikari puts the URL into its error texts, so any
exception a log line carries could hold one; the bot token could appear in a misconfigured proxy's
error. ``RedactSecrets`` sits on the handlers, so it covers the bot's own lines, hikari's, lightbulb's
and aiohttp's, messages and tracebacks alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

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


def configure_logging(level: int, *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr, one line per record with the logger's name; redact tokens and ``secrets``."""
    logging.basicConfig(level=level, format=_FORMAT, force=True)
    redactor = RedactSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
    # hikari's own per-request debug output is noise at the bot's DEBUG level.
    logging.getLogger("hikari").setLevel(max(level, logging.INFO))
