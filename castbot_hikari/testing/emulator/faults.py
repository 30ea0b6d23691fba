"""Fault injection and per-route latency for the emulator's REST API."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

import orjson

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


AFTER_MODES: Final = frozenset({"status", "drop", "hang", "malformed"})
"""How a fault that lets the action happen answers: an error status, no response, a held then dropped
connection, or a 200 with a broken body."""

MalformedBody = bytes | str | Callable[[object], object] | JSONObject | list[object] | None
"""What ``after="malformed"`` sends: raw bytes/text, a function of the real JSON body, or a JSON value
(``None``: the real body cut in half, i.e. truncated JSON)."""


@dataclass(slots=True)
class FaultRule:
    """One injected fault: the next ``remaining`` matching requests fail with this response.

    Attributes:
        after: ``None`` for a fault before the action (nothing happens); else the action happens
            first (state changes, gateway events) and the client gets ``"status"`` (``status`` with
            Discord's JSON error body), ``"drop"`` (the connection closes without a response),
            ``"hang"`` (the response is held ``hang`` seconds, or until the client disconnects, then
            dropped) or ``"malformed"`` (200 with ``malformed`` as the body).
        late: With ``after``: the client gets its answer at once and the action lands ``late``
            seconds after that answer ended (see :class:`LateActions`).
        hits: The requests it failed.
        outcomes: ``(status, body)`` of each action it let happen (for ``late``: when it landed).
    """

    method: str
    route: str
    status: int
    code: int
    message: str
    remaining: int
    retry_after: float | None = None
    match: Callable[[RequestInfo], bool] | None = None
    after: str | None = None
    hang: float | None = None
    malformed: MalformedBody = None
    late: float | None = None
    hits: list[RequestInfo] = field(default_factory=list[RequestInfo])
    outcomes: list[tuple[int, object]] = field(default_factory=list[tuple[int, object]])

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

    def malformed_body(self, real: object) -> bytes:
        """Return the broken body sent instead of ``real`` (the action's JSON) for ``after="malformed"``."""
        spec = self.malformed
        if spec is None:
            encoded = orjson.dumps(real)
            return encoded[: max(1, len(encoded) // 2)]
        if isinstance(spec, bytes):
            return spec
        if isinstance(spec, str):
            return spec.encode()
        if callable(spec):
            return orjson.dumps(spec(copy.deepcopy(real)))
        return orjson.dumps(spec)


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
        after: str | None = None,
        hang: float | None = None,
        body: MalformedBody = None,
        late: float | None = None,
    ) -> FaultRule:
        """Make the next ``count`` matching requests fail, before or after their action.

        Args:
            method: HTTP method (or ``"*"``).
            route: Route template as in ``RequestRecord.route_template`` (or ``"*"``).
            status: HTTP status to answer with (before the action, or with ``after="status"``).
            code: Discord error code in the body.
            message: Error message; defaults to e.g. ``"500: Internal Server Error"``.
            count: How many requests fail.
            retry_after: For 429: seconds in ``Retry-After`` and the body's ``retry_after``.
            match: Optional predicate; only requests for which it returns ``True`` fail.
            after: ``None``: fail before the action (nothing happens). ``"status"``, ``"drop"``,
                ``"hang"`` or ``"malformed"``: the action happens, then the client gets that instead
                of the real answer (see :class:`FaultRule`).
            hang: For ``after="hang"``: seconds to hold the response before dropping the
                connection; ``None`` holds it until the client disconnects.
            body: For ``after="malformed"``: the 200's body (see :data:`MalformedBody`), e.g.
                ``{}``, ``b'{"id": "12'`` or ``lambda channel: {**channel, "id": None}``.
            late: With ``after`` ``"status"``, ``"drop"`` or ``"hang"``: answer at once and let the
                action land ``late`` seconds after the answer ended (await ``emu.late.wait()``).

        Returns:
            The rule (``hits`` lists the requests it failed, ``outcomes`` what their actions returned).

        Raises:
            KeyError: If ``method route`` is not a route the emulator serves.
            ValueError: For an unknown ``after`` mode, or ``late`` without a mode that allows it.
        """
        _check_route(self._known, method, route)
        _check_mode(after, late, hang)
        if message is None:
            message = f"{status}: {_phrase(status)}"
        rule = FaultRule(
            method.upper(), route, status, code, message, count, retry_after, match, after, hang, body, late
        )
        self.rules.append(rule)
        return rule

    def take(self, info: RequestInfo, *, acting: bool = True) -> FaultRule | None:
        """Consume and return the first rule matching a request, if any.

        ``acting=False`` (the request is refused before its action, e.g. by strict validation)
        leaves the ``after`` rules for a later request.
        """
        if not self.rules:
            return None
        for rule in self.rules:
            if (acting or rule.after is None) and rule.applies_to(info):
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


def _check_mode(after: str | None, late: float | None, hang: float | None) -> None:
    if after is not None and after not in AFTER_MODES:
        msg = f"after must be one of {sorted(AFTER_MODES)} or None, not {after!r}"
        raise ValueError(msg)
    if late is not None and (after is None or after == "malformed" or late < 0):
        msg = "late needs after='status', 'drop' or 'hang' and a delay >= 0"
        raise ValueError(msg)
    if hang is not None and (after != "hang" or hang < 0):
        msg = "hang needs after='hang' and a duration >= 0"
        raise ValueError(msg)


def _check_route(known: Collection[str], method: str, route: str) -> None:
    if method == "*" or route == "*":
        return
    if f"{method.upper()} {route}" not in known:
        msg = f"the emulator serves no route {method.upper()} {route}; known: {sorted(known)}"
        raise KeyError(msg)
