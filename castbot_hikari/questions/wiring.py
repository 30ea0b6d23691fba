"""Wiring of the questions flow, called once by the composition root (``app.build_app``)."""

from __future__ import annotations

from dataclasses import dataclass

import hikari
import lightbulb

from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.ids import UserId
from castbot_hikari.core.locks import KeyedSemaphores
from castbot_hikari.questions.hikari_ops import HikariQuestionsOps
from castbot_hikari.questions.ports import QuestionStore
from castbot_hikari.questions.renames import RenameQueue
from castbot_hikari.questions.service import QuestionEditor, QuestionsService, Titles


@dataclass(frozen=True, slots=True)
class Questions:
    """The questions flow's services, injected into its glue."""

    service: QuestionsService
    editor: QuestionEditor
    store: QuestionStore
    renames: RenameQueue
    titles: Titles


def register_questions(
    client: lightbulb.Client,
    bot: hikari.GatewayBot,
    store: QuestionStore,
    *,
    once: hikari.api.RESTClient,
    clock: Clock,
    bot_user_id: UserId,
    sleep: Sleep | None = None,
) -> Questions:
    """Build the questions services over the store and register them for injection."""
    ops = HikariQuestionsOps(bot.rest, once, bot_user_id)
    renames = RenameQueue(ops, clock, sleep) if sleep is not None else RenameQueue(ops, clock)
    service = QuestionsService(store, ops, renames, KeyedSemaphores(1), clock)
    titles = store.title
    editor = QuestionEditor(store, clock, titles)
    questions = Questions(service, editor, store, renames, titles)
    client.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_value(Questions, questions)
    return questions
