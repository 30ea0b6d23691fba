"""``QuestionsDiscord`` and ``ChannelNames`` over hikari's REST client (errors through ``translated()``)."""

from __future__ import annotations

from typing import Final

import hikari

from castbot_hikari.core.errors import DiscordError
from castbot_hikari.core.ids import ChannelId, MessageId, UserId
from castbot_hikari.discord.errors import translated, translated_once
from castbot_hikari.questions import custom_ids as ids
from castbot_hikari.questions import render
from castbot_hikari.questions.model import Completion, QuestionPost

LOOKBACK: Final = 50
"""How many of a channel's latest messages are searched for a question posted before a crash."""


def _custom_ids(message: hikari.Message) -> list[str]:
    found: list[str] = []
    for row in message.components:
        for component in getattr(row, "components", ()):
            if isinstance(component, hikari.ButtonComponent) and component.custom_id:
                found.append(component.custom_id)
    return found


class HikariQuestionsOps:
    """The questions flow's Discord calls.

    Args:
        rest: hikari's REST client (retries 5xx itself: used for edits and reads).
        once: A client with ``max_retries=0`` for posts, which must never be sent twice by hikari.
        bot_user_id: The bot's own user id (its messages are the only ones searched).
    """

    def __init__(self, rest: hikari.api.RESTClient, once: hikari.api.RESTClient, bot_user_id: UserId) -> None:
        self._rest = rest
        self._once = once
        self._bot = bot_user_id

    async def post_question(self, channel_id: ChannelId, post: QuestionPost) -> MessageId:
        """Post a question's message (sent once)."""
        with translated_once():
            message = await self._once.create_message(
                channel_id,
                render.question_content(post),
                embed=render.question_embed(post.question),
                components=list(render.question_rows(post)),
                mentions_everyone=False,
                user_mentions=False,
                role_mentions=False,
            )
        return MessageId(int(message.id))

    async def find_question_message(self, channel_id: ChannelId, question_id: str) -> MessageId | None:
        """Return the bot's message whose buttons belong to ``question_id``, among the latest messages."""
        wanted = {ids.applicant(ids.Action.ANSWER, question_id)}
        with translated():
            messages = await self._rest.fetch_messages(channel_id).limit(LOOKBACK)
        for message in messages:
            if message.author.id == self._bot and wanted & set(_custom_ids(message)):
                return MessageId(int(message.id))
        return None

    async def show_question(self, channel_id: ChannelId, message_id: MessageId, post: QuestionPost) -> None:
        """Redraw a question's message."""
        with translated():
            await self._rest.edit_message(
                channel_id,
                message_id,
                render.question_content(post),
                embed=render.question_embed(post.question),
                components=list(render.question_rows(post)),
                mentions_everyone=False,
                user_mentions=False,
                role_mentions=False,
            )

    async def remove_buttons(self, channel_id: ChannelId, message_id: MessageId) -> None:
        """Take the buttons off a message (one already gone is fine)."""
        try:
            with translated():
                await self._rest.edit_message(channel_id, message_id, components=[])
        except DiscordError as exc:
            if exc.status != 404:
                raise

    async def post_completion(self, channel_id: ChannelId, completion: Completion | None, answered: int) -> None:
        """Post the closing message (sent once)."""
        content, embed = render.completion_message(completion, answered)
        with translated_once():
            await self._once.create_message(
                channel_id,
                content,
                embed=embed if embed is not None else hikari.UNDEFINED,
                mentions_everyone=False,
                user_mentions=False,
                role_mentions=False,
            )

    async def show_welcome(self, channel_id: ChannelId, message_id: MessageId, *, withdrawn: bool) -> None:
        """Redraw the welcome card's buttons."""
        with translated():
            await self._rest.edit_message(
                channel_id, message_id, components=list(render.welcome_rows(withdrawn=withdrawn))
            )

    async def channel_name(self, channel_id: ChannelId) -> str | None:
        """Return the channel's current name (``None``: gone)."""
        try:
            with translated():
                channel = await self._rest.fetch_channel(channel_id)
        except DiscordError as exc:
            if exc.status == 404:
                return None
            raise
        return channel.name

    async def rename_channel(self, channel_id: ChannelId, name: str) -> None:
        """Rename the channel."""
        with translated():
            await self._rest.edit_channel(channel_id, name=name, reason="Application status")
