"""Secrets never reach a log line: interaction tokens in URLs, the bot token, in messages and tracebacks."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import orjson
import pytest

from castbot_hikari.logs import RedactSecrets, configure_logging, redact

TOKEN = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OnNlY3JldA"
URL = f"https://discord.com/api/v10/interactions/1234567890/{TOKEN}/callback?with_response=true"


def logged(record_it: Callable[[logging.Logger], None]) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets(["MTIz.bot.token-secret"]))
    logger = logging.getLogger("test.redaction")
    logger.handlers, logger.propagate = [handler], False
    try:
        record_it(logger)
    finally:
        logger.handlers = []
    return stream.getvalue()


def test_tokens_in_urls_are_redacted_in_messages() -> None:
    out = logged(lambda log: log.warning("defer failed error=%s", f"Service Unavailable 503: for {URL}"))
    assert TOKEN not in out
    assert "/interactions/1234567890/<redacted>/callback" in out


def test_webhook_tokens_and_the_bot_token_are_redacted() -> None:
    webhook = f"/webhooks/987654321/{TOKEN}/messages/@original"
    out = logged(lambda log: log.error("edit failed %s with MTIz.bot.token-secret", webhook))
    assert TOKEN not in out
    assert "MTIz.bot.token-secret" not in out
    assert redact(webhook) == "/webhooks/987654321/<redacted>/messages/@original"


def test_tokens_in_tracebacks_are_redacted() -> None:
    def boom(log: logging.Logger) -> None:
        try:
            raise RuntimeError(f"request to {URL} failed")
        except RuntimeError:
            log.exception("unexpected")

    out = logged(boom)
    assert "Traceback" in out
    assert TOKEN not in out


def test_configure_logging_redacts_every_line_the_process_writes(capsys: pytest.CaptureFixture[str]) -> None:
    """The filter sits on the root handlers, so third-party loggers (hikari's, aiohttp's) are covered too."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging(logging.INFO, secrets=["MTIz.bot.token-secret"])
        logging.getLogger("hikari.rest").warning("Received status 503 for %s", URL)
        logging.getLogger("aiohttp.client").error("token MTIz.bot.token-secret rejected")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved, level
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "MTIz.bot.token-secret" not in err
    assert err.count("<redacted>") == 2


def test_json_lines_parse_carry_the_text_fields_and_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        configure_logging(logging.INFO, secrets=["MTIz.bot.token-secret"], json_lines=True)
        logging.getLogger("castbot_hikari.apply.service").info("apply guild=%s outcome=%s", 12, "created")
        logging.getLogger("hikari.rest").warning("Received status 503 for %s with MTIz.bot.token-secret", URL)
        try:
            raise RuntimeError(f"request to {URL} failed")
        except RuntimeError:
            logging.getLogger("castbot_hikari.app").exception("unexpected")
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, root.level = saved, level
    err = capsys.readouterr().err
    lines = [orjson.loads(line) for line in err.splitlines()]
    assert [(x["level"], x["logger"]) for x in lines] == [
        ("INFO", "castbot_hikari.apply.service"),
        ("WARNING", "hikari.rest"),
        ("ERROR", "castbot_hikari.app"),
    ]
    assert lines[0]["message"] == "apply guild=12 outcome=created"
    assert lines[0]["time"].endswith("+00:00")
    assert "exc_info" not in lines[0]
    assert lines[2]["exc_info"].startswith("Traceback")
    assert "/interactions/1234567890/<redacted>/callback" in lines[2]["exc_info"]
    assert TOKEN not in err
    assert "MTIz.bot.token-secret" not in err
