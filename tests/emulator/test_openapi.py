"""Tests for the OpenAPI request validator of the Discord emulator.

The request bodies are not hand-written where it matters: they are captured from hikari's own
``RESTClientImpl`` (with ``_request`` shadowed to record the request instead of sending it), so
these tests prove that what hikari 2.6 really sends validates, and that broken variants of the very
same bodies are rejected with an error naming the field.
"""

from __future__ import annotations

import asyncio
import copy
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import hikari
import lightbulb
import orjson
import pytest
from hikari.impl import config as config_impl
from hikari.impl import entity_factory as entity_factory_impl
from hikari.impl import rest as rest_impl
from hikari.internal import data_binding, routes
from lightbulb.localization import localization_unsupported

from castbot_hikari.testing.openapi import OpenAPIValidator, ValidationResult

GUILD_ID = 1_100_000_000_000_000_001
CATEGORY_ID = 1_100_000_000_000_000_002
CHANNEL_ID = 1_100_000_000_000_000_003
ROLE_ID = 1_100_000_000_000_000_004
USER_ID = 1_100_000_000_000_000_005
APPLICATION_ID = 1_100_000_000_000_000_006
INTERACTION_ID = 1_100_000_000_000_000_007
MESSAGE_ID = 1_100_000_000_000_000_008
TOKEN = "aW50ZXJhY3Rpb246MTEwMDAwMDAwMDAwMDAwMDAwNzpzZWNyZXQ"

CHANNELS = "/guilds/{guild_id}/channels"
CALLBACK = "/interactions/{interaction_id}/{interaction_token}/callback"
ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
MESSAGES = "/channels/{channel_id}/messages"
COMMANDS = "/applications/{application_id}/commands"


# --------------------------------------------------------------------------------------------------
# Capturing what hikari really sends
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One request as hikari would have put it on the wire (the JSON decoded again)."""

    method: str
    path: str
    query: dict[str, str]
    body: typing.Any
    content_type: str | None


class _CapturedRequestError(Exception):
    def __init__(self, request: Request) -> None:
        super().__init__(f"{request.method} {request.path}")
        self.request = request


class _CapturingREST(rest_impl.RESTClientImpl):
    """hikari's real REST client, stopped right where it would send the HTTP request."""

    def __init__(self) -> None:
        self.dumped: list[data_binding.JSONObject | data_binding.JSONArray] = []
        # Serialisation never touches the app: the entity factory only needs it to deserialise.
        app = typing.cast("hikari.RESTAware", object())
        super().__init__(
            cache=None,
            entity_factory=entity_factory_impl.EntityFactoryImpl(app),
            executor=None,
            http_settings=config_impl.HTTPSettings(),
            proxy_settings=config_impl.ProxySettings(),
            token="not-a-token",
            token_type=hikari.TokenType.BOT,
            rest_url=None,
            dumps=self._record_dumps,
        )
        # RESTClientImpl._request is @typing.final, so shadow it on the instance instead of
        # overriding it: every REST method calls self._request(route, query=, json=/form_builder=).
        vars(self)["_request"] = self._capture

    def _record_dumps(self, obj: data_binding.JSONObject | data_binding.JSONArray) -> bytes:
        # hikari dumps the payload_json part of multipart requests with this encoder.
        self.dumped.append(obj)
        return data_binding.default_json_dumps(obj)

    async def _capture(
        self,
        compiled_route: routes.CompiledRoute,
        *,
        query: data_binding.StringMapBuilder | None = None,
        form_builder: data_binding.URLEncodedFormBuilder | None = None,
        json: data_binding.JSONObjectBuilder | data_binding.JSONArray | None = None,
        reason: hikari.UndefinedOr[str] = hikari.UNDEFINED,
        auth: hikari.UndefinedNoneOr[str] = hikari.UNDEFINED,
    ) -> typing.NoReturn:
        body: object = None
        content_type: str | None = None
        if form_builder is not None:
            content_type = "multipart/form-data"
            body = orjson.loads(data_binding.default_json_dumps(self.dumped[-1]))
        elif json is not None:
            # Exactly the bytes hikari would send (orjson, enums as their values), decoded again.
            content_type = "application/json"
            body = orjson.loads(data_binding.default_json_dumps(json))
        request = Request(
            method=compiled_route.method,
            path=compiled_route.compiled_path,
            query=dict(typing.cast("Mapping[str, str]", query or {})),
            body=body,
            content_type=content_type,
        )
        raise _CapturedRequestError(request)


