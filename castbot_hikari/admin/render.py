"""What admins read: every sentence of the ``/apps`` commands, in one place (plain text, no decisions)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, assert_never

from castbot_hikari.admin.model import CATEGORY_LIMIT, MAX_DESCRIPTION, MAX_TITLE, Reason, Refusal, example_channel_name
from castbot_hikari.admin.reports import PendingReport, RetryRun, SinceStart, Stats
from castbot_hikari.admin.service import CardUpdate, Changed, ConfigRow, Deleted
from castbot_hikari.admin.setup import SetupDraft
from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.core.ids import ChannelId
from castbot_hikari.core.metrics import Summary

MAX_CONTENT: Final = 2000
NOT_IN_GUILD: Final = "`/apps` works only inside a server."
SETUP_CANCELLED: Final = "Setup cancelled: nothing was posted."
DELETE_CANCELLED: Final = "Nothing was deleted."
STOPPING: Final = "⏹ Stopping after the application in progress…"
NOT_RUNNING: Final = "Nothing is running: the retry already ended."
ID_TOO_LONG: Final = (
    "This button's config id is too long to fit in a Discord form or button id (over 85 characters): "
    "use the command's options instead."
)


def _fit(lines: Iterable[str], limit: int = MAX_CONTENT) -> str:
    """Join lines, cutting whole lines (with a count of what was left out) to stay within ``limit``."""
    kept: list[str] = []
    rest = list(lines)
    size = 0
    for index, line in enumerate(rest):
        more = f"… and {len(rest) - index} more lines"
        if size + len(line) + 1 + len(more) > limit:
            kept.append(more)
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)


def _refusal_text(reason: Reason, detail: str) -> str:  # noqa: PLR0911, PLR0912 - one case per reason
    match reason:
        case Reason.NOT_ADMIN:
            return "🚫 Only members with the **Manage Server** permission can use `/apps`."
        case Reason.NOT_IN_GUILD:
            return NOT_IN_GUILD
        case Reason.CONFIG_NOT_FOUND:
            return f"❌ There is no Apply button `{detail}` in this server. `/apps list` shows this server's buttons."
        case Reason.TITLE_EMPTY:
            return "❌ The title cannot be empty."
        case Reason.TITLE_TOO_LONG:
            return f"❌ The title is {detail} characters long; the most is {MAX_TITLE}."
        case Reason.DESCRIPTION_TOO_LONG:
            return f"❌ The description is {detail} characters long; the most is {MAX_DESCRIPTION}."
        case Reason.FORMAT_EMPTY:
            return "❌ The channel name format is empty once cleaned (spaces become dashes). Try `📝%name%-app`."
        case Reason.FORMAT_WITHOUT_NAME:
            return (
                "❌ The channel name format must contain `%name%` (replaced by the applicant's name), "
                "for example `📝%name%-app`."
            )
        case Reason.FORMAT_TOO_LONG:
            return "❌ The channel name format is too long: keep the text around `%name%` to 80 characters or less."
        case Reason.SETUP_EXPIRED:
            return (
                "⌛ This setup has expired (a setup lasts 14 minutes and ends if the bot restarts). "
                "Run `/apps post` again."
            )
        case Reason.SETUP_INCOMPLETE:
            return "Choose a channel, a category and a button style first."
        case Reason.SETUP_BUSY:
            return "⏳ This button is already being posted…"
        case Reason.CHANNEL_MISSING:
            where = detail or "That channel"
            return f"❌ {where} no longer exists (or I cannot see it). Choose another channel."
        case Reason.CHANNEL_NOT_TEXT:
            return f"❌ {detail} is not a text channel. Choose a text channel."
        case Reason.CATEGORY_MISSING:
            return f"❌ The category {detail} no longer exists. Choose another category."
        case Reason.CATEGORY_FULL:
            return (
                f"❌ The category **{detail}** is full (Discord allows {CATEGORY_LIMIT} channels per category). "
                "Choose another category or make room."
            )
        case Reason.ROLE_MISSING:
            return f"❌ The role {detail} no longer exists. Choose another role."
        case Reason.ROLE_EVERYONE:
            return (
                "❌ @everyone cannot be the production role: every member would see every application channel. "
                "Choose the role of your production team."
            )
        case Reason.ROLE_MANAGED:
            return f"❌ {detail} belongs to a bot or an integration and cannot be the production role. Choose another."
        case Reason.CANNOT_POST:
            return f"❌ I cannot post there. Missing permissions: {detail}. Give my role these permissions and retry."
        case Reason.CANNOT_MANAGE:
            return (
                f"❌ I cannot create application channels in the category {detail} (missing permissions). "
                "Give my role these permissions in the category and retry."
            )
        case Reason.NOTHING_TO_CHANGE:
            return (
                "Nothing to change: give at least one option, or run `/apps edit` with only `config` to edit its text."
            )
        case Reason.RETRY_RUNNING:
            return (
                f"⏳ A retry is already running in this server ({detail} done). Wait for it, or press its Stop button."
            )
        case Reason.DISCORD_UNAVAILABLE:
            return "❌ Discord did not answer, so nothing was changed. Please try again in a moment."
        case Reason.STORAGE:
            return "❌ The change could not be saved, so nothing was changed. Please try again shortly."
        case _:
            assert_never(reason)


def refusal(refused: Refusal) -> str:
    """Return the message for an admin action that changed nothing."""
    return _refusal_text(refused.reason, refused.detail)


def unexpected(reference: str) -> str:
    """Return the message for an unexpected error (logged with the same reference)."""
    return f"❌ Something went wrong on our side; nothing more was changed. Reference: `{reference}`"


def _state(config: ApplicationConfig) -> str:
    return "🟢 open" if config.is_open else "🔒 closed"


def _channel(channel_id: ChannelId | None) -> str:
    return f"<#{channel_id}>" if channel_id is not None else "_none_"


def setup(draft: SetupDraft, notice: str | None = None) -> str:
    """Return the setup message's text: what was chosen, what is missing."""
    text = draft.text
    description = text.description if len(text.description) <= 300 else text.description[:300] + "…"
    category = (
        f"**{draft.category.name}** ({draft.category.used}/{CATEGORY_LIMIT})" if draft.category else "_choose below_"
    )
    lines = [
        *([notice, ""] if notice else []),
        "**Post an Apply button**",
        f"Title: **{text.title}**",
        f"Description: {description or '_none_'}",
        f"Channel names: `{text.channel_format}` (e.g. `{example_channel_name(text.channel_format)}`)",
        f"Post in: {f'<#{draft.channel.id}>' if draft.channel else '_choose below_'}",
        f"Category for application channels: {category}",
        f"Button style: {draft.style.value if draft.style else '_choose below_'}",
        f"Production role: {f'<@&{draft.role.id}>' if draft.role else '_none_'}",
    ]
    if not draft.ready:
        lines.append("\nChoose a channel, a category and a button style, then press **Post**.")
    return _fit(lines)


