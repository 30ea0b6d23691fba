"""Count Discord's 429s and the answers its invalid-request ban counts, from every REST response.

hikari waits out 429s and retries inside its REST client, so the bot's own code never sees most of
them: they are counted where the responses arrive, with an aiohttp trace on the client's session.
hikari 2.6.0 has no public hook for this; its REST client keeps the session in ``_client_session``,
and aiohttp's ``ClientSession.trace_configs`` (public) takes a trace after the session exists. If a
later hikari moves the session, ``watch`` logs a warning and the counters stay at 0
(``tests/monitoring`` fails first, against the emulator).
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import aiohttp

from castbot_hikari.core import metrics as names
from castbot_hikari.core.metrics import Metrics

logger = logging.getLogger(__name__)

INVALID_STATUSES = frozenset({401, 403, 429})
"""What Discord counts towards its ban of 10,000 invalid requests in 10 minutes (429s of a shared bucket excepted)."""


def classify(status: int, scope_header: str | None) -> list[str]:
    """Return the dotted counters one response moves (none for most responses).

    Args:
        status: The HTTP status.
        scope_header: ``X-RateLimit-Scope`` of the response, if any.
    """
    counters: list[str] = []
    scope = (scope_header or "none").lower()
    if status == 429:
        counters.append(names.DISCORD_RATE_LIMITED + (scope if scope in names.RATE_LIMIT_SCOPES else "none"))
    if status in INVALID_STATUSES and not (status == 429 and scope == "shared"):
        counters.append(names.DISCORD_INVALID + str(status))
    return counters


class ResponseCounter:
    """An aiohttp trace that counts 429s by scope and invalid requests by status into ``metrics``."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)
        self.trace.freeze()

    async def _on_end(
        self, _session: aiohttp.ClientSession, _context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        response = params.response
        for name in classify(response.status, response.headers.get("X-RateLimit-Scope")):
            self._metrics.incr(name)

    def watch(self, rest: object) -> bool:
        """Count the responses of a started hikari REST client; return whether it could be watched."""
        session = getattr(rest, "_client_session", None)
        if not isinstance(session, aiohttp.ClientSession):
            logger.warning("cannot count Discord's 429s and invalid requests: this hikari keeps no REST session")
            return False
        if self.trace not in session.trace_configs:
            session.trace_configs.append(self.trace)
        return True
