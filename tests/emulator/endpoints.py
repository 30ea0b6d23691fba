"""Interactions endpoints for the HTTP-interaction tests: a real hikari RESTBot, or a scripted server."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

import hikari
from aiohttp import web
from multidict import CIMultiDictProxy

from castbot_hikari.testing.emulator import DiscordEmulator

HOST = "127.0.0.1"
Reply = Callable[[bytes], Awaitable[web.StreamResponse]]


def loopback_socket() -> socket.socket:
    """Return a TCP socket bound to a free port on 127.0.0.1 (servers listen on it, never elsewhere)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    return sock


def url_of(sock: socket.socket, path: str = "/") -> str:
    """Return the http URL of a bound socket."""
    return f"http://{HOST}:{sock.getsockname()[1]}{path}"


@contextlib.asynccontextmanager
async def rest_bot(
    emu: DiscordEmulator, setup: Callable[[hikari.RESTBot], None]
) -> AsyncGenerator[tuple[hikari.RESTBot, str]]:
    """Start a real ``hikari.RESTBot`` on 127.0.0.1 (``setup`` registers listeners first); yield it and its URL.

    It fetches the application's public key from the emulator, as it does from Discord.
    """
    bot = hikari.RESTBot(emu.bot_token, "Bot", rest_url=emu.rest_url, banner=None, logs=None)
    setup(bot)
    sock = loopback_socket()
    try:
        await bot.start(check_for_updates=False, socket=sock)
        try:
            yield bot, url_of(sock)
        finally:
            await bot.close()
    finally:
        sock.close()


@dataclass
class Received:
    """One POST a scripted endpoint received."""

    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class ScriptedEndpoint:
    """An endpoint whose reply a test scripts; it records every request."""

    url: str
    received: list[Received] = field(default_factory=list[Received])


@contextlib.asynccontextmanager
async def scripted_endpoint(reply: Reply) -> AsyncGenerator[ScriptedEndpoint]:
    """Serve POST / on 127.0.0.1 with ``reply(body)``; stop on exit."""
    sock = loopback_socket()
    endpoint = ScriptedEndpoint(url_of(sock))

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        endpoint.received.append(Received(request.headers, body))
        return await reply(body)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield endpoint
    finally:
        await runner.cleanup()
        sock.close()
