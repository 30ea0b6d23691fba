"""The composition root: the GatewayBot, the lightbulb client, DI registrations and lifecycle."""

import asyncio
import logging
import os
import socket
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import hikari
import lightbulb

from castbot_hikari.admin.notify import HikariNotifier
from castbot_hikari.admin.ports import ConfigRepository, GuildSettings
from castbot_hikari.admin.store import JsonConfigRepository, JsonGuildSettings
from castbot_hikari.admin.wiring import register_admin
from castbot_hikari.apply.alerts import Alerts
from castbot_hikari.apply.followups import FollowupSender, HikariLateReplier, InteractionAcks, InteractionEdits
from castbot_hikari.apply.hikari_ops import HikariDiscordOps
from castbot_hikari.apply.recovery import Recovery
from castbot_hikari.apply.service import ApplicationService, ApplyTimeline
from castbot_hikari.apply.store import JsonApplicationRepository
from castbot_hikari.core.clock import Clock, SystemClock
from castbot_hikari.core.ids import UserId
from castbot_hikari.core.locks import KeyedLocks
from castbot_hikari.core.pacing import Pacer
from castbot_hikari.discord import hikari_fixes
from castbot_hikari.monitoring.cluster import ClusterMetrics
from castbot_hikari.monitoring.prometheus import PrometheusMetrics
from castbot_hikari.monitoring.wiring import Monitoring
from castbot_hikari.pg.metrics import MetricsExchange
from castbot_hikari.pg.pace import OwnPool, SharedPace
from castbot_hikari.pg.store import PostgresStore
from castbot_hikari.questions.ports import QuestionStore
from castbot_hikari.questions.store import JsonQuestionStore
from castbot_hikari.questions.wiring import Questions, register_questions
from castbot_hikari.settings import Settings

logger = logging.getLogger(__name__)

# Component interactions arrive whatever the intents; GUILDS keeps the cache's guilds and channels for
# admins' commands. No privileged intent is needed.
INTENTS = hikari.Intents.GUILDS
EXTENSIONS = ("extensions.apply", "extensions.apps", "extensions.questions")
DRAIN_SECONDS = 20.0


@dataclass(slots=True)
class App:
    """Everything ``build_app`` wired together, so tests and the sandbox can reach it."""

    bot: hikari.GatewayBot
    client: lightbulb.Client
    store: "JsonApplicationRepository | PostgresStore"
    service: ApplicationService
    recovery: Recovery
    metrics: PrometheusMetrics
    monitoring: Monitoring
    questions: Questions
    """The in-channel application (on either store)."""

    @property
    def repository(self) -> JsonApplicationRepository:
        """Return the JSON store (tests and the sandbox, which run on it)."""
        assert isinstance(self.store, JsonApplicationRepository), "this app runs on PostgreSQL"
        return self.store


def process_owner() -> str:
    """Return this process's name in reservations: host, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def _reconcile(recovery: Recovery) -> object:
    try:
        results = await recovery.reconcile()
    except Exception:  # start-up must go on; the next click or /apps retry-pending can finish them
        logger.exception("start-up reconciliation failed")
        return None
    if results:
        logger.info("start-up reconciliation finished %d interrupted applies", len(results))
    return results


def json_store_probe(repository: JsonApplicationRepository) -> Callable[[], Awaitable[bool]]:
    """Return the readiness probe of the JSON store: its data file is still there (not moved or unmounted)."""

    async def probe() -> bool:
        return repository.document.files.path.is_file()

    return probe


@dataclass(frozen=True, slots=True)
class StoreParts:
    """What the composition root takes from a store: its repositories, its readiness probe, its sweep period."""

    configs: ConfigRepository
    guild_settings: GuildSettings
    questions: QuestionStore
    probe: Callable[[], Awaitable[bool]]
    sweep_every_s: float | None
    """How often to take over applies of processes that died (``None``: one process owns the store)."""
    shared: PostgresStore | None = None
    """The database several processes share, if any: Discord's limits and /apps stats go through it too."""

    def pace(self, settings: Settings) -> "Pace":
        """Return what every request counting towards Discord's global limit awaits first.

        Discord's limit is per bot: processes sharing a database share it there (through a small pool of its
        own, so turns never wait behind the store's queries); one process alone paces itself.
        """
        url = settings.store.database_url
        if self.shared is not None and url:
            own = OwnPool(url)
            return Pace(SharedPace(own, settings.global_rate).wait, own.close)
        return Pace(Pacer.per_second(settings.global_rate).wait, None)

    def cluster(self, metrics: PrometheusMetrics) -> "Cluster | None":
        """Return the metrics of every process, when processes share a database."""
        if self.shared is None:
            return None
        reader = ClusterMetrics(metrics)
        return Cluster(reader, MetricsExchange(self.shared.pool, self.shared.owner, reader))


