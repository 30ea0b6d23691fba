"""The REST request pipeline: parse, validate, authorise, delay, rate-limit, inject faults, handle, record."""

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

from castbot_hikari.testing.emulator import errors
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.faults import FaultInjector, FaultRule, LatencyTable, RequestInfo
from castbot_hikari.testing.emulator.ratelimits import RateLimitTable
from castbot_hikari.testing.emulator.routing import Call, Route, Router

if TYPE_CHECKING:
    from castbot_hikari.testing.openapi import OpenAPIValidator

logger = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v10"
_JSON: Final = "application/json"
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
        status: HTTP status sent.
        response_body: JSON body sent (``None`` for none).
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
    ) -> None:
        self._core = core
        self._router = router
        self._faults = faults
        self._latency = latency
        self._rate_limits = rate_limits
        self._validator: OpenAPIValidator | None = None
        self.requests: list[RequestRecord] = []
        self.validation_errors: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        """aiohttp handler for ``/api/v10/{tail}``."""
        started = time.perf_counter()
        arrived = self._core.clock()
        method = request.method
        path = "/" + request.match_info["tail"]
        query: dict[str, str] = dict(request.query)
        body: object = None
        matched = self._router.match(method, path)
        try:
            body, content_type = await _read_body(request)
            problems = self._validate(method, path, body, query, content_type)
            status, payload, headers = await self._process(request, matched, query, body, problems)
        except errors.ApiError as exc:
            status, payload, headers = exc.status, exc.body(), exc.headers
        template = matched[0].template if matched else None
        duration = time.perf_counter() - started
        self.requests.append(RequestRecord(arrived, method, path, template, query, body, status, payload, duration))
        if payload is None:
            return web.Response(status=status, headers=headers)
        return web.Response(body=orjson.dumps(payload), status=status, headers=headers, content_type=_JSON)

    async def _process(
        self,
        request: web.Request,
        matched: tuple[Route, dict[str, str]] | None,
        query: dict[str, str],
        body: object,
        problems: list[str],
    ) -> Outcome:
        method = request.method
        path = "/" + request.match_info["tail"]
        if matched is None:
            logger.warning("emulator has no route for %s %s: answering 404", method, path)
            return 404, {"message": f"404: Not Found (the emulator has no route for {method} {path})", "code": 0}, {}
        route, params = matched
        if route.bot_auth and request.headers.get("Authorization") != f"Bot {self._core.state.bot_token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        delay = self._latency.sample(route.key)
        if delay > 0:
            await asyncio.sleep(delay)
        headers: dict[str, str] = {}
        if route.rate_limited:
            verdict = self._rate_limits.check(route.key, params, global_scope=route.global_scope)
            headers.update(verdict.headers)
            if verdict.retry_after is not None:
                return 429, verdict.body(), headers
        fault = (
            self._faults.take(RequestInfo(method, path, route.template, params, query, body))
            if self._faults.rules
            else None
        )
        if fault is not None:
            return _fault_outcome(fault, headers)
        if problems and self._core.settings.strict:
            return 400, _schema_error(problems), headers
        return self._call(route, Call(method, path, params, query, body), headers)

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


async def _read_payload_json(request: web.Request) -> object:
    reader = await request.multipart()
    payload: object = None
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "payload_json":
            payload = orjson.loads(await part.read())
        elif isinstance(part, BodyPartReader):
            await part.release()  # attachments are accepted and dropped
    return payload


def _fault_outcome(fault: FaultRule, headers: dict[str, str]) -> Outcome:
    if fault.status == 429:
        retry_after = fault.retry_after or 0.0
        headers.update({"Retry-After": str(max(1, math.ceil(retry_after))), "X-RateLimit-Global": "false"})
        headers["X-RateLimit-Scope"] = "user"
    return fault.status, fault.body(), headers


def _schema_error(problems: list[str]) -> object:
    return {
        "code": 50035,
        "message": "Invalid Form Body",
        "errors": {"_errors": [{"code": "SCHEMA_VALIDATION", "message": p} for p in problems]},
    }