def capture(call: Callable[[_CapturingREST], Awaitable[object]]) -> Request:
    """Run one hikari REST call and return the request it would have sent."""

    async def run() -> Request:
        try:
            await call(_CapturingREST())
        except _CapturedRequestError as captured:
            return captured.request
        pytest.fail("the REST call sent no request")

    return asyncio.run(run())


def validate(request: Request, *, body: object = ..., query: dict[str, str] | None = None) -> ValidationResult:
    """Validate a captured request, optionally with its body or query replaced."""
    return OpenAPIValidator.shared().validate_request(
        request.method,
        request.path,
        request.body if body is ... else body,
        query=request.query if query is None else query,
        content_type=request.content_type,
    )


def assert_valid(request: Request) -> None:
    result = validate(request)
    assert result.errors == ()
    assert result.ok


def assert_invalid(result: ValidationResult, *needles: str) -> None:
    assert not result.ok
    assert result.errors, "an invalid request must come with errors"
    text = "\n".join(result.errors)
    for needle in needles:
        assert needle in text, f"{needle!r} not in:\n{text}"


# --------------------------------------------------------------------------------------------------
# Bodies built by hikari (and lightbulb)
# --------------------------------------------------------------------------------------------------


def overwrites() -> list[hikari.PermissionOverwrite]:
    everyone = hikari.PermissionOverwrite(
        id=GUILD_ID, type=hikari.PermissionOverwriteType.ROLE, deny=hikari.Permissions.VIEW_CHANNEL
    )
    applicant = hikari.PermissionOverwrite(
        id=USER_ID,
        type=hikari.PermissionOverwriteType.MEMBER,
        allow=hikari.Permissions.VIEW_CHANNEL
        | hikari.Permissions.SEND_MESSAGES
        | hikari.Permissions.READ_MESSAGE_HISTORY,
    )
    return [everyone, applicant]


def create_channel_request() -> Request:
    return capture(
        lambda rest: rest.create_guild_text_channel(
            GUILD_ID,
            "apply-bob",
            category=CATEGORY_ID,
            topic="Application of Bob",
            permission_overwrites=overwrites(),
        )
    )


def apply_row(rest: _CapturingREST) -> hikari.api.MessageActionRowBuilder:
    return rest.build_message_action_row().add_interactive_button(
        hikari.ButtonStyle.SUCCESS, "apply:season-1", label="Apply"
    )


