"""What applicants and admins read in the questions flow, and the Discord shapes (buttons, modals)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Final, assert_never

import hikari

from castbot_hikari.questions import custom_ids as ids
from castbot_hikari.questions.custom_ids import Action
from castbot_hikari.questions.model import (
    MAX_ANSWER,
    MAX_IMAGE_URL,
    MAX_TEXT,
    MAX_TITLE,
    Completion,
    Kind,
    Outcome,
    Question,
    QuestionPost,
    QuestionSet,
    State,
)
from castbot_hikari.questions.service import EditorView, Notice, Report

Rows = Sequence[hikari.api.ComponentBuilder]
COLOUR: Final = 0x5865F2
MAX_CONTENT: Final = 2000
DEFAULT_COMPLETION: Final = (
    "✅ **Application complete!** Thank you: the production team will read your answers. "
    "You can still withdraw with the Withdraw button on the welcome message."
)
NOT_ADMIN: Final = "❌ Only server admins (Manage Server) can use this."
CONFIG_NOT_FOUND: Final = "❌ That Apply button was not found on this server."
ID_TOO_LONG: Final = "❌ This config's id is too long for the editor's buttons."
UNEXPECTED: Final = "❌ Something went wrong on our side. Please try again in a moment."


def outcome(result: Outcome) -> str:  # noqa: PLR0911, PLR0912 - one sentence per case
    """Return the applicant's (or admin's) ephemeral line for a press."""
    where = f"question {result.number} of {result.total}" if result.number else "the latest question"
    link = " (it is below in this channel)"
    match result.kind:
        case Kind.STARTED:
            return f"✅ Your application has started: {where} is below. Press **Answer** to answer it."
        case Kind.POSTED:
            return f"➡️ On to {where}{link}."
        case Kind.ALREADY_POSTED:
            return f"You have already started: you are on {where}{link}."
        case Kind.LAST_QUESTION:
            return "That is the last question now (the next one was removed). Press **Complete** when you are ready."
        case Kind.ANSWER_SAVED:
            return f"✅ Your answer to {where} is saved. You can change it with **Answer** until you complete."
        case Kind.COMPLETED:
            return "☑️ Your application is complete. Thank you!"
        case Kind.ALREADY_COMPLETED:
            return "☑️ This application is already complete: nothing more to do."
        case Kind.WITHDRAWN:
            return "✖️ The application is withdrawn. Press **Resume** on the welcome message to continue it."
        case Kind.ALREADY_WITHDRAWN:
            return "✖️ This application is already withdrawn."
        case Kind.RESUMED if result.number is None:
            return "✅ Welcome back: the application is open again. Press **Start** when you are ready."
        case Kind.RESUMED:
            return f"✅ Welcome back: the application is open again; you are on {where}."
        case Kind.NOT_WITHDRAWN:
            return "This application is not withdrawn: there is nothing to resume."
        case Kind.IS_WITHDRAWN:
            return "✖️ This application is withdrawn. Press **Resume** on the welcome message first."
        case Kind.NOT_APPLICATION:
            return "❌ This channel holds no application (it may have been removed)."
        case Kind.NOT_YOURS:
            return "❌ Only the applicant (or a server admin) can use these buttons."
        case Kind.NOT_STARTED:
            return "Press **Start** on the welcome message first."
        case Kind.NO_QUESTIONS:
            return "There are no questions yet. The production team will add them: try again later."
        case Kind.STALE:
            return f"This question is no longer the current one: continue with {where}{link}."
        case Kind.QUESTION_REMOVED:
            return "This question was removed by the production team. Press **Next** to go on."
        case Kind.TOO_LONG:
            return f"❌ Answers can be at most {MAX_ANSWER:,} characters."
        case Kind.DISCORD_FAILED:
            return "❌ Discord is having trouble, so this did not go through. Nothing was lost: please try again."
        case Kind.STORAGE_FAILED:
            return "❌ This could not be saved, so nothing changed. Please try again shortly."
        case _:
            assert_never(result.kind)


# ---- the applicant's messages ----------------------------------------------------------------------


def welcome_rows(*, withdrawn: bool = False) -> Rows:
    """Return the welcome card's buttons: Start and Withdraw, or Resume once withdrawn."""
    row = hikari.impl.MessageActionRowBuilder()
    if withdrawn:
        row.add_interactive_button(hikari.ButtonStyle.PRIMARY, ids.applicant(Action.RESUME), label="Resume")
    else:
        row.add_interactive_button(hikari.ButtonStyle.SUCCESS, ids.applicant(Action.START), label="Start")
        row.add_interactive_button(hikari.ButtonStyle.DANGER, ids.applicant(Action.WITHDRAW), label="Withdraw")
    return [row]


