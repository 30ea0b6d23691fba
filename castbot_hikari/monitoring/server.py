"""One HTTP port for operators: ``/metrics`` (Prometheus), ``/livez`` and ``/readyz`` (orchestrators).

An aiohttp site (hikari already depends on aiohttp) on the bot's own event loop: a liveness answer
thus also says the loop is not stuck, and nothing crosses threads.
"""

from __future__ import annotations

import logging
from typing import cast

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from castbot_hikari.monitoring.health import Health

logger = logging.getLogger(__name__)


class MonitoringServer:
    """Serve the registry and the health endpoints on ``host:port`` (port 0: any free port).

    Args:
        registry: What ``/metrics`` exposes.
        health: What ``/readyz`` asks.
        host: Listening address (127.0.0.1 by default in settings).
        port: Listening port.
    """

    def __init__(self, registry: CollectorRegistry, health: Health, host: str, port: int) -> None:
        self._registry = registry
        self._health = health
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        """The bound port once started."""

    @property
    def started(self) -> bool:
        """Return whether it listens."""
        return self._runner is not None

    async def start(self) -> None:
        """Listen (idempotent).

        Raises:
            OSError: The address cannot be bound (in use, not this machine's).
        """
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/livez", self._live)
        app.router.add_get("/readyz", self._ready)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = _bound_port(runner, self._port)
        logger.info("metrics and health listening on http://%s:%d (/metrics /livez /readyz)", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _live(self, _: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def _ready(self, _: web.Request) -> web.Response:
        readiness = await self._health.readiness()
        return web.json_response(readiness.as_json(), status=200 if readiness.ready else 503)


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):  # (host, port), or IPv6's (host, port, flowinfo, scope)
            port: object = cast("tuple[object, ...]", address)[1]
            if isinstance(port, int):
                return port
    return requested