class Apply(
    lightbulb.SlashCommand,
    name="apply",
    description="Apply to the current season",
    contexts=[hikari.ApplicationContextType.GUILD],
):
    season = lightbulb.string("season", "The season to apply to", min_length=1, max_length=100)
    seats = lightbulb.integer("seats", "How many seats", min_value=1, max_value=25, default=1)
    channel = lightbulb.channel("channel", "Where", channel_types=[hikari.ChannelType.GUILD_TEXT], default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Not invoked here."""


class Setup(
    lightbulb.SlashCommand,
    name="setup",
    description="Set the bot up",
    default_member_permissions=hikari.Permissions.MANAGE_GUILD,
):
    confirm = lightbulb.boolean("confirm", "Really?")
    role = lightbulb.role("role", "Host role", default=None)

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Not invoked here."""


SEASON = lightbulb.Group("season", "Manage seasons", default_member_permissions=hikari.Permissions.MANAGE_GUILD)


@SEASON.register
class SeasonOpen(lightbulb.SlashCommand, name="open", description="Open a season"):
    name_ = lightbulb.string("name", "Season name")

    @lightbulb.invoke
    async def invoke(self, ctx: lightbulb.Context) -> None:
        """Not invoked here."""


def commands_request() -> Request:
    """PUT /applications/{id}/commands exactly as lightbulb 3.2.6's command sync sends it."""

    async def builders() -> list[hikari.api.CommandBuilder]:
        built: list[hikari.api.CommandBuilder] = []
        for command in (Apply, Setup, SEASON):
            builder = await command.as_command_builder(hikari.Locale.EN_US, localization_unsupported)
            # What lightbulb.internal.sync does for global commands.
            builder = builder.set_integration_types(
                builder.integration_types or [hikari.ApplicationIntegrationType.GUILD_INSTALL]
            ).set_context_types(builder.context_types or list(hikari.ApplicationContextType))
            built.append(builder)
        return built

    commands = asyncio.run(builders())
    return capture(lambda rest: rest.set_application_commands(APPLICATION_ID, commands))


# --------------------------------------------------------------------------------------------------
# POST /guilds/{guild_id}/channels
# --------------------------------------------------------------------------------------------------


def test_hikari_channel_create_body_validates() -> None:
    request = create_channel_request()

    # The shape hikari really sends: allow/deny and ids as strings, overwrite type 0/1.
    assert request.body["type"] == 0
    assert request.body["parent_id"] == str(CATEGORY_ID)
    assert request.body["permission_overwrites"] == [
        {"id": str(GUILD_ID), "type": 0, "allow": "0", "deny": "1024"},
        {"id": str(USER_ID), "type": 1, "allow": str(1024 | 2048 | 65536), "deny": "0"},
    ]
    assert validate(request).route == CHANNELS
    assert_valid(request)


def test_channel_create_rejects_overwrite_type_string() -> None:
    request = create_channel_request()
    body = copy.deepcopy(request.body)
    body["permission_overwrites"][0]["type"] = "role"

    assert_invalid(
        validate(request, body=body), f"POST {CHANNELS} body.permission_overwrites[0].type: 'role' is not one of [0, 1]"
    )


def test_channel_create_rejects_missing_name() -> None:
    request = create_channel_request()
    body = {key: value for key, value in request.body.items() if key != "name"}

    assert_invalid(validate(request, body=body), "'name' is a required property")


def test_channel_create_rejects_101_char_name() -> None:
    request = create_channel_request()

    assert validate(request, body={**request.body, "name": "a" * 100}).ok
    assert_invalid(validate(request, body={**request.body, "name": "a" * 101}), "body.name:", "is too long")


def test_overwrite_permissions_accept_digit_strings_and_ints_only() -> None:
    request = create_channel_request()
    body = copy.deepcopy(request.body)
    body["permission_overwrites"][0]["allow"] = 1024
    assert validate(request, body=body).ok

    body["permission_overwrites"][0]["allow"] = "VIEW_CHANNEL"
    assert_invalid(validate(request, body=body), "body.permission_overwrites[0].allow")

    body["permission_overwrites"][0]["allow"] = "-1"
    assert_invalid(validate(request, body=body), "body.permission_overwrites[0].allow")


def test_hikari_edit_permission_overwrite_sends_ints_and_validates() -> None:
    request = capture(
        lambda rest: rest.edit_permission_overwrite(
            CHANNEL_ID,
            USER_ID,
            target_type=hikari.PermissionOverwriteType.MEMBER,
            allow=hikari.Permissions.VIEW_CHANNEL,
            deny=hikari.Permissions.SEND_MESSAGES,
        )
    )

    assert request.body == {"type": 1, "allow": 1024, "deny": 2048}
    assert_valid(request)
    assert validate(request, body={"type": 1, "allow": "1024", "deny": "2048"}).ok
    assert_invalid(validate(request, body={"type": 1, "allow": "x"}), "body.allow")


# --------------------------------------------------------------------------------------------------
# POST /interactions/{id}/{token}/callback
# --------------------------------------------------------------------------------------------------


def test_hikari_deferred_ephemeral_callback_validates() -> None:
    request = capture(
        lambda rest: rest.create_interaction_response(
            INTERACTION_ID,
            TOKEN,
            hikari.ResponseType.DEFERRED_MESSAGE_CREATE,
            flags=hikari.MessageFlag.EPHEMERAL,
        )
    )

    assert request.query == {"with_response": "true"}
    assert request.body["type"] == 5
    assert request.body["data"]["flags"] == 64
    assert validate(request).route == CALLBACK
    assert_valid(request)


def test_deferred_callback_as_specified_validates() -> None:
    validator = OpenAPIValidator.shared()
    result = validator.validate_request(
        "POST",
        f"/interactions/{INTERACTION_ID}/{TOKEN}/callback",
        {"type": 5, "data": {"flags": 64}},
        query={"with_response": "true"},
    )

    assert result == ValidationResult(CALLBACK, ())
    assert result.ok


def test_callback_rejects_unknown_type() -> None:
    result = OpenAPIValidator.shared().validate_request(
        "POST", f"/interactions/{INTERACTION_ID}/{TOKEN}/callback", {"type": 99, "data": {"flags": 64}}
    )

    assert result.route == CALLBACK
    assert_invalid(result, f"POST {CALLBACK} body.type: 99 is not one of [1, 4, 5, 6, 7, 8, 9, 12, 13]")


def test_callback_rejects_data_of_wrong_shape() -> None:
    path = f"/interactions/{INTERACTION_ID}/{TOKEN}/callback"
    validator = OpenAPIValidator.shared()

    assert_invalid(validator.validate_request("POST", path, {"type": 5, "data": {"flags": "64"}}), "body.data.flags")
    assert_invalid(validator.validate_request("POST", path, {"data": {"flags": 64}}), "'type' is a required property")


def test_callback_rejects_unknown_or_mistyped_query_params() -> None:
    request = capture(
        lambda rest: rest.create_interaction_response(
            INTERACTION_ID, TOKEN, hikari.ResponseType.DEFERRED_MESSAGE_UPDATE
        )
    )
    assert_valid(request)

    assert_invalid(
        validate(request, query={"with_response": "true", "wait": "true"}),
        f"POST {CALLBACK} query.wait: unknown query parameter",
    )
    assert_invalid(validate(request, query={"with_response": "yes"}), "query.with_response: 'yes'")


def test_query_string_in_path_is_validated_when_no_query_given() -> None:
    validator = OpenAPIValidator.shared()
    path = f"/interactions/{INTERACTION_ID}/{TOKEN}/callback"
    body = {"type": 5}

    assert validator.validate_request("POST", f"{path}?with_response=true", body).ok
    assert_invalid(validator.validate_request("POST", f"{path}?bogus=1", body), "query.bogus")


def test_hikari_modal_callback_validates_and_title_limit_applies() -> None:
    request = capture(
        lambda rest: rest.create_modal_response(
            INTERACTION_ID,
            TOKEN,
            title="Apply to season 1",
            custom_id="apply-modal",
            component=rest.build_modal_action_row().add_text_input(
                "answer", "Why you?", style=hikari.TextInputStyle.PARAGRAPH, max_length=4000
            ),
        )
    )
    assert_valid(request)

    body = copy.deepcopy(request.body)
    body["data"]["title"] = "t" * 46
    assert_invalid(validate(request, body=body), "body.data.title", "is too long")


# --------------------------------------------------------------------------------------------------
# PATCH /webhooks/{application_id}/{token}/messages/@original
# --------------------------------------------------------------------------------------------------


def test_hikari_edit_original_response_validates() -> None:
    request = capture(
        lambda rest: rest.edit_interaction_response(
            APPLICATION_ID, TOKEN, "Your application channel is <#1>", user_mentions=[USER_ID]
        )
    )

    assert request.path == f"/webhooks/{APPLICATION_ID}/{TOKEN}/messages/@original"
    assert request.body["allowed_mentions"] == {"parse": [], "users": [str(USER_ID)]}
    assert validate(request).route == ORIGINAL
    assert_valid(request)


def test_edit_original_response_rejects_2001_chars() -> None:
    request = capture(lambda rest: rest.edit_interaction_response(APPLICATION_ID, TOKEN, "ok"))

    assert validate(request, body={**request.body, "content": "c" * 2000}).ok
    assert_invalid(
        validate(request, body={**request.body, "content": "c" * 2001}),
        f"PATCH {ORIGINAL} body.content",
        "is too long",
    )


def test_original_literal_beats_message_id_template() -> None:
    validator = OpenAPIValidator.shared()
    base = f"/webhooks/{APPLICATION_ID}/{TOKEN}/messages"

    assert validator.match_route("patch", f"{base}/@original") == ORIGINAL
    assert validator.match_route("PATCH", f"{base}/{MESSAGE_ID}") == (
        "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
    )
    assert validator.match_route("GET", "/guilds/templates/abc") == "/guilds/templates/{code}"
    assert validator.match_route("GET", f"/guilds/{GUILD_ID}") == "/guilds/{guild_id}"
    assert validator.match_route("GET", "/users/@me?x=1") == "/users/@me"
    assert validator.match_route("GET", f"/users/{USER_ID}") == "/users/{user_id}"


def test_hikari_multipart_edit_validates_payload_json() -> None:
    request = capture(
        lambda rest: rest.edit_interaction_response(
            APPLICATION_ID, TOKEN, "see attached", attachment=hikari.Bytes(b"hello", "answers.txt")
        )
    )

    assert request.content_type == "multipart/form-data"
    # hikari refers to the upload by the index of its files[n] part, as a JSON integer.
    assert request.body["attachments"] == [{"id": 0, "filename": "answers.txt"}]
    assert_valid(request)
    assert_invalid(validate(request, body={**request.body, "content": "c" * 2001}), "body.content")


# --------------------------------------------------------------------------------------------------
# POST /channels/{channel_id}/messages
# --------------------------------------------------------------------------------------------------


def message_request() -> Request:
    return capture(
        lambda rest: rest.create_message(
            CHANNEL_ID,
            "Applications for season 1 are open!",
            component=apply_row(rest),
            role_mentions=[ROLE_ID],
        )
    )


def test_hikari_message_with_button_validates() -> None:
    request = message_request()

    assert request.body["components"] == [
        {
            "type": 1,
            "components": [{"type": 2, "style": 3, "custom_id": "apply:season-1", "label": "Apply", "disabled": False}],
        }
    ]
    assert request.body["allowed_mentions"] == {"parse": [], "roles": [str(ROLE_ID)]}
    assert validate(request).route == MESSAGES
    assert_valid(request)


def test_message_rejects_broken_button() -> None:
    request = message_request()

    long_id = copy.deepcopy(request.body)
    long_id["components"][0]["components"][0]["custom_id"] = "x" * 101
    assert_invalid(validate(request, body=long_id), "body.components[0].components[0].custom_id", "too long")

    bad_style = copy.deepcopy(request.body)
    bad_style["components"][0]["components"][0]["style"] = 9
    assert_invalid(
        validate(request, body=bad_style), "body.components[0].components[0].style: 9 is not one of [1, 2, 3, 4, 5, 6]"
    )

    empty_row = copy.deepcopy(request.body)
    empty_row["components"][0]["components"] = []
    assert_invalid(validate(request, body=empty_row), "body.components[0].components")


def test_hikari_message_with_attachment_validates() -> None:
    request = capture(
        lambda rest: rest.create_message(
            CHANNEL_ID, embed=hikari.Embed(title="Application", description="Bob"), attachment=b"data"
        )
    )

    assert request.content_type == "multipart/form-data"
    assert_valid(request)


# --------------------------------------------------------------------------------------------------
# PUT /applications/{application_id}/commands
# --------------------------------------------------------------------------------------------------


def test_lightbulb_bulk_overwrite_validates() -> None:
    request = commands_request()

    names = [command["name"] for command in request.body]
    assert names == ["apply", "setup", "season"]
    # hikari sends default_member_permissions as a JSON integer (Permissions is an IntFlag).
    assert request.body[1]["default_member_permissions"] == 32
    assert request.body[2]["options"][0]["type"] == 1  # the sub-command
    assert validate(request).route == COMMANDS
    assert_valid(request)


def test_bulk_overwrite_rejects_broken_commands() -> None:
    request = commands_request()

    bad_option = copy.deepcopy(request.body)
    bad_option[0]["options"][0]["type"] = 99
    assert_invalid(validate(request, body=bad_option), "body[0].options[0].type: 99 is not one of [1, 2, 3")

    long_name = copy.deepcopy(request.body)
    long_name[1]["name"] = "n" * 33
    assert_invalid(validate(request, body=long_name), "body[1].name", "too long")

    assert_invalid(validate(request, body={"name": "x"}), "is not of type 'array', 'null'")


def test_default_member_permissions_accepts_digit_strings() -> None:
    request = commands_request()
    body = copy.deepcopy(request.body)
    body[1]["default_member_permissions"] = "32"
    assert validate(request, body=body).ok

    body[1]["default_member_permissions"] = "MANAGE_GUILD"
    assert_invalid(validate(request, body=body), "body[1].default_member_permissions")


# --------------------------------------------------------------------------------------------------
# Other calls the bot makes, and the validator's own rules
# --------------------------------------------------------------------------------------------------

HIKARI_CALLS: dict[str, Callable[[_CapturingREST], Awaitable[object]]] = {
    "create category": lambda rest: rest.create_guild_category(
        GUILD_ID, "Season 1", permission_overwrites=overwrites()
    ),
    "edit channel": lambda rest: rest.edit_channel(
        CHANNEL_ID, name="apply-bob", parent_category=CATEGORY_ID, permission_overwrites=overwrites()
    ),
    "delete channel": lambda rest: rest.delete_channel(CHANNEL_ID),
    "create role": lambda rest: rest.create_role(
        GUILD_ID, name="Applicant", permissions=hikari.Permissions.NONE, color=0x3498DB, mentionable=True
    ),
    "add role": lambda rest: rest.add_role_to_member(GUILD_ID, USER_ID, ROLE_ID, reason="applied"),
    "fetch member": lambda rest: rest.fetch_member(GUILD_ID, USER_ID),
    "fetch guild": lambda rest: rest.fetch_guild(GUILD_ID),
    "search members": lambda rest: rest.search_members(GUILD_ID, "bob"),
    "follow-up": lambda rest: rest.execute_webhook(APPLICATION_ID, TOKEN, "done", flags=hikari.MessageFlag.EPHEMERAL),
    "update message": lambda rest: rest.create_interaction_response(
        INTERACTION_ID, TOKEN, hikari.ResponseType.MESSAGE_UPDATE, "closed", components=[]
    ),
    "delete original": lambda rest: rest.delete_interaction_response(APPLICATION_ID, TOKEN),
    "fetch commands": lambda rest: rest.fetch_application_commands(APPLICATION_ID, GUILD_ID),
}


@pytest.mark.parametrize("call", HIKARI_CALLS.values(), ids=HIKARI_CALLS.keys())
def test_other_hikari_requests_validate(call: Callable[[_CapturingREST], Awaitable[object]]) -> None:
    assert_valid(capture(call))


def test_role_permissions_accept_int_and_digit_string() -> None:
    request = capture(lambda rest: rest.create_role(GUILD_ID, name="Host", permissions=hikari.Permissions.MANAGE_ROLES))

    assert request.body["permissions"] == 1 << 28
    assert_valid(request)
    assert validate(request, body={**request.body, "permissions": str(1 << 28)}).ok
    assert_invalid(validate(request, body={**request.body, "permissions": "lots"}), "body.permissions")


def test_unknown_route_is_not_ok() -> None:
    validator = OpenAPIValidator.shared()

    result = validator.validate_request("POST", "/guilds/1/applications", {"x": 1})
    assert result.route is None
    assert not result.ok
    assert_invalid(result, "no route")
    assert validator.match_route("GET", "/nope") is None


def test_unknown_method_is_not_ok() -> None:
    validator = OpenAPIValidator.shared()

    assert validator.match_route("POST", "/users/@me") is None
    result = validator.validate_request("POST", "/users/@me", {})
    assert result.route is None
    assert_invalid(result, "method not allowed", "GET", "PATCH")


def test_body_presence_is_checked() -> None:
    validator = OpenAPIValidator.shared()

    assert_invalid(validator.validate_request("DELETE", f"/channels/{CHANNEL_ID}", {}), "takes no request body")
    assert_invalid(validator.validate_request("POST", f"/guilds/{GUILD_ID}/channels", None), "body is required")
    assert validator.validate_request("DELETE", f"/channels/{CHANNEL_ID}", None).ok


def test_path_parameters_are_validated() -> None:
    result = OpenAPIValidator.shared().validate_request("GET", "/channels/general/messages", None)

    assert result.route == MESSAGES
    assert_invalid(result, "path.channel_id: 'general'")


def test_unsupported_content_type_is_reported() -> None:
    result = OpenAPIValidator.shared().validate_request(
        "POST", f"/guilds/{GUILD_ID}/channels", {"name": "x"}, content_type="text/plain"
    )

    assert_invalid(result, "content type 'text/plain' not accepted")


def test_result_is_ok_only_with_a_route_and_no_errors() -> None:
    assert ValidationResult("/users/@me", ()).ok
    assert not ValidationResult(None, ()).ok
    assert not ValidationResult("/users/@me", ("GET /users/@me body: nope",)).ok


def test_shared_instance_is_cached() -> None:
    assert OpenAPIValidator.shared() is OpenAPIValidator.shared()


def test_custom_spec_is_used_and_not_mutated() -> None:
    overwrite = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "allow": {"type": ["integer", "null"]}},
        "required": ["id"],
    }
    spec: dict[str, object] = {
        "openapi": "3.1.0",
        "paths": {
            "/things/{thing_id}": {
                "parameters": [{"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "put": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ChannelPermissionOverwriteRequest"}
                            }
                        },
                    }
                },
            }
        },
        "components": {"schemas": {"ChannelPermissionOverwriteRequest": overwrite}},
    }
    pristine = copy.deepcopy(spec)

    validator = OpenAPIValidator(spec)

    assert spec == pristine
    assert validator.validate_request("PUT", "/things/a", {"id": "1", "allow": "8"}).ok
    assert_invalid(validator.validate_request("PUT", "/things/a", {"allow": 8}), "'id' is a required property")
    assert validator.match_route("PUT", "/guilds/1/channels") is None