@dataclass(frozen=True, slots=True)
class Pace:
    """The global REST pace: what each paced request awaits, and what closes it at stop (if anything)."""

    wait: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]] | None

    async def stop(self) -> None:
        """Close what the pace holds (its pool)."""
        if self.close is not None:
            await self.close()


@dataclass(frozen=True, slots=True)
class Cluster:
    """``/apps stats`` over every process: the reader, and the exchange that keeps it current."""

    reader: ClusterMetrics
    exchange: MetricsExchange


def store_parts(store: "JsonApplicationRepository | PostgresStore") -> StoreParts:
    """Return the parts of ``store`` the bot is wired with."""
    if isinstance(store, PostgresStore):
        return StoreParts(
            store.configs,
            store.guild_settings,
            store.questions,
            store.probe,
            store.lease.total_seconds() / 2,
            shared=store,
        )
    document = store.document
    return StoreParts(
        JsonConfigRepository(document),
        JsonGuildSettings(document),
        JsonQuestionStore(document),
        json_store_probe(store),
        None,
    )


async def _sweep(recovery: Recovery, every_s: float) -> None:
    """Take over, now and then, the applies of processes that died (their lease ran out) and send the outbox."""
    while True:
        await asyncio.sleep(every_s)
        try:
            results = await recovery.reconcile()
        except Exception:  # the next sweep tries again
            logger.exception("taking over expired applies failed")
            continue
        if results:
            logger.info("took over %d applies of a stopped process", len(results))


def _spawn(background: set[asyncio.Task[object]], work: Coroutine[Any, Any, object], name: str) -> None:
    """Run ``work`` in the background, keeping a reference until it ends."""
    task: asyncio.Task[object] = asyncio.create_task(work, name=name)
    background.add(task)
    task.add_done_callback(background.discard)


def once_client(
    bot: hikari.GatewayBot, settings: Settings, http_settings: hikari.impl.HTTPSettings
) -> hikari.impl.RESTClientImpl:
    """Return a REST client that never retries on its own, for requests that create something.

    hikari retries 500/502/503/504 and connection errors inside every request, POSTs included: a channel
    creation that Discord performed and then answered 503 would be sent again and make a twin. Requests
    sent through this client fail instead, and the apply flow looks for what may exist before retrying.
    """
    return hikari.impl.RESTClientImpl(
        cache=None,
        entity_factory=bot.entity_factory,
        executor=None,
        http_settings=http_settings,
        max_retries=0,
        proxy_settings=hikari.impl.ProxySettings(),
        token=settings.token,
        token_type=hikari.TokenType.BOT,
        rest_url=settings.api_url,
    )


def interaction_client(
    bot: hikari.GatewayBot, settings: Settings, http_settings: hikari.impl.HTTPSettings, max_retries: int
) -> hikari.impl.RESTClientImpl:
    """Return a REST client of its own (connections and buckets) for interaction responses.

    Two are made: one for first responses (on the main client an ack could wait for a pooled connection
    behind hundreds of background requests of a click storm, and Discord allows it 3 s) and one for edits
    of responses (progress and results), so a storm of results never delays an ack either. Interaction
    webhooks are exempt from the global limit: neither is paced. hikari retries as many times as on the
    bot's own client (``FollowupSender`` retries only what is left after that).
    """
    return hikari.impl.RESTClientImpl(
        cache=None,
        entity_factory=bot.entity_factory,
        executor=None,
        http_settings=http_settings,
        max_retries=max_retries,
        proxy_settings=hikari.impl.ProxySettings(),
        token=settings.token,
        token_type=hikari.TokenType.BOT,
        rest_url=settings.api_url,
    )