def question_content(post: QuestionPost) -> str:
    """Return a question message's text: where it stands and the answer given (shown back in the channel)."""
    lines = [f"**Question {post.number} of {post.total}**"]
    if post.answer is not None:
        lines.append("✏️ **Your answer:**")
        lines.append(">>> " + post.answer)
    return "\n".join(lines)[:MAX_CONTENT]


def question_embed(question: Question) -> hikari.Embed:
    """Return the question itself (title, text, image)."""
    embed = hikari.Embed(title=question.title, description=question.text or None, colour=COLOUR)
    if question.image_url:
        embed.set_image(question.image_url)
    return embed


def question_rows(post: QuestionPost) -> Rows:
    """Return Answer and Next (or Complete on the last question); none once the question is done."""
    if not post.buttons:
        return []
    qid = post.question.question_id
    row = hikari.impl.MessageActionRowBuilder()
    row.add_interactive_button(hikari.ButtonStyle.PRIMARY, ids.applicant(Action.ANSWER, qid), label="Answer")
    if post.last:
        row.add_interactive_button(hikari.ButtonStyle.SUCCESS, ids.applicant(Action.COMPLETE, qid), label="Complete")
    else:
        row.add_interactive_button(hikari.ButtonStyle.SECONDARY, ids.applicant(Action.NEXT, qid), label="Next")
    return [row]


def answer_modal(question: Question, current: str) -> tuple[str, str, Rows]:
    """Return the Answer modal: title (the question's, ≤ 45), custom id and its one paragraph input."""
    row = hikari.impl.ModalActionRowBuilder()
    row.add_text_input(
        ids.ANSWER_INPUT,
        "Your answer",
        style=hikari.TextInputStyle.PARAGRAPH,
        value=current or hikari.UNDEFINED,
        required=True,
        max_length=MAX_ANSWER,
    )
    return question.title[:MAX_TITLE] or "Answer", ids.applicant(Action.ANSWER_MODAL, question.question_id), [row]


def completion_message(completion: Completion | None, answered: int) -> tuple[str, hikari.Embed | None]:
    """Return the closing message: the config's completion text, or the default one."""
    note = f"\n-# {answered} answer{'s' if answered != 1 else ''} saved."
    if completion is None or not (completion.text or completion.title):
        return DEFAULT_COMPLETION + note, None
    embed = hikari.Embed(title=completion.title or None, description=completion.text or None, colour=COLOUR)
    if completion.image_url:
        embed.set_image(completion.image_url)
    return "☑️ **Application complete.**" + note, embed


# ---- /apps questions ---------------------------------------------------------------------------------


def _notice(view: EditorView) -> str:
    match view.notice:
        case Notice.ADDED:
            return "✅ Question added."
        case Notice.EDITED:
            return "✅ Question saved."
        case Notice.MOVED:
            return "✅ Question moved."
        case Notice.NOT_MOVED:
            return "That question cannot move further."
        case Notice.DUPLICATED:
            return "✅ Question duplicated."
        case Notice.DELETED:
            return "✅ Question deleted. Applicants on it go on with the next one."
        case Notice.GONE:
            return "That question no longer exists (someone else changed the list)."
        case Notice.INVALID:
            return f"❌ Not saved: {view.reason}."
        case Notice.COMPLETION:
            return "✅ Completion message saved."
        case _:
            return ""


