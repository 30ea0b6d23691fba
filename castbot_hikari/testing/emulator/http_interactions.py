"""Discord's "interactions endpoint URL": interactions as signed HTTP POSTs instead of gateway events.

Discord POSTs the INTERACTION_CREATE payload to the endpoint, signed with the application's Ed25519
key (``X-Signature-Ed25519`` over ``X-Signature-Timestamp`` + body). The HTTP reply is the initial
response (the body ``POST .../callback`` takes). A reply without a body (204) leaves the
interaction to a callback within the ack deadline (what lightbulb on hikari's RESTBot does); an
error status, an invalid body or no reply at all fails it. When the URL is saved, Discord checks it
twice: a PING must get ``{"type": 1}``, a request with a bad signature must get 401.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, cast

import aiohttp
import orjson

from castbot_hikari.testing.emulator import errors, payloads
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.responses import InteractionStore
from castbot_hikari.testing.emulator.signing import Signer
from castbot_hikari.testing.emulator.state import JSONObject

logger = logging.getLogger(__name__)

Strategy = Literal["round_robin", "random"]
ALLOWED_HOST: Final = "127.0.0.1"
PING: Final = 1
PONG: Final = 1
_REPLY_GRACE: Final = 1.0
_USER_AGENT: Final = "Discord-Interactions/1.0 (castbot emulator)"

Reply = tuple[int, object]
"""HTTP status and the decoded reply body (``None`` when empty, the raw ``bytes`` when not JSON)."""
_PASSED_ON: Final = frozenset({errors.ALREADY_ACKNOWLEDGED[1], errors.UNKNOWN_INTERACTION[1]})


@dataclass(frozen=True, slots=True)
class EndpointCheck:
    """What Discord's check of an interactions endpoint URL saw.

    Attributes:
        url: The checked URL.
        ping_status: HTTP status of the correctly signed PING (``None``: no answer).
        ping_body: Its decoded body.
        bad_signature_status: HTTP status of the badly signed PING (``None``: no answer).
        error: Why an answer is missing (connection error, timeout), else ``None``.
    """

    url: str
    ping_status: int | None
    ping_body: object
    bad_signature_status: int | None
    error: str | None = None

    @property
    def pong(self) -> bool:
        """Whether the PING got ``{"type": 1}`` with status 200."""
        body = _as_object(self.ping_body)
        return self.ping_status == 200 and body is not None and body.get("type") == PONG

    @property
    def accepted(self) -> bool:
        """Whether Discord would save the URL: a PONG, and 401 for the bad signature."""
        return self.pong and self.bad_signature_status == 401


def check_url(url: str) -> str:
    """Return ``url`` if it is an ``http://127.0.0.1:PORT/...`` URL.

    Raises:
        ValueError: For any other scheme or host (the emulator only ever talks to loopback).
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname != ALLOWED_HOST or parts.port is None:
        msg = f"interaction endpoints must be http://{ALLOWED_HOST}:PORT/..., not {url!r}"
        raise ValueError(msg)
    return url


class EndpointPool:
    """Chooses the endpoint for each interaction: in turn, or at random from a seeded generator."""

    def __init__(self, urls: Sequence[str], strategy: Strategy, seed: int | None) -> None:
        if not urls:
            msg = "at least one endpoint URL is needed"
            raise ValueError(msg)
        if strategy not in ("round_robin", "random"):
            msg = f"unknown strategy {strategy!r}: use 'round_robin' or 'random'"
            raise ValueError(msg)
        self.urls = tuple(check_url(url) for url in urls)
        self._strategy = strategy
        self._rng = random.Random(seed)  # noqa: S311 - load spreading in a test emulator
        self._next = 0

    def choose(self) -> str:
        """Return the endpoint for the next interaction."""
        if self._strategy == "random":
            return self._rng.choice(self.urls)
        url = self.urls[self._next % len(self.urls)]
        self._next += 1
        return url


