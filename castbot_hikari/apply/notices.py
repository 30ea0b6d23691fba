"""What the admins read in their notify channel: every admin-facing sentence of the apply flow."""

from __future__ import annotations

from castbot_hikari.apply.model import ApplyOutcome, Failure, OutcomeKind, Rejection
from castbot_hikari.apply.ports import ApplyKey
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.core.permissions import BOT_REQUIRED, describe


def failure(key: ApplyKey, outcome: ApplyOutcome, category: ChannelId | None) -> str | None:
    """Return the notice for a failure the admins must fix, or ``None`` if it needs nothing from them."""
    where = f"<#{category}>" if category is not None else "the server"
    ref = f" (reference `{outcome.reference}`)"
    match outcome.failure:
        case Failure.MISSING_PERMISSIONS:
            return (
                f"⚠️ <@{key.user_id}> could not get an application channel: I am missing permissions in {where}. "
                f"I need {describe(BOT_REQUIRED)} there.{ref}"
            )
        case Failure.CATEGORY_MISSING:
            return f"⚠️ The applications category of an Apply button no longer exists; applicants are refused until " \
                   f"it is set again (`/apps edit`).{ref}"  # fmt: skip
        case Failure.CATEGORY_FULL:
            return f"⚠️ {where} and its overflow categories are full; applicants are refused.{ref}"
        case Failure.GUILD_FULL:
            return f"⚠️ This server has reached Discord's limit of 500 channels; applicants are refused.{ref}"
        case _:
            return None


ROLE_MISSING = (
    "⚠️ The production role of an Apply button no longer exists, so new application channels are created "
    "without it. Set a role again with `/apps edit`."
)


def repeated(count: int, window_s: float, last: ApplyOutcome) -> str:
    """Return the notice that applies keep failing for reasons the admins cannot fix one by one."""
    return (
        f"⚠️ {count} applications failed in the last {round(window_s / 60)} minutes (latest: {last.label}, "
        f"reference `{last.reference}`). Applicants were told to try again; if it goes on, check the bot's logs."
    )


def overflow(full: ChannelId, target: ChannelId) -> str:
    """Return the notice that a category is full and channels now go to an overflow category."""
    return (
        f"📁 <#{full}> is full (Discord allows 50 channels per category). New application channels go to <#{target}>."
    )


def undelivered(key: ApplyKey, text: str, reason: str) -> str:
    """Return the notice of a result the applicant could not be shown."""
    return f"📨 I could not show <@{key.user_id}> the result of their application ({reason}). It was:\n> {text}"


def recovered(key: ApplyKey, outcome: ApplyOutcome) -> str:
    """Return the notice of an apply finished or released after a restart."""
    if outcome.kind is OutcomeKind.CREATED:
        return f"🔧 After a restart I finished the application of <@{key.user_id}>: <#{outcome.channel_id}>."
    if outcome.rejection is Rejection.INTERRUPTED:
        return (
            f"🔧 The application of <@{key.user_id}> was interrupted by a restart before its channel was created; "
            "they need to click Apply again."
        )
    return f"🔧 An interrupted application of <@{key.user_id}> ended as: {outcome.label}."