@dataclass(slots=True)
class ExtraClients:
    """The REST clients beside ``bot.rest``: ``once`` (never retries), ``acks`` and ``edits`` (interactions)."""

    once: hikari.impl.RESTClientImpl
    acks: hikari.impl.RESTClientImpl
    edits: hikari.impl.RESTClientImpl

    @classmethod
    def of(
        cls,
        bot: hikari.GatewayBot,
        settings: Settings,
        http_settings: hikari.impl.HTTPSettings,
        max_retries: int,
        pace: Callable[[], Awaitable[None]],
    ) -> "ExtraClients":
        """Make them, and pace what counts towards Discord's global limit (``bot.rest`` and ``once``) together."""
        extra = cls(
            once_client(bot, settings, http_settings),
            interaction_client(bot, settings, http_settings, max_retries),
            interaction_client(bot, settings, http_settings, max_retries),
        )
        for paced in (bot.rest, extra.once):
            hikari_fixes.pace_globally(paced, pace)
        return extra

    def all(self) -> tuple[hikari.impl.RESTClientImpl, ...]:
        """Return the three clients."""
        return (self.once, self.acks, self.edits)

    def start(self) -> None:
        """Start the three (``bot.rest`` is started by the bot)."""
        for rest in self.all():
            rest.start()

    async def close(self) -> None:
        """Close the three."""
        for rest in self.all():
            await rest.close()


def _register_apply(
    client: lightbulb.Client, service: ApplicationService, extra: ExtraClients, metrics: PrometheusMetrics, clock: Clock
) -> None:
    """Register what the Apply glue (``extensions/apply.py``) has injected."""
    registry = client.di.registry_for(lightbulb.di.Contexts.DEFAULT)
    registry.register_value(ApplicationService, service)
    registry.register_value(FollowupSender, FollowupSender(clock=clock, metrics=metrics))
    registry.register_value(InteractionAcks, InteractionAcks(extra.acks))
    registry.register_value(InteractionEdits, InteractionEdits(extra.edits))
    registry.register_value(Clock, clock)


@dataclass(slots=True)
class Lifecycle:
    """What the bot does as it starts, once it has started, and as it stops."""

    bot: hikari.GatewayBot
    client: lightbulb.Client
    extra: ExtraClients
    monitoring: Monitoring
    service: ApplicationService
    recovery: Recovery
    repository: "JsonApplicationRepository | PostgresStore"
    pace: Pace
    questions: Questions
    cluster: Cluster | None
    sweep_every_s: float | None
    background: set[asyncio.Task[object]] = field(default_factory=set[asyncio.Task[object]])

    def running(self) -> dict[str, Callable[[], Coroutine[Any, Any, object]]]:
        """Return the background work of a started bot, by task name (cancelled when it stops)."""
        work: dict[str, Callable[[], Coroutine[Any, Any, object]]] = {}
        if (every_s := self.sweep_every_s) is not None:  # processes share the store: survivors take over
            work["castbot-sweep"] = lambda: _sweep(self.recovery, every_s)
        if self.cluster is not None:  # /apps stats: the totals of every live process
            work["castbot-metrics-exchange"] = self.cluster.exchange.run
        return work

    async def on_starting(self, _: hikari.StartingEvent) -> None:
        """Start the REST clients, the endpoint and the glue (command sync)."""
        self.extra.start()
        await self.monitoring.starting(self.bot.rest, *self.extra.all())
        await self.client.load_extensions(*EXTENSIONS)
        await self.client.start()

    async def on_started(self, _: hikari.StartedEvent) -> None:
        """Finish what a previous process left unfinished, without delaying start-up; start the background work."""
        self.monitoring.started()
        _spawn(self.background, _reconcile(self.recovery), "castbot-reconcile")
        for name, work in self.running().items():
            _spawn(self.background, work(), name)

    async def on_stopping(self, _: hikari.StoppingEvent) -> None:
        """Drain the applies, then close everything in order (the store last but the endpoint)."""
        self.monitoring.stopping()
        running = self.running()
        for task in list(self.background):
            if task.get_name() in running:
                task.cancel()
        if self.cluster is not None:
            await self.cluster.exchange.forget()
        if not await self.service.drain(DRAIN_SECONDS):
            logger.warning("stopping with applies still running; start-up will finish them")
        await self.client.stop()
        await self.questions.renames.close()
        await self.extra.close()
        await self.pace.stop()
        await self.repository.close()
        await self.monitoring.stopped()


