"""Interaction responses: the callback state machine and the interaction webhook (token) API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from castbot_hikari.testing.emulator import errors, messages, payloads
from castbot_hikari.testing.emulator.core import Core
from castbot_hikari.testing.emulator.interactions import APPLICATION_COMMAND, MODAL_SUBMIT, Interaction
from castbot_hikari.testing.emulator.routing import Upload
from castbot_hikari.testing.emulator.state import JSONObject, MessageState

MESSAGE_CREATE: Final = 4
DEFERRED_MESSAGE_CREATE: Final = 5
DEFERRED_MESSAGE_UPDATE: Final = 6
MESSAGE_UPDATE: Final = 7
MODAL: Final = 9
_ACK_TYPES: Final = frozenset({MESSAGE_CREATE, DEFERRED_MESSAGE_CREATE, DEFERRED_MESSAGE_UPDATE, MESSAGE_UPDATE, MODAL})

Reply = tuple[int, JSONObject | None]
"""HTTP status and JSON body (``None`` for 204)."""


class InteractionStore:
    """Every simulated interaction, by id and by token, and the rules for answering them.

    It also owns every message created through an interaction token (original responses and
    follow-ups, ephemeral ones included: those exist nowhere else), so a component on an ephemeral
    message can be used and updated like one on a channel message.
    """

    def __init__(self, core: Core) -> None:
        self._core = core
        self.by_id: dict[int, Interaction] = {}
        self.by_token: dict[str, Interaction] = {}
        self._messages: dict[int, tuple[MessageState, Interaction]] = {}

    @property
    def _layout(self) -> bool:
        return self._core.settings.enforces("component_layout")

    def add(self, interaction: Interaction) -> None:
        """Register a new interaction."""
        self.by_id[interaction.id] = interaction
        self.by_token[interaction.token] = interaction

    def response_message(self, message_id: int) -> tuple[MessageState, Interaction] | None:
        """Return a message created through an interaction token (until deleted through one), and its interaction."""
        return self._messages.get(message_id)

    def live_message(self, channel_id: int, message_id: int) -> MessageState | None:
        """Return a message that still exists: in its channel, or as a live ephemeral response."""
        entry = self._messages.get(message_id)
        if entry is not None and entry[0].flags & messages.EPHEMERAL:
            return entry[0]
        return self._core.state.find_message(channel_id, message_id)

    def is_live(self, message: MessageState) -> bool:
        """Whether ``message`` still exists (in its channel, or as a live ephemeral response)."""
        return self.live_message(message.channel_id, message.id) is message

    def visible(self, inter: Interaction) -> MessageState | None:
        """Return the message the user sees as ``inter``'s response now (``None``: none or a modal)."""
        original = inter.original
        return original if original is not None and self.is_live(original) else None

    # ---- POST /interactions/{interaction_id}/{interaction_token}/callback ------------------------

    def callback(self, interaction_id: int, token: str, body: JSONObject, *, with_response: bool) -> Reply:
        """Accept or reject an initial response.

        Raises:
            ApiError: 10062 unknown or late, 40060 already acknowledged, 50035/50006 bad body.
        """
        inter = self.by_id.get(interaction_id)
        if inter is None or inter.token != token:
            raise errors.api_error(errors.UNKNOWN_INTERACTION)
        message = self.respond(inter, body)
        if not with_response:
            return 204, None
        assert inter.ack_type is not None
        return 200, _callback_payload(inter, inter.ack_type, message)

    def respond(self, inter: Interaction, body: JSONObject) -> MessageState | None:
        """Accept or reject an initial response (a callback's body, or an interactions endpoint's reply).

        Returns:
            The message the response created or updates, if any.

        Raises:
            ApiError: 10062 late (or the endpoint's answer already failed it), 40060 already
                acknowledged, 50035/50006 bad body.
        """
        response_type = body.get("type")
        if inter.ack_type is not None:
            inter.record("ack_rejected", reason="double", type=response_type)
            raise errors.api_error(errors.ALREADY_ACKNOWLEDGED)
        if inter.http_failure is not None:
            # The user already saw "This interaction failed": the interaction is gone.
            inter.record("ack_rejected", reason="failed", type=response_type)
            raise errors.api_error(errors.UNKNOWN_INTERACTION)
        if inter.age > self._core.settings.ack_deadline:
            inter.record("ack_rejected", reason="late", type=response_type, age=round(inter.age, 3))
            raise errors.api_error(errors.UNKNOWN_INTERACTION)
        data: JSONObject = body.get("data") or {}
        try:
            _check_callback(response_type, data, layout=self._layout)
            self._check_allowed(inter, response_type)
        except errors.ApiError as exc:
            inter.record("ack_rejected", reason="invalid", type=response_type, error=exc.body())
            raise
        assert isinstance(response_type, int)
        return self._accept(inter, response_type, data)

    def _check_allowed(self, inter: Interaction, response_type: object) -> None:
        if response_type == MODAL and inter.interaction_type == MODAL_SUBMIT:
            raise errors.form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "A modal cannot open a modal.")
        if response_type in (DEFERRED_MESSAGE_UPDATE, MESSAGE_UPDATE) and (
            inter.interaction_type == APPLICATION_COMMAND or self.source_message(inter) is None
        ):
            # Only component-based interactions have a message to update (a slash command's modal too).
            raise errors.api_error(errors.UNKNOWN_MESSAGE)

    def _accept(self, inter: Interaction, response_type: int, data: JSONObject) -> MessageState | None:
        flags = int(data.get("flags") or 0)
        inter.ack_type = response_type
        inter.acked_at = self._core.clock()
        inter.ephemeral = bool(flags & messages.EPHEMERAL) and response_type in (4, 5)
        message: MessageState | None = None
        if response_type in (MESSAGE_CREATE, DEFERRED_MESSAGE_CREATE):
            message = self._create_original(inter, response_type, data, flags)
        elif response_type in (DEFERRED_MESSAGE_UPDATE, MESSAGE_UPDATE):
            message = inter.original = self.source_message(inter)
        else:
            inter.modal = {**data, "components": messages.with_component_ids(data.get("components") or [])}
        inter.record("acked", type=response_type, flags=flags)
        if response_type == MESSAGE_UPDATE and message is not None:
            self._update_source(inter, message, data)
        return message

    def _update_source(self, inter: Interaction, message: MessageState, data: JSONObject) -> None:
        messages.apply_edit(self._core, message, data)
        if self._core.state.find_message(message.channel_id, message.id) is message:
            messages.publish(self._core, "MESSAGE_UPDATE", message)
        self._updated(inter, message, own=True)

    def _create_original(self, inter: Interaction, response_type: int, data: JSONObject, flags: int) -> MessageState:
        body = data if response_type == MESSAGE_CREATE else {}
        keep = messages.EPHEMERAL if inter.ephemeral else 0
        if response_type == DEFERRED_MESSAGE_CREATE:
            keep |= messages.LOADING
        else:
            keep |= flags & ~messages.EPHEMERAL
        message = self._bot_message(inter, body, keep)
        inter.original = message
        inter.loading = response_type == DEFERRED_MESSAGE_CREATE
        inter.content = message.content or None
        self._own(inter, message)
        if not inter.ephemeral:
            messages.store(self._core, message)
        return message

    def _bot_message(
        self, inter: Interaction, body: JSONObject, flags: int, files: Mapping[str, Upload] | None = None
    ) -> MessageState:
        state = self._core.state
        return messages.new_message(
            self._core, inter.channel_id, inter.guild_id, state.bot, body, flags=flags, webhook=True, files=files
        )

    def source_message(self, inter: Interaction) -> MessageState | None:
        """Return the live message holding the component ``inter`` came from, if any."""
        return None if inter.message_id is None else self.live_message(inter.channel_id, inter.message_id)

    def _own(self, inter: Interaction, message: MessageState) -> None:
        self._messages[message.id] = (message, inter)

    def _updated(self, inter: Interaction, message: MessageState, *, own: bool) -> None:
        """Record that ``inter``'s response changed ``message`` (on ``inter`` if ``own``, and its owner)."""
        entry = self._messages.get(message.id)
        owner = entry[1] if entry is not None else None
        for target in (inter if own else None, owner if owner is not inter else None):
            if target is None:
                continue
            if message is target.original:
                target.content = message.content or None
            target.record("message_updated", message_id=message.id, content=message.content, by=inter.id)

    # ---- /webhooks/{webhook_id}/{webhook_token}... ---------------------------------------------

    def resolve(self, application_id: int, token: str) -> Interaction:
        """Return the interaction a webhook token belongs to, if it may be used now.

        Raises:
            ApiError: 10015 for unknown or not-yet-acknowledged tokens, 50027 once expired.
        """
        inter = self.by_token.get(token)
        if inter is None or application_id != self._core.state.bot.id:
            raise errors.api_error(errors.UNKNOWN_WEBHOOK)
        if inter.age > self._core.settings.token_ttl:
            raise errors.api_error(errors.INVALID_WEBHOOK_TOKEN)
        if inter.ack_type is None:
            raise errors.api_error(errors.UNKNOWN_WEBHOOK)
        return inter

    def execute(
        self, inter: Interaction, body: JSONObject, *, wait: bool, files: Mapping[str, Upload] | None = None
    ) -> Reply:
        """Create a follow-up (or, right after a defer, replace the loading message)."""
        messages.check_body(body, create=True, layout=self._layout)
        flags = int(body.get("flags") or 0)
        original = inter.original
        if inter.loading and original is not None:
            # Discord's deprecated behaviour: the first POST after a defer edits the loading
            # message and keeps its ephemerality, whatever the flags say.
            self._edit(inter, original, body, files)
            inter.record("followup", content=original.content, flags=flags, replaced_loading=True)
            return (200, payloads.message(original)) if wait else (204, None)
        ephemeral = flags & messages.EPHEMERAL
        if not ephemeral:
            self._core.writes.count(inter.channel_id)
        message = self._bot_message(inter, body, flags, files)
        inter.followup_messages[message.id] = message
        self._own(inter, message)
        if not ephemeral:
            messages.store(self._core, message)
        payload = payloads.message(message)
        inter.followups.append(payload)
        inter.record("followup", content=message.content, flags=flags, replaced_loading=False)
        return (200, payload) if wait else (204, None)

    def find_message(self, inter: Interaction, ref: str) -> MessageState:
        """Return ``@original`` or a follow-up by id.

        Raises:
            ApiError: 10008 if there is no such message (e.g. deleted, or the response was a modal).
        """
        original = inter.original
        if ref == "@original" or (original is not None and ref == str(original.id)):
            if original is None:
                raise errors.api_error(errors.UNKNOWN_MESSAGE)
            return original
        message = inter.followup_messages.get(int(ref)) if ref.isdigit() else None
        if message is None:
            raise errors.api_error(errors.UNKNOWN_MESSAGE)
        return message

    def edit_message(
        self, inter: Interaction, ref: str, body: JSONObject, *, files: Mapping[str, Upload] | None = None
    ) -> Reply:
        """PATCH ``@original`` or a follow-up (multipart uploads become its attachments)."""
        message = self.find_message(inter, ref)
        messages.check_body(body, create=False, layout=self._layout)
        self._edit(inter, message, body, files)
        if message is inter.original:
            inter.record("original_edited", content=message.content)
        else:
            self._refresh_followup(inter, message)
            inter.record("followup_edited", content=message.content)
        self._updated(inter, message, own=False)
        return 200, payloads.message(message)

    def delete_message(self, inter: Interaction, ref: str) -> Reply:
        """DELETE ``@original`` or a follow-up."""
        message = self.find_message(inter, ref)
        if self._core.state.remove_message(message):
            messages.publish_delete(self._core, message)
        entry = self._messages.pop(message.id, None)
        if entry is not None and entry[1] is not inter:
            entry[1].record("message_deleted", message_id=message.id, by=inter.id)
        if message is inter.original:
            inter.original = None
            inter.loading = False
            inter.content = None
            inter.record("original_deleted")
        else:
            inter.followup_messages.pop(message.id, None)
            inter.record("followup_deleted", id=message.id)
        return 204, None

    def _edit(
        self, inter: Interaction, message: MessageState, body: JSONObject, files: Mapping[str, Upload] | None = None
    ) -> None:
        messages.apply_edit(self._core, message, body, files)
        if message is inter.original:
            inter.loading = False
            inter.content = message.content or None
            inter.edits.append(inter.content)
        if self._core.state.find_message(message.channel_id, message.id) is message:
            messages.publish(self._core, "MESSAGE_UPDATE", message)

    @staticmethod
    def _refresh_followup(inter: Interaction, message: MessageState) -> None:
        for index, payload in enumerate(inter.followups):
            if payload["id"] == str(message.id):
                inter.followups[index] = payloads.message(message)


