"""What the questions service needs from the data file and from Discord (implemented by ``store`` and
``hikari_ops``; faked in tests)."""

from __future__ import annotations

from typing import Protocol

from castbot_hikari.core.ids import ChannelId, ConfigId, GuildId, MessageId
from castbot_hikari.questions.model import (
    Answer,
    Completion,
    Progress,
    Question,
    QuestionFields,
    QuestionPost,
    QuestionSet,
)


class Superseded(Exception):  # noqa: N818 - not an error: the press lost a race and is run again
    """The record no longer is what the step was decided on (another process's press changed it first).

    Nothing was written; the service reads the record again and decides afresh, so the losing press ends as
    the second click of a double click does.
    """


class QuestionStore(Protocol):
    """Configs' questions and applications' progress in CastBot's ``playerData.json``.

    Every change is durable when the call returns; a failed write raises ``StorageError`` and changes nothing.
    The steps that decide what is posted (``mark_posting``, ``claim_posting``, ``clear_posting``,
    ``mark_posted``, ``complete``, ``set_withdrawn``) are conditional: each checks, atomically with its write,
    that the record still is what ``progress`` says (``Progress.same_step``) and raises ``Superseded``
    (writing nothing) if not.
    """

    async def questions(self, guild_id: GuildId, config_id: ConfigId) -> QuestionSet | None:
        """Return a config's questions, or ``None`` if the config does not exist."""
        ...

    async def progress(self, guild_id: GuildId, channel_id: ChannelId) -> Progress | None:
        """Return the application of a channel, or ``None`` if the channel holds none."""
        ...

    async def applications(self, guild_id: GuildId, config_id: ConfigId) -> list[Progress]:
        """Return a config's applications, oldest first."""
        ...

    async def wanted_prefixes(self, guild_id: GuildId) -> dict[ChannelId, str]:
        """Return the channel-name prefix each application of the guild last asked for (ours only)."""
        ...

    async def mark_posting(self, progress: Progress, question_id: str) -> None:
        """Record that a question's message is about to be posted (so a crash cannot post it twice).

        The intent is this process's for a lease (PostgreSQL): until it runs out, no other process posts it.
        """
        ...

    async def claim_posting(self, progress: Progress) -> bool:
        """Make an interrupted intent (``progress.posting``) this process's; ``False`` while another live
        process holds it (it is posting right now)."""
        ...

    async def release_posting(self, progress: Progress, question_id: str) -> None:
        """Give back this process's lease of the intent to post ``question_id`` (its post failed); the intent
        stays, so the next press adopts the message if Discord did take it."""
        ...

    async def clear_posting(self, progress: Progress) -> None:
        """Forget an intent to post whose question was removed."""
        ...

    async def mark_posted(self, progress: Progress, question_id: str, message_id: MessageId, index: int) -> None:
        """Record a question's message as posted and current (CastBot's ``currentQuestion`` is ``index``)."""
        ...

    async def save_answer(self, progress: Progress, question_id: str, answer: Answer) -> None:
        """Store (or replace) an answer."""
        ...

    async def complete(self, progress: Progress, completed_at: str, prefix: str) -> None:
        """Stamp ``completedAt`` and the channel-name prefix now wanted (in one change)."""
        ...

    async def set_withdrawn(self, progress: Progress, withdrawn_at: str | None, prefix: str) -> None:
        """Record a withdrawal (``None``: the applicant resumed) and the prefix now wanted (in one change)."""
        ...

    async def add_question(self, guild_id: GuildId, config_id: ConfigId, question: Question, at_ms: int) -> bool:
        """Append a question before the completion question; ``False`` if the config is gone."""
        ...

    async def edit_question(
        self, guild_id: GuildId, config_id: ConfigId, question_id: str, fields: QuestionFields
    ) -> bool:
        """Change a question's title, text and image; ``False`` if it is gone."""
        ...

    async def move_question(self, guild_id: GuildId, config_id: ConfigId, question_id: str, delta: int) -> bool:
        """Move a question up (-1) or down (+1) among the plain questions; ``False`` if it cannot move."""
        ...

    async def duplicate_question(
        self, guild_id: GuildId, config_id: ConfigId, question_id: str, new_id: str, at_ms: int
    ) -> bool:
        """Insert a copy right after the question; ``False`` if it is gone."""
        ...

    async def delete_question(self, guild_id: GuildId, config_id: ConfigId, question_id: str) -> bool:
        """Remove a question; ``False`` if it was already gone."""
        ...

    async def set_completion(self, guild_id: GuildId, config_id: ConfigId, completion: Completion) -> bool:
        """Set the completion message (CastBot's last, ``completion`` question); ``False`` if the config is gone."""
        ...

    async def title(self, guild_id: GuildId, config_id: ConfigId) -> str | None:
        """Return the title of a config of this guild (``None`` if it is not one of its configs)."""
        ...


class QuestionsDiscord(Protocol):
    """The Discord calls of the questions flow; failures raise ``DiscordError``."""

    async def post_question(self, channel_id: ChannelId, post: QuestionPost) -> MessageId:
        """Post a question's message (sent once) and return its id."""
        ...

    async def find_question_message(self, channel_id: ChannelId, question_id: str) -> MessageId | None:
        """Return the bot's message of a question among the channel's latest, if it is there."""
        ...

    async def show_question(self, channel_id: ChannelId, message_id: MessageId, post: QuestionPost) -> None:
        """Redraw a question's message (its answer, its buttons or none)."""
        ...

    async def remove_buttons(self, channel_id: ChannelId, message_id: MessageId) -> None:
        """Take the buttons off a message (a question that is no longer current)."""
        ...

    async def post_completion(self, channel_id: ChannelId, completion: Completion | None, answered: int) -> None:
        """Post the closing message."""
        ...

    async def show_welcome(self, channel_id: ChannelId, message_id: MessageId, *, withdrawn: bool) -> None:
        """Redraw the welcome card's buttons: Start and Withdraw, or (withdrawn) Resume."""
        ...


class Renamer(Protocol):
    """Renames channels within Discord's limit of two per ten minutes per channel, never failing the caller."""

    def request(self, channel_id: ChannelId, prefix: str) -> None:
        """Ask for the channel's status prefix to become ``prefix`` (the latest request wins)."""
        ...
