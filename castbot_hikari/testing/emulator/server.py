"""``DiscordEmulator``: REST API and gateway on 127.0.0.1, plus the simulated applicant."""

from __future__ import annotations

import logging
import socket
import time
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Final, Self

from aiohttp import web

from castbot_hikari.testing.emulator import abuse, writes
from castbot_hikari.testing.emulator.abuse import Ban, InvalidRequests
from castbot_hikari.testing.emulator.admin import Admin, Invocation
from castbot_hikari.testing.emulator.applicant import Applicant
from castbot_hikari.testing.emulator.core import RELAXABLE, Core, Settings
from castbot_hikari.testing.emulator.faults import FaultInjector, LatencyTable
from castbot_hikari.testing.emulator.gateway import GatewayServer
from castbot_hikari.testing.emulator.http_interactions import EndpointCheck, HttpDelivery, Strategy
from castbot_hikari.testing.emulator.ids import IdFactory
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.late import LateActions
from castbot_hikari.testing.emulator.ratelimits import GLOBAL_LIMIT, RateLimitTable
from castbot_hikari.testing.emulator.responses import InteractionStore
from castbot_hikari.testing.emulator.rest import API_PREFIX, RequestRecord, RestServer
from castbot_hikari.testing.emulator.rest_app import AppRoutes
from castbot_hikari.testing.emulator.rest_guilds import GuildRoutes
from castbot_hikari.testing.emulator.rest_interactions import InteractionRoutes
from castbot_hikari.testing.emulator.rest_messages import MessageRoutes
from castbot_hikari.testing.emulator.routing import Router
from castbot_hikari.testing.emulator.signing import try_signer
from castbot_hikari.testing.emulator.state import (
    EmulatorState,
    Guild,
    GuildSeed,
    JSONObject,
    MessageState,
    UserState,
)
from castbot_hikari.testing.emulator.writes import ChannelWrites

logger = logging.getLogger(__name__)

HOST: Final = "127.0.0.1"
BOT_USERNAME: Final = "CastBot"
LISTEN_BACKLOG: Final = 4096


class _NoDispatch:
    def dispatch(self, guild_id: int | None, event: str, data: JSONObject) -> None:
        del guild_id, event, data


