"""What the applicant reads: every user-facing sentence of the apply flow, in one place."""

from __future__ import annotations

from typing import Final, assert_never

from castbot_hikari.apply.model import ApplyOutcome, Failure, OutcomeKind, Progress, Rejection, Welcome

PROGRESS_CREATING: Final = "Creating your application channel… ⏳"
PROGRESS_SLOW: Final = "Discord is slow to answer; still creating your application channel… ⏳"
PROGRESS_TEXTS: Final = frozenset({PROGRESS_CREATING, PROGRESS_SLOW})
"""Every progress line: anything else the applicant is shown is the final result."""
DM_NOT_SUPPORTED: Final = "Apply buttons work only inside a server."
BROKEN_BUTTON: Final = "❌ This Apply button is damaged. Ask the server's admins to post a new one."


def progress(step: Progress) -> str:
    """Return the progress line shown while an apply runs."""
    match step:
        case Progress.CREATING:
            return PROGRESS_CREATING
        case Progress.DISCORD_SLOW:
            return PROGRESS_SLOW
        case _:
            assert_never(step)


def welcome(message: Welcome) -> str:
    """Return the welcome posted in a new application channel."""
    lines = [
        f"👋 Welcome <@{message.applicant}>! This is your private application channel for **{message.title}**.",
        "Only you, the production team and the bot can see it. Press **Start** when you are ready.",
    ]
    if message.production_role is not None:
        lines.append(f"<@&{message.production_role}> a new application has arrived.")
    return "\n".join(lines)


def _rejection(reason: Rejection, outcome: ApplyOutcome) -> str:
    match reason:
        case Rejection.IN_PROGRESS:
            return "⏳ Your application is already being processed. Please wait a moment…"
        case Rejection.CONFIG_NOT_FOUND:
            return "❌ This application button is no longer set up. Ask the server's admins to post a new one."
        case Rejection.CLOSED:
            return "🔒 Applications are closed."
        case Rejection.ALREADY_APPLIED:
            return f"You already have an application channel: <#{outcome.channel_id}>"
        case Rejection.INTERRUPTED:
            return "⚠️ Your application was interrupted before its channel was created. Please click Apply again."
        case _:
            assert_never(reason)


def _failure(reason: Failure) -> str:
    match reason:
        case Failure.MISSING_PERMISSIONS:
            return (
                "❌ Your application channel could not be created: the server's setup is incomplete "
                "(the bot is missing permissions). Please tell the server's admins."
            )
        case Failure.CATEGORY_MISSING:
            return "❌ The category for application channels no longer exists. Please tell the server's admins."
        case Failure.CATEGORY_FULL:
            return "❌ The applications category is full (Discord allows 50 channels). Please tell the admins."
        case Failure.GUILD_FULL:
            return (
                "❌ This server has reached Discord's limit of 500 channels, so no application channel can "
                "be created. Please tell the server's admins."
            )
        case Failure.DISCORD_UNAVAILABLE:
            return (
                "❌ Discord is having trouble, so your application channel could not be created. "
                "Nothing was saved: please try again in a few minutes."
            )
        case Failure.DISCORD_UNCONFIRMED:
            return (
                "❌ Discord did not confirm that your application channel was created. It is being checked: "
                "please click Apply again in a minute."
            )
        case Failure.STORAGE:
            return "❌ Your application could not be saved, so nothing was created. Please try again shortly."
        case Failure.TIMED_OUT:
            return "❌ Creating your application took too long and was stopped. Please try again."
        case Failure.UNEXPECTED:
            return "❌ Something went wrong on our side. Please try again in a moment."
        case _:
            assert_never(reason)


def apply_outcome(outcome: ApplyOutcome) -> str:
    """Return the final ephemeral message for an apply's outcome."""
    match outcome.kind:
        case OutcomeKind.CREATED:
            return f"✅ Your application channel has been created: <#{outcome.channel_id}>"
        case OutcomeKind.REJECTED:
            assert outcome.rejection is not None
            return _rejection(outcome.rejection, outcome)
        case OutcomeKind.FAILED:
            assert outcome.failure is not None
            return f"{_failure(outcome.failure)}\nReference: `{outcome.reference}`"
        case _:
            assert_never(outcome.kind)
