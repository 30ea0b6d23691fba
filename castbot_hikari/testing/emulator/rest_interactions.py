"""REST routes for interaction callbacks and the interaction webhook (token) API."""

from __future__ import annotations

from castbot_hikari.testing.emulator import payloads
from castbot_hikari.testing.emulator.interactions import Interaction
from castbot_hikari.testing.emulator.responses import InteractionStore
from castbot_hikari.testing.emulator.routing import Call, Reply, Router

_WEBHOOK = "/webhooks/{webhook_id}/{webhook_token}"


class InteractionRoutes:
    """``/interactions/.../callback`` and ``/webhooks/{webhook_id}/{webhook_token}...``.

    None of them takes bot authorisation or counts towards the global limit; the callback has no
    rate-limit bucket at all (hikari logs an error if it receives bucket headers there).
    """

    def __init__(self, store: InteractionStore) -> None:
        self._store = store

    def register(self, router: Router) -> None:
        """Add this module's routes to ``router`` (``@original`` before ``{message_id}``)."""
        router.add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.callback,
            bot_auth=False,
            rate_limited=False,
            global_scope=False,
        )
        router.add("POST", _WEBHOOK, self.execute, bot_auth=False, global_scope=False)
        for template in (f"{_WEBHOOK}/messages/@original", f"{_WEBHOOK}/messages/{{message_id}}"):
            router.add("GET", template, self.get_message, bot_auth=False, global_scope=False)
            router.add("PATCH", template, self.edit_message, bot_auth=False, global_scope=False)
            router.add("DELETE", template, self.delete_message, bot_auth=False, global_scope=False)

    def _interaction(self, call: Call) -> Interaction:
        return self._store.resolve(call.snowflake("webhook_id"), call.params["webhook_token"])

    @staticmethod
    def _ref(call: Call) -> str:
        return call.params.get("message_id", "@original")

    def callback(self, call: Call) -> Reply:
        """POST /interactions/{interaction_id}/{interaction_token}/callback."""
        return self._store.callback(
            call.snowflake("interaction_id"),
            call.params["interaction_token"],
            call.json(),
            with_response=call.flag("with_response"),
        )

    def execute(self, call: Call) -> Reply:
        """POST /webhooks/{webhook_id}/{webhook_token}: a follow-up."""
        return self._store.execute(self._interaction(call), call.json(), wait=call.flag("wait"), files=call.files)

    def get_message(self, call: Call) -> Reply:
        """GET an interaction response or follow-up."""
        return 200, payloads.message(self._store.find_message(self._interaction(call), self._ref(call)))

    def edit_message(self, call: Call) -> Reply:
        """PATCH an interaction response or follow-up."""
        return self._store.edit_message(self._interaction(call), self._ref(call), call.json(), files=call.files)

    def delete_message(self, call: Call) -> Reply:
        """DELETE an interaction response or follow-up."""
        return self._store.delete_message(self._interaction(call), self._ref(call))