def setup_expired() -> str:
    """Return what replaces a setup message whose setup has expired."""
    return _refusal_text(Reason.SETUP_EXPIRED, "")


def posted(config: ApplicationConfig) -> str:
    """Return the message after a card was posted."""
    return (
        f"✅ Posted **{config.title}** in <#{config.posted_channel_id}>. Applications open now; "
        f"channels go to <#{config.category_id}>.\nConfig id: `{config.config_id}`"
    )


def config_list(rows: list[ConfigRow]) -> str:
    """Return ``/apps list``."""
    if not rows:
        return "This server has no Apply button yet. Post one with `/apps post`."
    lines = [f"**Apply buttons in this server** ({len(rows)})"]
    for row in rows:
        config = row.config
        use = f" ({row.category.used}/{CATEGORY_LIMIT})" if row.category else ""
        where = _channel(config.posted_channel_id or config.target_channel_id)
        lines.append(
            f"• **{config.title}** · {_state(config)} · in {where} · category {_channel(config.category_id)}{use}"
            f" · {row.applications} applications · `{config.config_id}`"
        )
    return _fit(lines)


def _card(update: CardUpdate) -> str:
    match update:
        case CardUpdate.UPDATED:
            return "The posted button was updated."
        case CardUpdate.NOT_POSTED:
            return "This config has no posted button I know of (posted before this bot), so nothing was updated."
        case CardUpdate.GONE:
            return "⚠️ The posted button's message no longer exists; post a new one with `/apps post`."
        case CardUpdate.FAILED:
            return (
                "⚠️ The change is saved, but the posted button could not be updated (Discord refused or did not "
                "answer); run the command again to retry."
            )
        case _:
            assert_never(update)


def edited(changed: Changed) -> str:
    """Return the message after ``/apps edit``."""
    return f"✅ **{changed.config.title}** (`{changed.config.config_id}`) was updated. {_card(changed.card)}"


def stage_changed(changed: Changed) -> str:
    """Return the message after ``/apps open`` or ``/apps close``."""
    config = changed.config
    state = "open" if config.is_open else "closed"
    head = (
        f"Applications for **{config.title}** were already {state}."
        if changed.already
        else (f"✅ Applications for **{config.title}** are now {state}.")
    )
    return f"{head} {_card(changed.card)}"


