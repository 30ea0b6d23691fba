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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from castbot_hikari.apply import notices, render
from castbot_hikari.apply.model import (
    Applicant,
    Application,
    ApplicationConfig,
    ApplyOutcome,
    ChannelSpec,
    Failure,
    Rejection,
    channel_spec,
    welcome,
)
from castbot_hikari.apply.ports import (
    AdminNotifier,
    ApplicationRepository,
    ApplyKey,
    Clock,
    DiscordOps,
    LateReplier,
    Metrics,
    Notice,
    Pending,
    PendingState,
    ReplyHandle,
    Responder,
    Undelivered,
)
from castbot_hikari.core import naming
from castbot_hikari.core.errors import DiscordError, DiscordErrorKind, StorageError
from castbot_hikari.core.ids import ChannelId, GuildId
from castbot_hikari.core.locks import KeyedLocks
from castbot_hikari.core.permissions import OverwriteTarget, describe

logger = logging.getLogger(__name__)

CLEANUP_LIMIT: Final = 30.0
TOKEN_SAFETY_S: Final = 30.0
REPEAT_COUNT: Final = 3
REPEAT_WINDOW_S: Final = 600.0
_FAILURE_OF: Final = {
    DiscordErrorKind.MISSING_PERMISSIONS: Failure.MISSING_PERMISSIONS,
    DiscordErrorKind.NOT_FOUND: Failure.CATEGORY_MISSING,
    DiscordErrorKind.CATEGORY_FULL: Failure.CATEGORY_FULL,
    DiscordErrorKind.GUILD_FULL: Failure.GUILD_FULL,
    DiscordErrorKind.NAME_REJECTED: Failure.UNEXPECTED,
    DiscordErrorKind.ROLE_MISSING: Failure.UNEXPECTED,
    DiscordErrorKind.UNAVAILABLE: Failure.DISCORD_UNAVAILABLE,
    DiscordErrorKind.BAD_REQUEST: Failure.UNEXPECTED,
}


def new_reference() -> str:
    """Return a short id that ties an applicant's error message to the log lines about it."""
    return secrets.token_hex(4)


@dataclass(frozen=True, slots=True)
class Click:
    """One click on an Apply button, as the glue hands it over after the defer."""

    key: ApplyKey
    applicant: Applicant
    received_at: float
    ack_ms: float
    reply: ReplyHandle | None = None