class DiscordEmulator:
    """A loopback-only Discord: REST (``/api/v10``) and gateway for a real hikari bot.

    Discord's rules are on by default; the arguments below exist for the tests that must switch one
    off (say why where you do).

    Args:
        validate: Validate every request against Discord's OpenAPI spec (errors land in
            ``validation_errors``). Switch off for benchmarks.
        strict: Also answer invalid requests 400/50035 as Discord would.
        ack_deadline: Seconds within which the first interaction response must arrive.
        token_ttl: Seconds an interaction token stays usable for webhooks.
        heartbeat_interval: Gateway heartbeat interval in seconds (sent in HELLO).
        clock: Monotonic clock in seconds; interaction deadlines, the identify limit, renames and the
            invalid-request window use it.
        seed: Seed for ids, tokens, latency draws and the application's key pair.
        shards: The shard count ``GET /gateway/bot`` recommends.
        max_concurrency: Identify buckets (``GET /gateway/bot``'s ``session_start_limit``).
        enforce_identify_limit: Answer an IDENTIFY within 5 s of the last one of its bucket
            (``shard_id % max_concurrency``) with op 9 INVALID_SESSION, as Discord does. Off by
            default: tests restart bots within seconds, and the times are recorded either way
            (``emu.gateway.identify_gate``).
        global_rate_limit: Requests per second per bot (Discord: 50; interaction callbacks and
            interaction webhooks are exempt); ``None`` switches it off.
        invalid_request_limit: 401/403/429 answers within 10 minutes that get the bot banned by
            "Cloudflare" (Discord: 10,000); ``None`` counts them without banning.
        ban_duration: Seconds such a ban lasts.
        channel_write_limit: ``(messages, seconds)`` one channel accepts before error 20028 (default
            50 per 10 s, beyond any test); ``None`` switches it off.
        relax: Names of Discord rules to switch off, from :data:`~castbot_hikari.testing.emulator.core.RELAXABLE`.

    Raises:
        ValueError: For an unknown name in ``relax``.
    """

    def __init__(
        self,
        *,
        validate: bool = True,
        strict: bool = False,
        ack_deadline: float = 3.0,
        token_ttl: float = 900.0,
        heartbeat_interval: float = 41.25,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        shards: int = 1,
        max_concurrency: int = 1,
        enforce_identify_limit: bool = False,
        global_rate_limit: int | None = GLOBAL_LIMIT,
        invalid_request_limit: int | None = abuse.INVALID_REQUEST_LIMIT,
        ban_duration: float = abuse.BAN_DURATION,
        channel_write_limit: tuple[int, float] | None = writes.CHANNEL_WRITE_LIMIT,
        relax: Collection[str] = (),
    ) -> None:
        unknown = set(relax) - RELAXABLE
        if unknown:
            msg = f"unknown rules {sorted(unknown)} in relax; known: {sorted(RELAXABLE)}"
            raise ValueError(msg)
        ids = IdFactory(seed)
        self.state = EmulatorState(ids, UserState(ids.snowflake(), BOT_USERNAME, BOT_USERNAME, bot=True))
        settings = Settings(
            validate,
            strict,
            ack_deadline,
            token_ttl,
            heartbeat_interval,
            shards=shards,
            max_concurrency=max_concurrency,
            enforce_identify_limit=enforce_identify_limit,
            relax=frozenset(relax),
        )
        self._core = Core(self.state, ids, clock, settings, _NoDispatch(), ChannelWrites(channel_write_limit))
        self.gateway = GatewayServer(self._core)
        self._core.dispatcher = self.gateway
        self._store = InteractionStore(self._core)
        self._applicant = Applicant(self._core)
        self._admin = Admin(self._core, self._store)
        signer = try_signer(seed)
        if signer is not None:
            self.state.verify_key = signer.public_key
        self._http = HttpDelivery(self._core, self._store, signer)
        router = Router()
        GuildRoutes(self._core).register(router)
        MessageRoutes(self._core).register(router)
        AppRoutes(self._core, lambda: self.gateway_url).register(router)
        InteractionRoutes(self._store).register(router)
        self.routes: frozenset[str] = frozenset(router.keys)
        self.faults = FaultInjector(self.routes)
        self.latency = LatencyTable(self.routes, seed)
        self.rate_limits = RateLimitTable(self.routes, global_limit=global_rate_limit)
        self.late = LateActions()
        self._invalid = InvalidRequests(clock, limit=invalid_request_limit, ban_duration=ban_duration)
        self._rest = RestServer(
            self._core,
            router,
            faults=self.faults,
            latency=self.latency,
            rate_limits=self.rate_limits,
            invalid=self._invalid,
            late=self.late,
        )
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and start serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest.handle)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        # hikari opens a new TCP connection per request (force_close_transports=True by default):
        # a burst of 1,000 clicks overflows the default backlog of 128 and costs 1 s SYN retries.
        await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
        self._runner = runner
        self._port = int(sock.getsockname()[1])
        self.gateway.resume_url = f"ws://{HOST}:{self._port}/gateway/resume"
        logger.info("discord emulator listening on %s", self.rest_url)

    async def stop(self) -> None:
        """Close gateway connections and the HTTP server (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await self._http.stop()
        self.late.cancel()
        await self.gateway.close()
        await runner.cleanup()
        self._port = None
        logger.info("discord emulator stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.stop()

    # ---- addresses and identity ----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            msg = "the emulator is not started"
            raise RuntimeError(msg)
        return self._port

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v10`` (pass as hikari's ``rest_url``)."""
        return f"http://{HOST}:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """The gateway URL ``GET /gateway/bot`` returns."""
        return f"ws://{HOST}:{self.port}/gateway"

    @property
    def bot_token(self) -> str:
        """A token valid for :attr:`bot_user_id` (its first segment is base64 of the id)."""
        return self.state.bot_token

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self.state.bot.id

    @property
    def application_id(self) -> int:
        """The application id (equal to the bot user's id, as for every bot Discord creates now)."""
        return self.state.bot.id

    @property
    def public_key(self) -> str:
        """The application's Ed25519 public key, hex (what ``verify_key`` says; HTTP interactions are signed with it).

        Raises:
            RuntimeError: If PyNaCl is not installed.
        """
        return self._http.public_key

    # ---- interactions endpoint URL -------------------------------------------------------------

    def set_interaction_endpoints(
        self,
        urls: Sequence[str],
        *,
        strategy: Strategy = "round_robin",
        seed: int | None = None,
        timeout: float | None = None,
    ) -> None:
        """Deliver interactions as signed HTTP POSTs to ``urls`` instead of gateway INTERACTION_CREATE.

        Other gateway events still go over the gateway. The reply is the initial response; see
        :mod:`castbot_hikari.testing.emulator.http_interactions` for the rules. Unlike Discord's
        portal, this does not probe the URLs first: call :meth:`verify_endpoint` for that.

        Args:
            urls: ``http://127.0.0.1:PORT/...`` endpoints; empty: back to gateway delivery.
            strategy: ``"round_robin"`` or ``"random"`` (drawn from ``seed``).
            seed: Seed of the random strategy.
            timeout: Real seconds to wait for a reply before the interaction fails; default: the
                ack deadline plus 1 s (a reply after the deadline is judged late by the clock).

        Raises:
            ValueError: For a URL that is not http on 127.0.0.1 with a port, or an unknown strategy.
            RuntimeError: If PyNaCl is not installed.
        """
        self._http.configure(urls, strategy, seed, timeout)

    @property
    def interaction_endpoints(self) -> tuple[str, ...]:
        """The configured interactions endpoint URLs (empty: interactions go over the gateway)."""
        return self._http.urls

    async def verify_endpoint(self, url: str) -> EndpointCheck:
        """Probe ``url`` as Discord does when an interactions endpoint URL is saved.

        A correctly signed PING must get ``{"type": 1}``; one with a bad signature must get 401.

        Raises:
            ValueError: For a URL that is not http on 127.0.0.1 with a port.
            RuntimeError: If PyNaCl is not installed.
        """
        return await self._http.verify(url)

    # ---- records -------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every REST request answered, in order."""
        return self._rest.requests

    @property
    def validation_errors(self) -> list[str]:
        """``"METHOD path: error"`` for each spec violation seen (empty when all validated)."""
        return self._rest.validation_errors

    @property
    def invalid_requests(self) -> int:
        """401, 403 and 429 answers so far that count towards Discord's ban (not 429s of scope ``shared``)."""
        return self._invalid.total

    @property
    def bans(self) -> list[Ban]:
        """The "Cloudflare" bans so far (each refuses every REST request until it ends)."""
        return self._invalid.bans

    @property
    def interactions(self) -> Mapping[int, Interaction]:
        """Every simulated interaction by id."""
        return self._store.by_id

    # ---- world ---------------------------------------------------------------------------------

    def add_guild(self, seed: GuildSeed) -> Guild:
        """Create a guild with the bot in it; connected sessions get GUILD_CREATE."""
        guild = self.state.seed_guild(seed)
        self.gateway.announce_guild(self.state.guilds[guild.id])
        return guild

    async def click(
        self,
        guild_id: int,
        user_id: int,
        custom_id: str,
        *,
        channel_id: int | None = None,
        message_id: int | None = None,
    ) -> Interaction:
        """Simulate a member clicking a button and dispatch INTERACTION_CREATE.

        Args:
            guild_id: Guild of the click.
            user_id: The member clicking.
            custom_id: The button's custom id.
            channel_id: Channel of the message; default: the guild's first text channel.
            message_id: The message holding the button; default: a panel message with that button.

        Returns:
            The interaction record, also in :attr:`interactions`.

        Raises:
            RuntimeError: If no bot session exists to receive the event.
            ValueError: If the guild, member, channel, message or button does not exist.
        """
        self._require_session()
        return self._send(
            self._applicant.click(guild_id, user_id, custom_id, channel_id=channel_id, message_id=message_id)
        )

    async def slash_command(
        self,
        guild_id: int,
        user_id: int,
        name: str,
        *,
        subcommand: str | None = None,
        options: Mapping[str, object] | None = None,
        channel_id: int | None = None,
        ignore_default_permissions: bool = False,
    ) -> Interaction:
        """Simulate a member using a slash command the bot registered (APPLICATION_COMMAND, type 2).

        Args:
            guild_id: Guild of the command.
            user_id: The member using it; ``member.permissions`` are theirs in the channel.
            name: The registered command's name (guild commands first, then global ones).
            subcommand: ``"post"``, or ``"group subcommand"`` for a subcommand group.
            options: Option values by name: ``str``, ``int``, ``float``, ``bool``, or an id (``int``
                or ``str``) for user, channel and role options (those also land in ``resolved``).
            channel_id: Where it is used; default: the guild's first text channel.
            ignore_default_permissions: Let a member lacking the command's
                ``default_member_permissions`` use it (a server's Integrations override).

        Returns:
            The interaction record, also in :attr:`interactions`.

        Raises:
            RuntimeError: If no bot session exists to receive the event.
            ValueError: If the bot never registered the command, or Discord's client would not
                send it (unknown/missing/invalid option, no permission to use it).
        """
        self._require_session()
        return self._send(
            self._admin.slash_command(
                guild_id,
                user_id,
                name,
                subcommand=subcommand,
                options=options or {},
                channel_id=channel_id,
                ignore_default_permissions=ignore_default_permissions,
            )
        )

    async def submit_modal(self, interaction: Interaction, values: Mapping[str, str]) -> Interaction:
        """Simulate the user submitting the modal ``interaction`` was answered with (MODAL_SUBMIT, type 5).

        Args:
            interaction: An interaction whose first response was a modal (type 9).
            values: Text-input values by custom id; inputs left out keep their pre-filled value.

        Returns:
            The MODAL_SUBMIT interaction record.

        Raises:
            RuntimeError: If no bot session exists to receive the event.
            ValueError: If the first response was no modal, it was already submitted, a custom id is
                unknown, a required input is empty or a value breaks ``min_length``/``max_length``.
        """
        self._require_session()
        return self._send(self._admin.submit_modal(interaction, values))

    async def dm_click(self, user_id: int, custom_id: str, *, message_id: int | None = None) -> Interaction:
        """Simulate ``user_id`` clicking a button in their DM with the bot (no guild, ``user`` not ``member``).

        Args:
            user_id: Any user the emulator knows (``emu.state.users``), member of a guild or not.
            custom_id: The button's custom id.
            message_id: A message in that DM holding the button; default: a panel message with it.

        Raises:
            RuntimeError: If no bot session or interactions endpoint exists to receive it.
            ValueError: If the user, message or button does not exist, or the button is disabled.
        """
        self._require_session()
        return self._send(self._applicant.dm_click(user_id, custom_id, message_id=message_id))

    def visible_message(self, interaction: Interaction) -> MessageState | None:
        """Return the message the user sees now as ``interaction``'s response, with its components.

        That is the original response (ephemeral or not), or for type 6/7 the message the component
        is on, as later updated and edited by anyone; ``None`` before a response, for a modal, or
        once deleted.
        """
        return self._store.visible(interaction)

    async def click_component(self, target: Interaction | MessageState, user_id: int, custom_id: str) -> Interaction:
        """Simulate ``user_id`` clicking the button ``custom_id`` on a message (ephemeral ones too).

        Args:
            target: The message, or an interaction whose :meth:`visible_message` holds the button.
            user_id: The clicking member (only the recipient can use an ephemeral message).
            custom_id: The button's custom id.

        Raises:
            RuntimeError: If no bot session exists to receive the event.
            ValueError: If the message is gone or not visible to the user, or has no enabled button
                ``custom_id``.
        """
        self._require_session()
        return self._send(self._admin.component(target, user_id, custom_id, None))

    async def select(
        self, target: Interaction | MessageState, user_id: int, custom_id: str, *, values: Sequence[str | int]
    ) -> Interaction:
        """Simulate ``user_id`` picking ``values`` in the select menu ``custom_id`` on a message.

        Args:
            target: The message, or an interaction whose :meth:`visible_message` holds the select.
            user_id: The member picking.
            custom_id: The select's custom id.
            values: Option values (string select) or channel/role/user ids; ``data.resolved``
                carries the picked channels, roles and users as Discord sends them.

        Raises:
            RuntimeError: If no bot session exists to receive the event.
            ValueError: If the select is missing or disabled, the count is outside
                ``min_values``..``max_values``, or a value is not offered (wrong channel type, unknown
                option, channel the user cannot see).
        """
        self._require_session()
        return self._send(self._admin.component(target, user_id, custom_id, values))

    def _require_session(self) -> None:
        if not self.gateway.sessions and not self._http.active:
            msg = "no gateway session: start the bot (and await wait_ready) before interacting"
            raise RuntimeError(msg)

    def _send(self, invocation: Invocation) -> Interaction:
        inter, payload = invocation
        inter.payload = payload
        self._store.add(inter)
        if self._http.active:
            inter.record("dispatched", endpoint=self._http.deliver(inter, payload))
            return inter
        self.gateway.dispatch(inter.guild_id, "INTERACTION_CREATE", payload)
        inter.record("dispatched", connected=self.gateway.connected)
        return inter

    async def wait_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public API: callers pass timeouts
        """Wait until a bot identified and its READY and GUILD_CREATEs were sent."""
        await self.gateway.wait_ready(timeout)