def _check_callback(response_type: object, data: JSONObject, *, layout: bool) -> None:
    if not isinstance(response_type, int) or response_type not in _ACK_TYPES:
        raise errors.form_error("type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_ACK_TYPES)}.")
    flags = int(data.get("flags") or 0)
    if response_type == DEFERRED_MESSAGE_CREATE and flags & ~messages.EPHEMERAL:
        raise errors.form_error("data.flags", "INTERACTION_RESPONSE_FLAGS_INVALID", "Only EPHEMERAL is allowed.")
    if response_type == MESSAGE_CREATE:
        messages.check_body(data, create=True, layout=layout)
    elif response_type == MESSAGE_UPDATE:
        messages.check_body(data, create=False, layout=layout)
    elif response_type == MODAL:
        _check_modal(data)


def _check_modal(data: JSONObject) -> None:
    title = data.get("title")
    if not isinstance(title, str) or not 1 <= len(title) <= 45:
        raise errors.form_error("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
    custom_id = data.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 100:
        raise errors.form_error("data.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    if not 1 <= len(data.get("components") or ()) <= 5:
        raise errors.form_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")


def _callback_payload(inter: Interaction, response_type: int, message: MessageState | None) -> JSONObject:
    callback: JSONObject = {
        "id": str(inter.id),
        "type": 3,
        "response_message_loading": inter.loading,
        "response_message_ephemeral": inter.ephemeral,
    }
    payload: JSONObject = {"interaction": callback}
    if message is not None and response_type in (MESSAGE_CREATE, DEFERRED_MESSAGE_CREATE, MESSAGE_UPDATE):
        callback["response_message_id"] = str(message.id)
        payload["resource"] = {"type": response_type, "message": payloads.message(message)}
    return payload
