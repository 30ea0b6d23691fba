"""The apply workflow: one private application channel per (guild, user, config), never two.

Order matters and is the whole point of this module:
1. a per-identity lock (a concurrent click is refused, not queued);
2. the config, read from the clicking guild only;
3. the duplicate guard by identity (a record whose channel was deleted by hand is dropped);
4. a durable reservation *before* the channel exists, so a crash can be recovered and another process
   cannot race it;
5. the channel, then its id persisted, then the welcome, then the record (reservation dropped with it).
Any failure after the reservation either compensates (release; delete a channel that cannot be
recorded) or leaves state that the next click or the start-up reconciliation can finish.

``ApplyTimeline`` holds these steps; ``ApplicationService`` runs them for a click and delivers the result;
``recovery.Recovery`` runs them for a reservation an earlier process left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Final

from castbot_hikari.apply.alerts import Alerts
from castbot_hikari.apply.model import (
    Applicant,
    Application,
    ApplyKey,
    ApplyOutcome,
    CategoryOverflow,
    ChannelSpec,
    Click,
    Failure,
    OutboxItem,
    Pending,
    PendingState,
    Progress,
    Recovered,
    Rejection,
    ReplyHandle,
    ResultUndelivered,
    RoleMissing,
    Undelivered,
    Won,
    channel_spec,
    welcome,
)
from castbot_hikari.apply.ports import ApplicationRepository, DiscordOps, InteractionClaims, Leases, Responder
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core import metrics as names
from castbot_hikari.core import naming
from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind, LeaseLostError, StorageError
from castbot_hikari.core.ids import ChannelId, GuildId
from castbot_hikari.core.locks import KeyedLocks, KeyedSemaphores
from castbot_hikari.core.metrics import Metrics
from castbot_hikari.core.permissions import OverwriteTarget, describe

logger = logging.getLogger(__name__)

CLEANUP_LIMIT: Final = 30.0
MAX_CREATE_ATTEMPTS: Final = 3
MAX_OVERFLOW_HOPS: Final = 10
HANDLED_ELSEWHERE: Final = "handled-elsewhere"
"""``detail`` of the outcome of a click whose own reservation another process holds: that process (or the one
that takes its reservation over) answers through the reservation's reply handle, so this one shows nothing."""
WATCH_LIMIT_S: Final = 14 * 60.0
"""How long a process watches a click another process claimed (the token lives 15 minutes)."""
UNCONFIRMED_WINDOW_S: Final = 60.0
"""How long after an unconfirmed channel creation the channel may still appear (hikari's request timeout
is 30 s; Discord may finish a request it got after the client gave up)."""
_FAILURE_OF: Final = {
    DiscordErrorKind.MISSING_PERMISSIONS: Failure.MISSING_PERMISSIONS,
    DiscordErrorKind.NOT_FOUND: Failure.CATEGORY_MISSING,
    DiscordErrorKind.CATEGORY_FULL: Failure.CATEGORY_FULL,
    DiscordErrorKind.GUILD_FULL: Failure.GUILD_FULL,
    DiscordErrorKind.NAME_REJECTED: Failure.UNEXPECTED,
    DiscordErrorKind.ROLE_MISSING: Failure.UNEXPECTED,
    DiscordErrorKind.UNAVAILABLE: Failure.DISCORD_UNAVAILABLE,
    DiscordErrorKind.UNCONFIRMED: Failure.DISCORD_UNCONFIRMED,
    DiscordErrorKind.BAD_REQUEST: Failure.UNEXPECTED,
}
Steps = Callable[[Progress], None]


def new_reference() -> str:
    """Return a short id that ties an applicant's error message to the log lines about it."""
    return secrets.token_hex(4)


