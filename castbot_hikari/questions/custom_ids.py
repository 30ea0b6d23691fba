"""Custom ids of the questions flow (prefix ``cbq:``): one codec, bounded to Discord's 100 characters.

Applicant buttons carry no identity: the application is the channel the press comes from (CastBot keys
applications by channel id), so a button cannot be replayed into another channel. Question buttons carry
the question's id, so a press on an old question's message is recognised as stale.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from castbot_hikari.core.ids import ConfigId, parse_config_id

PREFIX: Final = "cbq:"
MAX_LENGTH: Final = 100
QUESTION_ID_CHARS: Final = re.compile(r"[A-Za-z0-9_-]{1,40}")
ANSWER_INPUT: Final = "answer"
TITLE_INPUT: Final = "title"
TEXT_INPUT: Final = "text"
IMAGE_INPUT: Final = "image"


class Action(enum.Enum):
    """What a ``cbq:`` component or modal does."""

    START = "start"
    WITHDRAW = "withdraw"
    RESUME = "resume"
    ANSWER = "answer"
    NEXT = "next"
    COMPLETE = "complete"
    ANSWER_MODAL = "answered"
    # Admin screens of /apps questions (arg: a question id or a page; the config id last).
    PAGE = "a-page"
    PICK = "a-pick"
    ADD = "a-add"
    EDIT = "a-edit"
    UP = "a-up"
    DOWN = "a-down"
    DUPLICATE = "a-dup"
    DELETE = "a-del"
    PREVIEW = "a-prev"
    COMPLETION = "a-done"
    ADD_MODAL = "a-added"
    EDIT_MODAL = "a-edited"
    COMPLETION_MODAL = "a-doned"

    @property
    def admin(self) -> bool:
        """Whether it belongs to the admins' question editor."""
        return self.value.startswith("a-")


_BY_VALUE: Final = {action.value: action for action in Action}


@dataclass(frozen=True, slots=True)
class QuestionsId:
    """A parsed ``cbq:`` custom id."""

    action: Action
    arg: str = ""
    config_id: ConfigId | None = None


def format_id(action: Action, arg: str = "", config_id: ConfigId | None = None) -> str | None:
    """Return the custom id, or ``None`` when it would exceed Discord's 100 characters."""
    parts = [PREFIX + action.value, arg]
    if config_id is not None:
        parts.append(config_id)
    text = ":".join(parts).rstrip(":") if config_id is None else ":".join(parts)
    return text if len(text) <= MAX_LENGTH else None


def parse(custom_id: str) -> QuestionsId | None:
    """Return the parsed id, or ``None`` when it is not a well-formed ``cbq:`` id."""
    if not custom_id.startswith(PREFIX) or len(custom_id) > MAX_LENGTH:
        return None
    action_text, _, rest = custom_id[len(PREFIX) :].partition(":")
    action = _BY_VALUE.get(action_text)
    if action is None:
        return None
    arg, _, config = rest.partition(":")
    if arg and not QUESTION_ID_CHARS.fullmatch(arg):
        return None
    config_id = parse_config_id(config) if config else None
    if config and config_id is None:
        return None
    if action.admin and config_id is None:
        return None
    return QuestionsId(action, arg, config_id)


def applicant(action: Action, question_id: str = "") -> str:
    """Return an applicant button's id (question ids are at most 40 characters, so it always fits)."""
    found = format_id(action, question_id)
    assert found is not None
    return found