def editor(view: EditorView) -> str:
    """Return the editor's text: the page's questions, numbered, the selected one marked."""
    page, shown = view.questions.page(view.page)
    lines = [line for line in (_notice(view),) if line]
    lines.append(f"**Questions of {view.title}** · page {page + 1}/{view.questions.pages}")
    if not shown:
        lines.append("No questions yet: press **Add**.")
    for offset, question in enumerate(shown):
        number = page * 8 + offset + 1
        mark = "▶ " if question.question_id == view.selected else ""
        image = " 🖼️" if question.image_url else ""
        lines.append(f"{mark}`{number}.` **{question.title}**{image}")
    closing = view.questions.completion
    lines.append(f"Completion message: {'set' if closing and closing.text else 'the default one'}")
    if view.selected is None and shown:
        lines.append("Pick a question to edit, move, duplicate, delete or preview it.")
    return "\n".join(lines)[:MAX_CONTENT]


def _button(
    row: hikari.api.MessageActionRowBuilder,
    style: hikari.ButtonStyle,
    custom_id: str | None,
    label: str,
    *,
    disabled: bool = False,
) -> None:
    if custom_id is not None:
        row.add_interactive_button(style, custom_id, label=label, is_disabled=disabled)  # type: ignore[arg-type]


def editor_rows(view: EditorView) -> Rows:
    """Return the editor's controls: a question picker, the selected question's actions, add and pages."""
    config, page = view.config_id, view.page
    _, shown = view.questions.page(page)
    rows: list[hikari.api.ComponentBuilder] = []
    pick = ids.format_id(Action.PICK, str(page), config)
    if shown and pick is not None:
        menu = hikari.impl.MessageActionRowBuilder().add_text_menu(pick, placeholder="Pick a question")
        for offset, question in enumerate(shown):
            label = f"{page * 8 + offset + 1}. {question.title}"[:100]
            menu.add_option(label, question.question_id, is_default=question.question_id == view.selected)
        rows.append(menu.parent)
    selected = view.selected
    if selected is not None:
        index = view.questions.index_of(selected) or 0
        row = hikari.impl.MessageActionRowBuilder()
        _button(row, hikari.ButtonStyle.PRIMARY, ids.format_id(Action.EDIT, selected, config), "Edit")
        _button(
            row,
            hikari.ButtonStyle.SECONDARY,
            ids.format_id(Action.UP, selected, config),
            "Move up",
            disabled=index == 0,
        )
        last = index == len(view.questions.questions) - 1
        _button(
            row, hikari.ButtonStyle.SECONDARY, ids.format_id(Action.DOWN, selected, config), "Move down", disabled=last
        )
        _button(row, hikari.ButtonStyle.SECONDARY, ids.format_id(Action.DUPLICATE, selected, config), "Duplicate")
        _button(row, hikari.ButtonStyle.DANGER, ids.format_id(Action.DELETE, selected, config), "Delete")
        rows.append(row)
    row = hikari.impl.MessageActionRowBuilder()
    _button(row, hikari.ButtonStyle.SUCCESS, ids.format_id(Action.ADD, str(page), config), "Add")
    if selected is not None:
        _button(row, hikari.ButtonStyle.SECONDARY, ids.format_id(Action.PREVIEW, selected, config), "Preview")
    _button(
        row, hikari.ButtonStyle.SECONDARY, ids.format_id(Action.COMPLETION, str(page), config), "Completion message"
    )
    if view.questions.pages > 1:
        _button(
            row,
            hikari.ButtonStyle.SECONDARY,
            ids.format_id(Action.PAGE, str(page - 1), config),
            "Previous page",
            disabled=page == 0,
        )
        last_page = page >= view.questions.pages - 1
        _button(
            row,
            hikari.ButtonStyle.SECONDARY,
            ids.format_id(Action.PAGE, str(page + 1), config),
            "Next page",
            disabled=last_page,
        )
    rows.append(row)
    return rows


def _input(
    row: hikari.impl.ModalActionRowBuilder,
    custom_id: str,
    label: str,
    *,
    value: str,
    max_length: int,
    paragraph: bool = False,
    required: bool = True,
) -> hikari.impl.ModalActionRowBuilder:
    row.add_text_input(
        custom_id,
        label,
        style=hikari.TextInputStyle.PARAGRAPH if paragraph else hikari.TextInputStyle.SHORT,
        value=value or hikari.UNDEFINED,
        required=required,
        max_length=max_length,
    )
    return row