class SoleOwner:
    """``Leases`` of a store that one process owns: nothing to renew, every other owner is gone."""

    def __init__(self, repo: ApplicationRepository) -> None:
        self._repo = repo

    @property
    def renew_every_s(self) -> float | None:
        """Return ``None``: nothing expires."""
        return None

    async def renew(self, key: ApplyKey, *, owner: str) -> bool:
        """Return whether ``owner`` holds ``key``'s reservation."""
        pending = await self._repo.get_pending(key)
        return pending is not None and pending.owner == owner

    async def expired(self, *, owner: str) -> list[Pending]:
        """Return every reservation of another owner."""
        return [pending for pending in await self._repo.list_pending() if pending.owner != owner]

    async def take_over(self, pending: Pending, *, owner: str) -> Pending | None:
        """Return the reservation as it stands."""
        del owner
        return await self._repo.get_pending(pending.key)


def no_progress(step: Progress) -> None:
    """Show nothing (recovery has no applicant watching)."""
    del step


class ApplyTimeline:
    """The steps of one apply, shared by a click and by the recovery of an interrupted apply.

    Args:
        repo: Configs, applications and reservations.
        discord: The Discord calls of the workflow.
        alerts: Tells the admins what they must know.
        locks: In-process per-identity locks.
        metrics: Where counters go.
        clock: Time source.
        owner: This process's name in reservations (``host:pid:random``).
        leases: Liveness of reservations shared with other processes (default: this process owns the store).
        time_limit: Seconds after which an apply is stopped with a clear message.
        permission_backoff_s: Seconds to fail fast in a guild after Discord said the bot lacks permissions.
        unconfirmed_window_s: Seconds after an unconfirmed channel creation during which it may still land.
        sleep: Injected so tests never wait.
    """

    def __init__(
        self,
        repo: ApplicationRepository,
        discord: DiscordOps,
        *,
        alerts: Alerts,
        locks: KeyedLocks,
        metrics: Metrics,
        clock: Clock,
        owner: str,
        time_limit: float = 600.0,
        permission_backoff_s: float = 60.0,
        unconfirmed_window_s: float = UNCONFIRMED_WINDOW_S,
        sleep: Sleep = asyncio.sleep,
        leases: Leases | None = None,
    ) -> None:
        self.repo = repo
        self.owner = owner
        self.leases: Leases = leases if leases is not None else SoleOwner(repo)
        self._unconfirmed_window_ms = int(unconfirmed_window_s * 1000)
        self._sleep = sleep
        self._discord = discord
        self._alerts = alerts
        self._locks = locks
        self._metrics = metrics
        self._clock = clock
        self._time_limit = time_limit
        self._permission_backoff_s = permission_backoff_s
        # Guilds where the bot just got "missing permissions": until then, fail fast instead of sending
        # more requests Discord will refuse (403s count towards its invalid-request ban).
        self._blocked_until: dict[GuildId, float] = {}
        # A reservation older than the time limit (plus cleanup) belongs to a process that died.
        self.stale_after_ms = int((time_limit + CLEANUP_LIMIT) * 1000) + 60_000

    async def guarded(
        self, key: ApplyKey, applicant: Applicant, work: Callable[[], Awaitable[ApplyOutcome]]
    ) -> ApplyOutcome:
        """Run ``work`` under the identity's lock and the time limit; turn failures into outcomes."""
        with self._locks.try_hold(key) as held:
            if not held:
                return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
            reference = new_reference()
            timeout = asyncio.timeout(self._time_limit)
            try:
                async with timeout, self._renewing(key):
                    return await work()
            except TimeoutError:
                if not timeout.expired():
                    raise
                logger.warning("apply timed out key=%s limit_s=%s ref=%s", key, self._time_limit, reference)
                return await self._after_timeout(key, applicant, reference)
            except LeaseLostError as exc:  # another process took the apply over and finishes it
                logger.warning("apply taken over by another process key=%s ref=%s error=%s", key, reference, exc)
                return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
            except StorageError as exc:
                logger.error("apply storage failure key=%s ref=%s error=%s", key, reference, exc)
                return ApplyOutcome.failed(Failure.STORAGE, reference, str(exc))
            except DiscordError as exc:
                logger.warning("apply discord failure key=%s ref=%s error=%s", key, reference, exc)
                return ApplyOutcome.failed(_FAILURE_OF[exc.kind], reference, str(exc))
            except Exception as exc:  # the one place unexpected errors become a message
                logger.exception("apply failed unexpectedly key=%s ref=%s", key, reference)
                return ApplyOutcome.failed(Failure.UNEXPECTED, reference, type(exc).__name__)

    @contextlib.asynccontextmanager
    async def _renewing(self, key: ApplyKey) -> AsyncGenerator[None]:
        """Renew ``key``'s lease while the body runs (when the store's reservations expire at all)."""
        every = self.leases.renew_every_s
        if every is None:
            yield
            return
        task = asyncio.create_task(self._renew_loop(key, every), name=f"castbot-lease-{key.user_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _renew_loop(self, key: ApplyKey, every: float) -> None:
        while True:
            await asyncio.sleep(every)  # real time on purpose: the lease runs out in the database's real time
            try:
                await self.leases.renew(key, owner=self.owner)
            except StorageError as exc:  # the next renewal may work; the commit's fence decides in the end
                logger.warning("could not renew the lease key=%s error=%s", key, exc)

    async def apply(
        self, key: ApplyKey, applicant: Applicant, progress: Steps, reply: ReplyHandle | None
    ) -> ApplyOutcome:
        """Check, reserve and settle one click (call under ``guarded``)."""
        config = await self.repo.get_config(key.guild_id, key.config_id)
        if config is None:
            return ApplyOutcome.rejected(Rejection.CONFIG_NOT_FOUND)
        if not config.is_open:
            return ApplyOutcome.rejected(Rejection.CLOSED)
        if (open_channel := await self._existing_channel(key)) is not None:
            return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, open_channel)
        held = await self.repo.reserve(
            key,
            owner=self.owner,
            now_ms=self._clock.now_ms(),
            stale_after_ms=self.stale_after_ms,
            applicant=applicant,
            reply=reply,
        )
        if isinstance(held, Application):  # another process recorded it since we looked
            return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, held.channel_id)
        if isinstance(held, Pending):
            if reply is not None and held.reply is not None and held.reply.token == reply.token:
                return dataclasses.replace(ApplyOutcome.rejected(Rejection.IN_PROGRESS), detail=HANDLED_ELSEWHERE)
            return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
        return await self.settle(key, config, applicant, held, progress=progress)

    async def settle(
        self,
        key: ApplyKey,
        config: ApplicationConfig,
        applicant: Applicant,
        held: Won | Pending,
        *,
        progress: Steps = no_progress,
        create: bool = True,
        recovering: Pending | None = None,
    ) -> ApplyOutcome:
        """Finish a reserved apply: adopt what an earlier attempt created, or create the channel.

        Args:
            key: The apply's identity (its reservation is held).
            config: Its config.
            applicant: Who applies.
            held: The reservation won, or the interrupted reservation being recovered.
            progress: Shows the applicant a step.
            create: Create the channel when none exists; ``False`` releases the reservation instead (once
                no unconfirmed creation can land any more).
            recovering: Set when this settles an interrupted apply: the admins (and, while their token
                lives, the applicant) are told in the same write that settles the reservation.
        """
        previous = held.previous if isinstance(held, Won) else held
        spec = channel_spec(config, applicant, self._discord.bot_user_id)
        if previous is not None and (adopted := await self._adoptable(key, previous)) is not None:
            welcomed = previous.state is PendingState.WELCOMED
            return await self._finish(
                config, applicant, adopted, spec.name, welcomed=welcomed, check=True, recovering=recovering
            )
        # A creation an earlier attempt sent may still land. Its request may have waited (hikari's rate-limit
        # queue) and nothing is sent once its sender stopped, which was before now: the window runs from now.
        attempt_ms = previous.create_attempt_ms if previous is not None else None
        if attempt_ms is not None:
            attempt_ms = max(attempt_ms, self._clock.now_ms())
        if not create:
            late = await self._await_late(key, attempt_ms) if attempt_ms is not None else None
            if late is None:
                return await self.release(key, ApplyOutcome.rejected(Rejection.INTERRUPTED), recovering)
            return await self._finish(config, applicant, late, spec.name, welcomed=False, recovering=recovering)
        progress(Progress.CREATING)
        channel_id = await self._create_reserved(key, spec, progress, attempt_ms)
        await self._persist_channel(key, channel_id)
        return await self._finish(
            config,
            applicant,
            channel_id,
            spec.name,
            welcomed=False,
            check=attempt_ms is not None,
            recovering=recovering,
        )

    async def release(self, key: ApplyKey, outcome: ApplyOutcome, recovering: Pending | None) -> ApplyOutcome:
        """Drop ``key``'s reservation, telling the admins when it was an interrupted apply; return ``outcome``."""
        await self.repo.release(key, notice=_recovered(key, outcome, recovering))
        return outcome

    async def _finish(
        self,
        config: ApplicationConfig,
        applicant: Applicant,
        channel_id: ChannelId,
        name: str,
        *,
        welcomed: bool,
        recovering: Pending | None,
        check: bool = False,
    ) -> ApplyOutcome:
        """Welcome (unless done before; ``check``: look at the channel first) and record the application."""
        if not welcomed:
            await self._welcome(config, applicant, channel_id, check=check)
        outcome = ApplyOutcome.created(channel_id)
        application = Application.new(config, applicant, channel_id, name, self._clock.now_ms())
        try:
            await self.repo.commit(application, notice=_recovered(application.key, outcome, recovering))
        except LeaseLostError:
            raise  # the process that took the apply over adopts the channel: never delete it
        except StorageError:
            interrupted = ApplyOutcome.rejected(Rejection.INTERRUPTED)
            await self._undo_channel(application.key, channel_id, _recovered(application.key, interrupted, recovering))
            raise
        return outcome

    async def _existing_channel(self, key: ApplyKey) -> ChannelId | None:
        """Return the channel of a live application; drop a record whose channel was deleted."""
        existing = await self.repo.find_application(key)
        if existing is None:
            return None
        if await self._discord.channel_exists(existing.channel_id):
            self._metrics.incr(names.DUPLICATES_PREVENTED)
            return existing.channel_id
        logger.info("removing orphan application key=%s channel=%s", key, existing.channel_id)
        self._metrics.incr(names.ORPHANS_REMOVED)
        await self.repo.remove_application(key.guild_id, existing.channel_id)
        return None

    async def _adoptable(self, key: ApplyKey, previous: Pending) -> ChannelId | None:
        """Return the channel a dead process created for this reservation, if it exists."""
        channel = previous.channel_id or await self._discord.find_application_channel(key, fresh=True)
        if channel is not None and await self._discord.channel_exists(channel):
            logger.info("adopting channel of an interrupted apply key=%s channel=%s", key, channel)
            return channel
        return None

    async def _create_reserved(
        self, key: ApplyKey, spec: ChannelSpec, progress: Steps, unconfirmed_since: int | None
    ) -> ChannelId:
        """Create the reservation's channel, never leaving a twin: look before every attempt, and after an
        unconfirmed one wait out the window in which it may still land before trying again.

        The reservation is released only when Discord refused (nothing exists); after an unconfirmed attempt
        it stays, so the next click, the timeout cleanup or the start-up reconciliation resolves it by looking.
        """
        for _ in range(MAX_CREATE_ATTEMPTS):
            if unconfirmed_since is not None:
                found = await self._await_late(key, unconfirmed_since)
            else:  # a fresh reservation: the gateway cache knows every channel of the guild
                found = await self._discord.find_application_channel(key)
            if found is not None:
                logger.info("found the channel of an earlier attempt key=%s channel=%s", key, found)
                return found
            await self._mark_creating(key, self._clock.now_ms())  # a crash from here on leaves it marked
            try:
                return await self._create_channel(key, spec)
            except DiscordError as exc:
                if exc.kind is not DiscordErrorKind.UNCONFIRMED:
                    await self._release_quietly(key)  # Discord refused: no channel exists
                    raise
                unconfirmed_since = self._clock.now_ms()  # it left no later than its answer came
                logger.warning("channel creation unconfirmed key=%s error=%s", key, exc)
                progress(Progress.DISCORD_SLOW)
        assert unconfirmed_since is not None
        if (found := await self._await_late(key, unconfirmed_since)) is not None:
            return found
        await self._release_quietly(key)  # the window of the last attempt passed: nothing will land now
        raise DiscordError(DiscordErrorKind.UNAVAILABLE, f"channel creation unconfirmed {MAX_CREATE_ATTEMPTS} times")

    async def _mark_creating(self, key: ApplyKey, attempt_ms: int) -> None:
        try:
            await self.repo.mark_creating(key, attempt_ms)
        except StorageError:
            await self._release_quietly(key)  # nothing was sent
            raise

    async def _await_late(self, key: ApplyKey, since_ms: int) -> ChannelId | None:
        """Look (over REST) for the channel of an unconfirmed creation until its window after ``since_ms``
        (when its outcome became unknown) has passed.

        Raises:
            DiscordError: ``UNCONFIRMED`` when Discord could not be asked: whether it landed is unknown.
        """
        delay = 1.0
        try:
            while True:
                found = await self._discord.find_application_channel(key, fresh=True)
                remaining_s = (since_ms + self._unconfirmed_window_ms - self._clock.now_ms()) / 1000
                if found is not None or remaining_s <= 0:
                    return found
                await self._sleep(min(delay, remaining_s))
                delay = min(delay * 2, 15.0)
        except DiscordError as exc:
            raise DiscordError(DiscordErrorKind.UNCONFIRMED, f"could not look for the channel: {exc}") from exc

    async def _create_channel(self, key: ApplyKey, spec: ChannelSpec) -> ChannelId:
        blocked_until = self._blocked_until.get(key.guild_id, 0.0)
        if self._clock.monotonic() < blocked_until:
            self._metrics.incr(names.PERMISSION_FAST_FAIL)
            raise DiscordError(DiscordErrorKind.MISSING_PERMISSIONS, "recently refused for missing permissions")
        if lacking := await self._discord.missing_permissions(spec.guild_id, spec.category_id):
            self._blocked_until[key.guild_id] = self._clock.monotonic() + self._permission_backoff_s
            raise DiscordError(
                DiscordErrorKind.MISSING_PERMISSIONS, f"checked before creating: lacks {describe(lacking)}"
            )
        try:
            return await self._discord.create_channel(spec)
        except DiscordError as exc:
            return await self._recover_create(key, spec, exc)

    async def _recover_create(self, key: ApplyKey, spec: ChannelSpec, exc: DiscordError) -> ChannelId:
        """Retry a refused channel creation where a retry can work; re-raise otherwise."""
        match exc.kind:
            case DiscordErrorKind.NAME_REJECTED:  # word filter: retry once with a neutral name
                logger.info("channel name rejected, using neutral name key=%s", key)
                neutral = dataclasses.replace(spec, name=naming.fallback_channel_name(key.user_id))
                return await self._discord.create_channel(neutral)
            case DiscordErrorKind.CATEGORY_FULL if spec.category_id is not None:
                return await self._overflow(key, spec, spec.category_id)
            case DiscordErrorKind.ROLE_MISSING:  # the production role was deleted: create without it
                await self._alerts.send(key.guild_id, RoleMissing())
                without = tuple(
                    o for o in spec.overwrites if o.target is not OverwriteTarget.ROLE or o.target_id == spec.guild_id
                )
                return await self._discord.create_channel(dataclasses.replace(spec, overwrites=without))
            case DiscordErrorKind.MISSING_PERMISSIONS:
                self._blocked_until[key.guild_id] = self._clock.monotonic() + self._permission_backoff_s
            case _:
                pass
        raise exc

    async def _overflow(self, key: ApplyKey, spec: ChannelSpec, root: ChannelId) -> ChannelId:
        """Create the channel in the next category of ``root``'s chain with room ("Applications 2", ...)."""
        full = root
        for _ in range(MAX_OVERFLOW_HOPS):
            target = await self._discord.overflow_category(spec.guild_id, root, full)
            self._metrics.incr(names.CATEGORY_OVERFLOW)
            await self._alerts.send(key.guild_id, CategoryOverflow(full, target))
            try:
                return await self._discord.create_channel(dataclasses.replace(spec, category_id=target))
            except DiscordError as exc:
                if exc.kind is not DiscordErrorKind.CATEGORY_FULL:
                    raise
                full = target  # filled up meanwhile by concurrent applies: on to the next one
        raise DiscordError(DiscordErrorKind.CATEGORY_FULL, f"{MAX_OVERFLOW_HOPS} overflow categories were full")

    async def _persist_channel(self, key: ApplyKey, channel_id: ChannelId) -> None:
        try:
            await self.repo.mark_channel(key, channel_id)
        except LeaseLostError:
            raise  # the process that took the apply over adopts the channel: never delete it
        except StorageError:
            await self._undo_channel(key, channel_id)
            raise

    async def _welcome(
        self, config: ApplicationConfig, applicant: Applicant, channel_id: ChannelId, *, check: bool
    ) -> None:
        """Post the welcome once: when an earlier attempt may have posted it (``check``, or an unconfirmed
        send), look at the channel first."""
        key = ApplyKey(config.guild_id, applicant.user_id, config.config_id)
        if check and await self._welcome_posted(channel_id):
            await self.repo.mark_welcomed(key)
            return
        for attempt in range(2):
            try:
                await self._discord.send_welcome(channel_id, welcome(config, applicant))
            except DiscordError as exc:
                if exc.kind is DiscordErrorKind.UNCONFIRMED and attempt == 0:
                    if await self._welcome_posted(channel_id):
                        break
                    continue
                # The channel stands and is recorded; the admins can greet by hand.
                self._metrics.incr(names.WELCOME_FAILED)
                logger.warning("welcome message failed channel=%s error=%s", channel_id, exc)
                return
            break
        await self.repo.mark_welcomed(key)

    async def _welcome_posted(self, channel_id: ChannelId) -> bool:
        try:
            return await self._discord.welcome_posted(channel_id)
        except DiscordError as exc:  # cannot tell: better one welcome too many than none
            logger.info("could not read the channel before welcoming channel=%s error=%s", channel_id, exc)
            return False

    async def _undo_channel(self, key: ApplyKey, channel_id: ChannelId, notice: OutboxItem | None = None) -> None:
        """Delete a channel that cannot be recorded, so a retry starts clean instead of duplicating."""
        try:
            await self._discord.delete_channel(channel_id)
        except DiscordError as exc:
            logger.error("could not delete unrecorded channel key=%s channel=%s error=%s", key, channel_id, exc)
        await self._release_quietly(key, notice)

    async def _release_quietly(self, key: ApplyKey, notice: OutboxItem | None = None) -> None:
        try:
            await self.repo.release(key, notice=notice)
        except StorageError as exc:
            # Memory still matches the disk; this process takes its own reservation over on the next click.
            logger.error("could not release reservation key=%s error=%s", key, exc)

    async def _after_timeout(self, key: ApplyKey, applicant: Applicant, reference: str) -> ApplyOutcome:
        """Finish or undo a timed-out apply so the applicant is never left with a half-made state."""
        try:
            async with asyncio.timeout(CLEANUP_LIMIT):
                if (recorded := await self.repo.find_application(key)) is not None:
                    return ApplyOutcome.created(recorded.channel_id)
                pending = await self.repo.get_pending(key)
                config = await self.repo.get_config(key.guild_id, key.config_id)
                if pending is not None and config is not None:
                    settled = await self.settle(key, config, applicant, pending, create=False)
                    if settled.channel_id is not None:
                        return settled
        except (TimeoutError, DiscordError, StorageError) as exc:
            logger.error("cleanup after timeout failed key=%s ref=%s error=%s", key, reference, exc)
        return ApplyOutcome.failed(Failure.TIMED_OUT, reference)


