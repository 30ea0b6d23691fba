"""The gateway websocket: HELLO, IDENTIFY/READY, RESUME, heartbeats, dispatch, zlib-stream."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Callable
from typing import Final

import orjson
from aiohttp import WSMsgType, web

from castbot_hikari.testing.emulator import sessions
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.identify import IdentifyGate
from castbot_hikari.testing.emulator.sessions import Frame, Session
from castbot_hikari.testing.emulator.state import GuildState, JSONObject

logger = logging.getLogger(__name__)

_TRACE: Final = ['["castbot-emulator",{"micros":0}]']
_SESSION_ENDING_CLOSE_CODES: Final = frozenset({1000, 1001})
QueueItem = Frame | Callable[[], None] | None


class _Connection:
    """One websocket: a send queue drained by a writer task, optional shared zlib context."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, *, compress: bool) -> None:
        self.request = request
        self.ws = ws
        self.session: Session | None = None
        self._compressor = zlib.compressobj() if compress else None
        self._queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop(), name="emulator gateway writer")

    def send(self, frame: Frame) -> None:
        """Queue a frame (sent in order by the writer task)."""
        self._queue.put_nowait(frame)

    def after_sent(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once every frame queued so far has been written."""
        self._queue.put_nowait(callback)

    def encode(self, frame: Frame) -> bytes:
        """Serialise a frame; with zlib-stream, compress it with the connection's shared context."""
        raw = orjson.dumps(frame)
        if self._compressor is None:
            return raw
        return self._compressor.compress(raw) + self._compressor.flush(zlib.Z_SYNC_FLUSH)

    async def _write_loop(self) -> None:
        while (item := await self._queue.get()) is not None:
            if callable(item):
                item()
                continue
            data = self.encode(item)
            try:
                if self._compressor is None:
                    await self.ws.send_str(data.decode())
                else:
                    await self.ws.send_bytes(data)
            except (ConnectionError, RuntimeError):
                return

    def abort(self) -> None:
        """Cut the TCP connection without a close frame (what a network failure looks like)."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self, code: int, message: str) -> None:
        """Close the websocket with a close frame and stop the writer."""
        await self.stop_writer()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code, message=message.encode())

    async def stop_writer(self) -> None:
        """Let the writer flush what is queued, then end it."""
        self._queue.put_nowait(None)
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.CancelledError):
            await self._writer


class GatewayServer:
    """Serves gateway connections and routes dispatched events to sessions.

    Attributes:
        sessions: Live (resumable) sessions by session id.
        identifies: Number of IDENTIFYs accepted.
        resumes: Number of RESUMEs accepted.
        invalid_sessions: Number of op 9 INVALID_SESSION sent (failed RESUMEs, rate-limited IDENTIFYs).
        connections: Number of websocket connections opened.
        identify_gate: The IDENTIFY rules (shards, max_concurrency) and the log of every IDENTIFY.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self.sessions: dict[str, Session] = {}
        self._connections: set[_Connection] = set()
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        self.identifies = 0
        self.resumes = 0
        self.invalid_sessions = 0
        self.connections = 0
        self.resume_url = ""
        self.identify_gate = IdentifyGate(core)

    # ---- event routing -------------------------------------------------------------------------

    def dispatch(self, guild_id: int | None, event: str, data: JSONObject) -> None:
        """Dispatch an event to every valid session covering ``guild_id`` that wants it."""
        for session in self.sessions.values():
            if session.covers(guild_id) and session.wants(event, guild_id):
                session.dispatch(event, data)

    def announce_guild(self, guild: GuildState) -> None:
        """Send GUILD_CREATE for a guild the bot joined after connecting."""
        for session in self.sessions.values():
            if session.covers(guild.id):
                session.dispatch("GUILD_CREATE", sessions.guild_create(self._core.state, session, guild, initial=False))

    @property
    def connected(self) -> bool:
        """Whether some session has a live connection."""
        return any(s.sender is not None for s in self.sessions.values())

    async def wait_for(self, predicate: Callable[[GatewayServer], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public API: callers pass timeouts
        """Wait until ``predicate(self)`` holds; re-checked after every connect, identify, resume or disconnect.

        Raises:
            TimeoutError: If it does not hold within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while not predicate(self):
                changed = self._changed
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_ready(self, timeout: float) -> None:  # noqa: ASYNC109 - public API: callers pass timeouts
        """Wait until a session was identified and its READY and GUILD_CREATEs were written."""
        await asyncio.wait_for(self._ready.wait(), timeout)

    # ---- fault controls ------------------------------------------------------------------------

    async def drop(self, *, resumable: bool = True) -> None:
        """Cut every connection abruptly; with ``resumable=False`` their sessions are invalidated."""
        for conn in list(self._connections):
            if conn.session is not None and not resumable:
                self._invalidate(conn.session)
            conn.abort()
            await conn.stop_writer()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every connection (the client should close and RESUME)."""
        for conn in list(self._connections):
            conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def close(self) -> None:
        """Close every connection with 1001 (going away)."""
        for conn in list(self._connections):
            await conn.close(1001, "emulator stopping")

    # ---- websocket handler ---------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for the gateway URL and the resume URL."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        conn = _Connection(request, ws, compress=compress == "zlib-stream")
        self._connections.add(conn)
        self.connections += 1
        self._notify()
        try:
            if request.query.get("v", "10") != "10":
                await conn.close(4012, "Invalid API version")
            elif compress not in (None, "zlib-stream"):
                await conn.close(4000, f"Unsupported compression {compress!r}")
            else:
                await self._serve(conn)
        finally:
            self._connections.discard(conn)
            self._detach(conn, ws.close_code)
            await conn.stop_writer()
            self._notify()
        return ws

    async def _serve(self, conn: _Connection) -> None:
        interval_ms = int(self._core.settings.heartbeat_interval * 1000)
        conn.send({"op": 10, "d": {"heartbeat_interval": interval_ms, "_trace": _TRACE}, "s": None, "t": None})
        async for msg in conn.ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            try:
                payload = orjson.loads(msg.data)
                keep_going = await self._on_payload(conn, payload)
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                # The payload is not logged: an IDENTIFY carries the token.
                logger.warning("emulator gateway: undecodable payload (%s bytes)", len(msg.data), exc_info=True)
                await conn.close(4002, "Error while decoding payload.")
                return
            if not keep_going:
                return

    async def _on_payload(self, conn: _Connection, payload: JSONObject) -> bool:
        op = payload.get("op")
        data = payload.get("d")
        if op == 1:
            conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            return await self._identify(conn, data or {})
        elif op == 6:
            return await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, "Not authenticated.")
            return False
        elif op == 8:
            for chunk in sessions.member_chunks(self._core.state, data or {}):
                conn.session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
        elif op not in (3, 4):
            await conn.close(4001, "Unknown opcode.")
            return False
        return True

    async def _identify(self, conn: _Connection, data: JSONObject) -> bool:
        if conn.session is not None:
            await conn.close(4005, "Already authenticated.")
            return False
        if data.get("token") != self._core.state.bot_token:
            await conn.close(4004, "Authentication failed.")
            return False
        shard_id, shard_count = data.get("shard") or (0, 1)
        shard = (int(shard_id), int(shard_count))
        live_counts = {s.shard[1] for s in self.sessions.values() if s.sender is not None}
        refusal = self.identify_gate.check(shard, live_counts)
        if refusal is not None:
            await conn.close(*refusal)
            return False
        if not self.identify_gate.admit(shard):
            conn.send({"op": 9, "d": False, "s": None, "t": None})
            self.invalid_sessions += 1
            self._notify()
            return True
        large = int(data.get("large_threshold") or 50)
        session = Session(self._core.ids.token(32), shard, int(data.get("intents") or 0), large)
        self.sessions[session.session_id] = session
        self.identifies += 1
        self._attach(conn, session)
        state = self._core.state
        session.dispatch("READY", sessions.ready_payload(state, session, self.resume_url))
        for guild in state.guilds.values():
            if session.covers(guild.id):
                session.dispatch("GUILD_CREATE", sessions.guild_create(state, session, guild, initial=True))
        conn.after_sent(self._ready.set)
        self._notify()
        logger.info("emulator gateway: identified session=%s shard=%s", session.session_id, session.shard)
        return True

    async def _resume(self, conn: _Connection, data: JSONObject) -> bool:
        if data.get("token") != self._core.state.bot_token:
            await conn.close(4004, "Authentication failed.")
            return False
        session = self.sessions.get(str(data.get("session_id")))
        missed = session.replay_after(int(data.get("seq") or 0)) if session is not None else None
        if session is None or missed is None:
            if session is not None:
                self._invalidate(session)
            conn.send({"op": 9, "d": False, "s": None, "t": None})
            self.invalid_sessions += 1
            self._notify()
            return True
        self.resumes += 1
        self._attach(conn, session)
        for frame in missed:
            conn.send(frame)
        session.dispatch("RESUMED", {"_trace": _TRACE})
        self._notify()
        logger.info("emulator gateway: resumed session=%s replayed=%s", session.session_id, len(missed))
        return True

    def _attach(self, conn: _Connection, session: Session) -> None:
        for other in self._connections:
            if other is not conn and other.session is session:
                other.session = None
                other.abort()  # a session lives on one connection at a time
        conn.session = session
        session.sender = conn.send

    def _detach(self, conn: _Connection, close_code: int | None) -> None:
        session = conn.session
        if session is None:
            return
        conn.session = None
        if session.sender == conn.send:
            session.sender = None
        if close_code in _SESSION_ENDING_CLOSE_CODES:
            self._invalidate(session)

    def _invalidate(self, session: Session) -> None:
        session.invalid = True
        self.sessions.pop(session.session_id, None)