def question_modal(question: Question | None) -> Rows:
    """Return the add/edit modal's inputs: title (≤ 45), text (≤ 4,000), optional image URL."""
    title, text, image = (question.title, question.text, question.image_url) if question else ("", "", "")
    return [
        _input(hikari.impl.ModalActionRowBuilder(), ids.TITLE_INPUT, "Title", value=title, max_length=MAX_TITLE),
        _input(
            hikari.impl.ModalActionRowBuilder(),
            ids.TEXT_INPUT,
            "Question",
            value=text,
            max_length=MAX_TEXT,
            paragraph=True,
        ),
        _input(
            hikari.impl.ModalActionRowBuilder(),
            ids.IMAGE_INPUT,
            "Image URL (optional)",
            value=image,
            max_length=MAX_IMAGE_URL,
            required=False,
        ),
    ]


def completion_modal(completion: Completion | None) -> Rows:
    """Return the completion message's inputs."""
    title, text, image = (completion.title, completion.text, completion.image_url) if completion else ("", "", "")
    return [
        _input(
            hikari.impl.ModalActionRowBuilder(),
            ids.TITLE_INPUT,
            "Title (optional)",
            value=title,
            max_length=MAX_TITLE,
            required=False,
        ),
        _input(
            hikari.impl.ModalActionRowBuilder(),
            ids.TEXT_INPUT,
            "Message",
            value=text,
            max_length=MAX_TEXT,
            paragraph=True,
        ),
        _input(
            hikari.impl.ModalActionRowBuilder(),
            ids.IMAGE_INPUT,
            "Image URL (optional)",
            value=image,
            max_length=MAX_IMAGE_URL,
            required=False,
        ),
    ]


def preview(questions: QuestionSet, question_id: str) -> tuple[str, hikari.Embed | None]:
    """Return a question as the applicant will see it."""
    question = questions.find(question_id)
    if question is None:
        return "That question no longer exists.", None
    number = (questions.index_of(question_id) or 0) + 1
    return f"Preview: **Question {number} of {len(questions.questions)}**", question_embed(question)


# ---- /apps applications ------------------------------------------------------------------------------


def state_text(state: State, number: int | None, total: int) -> str:
    """Return an applicant's state as admins read it."""
    match state:
        case State.NOT_STARTED:
            return "not started"
        case State.ANSWERING:
            return f"on question {number} of {total}" if number else f"answering ({total} questions)"
        case State.COMPLETED:
            return "completed"
        case State.WITHDRAWN:
            return "withdrawn"
        case _:
            assert_never(state)


def applications(result: Report) -> str:
    """Return who applied, their state and a link to their channel (the CSV holds the answers)."""
    lines = [f"**Applications for {result.title}** · {len(result.rows)} shown · answers in the attached CSV"]
    for row in result.rows:
        who = row.progress.display_name or str(row.progress.user_id)
        state = state_text(row.state, row.number, row.total)
        lines.append(f"• <@{row.progress.user_id}> ({who}): {state} · <#{row.progress.channel_id}>")
    if not result.rows:
        lines.append("No applications yet.")
    text = "\n".join(lines)
    if len(text) > MAX_CONTENT:
        text = text[: MAX_CONTENT - 40].rsplit("\n", 1)[0] + "\n… more in the attached CSV."
    return text


def export_csv(result: Report) -> bytes:
    """Return the answers as CSV: one row per applicant, one column per question (current order)."""
    out = io.StringIO()
    writer = csv.writer(out)
    questions = result.questions.questions
    writer.writerow(["user_id", "name", "channel_id", "state", "completed_at", *(q.title for q in questions)])
    for row in result.rows:
        progress = row.progress
        answers = [progress.answers[q.question_id].text if q.question_id in progress.answers else "" for q in questions]
        writer.writerow(
            [
                str(progress.user_id),
                _cell(progress.display_name),
                str(progress.channel_id),
                state_text(row.state, row.number, row.total),
                progress.completed_at or "",
                *(_cell(a) for a in answers),
            ]
        )
    return out.getvalue().encode("utf-8-sig")


def _cell(text: str) -> str:
    """Keep spreadsheet programs from running an answer as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
