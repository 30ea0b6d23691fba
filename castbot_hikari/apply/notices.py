"""What the admins read in their notify channel: every admin-facing sentence of the apply flow."""

from __future__ import annotations

from typing import assert_never

from castbot_hikari.apply.model import (
    Alert,
    ApplyOutcome,
    CategoryOverflow,
    Failure,
    OutcomeKind,
    Prewritten,
    Recovered,
    Rejection,
    RepeatedFailures,
    ResultUndelivered,
    RoleMissing,
    SetupFailure,
)
from castbot_hikari.core.permissions import BOT_REQUIRED, describe

ROLE_MISSING = (
    "⚠️ The production role of an Apply button no longer exists, so new application channels are created "
    "without it. Set a role again with `/apps edit`."
)


def render(alert: Alert) -> str:
    """Return the words of an admin alert."""
    match alert:
        case SetupFailure():
            return _setup_failure(alert)
        case RoleMissing():
            return ROLE_MISSING
        case RepeatedFailures(count=count, window_s=window_s, last=last):
            return (
                f"⚠️ {count} applications failed in the last {round(window_s / 60)} minutes (latest: {last.label}, "
                f"reference `{last.reference}`). Applicants were told to try again; if it goes on, check the bot's "
                "logs."
            )
        case CategoryOverflow(full=full, target=target):
            return (
                f"📁 <#{full}> is full (Discord allows 50 channels per category). "
                f"New application channels go to <#{target}>."
            )
        case ResultUndelivered(key=key, text=text, reason=reason):
            return f"📨 I could not show <@{key.user_id}> the result of their application ({reason}). It was:\n> {text}"
        case Recovered(key=key, outcome=outcome):
            return _recovered(key.user_id, outcome)
        case Prewritten(text=text):
            return text
        case _:
            assert_never(alert)


def _setup_failure(alert: SetupFailure) -> str:
    where = f"<#{alert.category_id}>" if alert.category_id is not None else "the server"
    ref = f" (reference `{alert.outcome.reference}`)"
    match alert.outcome.failure:
        case Failure.MISSING_PERMISSIONS:
            return (
                f"⚠️ <@{alert.key.user_id}> could not get an application channel: I am missing permissions in "
                f"{where}. I need {describe(BOT_REQUIRED)} there.{ref}"
            )
        case Failure.CATEGORY_MISSING:
            return (
                "⚠️ The applications category of an Apply button no longer exists; applicants are refused until "
                f"it is set again (`/apps edit`).{ref}"
            )
        case Failure.CATEGORY_FULL:
            return f"⚠️ {where} and its overflow categories are full; applicants are refused.{ref}"
        case Failure.GUILD_FULL:
            return f"⚠️ This server has reached Discord's limit of 500 channels; applicants are refused.{ref}"
        case _:
            return f"⚠️ <@{alert.key.user_id}> could not get an application channel ({alert.outcome.label}).{ref}"


def _recovered(user_id: int, outcome: ApplyOutcome) -> str:
    if outcome.kind is OutcomeKind.CREATED:
        return f"🔧 After a restart I finished the application of <@{user_id}>: <#{outcome.channel_id}>."
    if outcome.rejection is Rejection.INTERRUPTED:
        return (
            f"🔧 The application of <@{user_id}> was interrupted by a restart before its channel was created; "
            "they need to click Apply again."
        )
    return f"🔧 An interrupted application of <@{user_id}> ended as: {outcome.label}."