def build_app(
    settings: Settings,
    repository: "JsonApplicationRepository | PostgresStore",
    *,
    http_settings: hikari.impl.HTTPSettings | None = None,
    max_retries: int = 3,
    clock: Clock | None = None,
) -> App:
    """Wire the bot: REST at ``settings.api_url``, the apply extension, services and their lifecycle."""
    hikari_fixes.apply()  # hikari 2.6.0's rate limiter can otherwise freeze the loop for a bucket period
    clock = clock or SystemClock()
    if http_settings is None:
        # Keep REST connections alive: a new TCP (and, against Discord, TLS) connection per request was the
        # largest cost of an ack in a click storm (benchmarks/ack_under_load.py: p99 ~100 ms -> ~53 ms at
        # 1,000 clicks/s). hikari closes them by default only to work around problems on Windows.
        http_settings = hikari.impl.HTTPSettings(force_close_transports=sys.platform == "win32")
    bot = hikari.GatewayBot(
        settings.token,
        intents=INTENTS,
        rest_url=settings.api_url,
        logs=None,  # logging is configured once by the CLI
        banner=None,
        suppress_optimization_warning=True,
        auto_chunk_members=False,
        http_settings=http_settings,
        max_retries=max_retries,
    )
    client = lightbulb.client_from_app(bot)
    parts = store_parts(repository)
    pace = parts.pace(settings)
    extra = ExtraClients.of(bot, settings, http_settings, max_retries, pace.wait)
    monitoring = Monitoring(bot.shards, parts.probe, host=settings.ops.metrics_host, port=settings.ops.metrics_port)
    metrics = monitoring.metrics
    cluster = parts.cluster(metrics)
    repository.measure_saves(metrics)
    bot_user_id = UserId(settings.bot_user_id)
    guild_settings = parts.guild_settings
    alerts = Alerts(repository, HikariNotifier(bot.rest, guild_settings, clock), clock)
    timeline = ApplyTimeline(
        repository,
        HikariDiscordOps(
            bot.rest,
            bot_user_id,
            bot.cache,
            once=extra.once,
        ),
        alerts=alerts,
        locks=KeyedLocks(),
        metrics=metrics,
        clock=clock,
        owner=repository.owner if isinstance(repository, PostgresStore) else process_owner(),
        time_limit=settings.apply_timeout,
        unconfirmed_window_s=settings.create_confirm_window,
        leases=repository,
    )
    service = ApplicationService(
        timeline,
        alerts=alerts,
        metrics=metrics,
        clock=clock,
        max_concurrent=settings.max_concurrent_applies,
        max_per_server=settings.max_concurrent_applies_per_server,
        claims=repository.claims if isinstance(repository, PostgresStore) else None,
    )
    recovery = Recovery(
        timeline, alerts=alerts, metrics=metrics, clock=clock, replier=HikariLateReplier(InteractionEdits(extra.edits))
    )
    _register_apply(client, service, extra, metrics, clock)
    register_admin(
        client,
        bot,
        parts.configs,
        recovery,
        undelivered=repository,
        metrics=cluster.reader if cluster is not None else metrics,
        guild_settings=guild_settings,
        clock=clock,
        bot_user_id=bot_user_id,
    )
    questions = register_questions(client, bot, parts.questions, once=extra.once, clock=clock, bot_user_id=bot_user_id)
    lifecycle = Lifecycle(
        bot, client, extra, monitoring, service, recovery, repository, pace, questions, cluster, parts.sweep_every_s
    )
    bot.subscribe(hikari.StartingEvent, lifecycle.on_starting)
    bot.subscribe(hikari.StartedEvent, lifecycle.on_started)
    bot.subscribe(hikari.StoppingEvent, lifecycle.on_stopping)
    return App(bot, client, repository, service, recovery, metrics, monitoring, questions)
