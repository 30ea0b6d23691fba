"""Small helpers for sentences the command line prints."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """Return ``"1 server"`` or ``"2 servers"`` (``plural_form`` for nouns that do not just take an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural_form or noun + 's'}"