class ApplicationService:
    """Run the apply workflow and deliver its result.

    Args:
        repo: Configs, applications and reservations.
        discord: The Discord calls of the workflow.
        locks: In-process per-identity locks.
        metrics: Where counters and timings go.
        clock: Time source.
        owner: This process's name in reservations (``host:pid:random``).
        notifier: Tells each server's admins what they must fix; without one, notices are only logged.
        replier: Answers applicants from a stored reply handle after a restart (optional).
        time_limit: Seconds after which an apply is stopped with a clear message.
        permission_backoff_s: Seconds to fail fast in a guild after Discord said the bot lacks permissions.
        max_concurrent: Applies doing their work at once; more clicks wait (deferred, "thinking…") for a
            slot. On one event loop this keeps a click storm's background work from starving the acks.
    """

    def __init__(
        self,
        repo: ApplicationRepository,
        discord: DiscordOps,
        *,
        locks: KeyedLocks,
        metrics: Metrics,
        clock: Clock,
        owner: str,
        notifier: AdminNotifier | None = None,
        replier: LateReplier | None = None,
        time_limit: float = 600.0,
        permission_backoff_s: float = 60.0,
        max_concurrent: int = 20,
    ) -> None:
        self._repo = repo
        self._discord = discord
        self._locks = locks
        self._metrics = metrics
        self._clock = clock
        self._owner = owner
        self._notifier = notifier
        self._replier = replier
        self._time_limit = time_limit
        self._permission_backoff_s = permission_backoff_s
        # Guilds where the bot just got "missing permissions": until then, fail fast instead of sending
        # more requests Discord will refuse (403s count towards its invalid-request ban).
        self._blocked_until: dict[GuildId, float] = {}
        self._slots = asyncio.Semaphore(max_concurrent)
        self._recent_failures: dict[GuildId, list[float]] = {}
        # A reservation older than the time limit (plus cleanup) belongs to a process that died.
        self._stale_after_ms = int((time_limit + CLEANUP_LIMIT) * 1000) + 60_000
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for running applies to finish; return whether they did."""
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True

    async def handle_click(self, click: Click, responder: Responder) -> ApplyOutcome:
        """Apply, then show the result; keep it for the admins if the applicant cannot be reached."""
        self._metrics.incr("apply.clicks")
        self._running += 1
        self._idle.clear()
        try:
            async with self._slots:
                outcome = await self.apply(click.key, click.applicant, responder.show_progress, reply=click.reply)
            text = render.apply_outcome(outcome)
            delivery = await responder.show_result(text)
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()
        total_ms = (self._clock.monotonic() - click.received_at) * 1000
        self._metrics.incr(f"apply.{outcome.label}")
        self._metrics.observe("apply.result_ms", total_ms)
        self._metrics.observe("apply.ack_ms", click.ack_ms)
        logger.info(
            "apply guild=%s user=%s config=%s outcome=%s ack_ms=%.1f total_ms=%.1f delivered=%s ref=%s",
            click.key.guild_id, click.key.user_id, click.key.config_id, outcome.label, click.ack_ms,
            total_ms, delivery.delivered, outcome.reference or "-",
        )  # fmt: skip
        await self._tell_admins(click.key, outcome)
        if not delivery.delivered:
            await self._keep_undelivered(click.key, outcome, text, delivery.reason)
        return outcome

    async def apply(
        self, key: ApplyKey, applicant: Applicant, progress: Callable[[str], None], *, reply: ReplyHandle | None = None
    ) -> ApplyOutcome:
        """Run the workflow for one click; never raises for expected or Discord/storage failures.

        ``reply`` is kept with the reservation so that, after a crash, the applicant still gets the result.
        """
        return await self._guarded(key, applicant, lambda: self._apply(key, applicant, progress, reply))

    async def resume(self, pending: Pending, *, create_missing: bool = True, announce: bool = False) -> ApplyOutcome:
        """Finish an interrupted apply: adopt its channel if it exists, else create it or release it.

        Args:
            pending: The reservation left by an apply that did not finish.
            create_missing: Create the channel when none exists (an admin's retry); ``False`` releases
                the reservation instead (start-up: the applicant is told to click again).
            announce: Queue a notice for the admins in the same write that settles the reservation, so a
                crash can never settle it silently (``flush_outbox`` sends it).
        """
        applicant = pending.applicant or Applicant(
            pending.key.user_id, str(pending.key.user_id), str(pending.key.user_id), None
        )
        return await self._guarded(
            pending.key, applicant, lambda: self._resume(pending, applicant, create_missing, announce)
        )

    async def list_pending(self, guild_id: GuildId | None = None) -> list[Pending]:
        """Return applies that did not finish (reserved, or with a channel but no record)."""
        return await self._repo.list_pending(guild_id)

    async def reconcile(self) -> list[tuple[Pending, ApplyOutcome]]:
        """At start-up, finish or release every apply an earlier process left unfinished, and tell the admins.

        The JSON store has one owning process, so every reservation not made by this process is from a
        process that is gone. The applicant's interaction token is not kept (it is a secret), so the
        notify channel gets the result. Notices go through the outbox: at least once, even across crashes.
        """
        await self.flush_outbox()
        results: list[tuple[Pending, ApplyOutcome]] = []
        for pending in await self._repo.list_pending():
            if pending.owner == self._owner:
                continue
            outcome = await self.resume(pending, create_missing=False, announce=True)
            logger.info("reconciled key=%s state=%s outcome=%s", pending.key, pending.state.value, outcome.label)
            self._metrics.incr(f"reconcile.{outcome.label}")
            results.append((pending, outcome))
        await self.flush_outbox()
        return results

    async def flush_outbox(self) -> int:
        """Send queued admin notices (each is dropped after its attempt); return how many were sent."""
        sent = 0
        for notice in await self._repo.list_outbox():
            await self._reply_late(notice)
            await self._notify(notice.guild_id, notice.text)
            try:
                await self._repo.drop_notice(notice.notice_id)
            except StorageError as exc:
                logger.error("could not drop sent notice id=%s error=%s", notice.notice_id, exc)
                break
            sent += 1
        return sent

    async def _reply_late(self, notice: Notice) -> None:
        """Tell the applicant the result of an apply a restart interrupted, if their token still lives."""
        handle, text = notice.reply, notice.reply_text
        if handle is None or text is None or self._replier is None:
            return
        if self._clock.now_ms() >= handle.expires_at_ms - int(TOKEN_SAFETY_S * 1000):
            return  # too late: the admins' notice is all that is left
        try:
            delivered = await self._replier.reply(handle, text)
        except Exception:  # best effort: the admins are told either way
            logger.exception("late reply failed notice=%s", notice.notice_id)
            return
        self._metrics.incr("reconcile.replied" if delivered else "reconcile.reply_failed")

    async def _guarded(
        self, key: ApplyKey, applicant: Applicant, work: Callable[[], Awaitable[ApplyOutcome]]
    ) -> ApplyOutcome:
        """Run ``work`` under the identity's lock and the time limit; turn failures into outcomes."""
        with self._locks.try_hold(key) as held:
            if not held:
                return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
            reference = new_reference()
            timeout = asyncio.timeout(self._time_limit)
            try:
                async with timeout:
                    return await work()
            except TimeoutError:
                if not timeout.expired():
                    raise
                logger.warning("apply timed out key=%s limit_s=%s ref=%s", key, self._time_limit, reference)
                return await self._after_timeout(key, applicant, reference)
            except StorageError as exc:
                logger.error("apply storage failure key=%s ref=%s error=%s", key, reference, exc)
                return ApplyOutcome.failed(Failure.STORAGE, reference, str(exc))
            except DiscordError as exc:
                logger.warning("apply discord failure key=%s ref=%s error=%s", key, reference, exc)
                return ApplyOutcome.failed(_FAILURE_OF[exc.kind], reference, str(exc))
            except Exception as exc:  # the one place unexpected errors become a message
                logger.exception("apply failed unexpectedly key=%s ref=%s", key, reference)
                return ApplyOutcome.failed(Failure.UNEXPECTED, reference, type(exc).__name__)

    async def _apply(
        self, key: ApplyKey, applicant: Applicant, progress: Callable[[str], None], reply: ReplyHandle | None
    ) -> ApplyOutcome:
        config = await self._repo.get_config(key.guild_id, key.config_id)
        if config is None:
            return ApplyOutcome.rejected(Rejection.CONFIG_NOT_FOUND)
        if config.stage == "closed":
            return ApplyOutcome.rejected(Rejection.CLOSED)
        if (open_channel := await self._existing_channel(key)) is not None:
            return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, open_channel)
        previous = await self._repo.get_pending(key)
        held = await self._repo.reserve(key, owner=self._owner, now_ms=self._clock.now_ms(),
                                        stale_after_ms=self._stale_after_ms, applicant=applicant,
                                        reply=reply)  # fmt: skip
        if isinstance(held, Application):  # another process recorded it since we looked
            return ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, held.channel_id)
        if isinstance(held, Pending):
            return ApplyOutcome.rejected(Rejection.IN_PROGRESS)
        spec = channel_spec(config, applicant, self._discord.bot_user_id)
        if previous is not None and (adopted := await self._adoptable(key, previous)) is not None:
            return await self._finish(
                config, applicant, adopted, spec.name, welcomed=previous.state is PendingState.WELCOMED
            )
        progress(render.PROGRESS_CREATING)
        channel_id = await self._create_reserved(key, spec)
        await self._persist_channel(key, channel_id)
        return await self._finish(config, applicant, channel_id, spec.name, welcomed=False)

    async def _resume(
        self, pending: Pending, applicant: Applicant, create_missing: bool, announce: bool
    ) -> ApplyOutcome:
        key = pending.key

        def notice(outcome: ApplyOutcome) -> Notice | None:
            if not announce:
                return None
            text = notices.recovered(key, outcome)
            return Notice(new_reference(), key.guild_id, text, pending.reply, render.apply_outcome(outcome))

        if (recorded := await self._repo.find_application(key)) is not None:
            outcome = ApplyOutcome.rejected(Rejection.ALREADY_APPLIED, recorded.channel_id)
            await self._repo.release(key, notice=notice(outcome))
            return outcome
        config = await self._repo.get_config(key.guild_id, key.config_id)
        if config is None:
            outcome = ApplyOutcome.rejected(Rejection.CONFIG_NOT_FOUND)
            await self._repo.release(key, notice=notice(outcome))
            return outcome
        spec = channel_spec(config, applicant, self._discord.bot_user_id)
        if (adopted := await self._adoptable(key, pending)) is not None:
            welcomed = pending.state is PendingState.WELCOMED
            return await self._finish(config, applicant, adopted, spec.name, welcomed=welcomed, notice=notice)
        if not create_missing:
            outcome = ApplyOutcome.rejected(Rejection.INTERRUPTED)
            await self._repo.release(key, notice=notice(outcome))
            return outcome
        channel_id = await self._create_reserved(key, spec)
        await self._persist_channel(key, channel_id)
        return await self._finish(config, applicant, channel_id, spec.name, welcomed=False, notice=notice)

    async def _finish(
        self,
        config: ApplicationConfig,
        applicant: Applicant,
        channel_id: ChannelId,
        name: str,
        *,
        welcomed: bool,
        notice: Callable[[ApplyOutcome], Notice | None] | None = None,
    ) -> ApplyOutcome:
        """Welcome (unless done before a crash) and record an application whose channel exists."""
        if not welcomed:
            await self._welcome(config, applicant, channel_id)
        outcome = ApplyOutcome.created(channel_id)
        if notice is None:
            await self._record(config, applicant, channel_id, name)
        else:  # if the record cannot be saved, the undo reports the apply as interrupted instead
            interrupted = notice(ApplyOutcome.rejected(Rejection.INTERRUPTED))
            await self._record(config, applicant, channel_id, name, notice(outcome), undo_notice=interrupted)
        return outcome

    async def _existing_channel(self, key: ApplyKey) -> ChannelId | None:
        """Return the channel of a live application; drop a record whose channel was deleted."""
        existing = await self._repo.find_application(key)
        if existing is None:
            return None
        if await self._discord.channel_exists(existing.channel_id):
            self._metrics.incr("apply.duplicates_prevented")
            return existing.channel_id
        logger.info("removing orphan application key=%s channel=%s", key, existing.channel_id)
        self._metrics.incr("apply.orphans_removed")
        await self._repo.remove_application(key.guild_id, existing.channel_id)
        return None

    async def _adoptable(self, key: ApplyKey, previous: Pending) -> ChannelId | None:
        """Return the channel a dead process created for this reservation, if it exists."""
        channel = previous.channel_id or await self._discord.find_application_channel(key)
        if channel is not None and await self._discord.channel_exists(channel):
            logger.info("adopting channel of an interrupted apply key=%s channel=%s", key, channel)
            return channel
        return None

    async def _create_reserved(self, key: ApplyKey, spec: ChannelSpec) -> ChannelId:
        try:
            return await self._create_channel(key, spec)
        except BaseException:
            await self._release_quietly(key)
            raise

    async def _create_channel(self, key: ApplyKey, spec: ChannelSpec) -> ChannelId:
        blocked_until = self._blocked_until.get(key.guild_id, 0.0)
        if self._clock.monotonic() < blocked_until:
            self._metrics.incr("apply.permission_fast_fail")
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
                target = await self._discord.overflow_category(spec.guild_id, spec.category_id)
                self._metrics.incr("apply.category_overflow")
                await self._notify(key.guild_id, notices.overflow(spec.category_id, target),
                                   topic=f"overflow:{spec.category_id}:{target}")  # fmt: skip
                return await self._discord.create_channel(dataclasses.replace(spec, category_id=target))
            case DiscordErrorKind.ROLE_MISSING:  # the production role was deleted: create without it
                await self._notify(key.guild_id, notices.ROLE_MISSING, topic="role_missing")
                without = tuple(
                    o for o in spec.overwrites if o.target is not OverwriteTarget.ROLE or o.target_id == spec.guild_id
                )
                return await self._discord.create_channel(dataclasses.replace(spec, overwrites=without))
            case DiscordErrorKind.MISSING_PERMISSIONS:
                self._blocked_until[key.guild_id] = self._clock.monotonic() + self._permission_backoff_s
            case DiscordErrorKind.UNAVAILABLE:
                # The request may have reached Discord before failing: never leave a twin behind.
                with contextlib.suppress(DiscordError):
                    if (found := await self._discord.find_application_channel(key)) is not None:
                        return found
            case _:
                pass
        raise exc

    async def _persist_channel(self, key: ApplyKey, channel_id: ChannelId) -> None:
        try:
            await self._repo.mark_channel(key, channel_id)
        except StorageError:
            await self._undo_channel(key, channel_id)
            raise

    async def _welcome(self, config: ApplicationConfig, applicant: Applicant, channel_id: ChannelId) -> None:
        try:
            await self._discord.send_welcome(channel_id, welcome(config, applicant))
        except DiscordError as exc:  # the channel stands and is recorded; the admins can greet by hand
            self._metrics.incr("apply.welcome_failed")
            logger.warning("welcome message failed channel=%s error=%s", channel_id, exc)
            return
        await self._repo.mark_welcomed(ApplyKey(config.guild_id, applicant.user_id, config.config_id))

    async def _record(
        self,
        config: ApplicationConfig,
        applicant: Applicant,
        channel_id: ChannelId,
        name: str,
        notice: Notice | None = None,
        *,
        undo_notice: Notice | None = None,
    ) -> None:
        application = Application.new(config, applicant, channel_id, name, self._clock.now_ms())
        try:
            await self._repo.commit(application, notice=notice)
        except StorageError:
            key = ApplyKey(config.guild_id, applicant.user_id, config.config_id)
            await self._undo_channel(key, channel_id, undo_notice)
            raise

    async def _undo_channel(self, key: ApplyKey, channel_id: ChannelId, notice: Notice | None = None) -> None:
        """Delete a channel that cannot be recorded, so a retry starts clean instead of duplicating."""
        try:
            await self._discord.delete_channel(channel_id)
        except DiscordError as exc:
            logger.error("could not delete unrecorded channel key=%s channel=%s error=%s", key, channel_id, exc)
        await self._release_quietly(key, notice)

    async def _release_quietly(self, key: ApplyKey, notice: Notice | None = None) -> None:
        try:
            await self._repo.release(key, notice=notice)
        except StorageError as exc:
            # Memory still matches the disk; this process takes its own reservation over on the next click.
            logger.error("could not release reservation key=%s error=%s", key, exc)

    async def _after_timeout(self, key: ApplyKey, applicant: Applicant, reference: str) -> ApplyOutcome:
        """Finish or undo a timed-out apply so the applicant is never left with a half-made state."""
        try:
            async with asyncio.timeout(CLEANUP_LIMIT):
                if (recorded := await self._repo.find_application(key)) is not None:
                    return ApplyOutcome.created(recorded.channel_id)
                pending = await self._repo.get_pending(key)
                config = await self._repo.get_config(key.guild_id, key.config_id)
                if pending is not None and config is not None:
                    channel = await self._adoptable(key, pending)
                    if channel is not None:
                        await self._record(config, applicant, channel, "")
                        return ApplyOutcome.created(channel)
                    await self._repo.release(key)
        except (TimeoutError, DiscordError, StorageError) as exc:
            logger.error("cleanup after timeout failed key=%s ref=%s error=%s", key, reference, exc)
        return ApplyOutcome.failed(Failure.TIMED_OUT, reference)

    async def _keep_undelivered(self, key: ApplyKey, outcome: ApplyOutcome, text: str, reason: str | None) -> None:
        reference = outcome.reference or new_reference()
        self._metrics.incr("followup.given_up")
        logger.warning(
            "result not delivered guild=%s user=%s config=%s outcome=%s reason=%s ref=%s",
            key.guild_id, key.user_id, key.config_id, outcome.label, reason, reference,
        )  # fmt: skip
        item = Undelivered(reference, key, outcome.label, text, self._clock.now_ms(), reason or "unknown")
        try:
            await self._repo.record_undelivered(item)
        except StorageError as exc:
            logger.error("could not keep undelivered result ref=%s error=%s", reference, exc)
        await self._notify(key.guild_id, notices.undelivered(key, text, reason or "unknown reason"),
                           topic=f"undelivered:{key.user_id}:{key.config_id}")  # fmt: skip

    async def _tell_admins(self, key: ApplyKey, outcome: ApplyOutcome) -> None:
        if outcome.failure is None:
            return
        config = await self._repo.get_config(key.guild_id, key.config_id)
        text = notices.failure(key, outcome, config.category_id if config else None)
        if text is not None:
            await self._notify(key.guild_id, text, topic=outcome.failure.value)
            return
        # Failures the admins cannot fix one by one (Discord down, disk trouble, bugs) are reported when
        # they repeat: REPEAT_COUNT within REPEAT_WINDOW_S in one server.
        now = self._clock.monotonic()
        recent = [t for t in self._recent_failures.get(key.guild_id, []) if now - t < REPEAT_WINDOW_S] + [now]
        self._recent_failures[key.guild_id] = recent
        if len(recent) >= REPEAT_COUNT:
            await self._notify(key.guild_id, notices.repeated(len(recent), REPEAT_WINDOW_S, outcome), topic="repeated")

    async def _notify(self, guild_id: GuildId, text: str, *, topic: str | None = None) -> None:
        if self._notifier is None:
            logger.warning("admin notice guild=%s: %s", guild_id, text)
            return
        try:
            await self._notifier.notify(guild_id, text, topic=topic)
        except Exception:  # a notice must never break an apply
            logger.exception("admin notice failed guild=%s", guild_id)