class HttpDelivery:
    """Posts interactions to the configured endpoints and settles them from the replies.

    Args:
        core: The emulator's shared context (clock and ack deadline).
        store: The interaction store (the replies go through the callback's rules).
        signer: The application's key pair, or ``None`` when PyNaCl is missing.
    """

    def __init__(self, core: Core, store: InteractionStore, signer: Signer | None) -> None:
        self._core = core
        self._store = store
        self._signer = signer
        self._pool: EndpointPool | None = None
        self._timeout = core.settings.ack_deadline + _REPLY_GRACE
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> bool:
        """Whether interactions go to endpoints (else over the gateway)."""
        return self._pool is not None

    @property
    def public_key(self) -> str:
        """The application's public key, hex.

        Raises:
            RuntimeError: If PyNaCl is not installed.
        """
        return self._require_signer().public_key

    @property
    def urls(self) -> tuple[str, ...]:
        """The configured endpoints (empty: gateway delivery)."""
        return self._pool.urls if self._pool is not None else ()

    def configure(self, urls: Sequence[str], strategy: Strategy, seed: int | None, timeout: float | None) -> None:
        """Deliver to ``urls`` from now on (an empty sequence: back to the gateway)."""
        if not urls:
            self._pool = None
            self._core.state.interactions_endpoint_url = None
            return
        self._require_signer()
        self._pool = EndpointPool(urls, strategy, seed)
        self._timeout = timeout if timeout is not None else self._core.settings.ack_deadline + _REPLY_GRACE
        self._core.state.interactions_endpoint_url = self._pool.urls[0]

    async def stop(self) -> None:
        """Cancel deliveries in flight and close the HTTP client (idempotent)."""
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def deliver(self, inter: Interaction, payload: JSONObject) -> str:
        """Start posting ``payload`` to the next endpoint; return that endpoint's URL."""
        assert self._pool is not None
        url = self._pool.choose()
        task = asyncio.create_task(self._deliver(inter, url, payload), name=f"emulator interaction POST {inter.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return url

    async def verify(self, url: str) -> EndpointCheck:
        """Probe ``url`` as Discord does when the URL is saved: a signed PING, then a badly signed one."""
        check_url(url)
        signer = self._require_signer()
        state = self._core.state
        ping: JSONObject = {
            "id": str(self._core.ids.snowflake()),
            "application_id": str(state.bot.id),
            "type": PING,
            "token": self._core.ids.interaction_token(),
            "version": 1,
            "user": payloads.user(state.app_owner),
        }
        body = orjson.dumps(ping)
        try:
            ping_status, ping_body = await self.post(url, body, signer)
            bad_status, _ = await self.post(url, body, signer, corrupt=True)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return EndpointCheck(url, None, None, None, error=_describe(exc))
        return EndpointCheck(url, ping_status, ping_body, bad_status)

    async def post(self, url: str, body: bytes, signer: Signer, *, corrupt: bool = False) -> Reply:
        """POST a signed body (``corrupt``: with a signature that does not verify) and read the reply.

        Raises:
            aiohttp.ClientError: If the endpoint cannot be reached or breaks the connection.
            TimeoutError: If it does not answer within the delivery timeout.
        """
        timestamp = str(int(time.time())).encode()
        signature = signer.sign(timestamp, body)
        if corrupt:
            signature = f"{int(signature[0], 16) ^ 1:x}{signature[1:]}"
        headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            "X-Signature-Ed25519": signature,
            "X-Signature-Timestamp": timestamp.decode(),
        }
        session = self._client()
        async with asyncio.timeout(self._timeout), session.post(url, data=body, headers=headers) as response:
            return response.status, await _read_reply(response)

    async def _deliver(self, inter: Interaction, url: str, payload: JSONObject) -> None:
        assert self._signer is not None
        try:
            status, body = await self.post(url, orjson.dumps(payload), self._signer)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The payload is never logged: it carries the interaction token.
            logger.info("emulator: interaction %s: endpoint %s failed: %s", inter.id, url, _describe(exc))
            self._fail(inter, _describe(exc))
            return
        self._settle(inter, status, body)

    def _settle(self, inter: Interaction, status: int, body: object) -> None:
        reply = _as_object(body)
        inter.record("http_replied", status=status, type=reply.get("type") if reply is not None else None)
        if 200 <= status < 300 and body is None:
            return  # no initial response here: a callback may still come within the deadline
        if status != 200:
            self._fail(inter, f"status {status}")
            return
        if reply is None:
            self._fail(inter, "reply is not a JSON object")
            return
        try:
            self._store.respond(inter, reply)
        except errors.ApiError as exc:
            # A double or late reply is recorded like a double or late callback; any other
            # rejection means Discord got nothing it can show, so the user sees the failure.
            if exc.code not in _PASSED_ON:
                self._fail(inter, f"invalid reply: {exc.code} {exc.message}")

    @staticmethod
    def _fail(inter: Interaction, reason: str) -> None:
        if inter.ack_type is not None or inter.http_failure is not None:
            return  # the user already sees a response (or the failure)
        inter.http_failure = reason
        inter.record("http_failed", reason=reason)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No connection limit: Discord does not queue interactions behind each other.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    def _require_signer(self) -> Signer:
        if self._signer is None:
            msg = "HTTP interactions need PyNaCl: install castbot-hikari[test] (or pynacl)"
            raise RuntimeError(msg)
        return self._signer


async def _read_reply(response: aiohttp.ClientResponse) -> object:
    """Return the reply's JSON (``payload_json`` of a multipart reply with files).

    ``None`` for an empty body; the raw bytes for a body that is not JSON.
    """
    if response.content_type == "multipart/form-data":
        reader = aiohttp.MultipartReader.from_response(response)
        found: object = None
        while (part := await reader.next()) is not None:
            if isinstance(part, aiohttp.BodyPartReader) and part.name == "payload_json":
                found = _decode(await part.read())
            elif isinstance(part, aiohttp.BodyPartReader):
                await part.release()  # attachments are accepted and dropped, as on the REST side
        return found
    raw = await response.read()
    return _decode(raw) if raw else None


def _as_object(body: object) -> JSONObject | None:
    return cast("JSONObject", body) if isinstance(body, dict) else None


def _decode(raw: bytes | bytearray) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return bytes(raw)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timeout"
    return f"connection error: {type(exc).__name__}"
