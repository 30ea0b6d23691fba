"""The REST request pipeline: ban check, parse, validate, authorise, delay, rate-limit, faults, handle, record."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import orjson
from aiohttp import BodyPartReader, web

from castbot_hikari.testing.emulator import abuse, errors
from castbot_hikari.testing.emulator.abuse import InvalidRequests
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.faults import FaultInjector, FaultRule, LatencyTable, RequestInfo
from castbot_hikari.testing.emulator.late import LateAction, LateActions
from castbot_hikari.testing.emulator.ratelimits import RateLimitTable
from castbot_hikari.testing.emulator.routing import Call, Route, Router, Upload

if TYPE_CHECKING:
    from castbot_hikari.testing.openapi import OpenAPIValidator

logger = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v10"
_JSON: Final = "application/json"
_TEXT: Final = "text/plain"
MAX_HANG: Final = 900.0
"""Longest a ``hang`` fault without a duration holds a connection the client keeps open."""
_HOLD_POLL: Final = 0.02
Outcome = tuple[int, object, Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One REST request the emulator answered.

    Attributes:
        t: Emulator clock time when it arrived.
        method: HTTP method.
        path: Path after ``/api/v10``.
        route_template: The matched template, or ``None`` for unserved routes.
        query: Query parameters.
        body: Parsed body (``payload_json`` for multipart) or ``None``.
        status: HTTP status sent; 0 when the connection was closed without a response.
        response_body: JSON body sent (``None`` for none; text for a non-JSON body).
        duration: Real seconds spent answering (including injected latency).
    """

    t: float
    method: str
    path: str
    route_template: str | None
    query: Mapping[str, str]
    body: object
    status: int
    response_body: object
    duration: float


@dataclass(frozen=True, slots=True)
class _Answer:
    """What the client gets: a response, or (``hold`` set) a connection held then closed without one."""

    status: int
    payload: object
    headers: Mapping[str, str]
    raw: bytes | None = None
    content_type: str = _JSON
    hold: float | None = None
    late: LateAction | None = None


class RestServer:
    """Answers ``/api/v10/...`` requests.

    Attributes:
        requests: Every request answered, in order.
        validation_errors: ``"METHOD path: error"`` for every request body the spec rejects.
    """

    def __init__(
        self,
        core: Core,
        router: Router,
        *,
        faults: FaultInjector,
        latency: LatencyTable,
        rate_limits: RateLimitTable,
        invalid: InvalidRequests,
        late: LateActions,
    ) -> None:
        self._core = core
        self._router = router
        self._faults = faults
        self._latency = latency
        self._rate_limits = rate_limits
        self._invalid = invalid
        self._late = late
        self._validator: OpenAPIValidator | None = None
        self.requests: list[RequestRecord] = []
        self.validation_errors: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for ``/api/v10/{tail}``."""
        started = time.perf_counter()
        arrived = self._core.clock()
        method = request.method
        path = "/" + request.match_info["tail"]
        query: dict[str, str] = dict(request.query)
        matched = self._router.match(method, path)
        body, answer = await self._answer(request, matched, query)
        if answer.hold is not None:
            await _hold(request, answer.hold)
        template = matched[0].template if matched else None
        shown = answer.payload if answer.raw is None else answer.raw.decode(errors="replace")
        duration = time.perf_counter() - started
        record = RequestRecord(arrived, method, path, template, query, body, answer.status, shown, duration)
        self.requests.append(record)
        if answer.late is not None:
            self._late.start(answer.late)
        return _respond(answer)

    async def _answer(
        self, request: web.Request, matched: tuple[Route, dict[str, str]] | None, query: dict[str, str]
    ) -> tuple[object, _Answer]:
        """Return the request's body and its answer (counted towards the invalid-request ban)."""
        if self._invalid.refuse():
            return None, _Answer(abuse.CLOUDFLARE_STATUS, None, {}, abuse.CLOUDFLARE_BODY.encode(), _TEXT)
        body: object = None
        try:
            body, content_type = await _read_body(request)
            problems = self._validate(request.method, "/" + request.match_info["tail"], body, query, content_type)
            answer = await self._process(request, matched, query, body, problems)
        except errors.ApiError as exc:
            answer = _Answer(exc.status, exc.body(), exc.headers)
        self._invalid.count(answer.status, answer.headers)
        return body, answer

    async def _process(
        self,
        request: web.Request,
        matched: tuple[Route, dict[str, str]] | None,
        query: dict[str, str],
        body: object,
        problems: list[str],
    ) -> _Answer:
        method = request.method
        path = "/" + request.match_info["tail"]
        if matched is None:
            logger.warning("emulator has no route for %s %s: answering 404", method, path)
            message = f"404: Not Found (the emulator has no route for {method} {path})"
            return _Answer(404, {"message": message, "code": 0}, {})
        route, params = matched
        if route.bot_auth and request.headers.get("Authorization") != f"Bot {self._core.state.bot_token}":
            return _Answer(401, {"message": "401: Unauthorized", "code": 0}, {})
        delay = self._latency.sample(route.key)
        if delay > 0:
            await asyncio.sleep(delay)
        headers: dict[str, str] = {}
        if route.rate_limited:
            verdict = self._rate_limits.check(route.key, params, global_scope=route.global_scope and route.bot_auth)
            headers.update(verdict.headers)
            if verdict.retry_after is not None:
                return _Answer(429, verdict.body(), headers)
        info = RequestInfo(method, path, route.template, params, query, body)
        refused = bool(problems) and self._core.settings.strict
        fault = self._faults.take(info, acting=not refused) if self._faults.rules else None
        if fault is not None and fault.after is None:
            return _Answer(fault.status, fault.body(), _fault_headers(fault, headers))
        if refused:
            return _Answer(400, _schema_error(problems), headers)
        call = Call(method, path, params, query, body, request.get(UPLOADS) or {})
        if fault is None:
            return _Answer(*self._call(route, call, headers))
        return self._after_action(fault, route, call, info, headers)

    def _after_action(
        self, fault: FaultRule, route: Route, call: Call, info: RequestInfo, headers: dict[str, str]
    ) -> _Answer:
        """Answer a request whose fault lets the action happen (now, or ``fault.late`` seconds later)."""
        if fault.late is not None:

            def land() -> tuple[int, object]:
                status, payload, _ = self._call(route, call, {})
                fault.outcomes.append((status, payload))
                return status, payload

            return _failed_answer(fault, headers, self._late.add(info, fault.late, land))
        status, payload, sent = self._call(route, call, headers)
        fault.outcomes.append((status, payload))
        if fault.after == "malformed":
            return _Answer(200, None, sent, raw=fault.malformed_body(payload))
        return _failed_answer(fault, headers, None)

    @staticmethod
    def _call(route: Route, call: Call, headers: dict[str, str]) -> Outcome:
        try:
            status, payload = route.handler(call)
        except errors.ApiError as exc:
            headers.update(exc.headers)
            return exc.status, exc.body(), headers
        except (KeyError, TypeError, ValueError) as exc:
            # A malformed body Discord would reject; logged loudly in case it is an emulator bug.
            logger.warning("emulator: %s %s failed on a malformed body: %r", call.method, call.path, exc, exc_info=True)
            return 400, errors.form_error("_", "BASE_TYPE_INVALID", f"Invalid value: {exc!r}").body(), headers
        return status, payload, headers

    def _validate(
        self, method: str, path: str, body: object, query: dict[str, str], content_type: str | None
    ) -> list[str]:
        if not self._core.settings.validate:
            return []
        if self._validator is None:
            from castbot_hikari.testing.openapi import OpenAPIValidator  # noqa: PLC0415 - heavy, only when validating

            self._validator = OpenAPIValidator.shared()
        result = self._validator.validate_request(method, path, body, query=query, content_type=content_type)
        problems = [f"{method} {path}: {error}" for error in result.errors]
        self.validation_errors.extend(problems)
        for problem in problems:
            logger.warning("emulator: invalid request: %s", problem)
        return problems


