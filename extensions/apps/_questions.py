"""``/apps questions`` (the question editor) and ``/apps applications`` (who applied, answers as CSV). Glue only.

The editor's buttons and modals (``cbq:a-…``) arrive through the questions listener
(``extensions.questions``), which hands them here; each re-checks the admin server-side.
"""

import hikari
import lightbulb

from castbot_hikari.admin import render as admin_render
from castbot_hikari.admin.model import Refusal
from castbot_hikari.core.ids import ConfigId
from castbot_hikari.questions import custom_ids as ids
from castbot_hikari.questions import render
from castbot_hikari.questions.custom_ids import Action, QuestionsId
from castbot_hikari.questions.model import Completion, QuestionFields, State
from castbot_hikari.questions.service import EditorView, report
from castbot_hikari.questions.wiring import Questions
from extensions.apps._common import (
    Caller,
    Screen,
    acknowledge,
    caller,
    config_option,
    guarded,
    modal_values,
    reply,
    run_command,
    show,
)

STATUS_CHOICES = [lightbulb.Choice(state.value, state.value) for state in State]


def editor_screen(view: EditorView | None) -> Screen:
    """Return the editor's screen, or "not found" when the config is gone."""
    if view is None:
        return Screen(render.CONFIG_NOT_FOUND)
    return Screen(render.editor(view), render.editor_rows(view))


class QuestionsCommand(
    lightbulb.SlashCommand, name="questions", description="The questions applicants answer in their channel"
):
    """Show a config's questions, 8 a page, with add, edit, move, duplicate, delete and preview."""

    config = config_option()

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, questions: Questions) -> None:
        """Show the editor."""

        async def work(who: Caller) -> Screen:
            return editor_screen(await questions.editor.view(who.guild_id, ConfigId(self.config)))

        await run_command(ctx, "questions", work)


class ApplicationsCommand(
    lightbulb.SlashCommand, name="applications", description="Who applied, where they are, their answers (CSV)"
):
    """List a config's applicants with their state and channel; the answers come as a CSV attachment."""

    config = config_option()
    status = lightbulb.string("status", "Only applications in this state", choices=STATUS_CHOICES, default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context, questions: Questions) -> None:
        """Show the list and attach the export."""
        wanted = State(self.status) if self.status else None

        async def work(who: Caller) -> Screen:
            found = await report(questions.store, questions.titles, who.guild_id, ConfigId(self.config), wanted)
            if found is None:
                return Screen(render.CONFIG_NOT_FOUND)
            attachment = hikari.Bytes(render.export_csv(found), "answers.csv", mimetype="text/csv")
            return Screen(render.applications(found), attachment=attachment)

        await run_command(ctx, "applications", work)


async def _open_modal(inter: hikari.ComponentInteraction, title: str, custom_id: str | None, rows: render.Rows) -> None:
    if custom_id is None:
        await reply(inter, render.ID_TOO_LONG)
        return
    await inter.create_modal_response(title, custom_id, components=list(rows))


async def on_editor_component(inter: hikari.ComponentInteraction, parsed: QuestionsId, questions: Questions) -> None:
    """Handle an editor button or the question picker (admins only, checked again here)."""
    who = caller(inter)
    if isinstance(who, Refusal):
        await reply(inter, admin_render.refusal(who))
        return
    config, arg, editor = parsed.config_id or ConfigId(""), parsed.arg, questions.editor
    view = await editor.view(who.guild_id, config)
    if view is None:
        await reply(inter, render.CONFIG_NOT_FOUND)
        return
    match parsed.action:  # a modal must be the first response: these read memory only
        case Action.ADD:
            await _open_modal(
                inter, "Add a question", ids.format_id(Action.ADD_MODAL, arg, config), render.question_modal(None)
            )
            return
        case Action.EDIT:
            question = view.questions.find(arg)
            if question is None:
                await reply(inter, "That question no longer exists.")
                return
            rows = render.question_modal(question)
            await _open_modal(inter, "Edit the question", ids.format_id(Action.EDIT_MODAL, arg, config), rows)
            return
        case Action.COMPLETION:
            rows = render.completion_modal(view.questions.completion)
            await _open_modal(inter, "Completion message", ids.format_id(Action.COMPLETION_MODAL, arg, config), rows)
            return
        case _:
            pass
    if parsed.action is Action.PREVIEW:
        if not await acknowledge(inter):
            return
        async with guarded(inter, "questions preview"):
            content, embed = render.preview(view.questions, arg)
            await show(inter, Screen(content, embed=embed))
        return
    if not await acknowledge(inter, update=True):
        return
    async with guarded(inter, f"questions {parsed.action.value}"):
        await show(inter, editor_screen(await _change(questions, who, parsed, inter)))


async def _change(
    questions: Questions, who: Caller, parsed: QuestionsId, inter: hikari.ComponentInteraction
) -> EditorView | None:
    editor, config, arg, guild = questions.editor, parsed.config_id or ConfigId(""), parsed.arg, who.guild_id
    match parsed.action:
        case Action.PAGE:
            return await editor.view(guild, config, page=int(arg) if arg.isdigit() else 0)
        case Action.PICK:
            picked = inter.values[0] if inter.values else None
            return await editor.view(guild, config, page=int(arg) if arg.isdigit() else 0, selected=picked)
        case Action.UP | Action.DOWN:
            return await editor.move(guild, config, arg, -1 if parsed.action is Action.UP else 1)
        case Action.DUPLICATE:
            return await editor.duplicate(guild, config, arg)
        case Action.DELETE:
            return await editor.delete(guild, config, arg)
        case _:
            return await editor.view(guild, config)


async def on_editor_modal(inter: hikari.ModalInteraction, parsed: QuestionsId, questions: Questions) -> None:
    """Save an added or edited question, or the completion message; answer with the editor."""
    who = caller(inter)
    if isinstance(who, Refusal):
        await reply(inter, admin_render.refusal(who))
        return
    if not await acknowledge(inter):
        return
    editor, config, arg = questions.editor, parsed.config_id or ConfigId(""), parsed.arg
    values = modal_values(inter)
    fields = QuestionFields(
        values.get(ids.TITLE_INPUT, ""), values.get(ids.TEXT_INPUT, ""), values.get(ids.IMAGE_INPUT, "") or ""
    )
    async with guarded(inter, f"questions {parsed.action.value}"):
        match parsed.action:
            case Action.ADD_MODAL:
                view = await editor.add(who.guild_id, config, fields)
            case Action.EDIT_MODAL:
                view = await editor.edit(who.guild_id, config, arg, fields)
            case Action.COMPLETION_MODAL:
                completion = Completion(fields.title.strip(), fields.text, fields.image_url.strip())
                view = await editor.set_completion(who.guild_id, config, completion)
            case _:
                view = await editor.view(who.guild_id, config)
        await show(inter, editor_screen(view))
