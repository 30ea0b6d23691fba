"""Fault injection and per-route latency for the emulator's REST API."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus

from castbot_hikari.testing.emulator.state import JSONObject


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a fault's ``match`` predicate sees of a request.

    Attributes:
        method: HTTP method, upper case.
        path: Path after ``/api/v10``.
        route: The route template, e.g. ``"/guilds/{guild_id}/channels"``.
        params: Path parameters by template name, e.g. ``{"guild_id": "123"}``.
        query: Query parameters.
        body: Parsed JSON body (``payload_json`` for multipart), or ``None``.
    """

    method: str
    path: str
    route: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: object


@dataclass(slots=True)
class FaultRule:
    """One injected fault: the next ``remaining`` matching requests fail with this response."""

    method: str
    route: str
    status: int
    code: int
    message: str
    remaining: int
    retry_after: float | None = None
    match: Callable[[RequestInfo], bool] | None = None
    hits: list[RequestInfo] = field(default_factory=list[RequestInfo])

    def applies_to(self, info: RequestInfo) -> bool:
        """Whether this rule matches a request (and still has uses left)."""
        if self.remaining <= 0:
            return False
        if self.method not in ("*", info.method) or self.route not in ("*", info.route):
            return False
        return self.match is None or self.match(info)

    def body(self) -> JSONObject:
        """Return the JSON error body (a 429 body also carries ``retry_after`` and ``global``)."""
        payload: JSONObject = {"message": self.message, "code": self.code}
        if self.status == 429:
            payload.update(retry_after=self.retry_after or 0.0, **{"global": False})
        return payload


class FaultInjector:
    """Queue of injected faults, consumed in insertion order by matching requests."""

    def __init__(self, known_routes: Collection[str]) -> None:
        self._known = known_routes
        self.rules: list[FaultRule] = []

    def inject(
        self,
        *,
        method: str,
        route: str,
        status: int = 500,
        code: int = 0,
        message: str | None = None,
        count: int = 1,
        retry_after: float | None = None,
        match: Callable[[RequestInfo], bool] | None = None,
    ) -> FaultRule:
        """Make the next ``count`` matching requests fail.

        Args:
            method: HTTP method (or ``"*"``).
            route: Route template as in ``RequestRecord.route_template`` (or ``"*"``).
            status: HTTP status to answer with.
            code: Discord error code in the body.
            message: Error message; defaults to e.g. ``"500: Internal Server Error"``.
            count: How many requests fail.
            retry_after: For 429: seconds in ``Retry-After`` and the body's ``retry_after``.
            match: Optional predicate; only requests for which it returns ``True`` fail.

        Returns:
            The rule (its ``hits`` list records the requests it failed).

        Raises:
            KeyError: If ``method route`` is not a route the emulator serves.
        """
        _check_route(self._known, method, route)
        if message is None:
            message = f"{status}: {_phrase(status)}"
        rule = FaultRule(method.upper(), route, status, code, message, count, retry_after, match)
        self.rules.append(rule)
        return rule

    def take(self, info: RequestInfo) -> FaultRule | None:
        """Consume and return the first rule matching a request, if any."""
        if not self.rules:
            return None
        for rule in self.rules:
            if rule.applies_to(info):
                rule.remaining -= 1
                rule.hits.append(info)
                return rule
        return None

    def clear(self) -> None:
        """Remove every pending fault."""
        self.rules.clear()


@dataclass(frozen=True, slots=True)
class Latency:
    """A latency distribution in seconds."""

    low: float
    high: float

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        """Always ``seconds``."""
        return cls(seconds, seconds)

    @classmethod
    def uniform(cls, low: float, high: float) -> Latency:
        """Uniformly distributed in ``[low, high]``."""
        if high < low:
            msg = f"high ({high}) < low ({low})"
            raise ValueError(msg)
        return cls(low, high)

    def sample(self, rng: random.Random) -> float:
        """Draw one latency."""
        return self.low if self.low == self.high else rng.uniform(self.low, self.high)


class LatencyTable:
    """Per-route latencies, keyed ``"METHOD /route/{template}"`` (``"*"`` sets the default)."""

    def __init__(self, known_routes: Collection[str], seed: int | None) -> None:
        self._known = known_routes
        self._rng = random.Random(seed)  # noqa: S311 - simulated latency, not security
        self._table: dict[str, Latency] = {}
        self._default: Latency | None = None

    def set(self, key: str, latency: Latency | None) -> None:
        """Set (or with ``None`` clear) the latency of one route, or of all routes with ``"*"``.

        Raises:
            KeyError: If ``key`` names no route the emulator serves.
        """
        if key == "*":
            self._default = latency
            return
        method, _, route = key.partition(" ")
        _check_route(self._known, method, route)
        if latency is None:
            self._table.pop(f"{method.upper()} {route}", None)
        else:
            self._table[f"{method.upper()} {route}"] = latency

    def sample(self, key: str) -> float:
        """Return the delay to apply to a request for ``key`` (0.0 when none is set)."""
        latency = self._table.get(key, self._default)
        return 0.0 if latency is None else latency.sample(self._rng)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _check_route(known: Collection[str], method: str, route: str) -> None:
    if method == "*" or route == "*":
        return
    if f"{method.upper()} {route}" not in known:
        msg = f"the emulator serves no route {method.upper()} {route}; known: {sorted(known)}"
        raise KeyError(msg)