def _failed_answer(fault: FaultRule, headers: dict[str, str], late: LateAction | None) -> _Answer:
    """The answer of an ``after`` fault: an error status, or a connection dropped (at once or after a hang)."""
    if fault.after == "status":
        return _Answer(fault.status, fault.body(), _fault_headers(fault, headers), late=late)
    hold = 0.0 if fault.after == "drop" else (fault.hang if fault.hang is not None else MAX_HANG)
    return _Answer(0, None, {}, hold=hold, late=late)


async def _hold(request: web.Request, seconds: float) -> None:
    """Keep the connection open for ``seconds`` or until the client closes it, then close it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (transport := request.transport) is not None and not transport.is_closing():
        remaining = deadline - loop.time()
        if remaining <= 0:
            transport.close()
            return
        await asyncio.sleep(min(_HOLD_POLL, remaining))


def _respond(answer: _Answer) -> web.StreamResponse:
    if answer.hold is not None:
        # The transport is closed: aiohttp drops whatever is returned, and the client sees the
        # connection end without a response (aiohttp: ServerDisconnectedError).
        return web.Response(status=204)
    if answer.raw is not None:
        headers, content_type = answer.headers, answer.content_type
        return web.Response(body=answer.raw, status=answer.status, headers=headers, content_type=content_type)
    if answer.payload is None:
        return web.Response(status=answer.status, headers=answer.headers)
    body = orjson.dumps(answer.payload)
    return web.Response(body=body, status=answer.status, headers=answer.headers, content_type=_JSON)


async def _read_body(request: web.Request) -> tuple[object, str | None]:
    if not request.body_exists:
        return None, None
    content_type = request.content_type
    if content_type == "multipart/form-data":
        return await _read_payload_json(request), content_type
    raw = await request.read()
    if not raw:
        return None, content_type
    try:
        return orjson.loads(raw), content_type
    except orjson.JSONDecodeError:
        raise errors.ApiError(400, 50109, "The request body contains invalid JSON.") from None


UPLOADS: Final = web.RequestKey("castbot_emulator_uploads", dict[str, Upload])
"""Where a multipart request's ``files[n]`` parts are kept on the aiohttp request for its handler."""
MAX_UPLOAD: Final = 25 * 1024 * 1024
"""Discord's upload limit for a bot without boosts (the emulator refuses larger files with 40005)."""


async def _read_payload_json(request: web.Request) -> object:
    reader = await request.multipart()
    payload: object = None
    uploads: dict[str, Upload] = {}
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "payload_json":
            payload = orjson.loads(await part.read())
        elif isinstance(part, BodyPartReader) and part.name and part.name.startswith("files["):
            data = bytes(await part.read())
            if len(data) > MAX_UPLOAD:
                raise errors.ApiError(413, 40005, "Request entity too large")
            content_type = part.headers.get("Content-Type", "application/octet-stream")
            uploads[part.name] = Upload(part.filename or part.name, content_type, data)
        elif isinstance(part, BodyPartReader):
            await part.release()
    request[UPLOADS] = uploads
    return payload


def _fault_headers(fault: FaultRule, headers: dict[str, str]) -> dict[str, str]:
    if fault.status == 429:
        retry_after = fault.retry_after or 0.0
        headers.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Global": "false"})
        headers["X-RateLimit-Scope"] = "user"
    return headers


def _schema_error(problems: list[str]) -> object:
    return {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {"_errors": [{"code": "SCHEMA_VALIDATION", "message": p} for p in problems]},
    }