def _recovered(key: ApplyKey, outcome: ApplyOutcome, recovering: Pending | None) -> OutboxItem | None:
    """Return the outbox notice of an interrupted apply's end (``None`` when not recovering one)."""
    if recovering is None:
        return None
    return OutboxItem(new_reference(), key.guild_id, Recovered(key, outcome), recovering.reply)


class ApplicationService:
    """Run the apply workflow for clicks and deliver each result.

    Args:
        timeline: The steps of an apply.
        alerts: Tells the admins about failures and undelivered results.
        metrics: Where counters and timings go.
        clock: Time source.
        max_concurrent: Applies doing their work at once in all servers; more clicks wait (deferred,
            "thinking…") for a slot. A bound on memory and on the bot's own work, far above what Discord's
            global limit lets through.
        max_per_server: Applies doing their work at once in one server. Discord limits channel creation per
            server, so more would only queue in hikari's buckets; one busy server never holds up the others.
        claims: Which process handles each click, when several receive every click (``None``: this one).
    """

    def __init__(
        self,
        timeline: ApplyTimeline,
        *,
        alerts: Alerts,
        metrics: Metrics,
        clock: Clock,
        max_concurrent: int = 200,
        max_per_server: int = 10,
        claims: InteractionClaims | None = None,
    ) -> None:
        self._timeline = timeline
        self._claims = claims
        self._alerts = alerts
        self._metrics = metrics
        self._clock = clock
        self._slots = asyncio.Semaphore(max_concurrent)
        self._server_slots = KeyedSemaphores(max_per_server)
        self._running = 0
        self._working = 0
        self._waiting = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    async def drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for running applies to finish; return whether they did.

        From now on this process takes no click over from another (it is stopping; the store closes next).
        """
        self._stopping = True
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def handle_click(self, click: Click, responder: Responder) -> ApplyOutcome:
        """Apply, then show the result; keep it for the admins if the applicant cannot be reached.

        When several processes receive every click, only the one that claims it goes on; the others watch
        the claim and take the click over only if its claimer dies before finishing it.
        """
        if not await self._claimed(click):
            logger.debug("click handled by another process key=%s interaction=%s", click.key, click.interaction_id)
            return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
        self._metrics.incr(names.APPLY_CLICKS)
        self._running += 1
        self._idle.clear()
        try:
            async with self._holding_claim(click):
                async with self._slot(click.key.guild_id):
                    outcome = await self.apply(click.key, click.applicant, responder.show_progress, reply=click.reply)
                if outcome.detail == HANDLED_ELSEWHERE:
                    logger.info("click answered by the holder of its reservation key=%s", click.key)
                    return outcome
                delivery = await responder.show_result(outcome)
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        total_ms = (self._clock.monotonic() - click.received_at) * 1000
        self._metrics.incr(names.APPLY_OUTCOME + outcome.label)
        self._metrics.observe(names.APPLY_RESULT_MS, total_ms)
        self._metrics.observe(names.APPLY_ACK_MS, click.ack_ms)
        logger.info(
            "apply guild=%s user=%s config=%s outcome=%s ack_ms=%.1f total_ms=%.1f delivered=%s ref=%s",
            click.key.guild_id,
            click.key.user_id,
            click.key.config_id,
            outcome.label,
            click.ack_ms,
            total_ms,
            delivery.delivered,
            outcome.reference or "-",
        )
        await self._alerts.after_apply(click.key, outcome)
        if not delivery.delivered:
            await self._keep_undelivered(click.key, outcome, delivery.text, delivery.reason)
        return outcome

    async def _claimed(self, click: Click) -> bool:
        """Return whether this process handles ``click``: it claimed it, or took it over from a dead claimer."""
        claims, interaction = self._claims, click.interaction_id
        if claims is None or interaction is None:
            return True
        owner = self._timeline.owner
        try:
            if await claims.claim(interaction, owner=owner):
                return True
            deadline = click.received_at + WATCH_LIMIT_S
            while self._clock.monotonic() < deadline:
                await asyncio.sleep(claims.renew_every_s)  # real time: the claimer's lease runs in real time
                if self._stopping:  # a stopping process leaves the click to its claimer (or another survivor)
                    return False
                if await claims.claim_done(interaction):
                    return False
                if await claims.claim(interaction, owner=owner):
                    logger.warning("taking over a click whose process stopped key=%s", click.key)
                    return True
        except StorageError as exc:  # the reservation still guards against duplicates: handle it here
            if self._stopping:  # the store closed under a watcher as this process stops: not this one's click
                return False
            logger.warning("could not claim the click key=%s error=%s", click.key, exc)
            return True
        return False

    @contextlib.asynccontextmanager
    async def _holding_claim(self, click: Click) -> AsyncGenerator[None]:
        """Renew this process's claim of ``click`` while it is handled; mark it finished at the end."""
        claims, interaction = self._claims, click.interaction_id
        if claims is None or interaction is None:
            yield
            return
        owner = self._timeline.owner

        async def renew() -> None:
            while True:
                await asyncio.sleep(claims.renew_every_s)
                with contextlib.suppress(StorageError):
                    await claims.renew_claim(interaction, owner=owner)

        task = asyncio.create_task(renew(), name=f"castbot-claim-{interaction}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            try:
                await claims.finish_claim(interaction, owner=owner)
            except StorageError as exc:  # its lease runs out: a watcher may answer once more, never create twice
                logger.warning("could not mark the click finished key=%s error=%s", click.key, exc)

    @contextlib.asynccontextmanager
    async def _slot(self, guild_id: GuildId) -> AsyncGenerator[None]:
        """Hold a slot of the server and one of all servers, counting the applies waiting and working."""
        self._waiting += 1
        self._metrics.gauge(names.APPLIES_WAITING, self._waiting)
        waiting = True
        try:
            async with self._server_slots.hold(guild_id):
                await self._slots.acquire()
                self._waiting -= 1
                waiting = False
                self._metrics.gauge(names.APPLIES_WAITING, self._waiting)
                self._working += 1
                self._metrics.gauge(names.APPLIES_RUNNING, self._working)
                try:
                    yield
                finally:
                    self._working -= 1
                    self._metrics.gauge(names.APPLIES_RUNNING, self._working)
                    self._slots.release()
        finally:
            if waiting:
                self._waiting -= 1
                self._metrics.gauge(names.APPLIES_WAITING, self._waiting)

    async def apply(
        self, key: ApplyKey, applicant: Applicant, progress: Steps = no_progress, *, reply: ReplyHandle | None = None
    ) -> ApplyOutcome:
        """Run the workflow for one click; never raises for expected or Discord/storage failures.

        ``reply`` is kept with the reservation so that, after a crash, the applicant still gets the result.
        """
        timeline = self._timeline
        return await timeline.guarded(key, applicant, lambda: timeline.apply(key, applicant, progress, reply))

    async def _keep_undelivered(self, key: ApplyKey, outcome: ApplyOutcome, text: str, reason: str | None) -> None:
        reference = outcome.reference or new_reference()
        reason = reason or "unknown reason"
        self._metrics.incr(names.FOLLOWUP_GIVEN_UP)
        logger.warning(
            "result not delivered guild=%s user=%s config=%s outcome=%s reason=%s ref=%s",
            key.guild_id,
            key.user_id,
            key.config_id,
            outcome.label,
            reason,
            reference,
        )
        item = Undelivered(reference, key, outcome.label, text, self._clock.now_ms(), reason)
        try:
            await self._timeline.repo.record_undelivered(item)
        except StorageError as exc:
            logger.error("could not keep undelivered result ref=%s error=%s", reference, exc)
        await self._alerts.send(key.guild_id, ResultUndelivered(key, text, reason))
