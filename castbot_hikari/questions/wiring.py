"""Wiring of the questions flow, called once by the composition root (``app.build_app``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import hikari
import lightbulb

from castbot_hikari.castbot.config import ApplicationConfig
from castbot_hikari.castbot.document import CONFIGS, as_object, guild
from castbot_hikari.castbot.journal import JournaledDocument
from castbot_hikari.core.clock import Clock, Sleep
from castbot_hikari.core.ids import ConfigId, GuildId, UserId
from castbot_hikari.core.locks import KeyedSemaphores
from castbot_hikari.questions.hikari_ops import HikariQuestionsOps
from castbot_hikari.questions.renames import RenameQueue
from castbot_hikari.questions.service import QuestionEditor, QuestionsService
from castbot_hikari.questions.store import JsonQuestionStore

Titles = Callable[[GuildId, ConfigId], str | None]


@dataclass(frozen=True, slots=True)
class Questions:
    """The questions flow's services, injected into its glue."""

    service: QuestionsService
    editor: QuestionEditor
    store: JsonQuestionStore
    renames: RenameQueue
    titles: Titles


def config_titles(document: JournaledDocument) -> Titles:
    """Return the function that names a config of a guild (``None`` if it is not one of its configs)."""

    def title(guild_id: GuildId, config_id: ConfigId) -> str | None:
        raw: object = as_object(guild(document, guild_id).get(CONFIGS)).get(config_id)
        if not isinstance(raw, dict):
            return None
        return ApplicationConfig.from_castbot(guild_id, config_id, as_object(cast("object", raw))).title

    return title


def register_questions(
    client: lightbulb.Client,
    bot: hikari.GatewayBot,
    document: JournaledDocument,
    *,
    once: hikari.api.RESTClient,
    clock: Clock,
    bot_user_id: UserId,
    sleep: Sleep | None = None,
) -> Questions:
    """Build the questions services over the shared data document and register them for injection."""
    store = JsonQuestionStore(document)
    ops = HikariQuestionsOps(bot.rest, once, bot_user_id)
    renames = RenameQueue(ops, clock, sleep) if sleep is not None else RenameQueue(ops, clock)
    service = QuestionsService(store, ops, renames, KeyedSemaphores(1), clock)
    titles = config_titles(document)
    editor = QuestionEditor(store, clock, titles)
    questions = Questions(service, editor, store, renames, titles)
    client.di.registry_for(lightbulb.di.Contexts.DEFAULT).register_value(Questions, questions)
    return questions