def delete_prompt(row: ConfigRow) -> str:
    """Return the delete confirmation question."""
    return (
        f"Delete the Apply button **{row.config.title}** (`{row.config.config_id}`)?\n"
        f'The posted button will show a disabled "Applications closed". Its {row.applications} applications and '
        "their channels stay."
    )


def deleted(result: Deleted) -> str:
    """Return the message after a delete."""
    return (
        f"🗑️ Deleted **{result.config.title}**. Its {result.applications} applications and their channels stay. "
        f"{_card(result.card)}"
    )


def notify_channel(channel_id: ChannelId | None, *, changed: bool) -> str:
    """Return the notify channel's state (after a change, or as it is)."""
    if channel_id is None:
        return (
            "✅ Admin notices are off; they go to the bot's log only."
            if changed
            else "No notify channel is set: admin notices go to the bot's log only. Set one with `channel`."
        )
    what = "will now go" if changed else "go"
    return (
        f"{'✅ ' if changed else ''}Admin notices (undelivered results, full categories, missing permissions, "
        f"repeated failures) {what} to <#{channel_id}>."
    )


def _ts(ms: int) -> str:
    return f"<t:{ms // 1000}:R>"


def _label(label: str) -> str:
    return label.rsplit(".", 1)[-1].replace("_", " ")


def pending(report: PendingReport) -> str:
    """Return ``/apps pending``."""
    lines = [f"**Unfinished applies** ({len(report.pending)})"]
    for item in report.pending:
        where = f"channel <#{item.channel_id}> created, not recorded" if item.channel_id else "no channel yet"
        lines.append(f"• <@{item.key.user_id}> · `{item.key.config_id}` · started {_ts(item.reserved_at_ms)} · {where}")
    if report.pending:
        lines.append("Run `/apps retry-pending` to finish them.")
    lines.append(f"**Results the applicants never saw** ({len(report.undelivered)})")
    lines.extend(
        f"• <@{item.key.user_id}> {_ts(item.at_ms)} · {_label(item.outcome)} · {item.reason} · ref `{item.reference}`"
        for item in report.undelivered
    )
    return _fit(lines)


def _outcomes(run: RetryRun) -> str:
    return ", ".join(f"{_label(label)} {count}" for label, count in sorted(run.outcomes.items()))


def retry_progress(run: RetryRun) -> str:
    """Return the live text of a retry-pending batch."""
    if run.finished and not run.total:
        return "✅ Nothing to retry: this server has no unfinished applies."
    tally = f" ({_outcomes(run)})" if run.outcomes else ""
    if run.stopped:
        return f"⏹ Stopped: {run.done}/{run.total} done{tally}."
    if run.finished:
        return f"✅ Retry finished: {run.done}/{run.total} done{tally}."
    return f"🔁 Finishing unfinished applies: {run.done}/{run.total} done…{tally}"


def _timing(summary: Summary) -> str:
    if not summary.count:
        return "no data yet"
    return f"p50 {summary.p50:.0f} ms / p99 {summary.p99:.0f} ms ({summary.count} samples)"


def _since_start(since: SinceStart) -> list[str]:
    rejected = ", ".join(f"{_label(k)} {v}" for k, v in since.rejected.items()) or "none"
    failed = ", ".join(f"{_label(k)} {v}" for k, v in since.failed.items()) or "none"
    return [
        f"__Since start__ ({_ts(since.started_at_ms)}; this bot process, all its servers):"
        if since.processes == 1
        else f"__Since start__ (all {since.processes} bot processes, each since it started; all their servers):",
        f"Clicks: {since.clicks} · Channels created: {since.created} · Duplicates prevented: "
        f"{since.duplicates_prevented}",
        f"Refused: {rejected}",
        f"Failures: {failed}",
        f"Results delivered: {since.delivered} · given up: {since.given_up}",
        f"Time to acknowledge: {_timing(since.ack)}",
        f"Time to result: {_timing(since.result)}",
    ]


def stats(report: Stats) -> str:
    """Return ``/apps stats``."""
    per_config = [f"• **{config.title}** (`{config.config_id}`): {count}" for config, count in report.per_config]
    if report.orphaned_applications:
        per_config.append(f"• deleted buttons: {report.orphaned_applications}")
    lines = [
        "**Apply stats**",
        *_since_start(report.since_start),
        "",
        "__In total__ (this server, from the data file):",
        f"Applications: {report.total_applications}",
        *per_config,
        f"Unfinished applies: {report.pending} · Results never delivered: {report.undelivered}",
    ]
    return _fit(lines)
