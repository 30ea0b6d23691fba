"""Validate the HTTP requests the bot sends to Discord against Discord's official OpenAPI 3.1 spec.

The local Discord emulator (:mod:`castbot_hikari.testing.emulator`) runs every request the bot makes
through :class:`OpenAPIValidator`; in tests a violation fails the test. The spec is Discord's own
(``discord/discord-api-spec``), vendored gzip-compressed next to this module.

What is checked, per request:

* the route: the path (after the ``/api/v10`` prefix) must match one of the spec's path templates
  and the method must be one of that path's operations. Literal segments beat templated ones, so
  ``/webhooks/1/tok/messages/@original`` matches the ``@original`` path, not ``{message_id}``;
* the path parameters, against their schemas (snowflakes must be digit strings, ...);
* the query parameters: unknown names are errors, values are coerced from their string form
  (``"true"``/``"false"``, integers, numbers, comma-separated arrays) and checked against their schemas;
* the body: JSON bodies against the operation's ``requestBody`` schema (JSON Schema 2020-12 via
  :mod:`jsonschema`, the spec registered in a :class:`referencing.Registry`). For
  ``multipart/form-data`` the caller passes the already parsed ``payload_json`` part.

A few places where the spec disagrees with the real API (and with what hikari sends) are relaxed;
see :data:`_RELAXATIONS`, where every relaxation is documented with its reason.

To be fast enough for every request of every test (typically 0.1-0.3 ms per request after
warm-up), validators are compiled lazily per operation and cached, ``$ref``s are inlined, and the
spec's enum-like and tagged unions are rewritten into equivalent cheaper schemas (see "Speed-ups").
"""

from __future__ import annotations

import gzip
import importlib.resources
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Final, Protocol, TypeAlias, cast
from urllib.parse import parse_qsl, unquote

import orjson
from jsonschema import Draft202012Validator
from jsonschema import exceptions as jsonschema_exceptions
from jsonschema import validators as jsonschema_validators
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012, SchemaRegistry

__all__ = ["OpenAPIValidator", "ValidationResult"]

_LOGGER: Final = logging.getLogger(__name__)

_SPEC_URI: Final = "urn:discord:openapi"
_HTTP_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_JSON: Final = "application/json"
_MULTIPART: Final = "multipart/form-data"
_MAX_ERRORS: Final = 20
_MAX_REPR: Final = 80
_MAX_DESCRIPTION: Final = 400
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INTEGER_TEXT: Final = re.compile(r"-?[0-9]+")
_NUMBER_TEXT: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_TEMPLATE_PARAM: Final = re.compile(r"\{([^{}/]+)\}")
# Paths are given after this prefix; a full path is tolerated (no spec path starts with /api).
_API_PREFIX: Final = re.compile(r"^/api(/v[0-9]+)?(?=/)")

# A permission bitfield or an attachment id sent as a string of decimal digits.
_DIGITS_PATTERN: Final = "^[0-9]+$"


# A decoded JSON value, as jsonschema's stubs type validated instances.
_Json: TypeAlias = "str | int | float | bool | Mapping[str, _Json] | Sequence[_Json] | None"


class _SchemaValidator(Protocol):
    """The part of a compiled :class:`jsonschema.Draft202012Validator` used here."""

    def iter_errors(self, instance: _Json) -> Iterator[ValidationError]: ...

    def is_valid(self, instance: _Json) -> bool: ...


# jsonschema's own ranking of errors (the key best_match uses): higher is a better match.
_relevance: Final = cast("Callable[[ValidationError], Any]", jsonschema_exceptions.relevance)


# --------------------------------------------------------------------------------------------------
# Relaxations: places where the spec disagrees with the real API
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Relaxation:
    """Where the spec is relaxed and how.

    Attributes:
        target: ``("schema", <component name>, <property>)`` or ``("operation", <path>, <method>,
            <property>)``; an operation target is relaxed in the body schema of every media type.
        add_type: The JSON type added to the property's ``type`` list.
        keywords: Keywords added beside it (they only constrain values of the added type).
        reason: Why the spec is wrong here (kept with the spec as ``$comment``).
    """

    target: tuple[str, ...]
    add_type: str
    keywords: Mapping[str, object]
    reason: str


_PERMISSIONS_AS_STRING: Final = (
    "permission bitfield: the spec types it as an integer, but Discord's documentation types it as a "
    "string of digits (permissions outgrew 53-bit JSON numbers), Discord accepts both and clients send "
    "strings"
)

_RELAXATIONS: Final[tuple[_Relaxation, ...]] = (
    # (1) FACTS.md quirk: overwrite allow/deny. hikari's EntityFactoryImpl.serialize_permission_overwrite
    # sends str(int(...)) (used by create/edit guild channel); RESTClientImpl.edit_permission_overwrite
    # sends the Permissions IntFlag itself, i.e. a JSON integer. Both must pass.
    _Relaxation(
        ("schema", "ChannelPermissionOverwriteRequest", "allow"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("schema", "ChannelPermissionOverwriteRequest", "deny"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("operation", "/channels/{channel_id}/permissions/{overwrite_id}", "put", "allow"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("operation", "/channels/{channel_id}/permissions/{overwrite_id}", "put", "deny"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    # Role permissions (create/modify guild role): documented as "string"; hikari sends an integer
    # (which the spec already allows), other clients send strings.
    _Relaxation(
        ("schema", "CreateRoleRequest", "permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("schema", "UpdateRoleRequestPartial", "permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    # Application command default_member_permissions: documented as "?string"; hikari's
    # CommandBuilder.build sends the Permissions IntFlag (a JSON integer), other clients send strings.
    _Relaxation(
        ("schema", "ApplicationCommandCreateRequest", "default_member_permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("schema", "ApplicationCommandUpdateRequest", "default_member_permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    _Relaxation(
        ("schema", "ApplicationCommandPatchRequestPartial", "default_member_permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    # Install params of PATCH /applications/@me: documented as "string"; hikari sends int(...).
    _Relaxation(
        ("schema", "ApplicationOAuth2InstallParams", "permissions"),
        "string",
        {"pattern": _DIGITS_PATTERN},
        _PERMISSIONS_AS_STRING,
    ),
    # Message attachment ids: the spec says snowflake string only, but a new upload's id is the index
    # of its files[n] part and Discord documents it (and hikari's RESTClientImpl._build_message_payload
    # sends it) as a JSON integer; when editing, hikari also sends a kept attachment's id as an integer.
    _Relaxation(
        ("schema", "MessageAttachmentRequest", "id"),
        "integer",
        {"minimum": 0},
        "attachment id: the index of a files[n] upload (or a kept attachment's snowflake) is sent as a "
        "JSON integer, as Discord's 'Uploading Files' documentation shows and hikari does",
    ),
)


def _pointer(*segments: str) -> str:
    """Build a JSON pointer (RFC 6901) from unescaped segments."""
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


def _as_dict(value: object) -> dict[str, object] | None:
    return cast("dict[str, object]", value) if isinstance(value, dict) else None


def _as_list(value: object) -> list[object] | None:
    return cast("list[object]", value) if isinstance(value, list) else None


def _relax_property(schema: dict[str, object], relaxation: _Relaxation) -> bool:
    """Widen ``schema["properties"][<property>]`` in place as ``relaxation`` says."""
    prop_name = relaxation.target[-1]
    properties = _as_dict(schema.get("properties"))
    prop = None if properties is None else _as_dict(properties.get(prop_name))
    if properties is None or prop is None:
        return False
    comment = f"relaxed by castbot_hikari.testing.openapi: {relaxation.reason}"
    types = prop.get("type")
    type_list = [types] if isinstance(types, str) else _as_list(types)
    if type_list is None:
        # E.g. {"$ref": ".../SnowflakeType"}: accept either the original or the added type.
        alternative = {"type": relaxation.add_type, **relaxation.keywords}
        properties[prop_name] = {"anyOf": [prop, alternative], "$comment": comment}
    elif relaxation.add_type not in type_list:
        # The added keywords only constrain values of the added type (pattern: strings only;
        # minimum: numbers only), so the original type keeps its own constraints.
        prop.update({"type": [*type_list, relaxation.add_type], **relaxation.keywords, "$comment": comment})
    return True


def _apply_relaxations(spec: dict[str, object]) -> None:
    """Apply :data:`_RELAXATIONS` to ``spec`` in place."""
    schemas = _as_dict((_as_dict(spec.get("components")) or {}).get("schemas")) or {}
    paths = _as_dict(spec.get("paths")) or {}
    for relaxation in _RELAXATIONS:
        kind, *rest = relaxation.target
        applied = False
        if kind == "schema":
            schema = _as_dict(schemas.get(rest[0]))
            applied = schema is not None and _relax_property(schema, relaxation)
        else:
            operation = _as_dict((_as_dict(paths.get(rest[0])) or {}).get(rest[1])) or {}
            content = _as_dict((_as_dict(operation.get("requestBody")) or {}).get("content")) or {}
            for media in content.values():
                schema = _as_dict((_as_dict(media) or {}).get("schema"))
                applied = (schema is not None and _relax_property(schema, relaxation)) or applied
        if not applied:
            _LOGGER.debug("OpenAPI relaxation %s not applicable to this spec", relaxation.target)


# --------------------------------------------------------------------------------------------------
# Speed-ups: semantics-preserving rewrites of the spec's unions
# --------------------------------------------------------------------------------------------------
#
# jsonschema evaluates *every* alternative of a oneOf (to check that exactly one matches), and the
# spec uses oneOf for two very common things: enums (``{"type": "integer", "oneOf": [{"const": 0,
# "title": "ROLE"}, ...]}``, some with 20+ members) and tagged unions (message components, command
# options, interaction callbacks: alternatives told apart by a required ``type`` property). Both
# are rewritten into equivalent, much cheaper schemas:
#
# * a oneOf/anyOf whose alternatives are all distinct ``const``s becomes an ``enum``;
# * a oneOf/anyOf of ``$ref``s to object schemas that all *require* ``type`` and pin it to pairwise
#   disjoint values becomes "``type`` is one of the union's values" plus the custom keyword
#   ``x-castbot-dispatch-on-type`` (a table value -> alternative), so only the alternative the value
#   is tagged for is evaluated. At most one alternative can match a given tag, so oneOf and anyOf
#   mean the same here, and the rewrite accepts exactly what the union accepts.
#
# Besides being 5-20x faster, the errors get clearer: "99 is not one of [1, 4, 5, ...]" at
# ``body.type`` and, for a tagged value, the error inside the alternative it is tagged for.


_DISPATCH: Final = "x-castbot-dispatch-on-type"
# Keywords whose values are data, not schemas (never inlined into), and maps of name -> schema.
_DATA_KEYWORDS: Final = frozenset({"const", "enum", "default", "examples", "example", "required"})
_SCHEMA_MAP_KEYWORDS: Final = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_COMPONENT_SCHEMAS: Final = "#/components/schemas/"


def _const_alternatives(branches: list[object]) -> list[object] | None:
    """The constants of a union whose alternatives are all distinct ``const`` schemas, else None."""
    constants: list[object] = []
    for raw in branches:
        branch = _as_dict(raw)
        if branch is None or "const" not in branch or not set(branch) <= {"const", "title", "description"}:
            return None
        constant = branch["const"]
        if any(type(constant) is type(seen) and constant == seen for seen in constants):
            return None
        constants.append(constant)
    return constants or None


def _tag_values(schema: Mapping[str, object]) -> list[object] | None:
    """The values an object schema pins its required ``type`` property to, if it does."""
    required = _as_list(schema.get("required")) or []
    tag = _as_dict((_as_dict(schema.get("properties")) or {}).get("type"))
    if schema.get("type") != "object" or "type" not in required or tag is None:
        return None
    values = [tag["const"]] if "const" in tag else _as_list(tag.get("enum"))
    # Plain integers and strings only: bools and floats have JSON-equality subtleties.
    return values if values and all(type(v) in {int, str} for v in values) else None


def _tagged_union(branches: list[object], schemas: Mapping[str, object]) -> dict[str, object] | None:
    """An equivalent, dispatching schema for a tagged union of ``$ref`` alternatives, else None."""
    seen: set[tuple[type, object]] = set()
    union: list[object] = []
    cases: list[list[object]] = []
    for raw in branches:
        branch = _as_dict(raw) or {}
        ref = branch.get("$ref")
        if set(branch) != {"$ref"} or not isinstance(ref, str) or not ref.startswith(_COMPONENT_SCHEMAS):
            return None
        target = _as_dict(schemas.get(ref.removeprefix(_COMPONENT_SCHEMAS)))
        values = None if target is None else _tag_values(target)
        if values is None:
            return None
        for value in values:
            if (type(value), value) in seen:
                return None  # not disjoint: the union is not a plain tagged union
            seen.add((type(value), value))
        union.extend(values)
        cases.extend([value, {"$ref": ref}] for value in values)
    if len(branches) < 2:
        return None
    if all(isinstance(value, int) for value in union):
        union.sort(key=lambda value: cast("int", value))
    return {"type": "object", "required": ["type"], "properties": {"type": {"enum": union}}, _DISPATCH: cases}


class _Descender(Protocol):
    """The part of a validator a keyword implementation uses."""

    def descend(self, instance: _Json, schema: Mapping[str, object]) -> Iterator[ValidationError]: ...


def _dispatch_on_type(
    validator: _Descender, cases: object, instance: object, schema: object
) -> Iterator[ValidationError]:
    """The ``x-castbot-dispatch-on-type`` keyword: validate against the alternative ``type`` selects."""
    del schema
    if not isinstance(instance, dict):
        return
    tag = cast("dict[str, object]", instance).get("type")
    if isinstance(tag, bool):
        return  # JSON true/false never equals a tag (the enum beside this keyword reports it)
    for case in _as_list(cases) or []:
        value, alternative = cast("list[object]", case)
        # JSON equality, as the enum beside this keyword uses: 1.0 == 1, but "1" != 1.
        if (isinstance(value, str) == isinstance(tag, str)) and value == tag:
            yield from validator.descend(cast("_Json", instance), cast("Mapping[str, object]", alternative))
            return


def _optimise_unions(node: object, schemas: Mapping[str, object]) -> None:
    """Apply the rewrites above to every schema under ``node``, in place."""
    if isinstance(node, list):
        for item in cast("list[object]", node):
            _optimise_unions(item, schemas)
        return
    schema = _as_dict(node)
    if schema is None:
        return
    for value in schema.values():
        _optimise_unions(value, schemas)
    for keyword in ("oneOf", "anyOf"):
        branches = _as_list(schema.get(keyword))
        if branches is None:
            continue
        constants = _const_alternatives(branches)
        if constants is not None and "enum" not in schema:
            del schema[keyword]
            schema["enum"] = constants
            continue
        rewritten = _tagged_union(branches, schemas)
        if rewritten is not None:
            del schema[keyword]
            schema["allOf"] = [*(_as_list(schema.get("allOf")) or []), rewritten]


def _prepare_spec(spec: dict[str, object]) -> None:
    """Relax (see :data:`_RELAXATIONS`) and speed up (see above) a private copy of the spec."""
    _apply_relaxations(spec)
    schemas = _as_dict((_as_dict(spec.get("components")) or {}).get("schemas")) or {}
    _optimise_unions(spec.get("paths"), schemas)
    _optimise_unions(schemas, schemas)


# Draft 2020-12 plus the dispatch keyword of the tagged-union rewrite.
_VALIDATOR_CLASS: Final = cast(
    "type[Draft202012Validator]",
    jsonschema_validators.extend(  # pyright: ignore[reportUnknownMemberType]  (unannotated in the stubs)
        Draft202012Validator, {_DISPATCH: _dispatch_on_type}
    ),
)


# --------------------------------------------------------------------------------------------------
# Results and routing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """The outcome of validating one request.

    Attributes:
        route: The spec's path template that matched (e.g. ``"/guilds/{guild_id}/channels"``), or
            ``None`` when no path template matched or the matched path has no such method.
        errors: Human-readable errors, each naming the method, the route and the JSON path of the
            failing value, e.g. ``"POST /guilds/{guild_id}/channels body.permission_overwrites[0].type:
            'x' is not one of [0, 1]"``. Empty when the request is valid.
    """

    route: str | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Whether a route matched and the request had no errors."""
        return self.route is not None and not self.errors


@dataclass(slots=True)
class _RouteNode:
    """A node of the path-template trie (one per segment)."""

    literals: dict[str, _RouteNode]
    params: list[tuple[str, re.Pattern[str], _RouteNode]]  # (segment template, its regex, child)
    template: str | None = None


def _new_node() -> _RouteNode:
    return _RouteNode(literals={}, params=[])


def _segment_pattern(segment: str) -> re.Pattern[str]:
    """Compile a templated segment (``{id}`` or e.g. ``{id}.png``) to a regex with named groups."""
    parts: list[str] = []
    last = 0
    for match in _TEMPLATE_PARAM.finditer(segment):
        parts.append(re.escape(segment[last : match.start()]))
        parts.append(f"(?P<{_group_name(match.group(1))}>[^/]+?)")
        last = match.end()
    parts.append(re.escape(segment[last:]))
    return re.compile("".join(parts))


def _group_name(param: str) -> str:
    """Map a path parameter name to a valid regex group name (reversible enough for the spec)."""
    return re.sub(r"\W", "_", param)


@dataclass(frozen=True, slots=True)
class _Operation:
    """One operation of the spec with what is needed to validate requests to it."""

    method: str
    template: str
    pointer: str  # JSON pointer to the operation object
    path_params: Mapping[str, str]  # regex group name -> parameter name
    parameters: Mapping[tuple[str, str], Mapping[str, object]]  # (in, name) -> parameter object
    request_body: Mapping[str, object] | None


# --------------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------------


class OpenAPIValidator:
    """Validates requests to Discord's REST API against its OpenAPI 3.1 spec.

    Schemas are compiled lazily, once per operation (and per query/path parameter), and cached, so
    validating a request after warm-up costs only the JSON Schema evaluation itself.

    Example:
        >>> validator = OpenAPIValidator.shared()
        >>> result = validator.validate_request("POST", "/interactions/1/tok/callback", {"type": 5})
        >>> result.ok
        True
    """

    _shared: OpenAPIValidator | None = None
    _shared_lock: Final = threading.Lock()

    def __init__(self, spec: Mapping[str, object] | None = None) -> None:
        """Load the spec and index its routes.

        Args:
            spec: A parsed OpenAPI 3.1 document. ``None`` loads the spec vendored with this package
                (``castbot_hikari/testing/data/discord-openapi.json.gz``). The mapping is not mutated.
        """
        # A private copy: the relaxations and speed-ups rewrite it in place.
        own = _load_vendored_spec() if spec is None else _copy_json(spec)
        _prepare_spec(own)
        self._spec: Final = own
        empty: SchemaRegistry = Registry()
        self._registry: Final = empty.with_resource(_SPEC_URI, DRAFT202012.create_resource(self._spec))
        self._root: Final = _new_node()
        self._operations: Final[dict[tuple[str, str], _Operation]] = {}
        self._validators: Final[dict[str, _SchemaValidator]] = {}
        self._inlined: Final[dict[str, object]] = {}
        self._query_params: Final[dict[str, tuple[_SchemaValidator, tuple[str, ...]]]] = {}
        self._index_paths()

    @classmethod
    def shared(cls) -> OpenAPIValidator:
        """Return the process-wide validator for the vendored spec (loaded and indexed once).

        Returns:
            The cached instance; its compiled schemas are shared by every caller.
        """
        shared = cls._shared
        if shared is None:
            with cls._shared_lock:
                shared = cls._shared
                if shared is None:
                    shared = cls._shared = cls()
        return shared

    # ---- routing -------------------------------------------------------------------------------

    def _index_paths(self) -> None:
        paths = _as_dict(self._spec.get("paths")) or {}
        for template, raw_item in paths.items():
            item = _as_dict(raw_item)
            if item is None:
                continue
            node = self._root
            group_to_param: dict[str, str] = {}
            for segment in template.strip("/").split("/"):
                if "{" not in segment:
                    node = node.literals.setdefault(segment, _new_node())
                    continue
                for name in _TEMPLATE_PARAM.findall(segment):
                    group_to_param[_group_name(name)] = name
                for existing, _, child in node.params:
                    if existing == segment:
                        node = child
                        break
                else:
                    child = _new_node()
                    node.params.append((segment, _segment_pattern(segment), child))
                    node = child
            node.template = template
            shared_params = _as_list(item.get("parameters")) or []
            for method, raw_op in item.items():
                op = _as_dict(raw_op)
                if method not in _HTTP_METHODS or op is None:
                    continue
                parameters: dict[tuple[str, str], Mapping[str, object]] = {}
                for raw_param in [*shared_params, *(_as_list(op.get("parameters")) or [])]:
                    param = self._deref(raw_param)
                    if param is not None:
                        parameters[str(param.get("in")), str(param.get("name"))] = param
                self._operations[template, method] = _Operation(
                    method=method.upper(),
                    template=template,
                    pointer=_pointer("paths", template, method),
                    path_params=group_to_param,
                    parameters=parameters,
                    request_body=self._deref(op.get("requestBody")),
                )
        self._sort_params(self._root)

    def _sort_params(self, node: _RouteNode) -> None:
        """Try templated segments with more literal text first (``{id}.png`` before ``{id}``)."""
        node.params.sort(key=lambda item: -len(_TEMPLATE_PARAM.sub("", item[0])))
        for child in (*node.literals.values(), *(child for _, _, child in node.params)):
            self._sort_params(child)

    def _resolve_pointer(self, ref: str) -> object:
        """The value a local reference (``#/json/pointer``) points to in the spec, or None."""
        if not ref.startswith("#/"):
            return None
        target: object = self._spec
        for raw in ref[2:].split("/"):
            segment = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(target, list):
                items = cast("list[object]", target)
                target = items[int(segment)] if segment.isdigit() and int(segment) < len(items) else None
            else:
                target = (_as_dict(target) or {}).get(segment)
        return target

    def _deref(self, value: object) -> Mapping[str, object] | None:
        """Resolve a local ``{"$ref": "#/..."}`` (OpenAPI parameter/requestBody refs) to its target."""
        node = _as_dict(value)
        for _ in range(16):
            ref = None if node is None else node.get("$ref")
            if not isinstance(ref, str):
                break
            node = _as_dict(self._resolve_pointer(ref))
        return node

    def _inline(self, node: object, stack: frozenset[str]) -> object:
        """A copy of the schema ``node`` with local ``$ref``s replaced by their (inlined) targets.

        jsonschema resolves a ``$ref`` through the registry on every evaluation, which is about a
        third of the cost of validating a body; inlining removes that. A reference that recurses
        (a component containing itself, e.g. nested containers) is kept, made absolute so that it
        still resolves through the registry. Inlined components are shared, not copied, between
        the schemas that use them.
        """
        if isinstance(node, list):
            return [self._inline(item, stack) for item in cast("list[object]", node)]
        schema = _as_dict(node)
        if schema is None:
            return node
        inlined: dict[str, object] = {}
        for key, value in schema.items():
            if key in _DATA_KEYWORDS:
                inlined[key] = value
            elif key in _SCHEMA_MAP_KEYWORDS and (named := _as_dict(value)) is not None:
                # {name: schema}: the names are not keywords (a property may be called "default").
                inlined[key] = {name: self._inline(sub, stack) for name, sub in named.items()}
            else:
                inlined[key] = self._inline(value, stack)
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return inlined
        target = self._inlined.get(ref)
        if target is None:
            if ref in stack:
                target = {"$ref": f"{_SPEC_URI}{ref}"}
            else:
                target = self._inline(self._resolve_pointer(ref), stack | {ref})
                component = _as_dict(target)
                if ref.startswith(_COMPONENT_SCHEMAS) and component is not None and "title" not in component:
                    # Keep the component's name for error messages ("expected null | SnowflakeType").
                    target = {"title": ref.removeprefix(_COMPONENT_SCHEMAS), **component}
                self._inlined[ref] = target
        del inlined["$ref"]
        if not inlined:
            return target
        # Keywords beside a $ref apply too (JSON Schema 2020-12): keep them, and the target in allOf.
        inlined["allOf"] = [*(_as_list(inlined.get("allOf")) or []), target]
        return inlined

    def _candidates(self, path: str) -> Iterator[tuple[str, dict[str, str]]]:
        """Yield ``(template, group values)`` for every template matching ``path``, best first."""
        path = _API_PREFIX.sub("", path.split("?", 1)[0].split("#", 1)[0])
        segments = path.strip("/").split("/")

        def walk(node: _RouteNode, index: int, groups: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
            if index == len(segments):
                if node.template is not None:
                    yield node.template, groups
                return
            segment = segments[index]
            literal = node.literals.get(segment)
            if literal is not None:
                yield from walk(literal, index + 1, groups)
            if not segment:
                return
            for _, pattern, child in node.params:
                match = pattern.fullmatch(segment)
                if match is not None:
                    yield from walk(child, index + 1, {**groups, **match.groupdict()})

        return walk(self._root, 0, {})

    def _resolve(self, method: str, path: str) -> tuple[_Operation | None, dict[str, str], list[str]]:
        """Find the operation for a request: the most specific matching template having ``method``."""
        method = method.lower()
        matched: list[str] = []
        for template, groups in self._candidates(path):
            operation = self._operations.get((template, method))
            if operation is not None:
                return operation, groups, matched
            matched.append(template)
        return None, {}, matched

    def match_route(self, method: str, path: str) -> str | None:
        """Return the spec's path template for a request, or ``None``.

        Literal segments beat templated ones; a templated segment matches exactly one segment. When
        the most specific template lacks ``method``, less specific templates are tried.

        Args:
            method: The HTTP method, in any case.
            path: The path after the ``/api/v10`` prefix, e.g. ``"/interactions/123/tok/callback"``.
                A query string is ignored.

        Returns:
            The template, e.g. ``"/interactions/{interaction_id}/{interaction_token}/callback"``, or
            ``None`` if no template with that method matches.
        """
        operation, _, _ = self._resolve(method, path)
        return None if operation is None else operation.template

    # ---- validation ----------------------------------------------------------------------------

    def validate_request(
        self,
        method: str,
        path: str,
        body: object | None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> ValidationResult:
        """Validate one request against the spec.

        Args:
            method: The HTTP method, in any case.
            path: The path after the ``/api/v10`` prefix. If it carries a query string and ``query``
                is ``None``, the query string's parameters are validated.
            body: The parsed request body: the decoded JSON for ``application/json``, the parsed
                ``payload_json`` part for ``multipart/form-data``; ``None`` when there is no body.
            query: The query parameters (values as sent, i.e. strings).
            content_type: The request's ``Content-Type`` (parameters such as ``boundary`` are
                ignored). ``None`` means JSON when there is a body.

        Returns:
            The matched route and the errors found (empty when the request is valid).
        """
        verb = method.upper()
        operation, groups, matched = self._resolve(method, path)
        if operation is None:
            if matched:
                allowed = sorted({op.method for (tpl, _), op in self._operations.items() if tpl == matched[0]})
                return ValidationResult(
                    None, (f"{verb} {matched[0]}: method not allowed (allowed: {', '.join(allowed)})",)
                )
            return ValidationResult(None, (f"{verb} {path}: no route of the spec matches this path",))

        prefix = f"{verb} {operation.template}"
        errors: list[str] = []
        self._check_path_params(operation, groups, prefix, errors)
        if query is None and "?" in path:
            query = dict(parse_qsl(path.split("?", 1)[1].split("#", 1)[0], keep_blank_values=True))
        if query:
            self._check_query(operation, query, prefix, errors)
        self._check_body(operation, body, content_type, prefix, errors)
        return ValidationResult(operation.template, tuple(errors))

    def _validator(self, pointer: str) -> _SchemaValidator:
        """Return the (cached) validator for the schema at ``pointer`` in the spec."""
        validator = self._validators.get(pointer)
        if validator is None:
            schema = self._inline({"$ref": f"#{pointer}"}, frozenset())
            if not isinstance(schema, (dict, bool)):
                msg = f"no schema at {pointer} in the OpenAPI spec"
                raise LookupError(msg)
            compiled: _SchemaValidator = _VALIDATOR_CLASS(
                cast("dict[str, object] | bool", schema), registry=self._registry
            )
            self._validators[pointer] = validator = compiled
        return validator

    def _check_path_params(
        self, operation: _Operation, groups: Mapping[str, str], prefix: str, errors: list[str]
    ) -> None:
        for group, raw in groups.items():
            name = operation.path_params.get(group, group)
            param = operation.parameters.get(("path", name))
            if param is None or "schema" not in param:
                continue
            pointer = self._parameter_pointer(operation, "path", name)
            errors.extend(self._format_errors(self._validator(pointer), unquote(raw), f"{prefix} path.{name}"))

    def _parameter_pointer(self, operation: _Operation, location: str, name: str) -> str:
        """JSON pointer to a parameter's schema (the parameter may be declared on the path item)."""
        paths = _as_dict(self._spec.get("paths")) or {}
        item = _as_dict(paths.get(operation.template)) or {}
        op = _as_dict(item.get(operation.method.lower())) or {}
        # Operation-level parameters override path-level ones, so look there first.
        for owner, base in ((op, operation.pointer), (item, _pointer("paths", operation.template))):
            for index, raw in enumerate(_as_list(owner.get("parameters")) or []):
                param = self._deref(raw)
                if param is None or param.get("in") != location or param.get("name") != name:
                    continue
                ref = (_as_dict(raw) or {}).get("$ref")
                if isinstance(ref, str) and ref.startswith("#/"):
                    return f"{ref[1:]}/schema"
                return f"{base}/parameters/{index}/schema"
        msg = f"parameter {location}.{name} not found in {operation.template}"
        raise LookupError(msg)

    def _declared_types(self, schema: object, depth: int = 0) -> list[str]:
        """The JSON types a schema may take, following ``$ref``, ``oneOf``, ``anyOf`` and ``allOf``."""
        node = self._deref(schema)
        if node is None or depth > 8:
            return []
        found: list[str] = []
        declared = node.get("type")
        if isinstance(declared, str):
            found.append(declared)
        else:
            found.extend(t for t in _as_list(declared) or [] if isinstance(t, str))
        for keyword in ("oneOf", "anyOf", "allOf"):
            for branch in _as_list(node.get(keyword)) or []:
                found.extend(t for t in self._declared_types(branch, depth + 1) if t not in found)
        return found

    def _query_param(self, operation: _Operation, name: str) -> tuple[_SchemaValidator, tuple[str, ...]]:
        """The (cached) validator of a query parameter and the JSON types its value may take."""
        pointer = self._parameter_pointer(operation, "query", name)
        cached = self._query_params.get(pointer)
        if cached is None:
            schema = operation.parameters[("query", name)].get("schema")
            cached = (self._validator(pointer), tuple(self._declared_types(schema)))
            self._query_params[pointer] = cached
        return cached

    def _check_query(self, operation: _Operation, query: Mapping[str, str], prefix: str, errors: list[str]) -> None:
        for name, raw in query.items():
            if ("query", name) not in operation.parameters:
                known = sorted(n for (where, n) in operation.parameters if where == "query")
                errors.append(
                    f"{prefix} query.{name}: unknown query parameter (known: {', '.join(known) if known else 'none'})"
                )
                continue
            validator, types = self._query_param(operation, name)
            candidates = _query_candidates(raw, types)
            # Report the errors of the value coerced to the first declared type it can take.
            first_errors = self._format_errors(validator, candidates[0], f"{prefix} query.{name}")
            if first_errors and not any(validator.is_valid(cast("_Json", candidate)) for candidate in candidates[1:]):
                errors.extend(first_errors)
        for (where, name), param in operation.parameters.items():
            if where == "query" and param.get("required") is True and name not in query:
                errors.append(f"{prefix} query.{name}: required query parameter is missing")

    def _check_body(
        self,
        operation: _Operation,
        body: object | None,
        content_type: str | None,
        prefix: str,
        errors: list[str],
    ) -> None:
        request_body = operation.request_body
        if request_body is None:
            if body is not None:
                errors.append(f"{prefix} body: this operation takes no request body")
            return
        if body is None:
            if request_body.get("required") is True:
                errors.append(f"{prefix} body: a request body is required")
            return
        media = _JSON if content_type is None else content_type.split(";", 1)[0].strip().lower()
        content = _as_dict(request_body.get("content")) or {}
        pointer = self._body_schema_pointer(operation, content, media)
        if pointer is None:
            errors.append(f"{prefix} body: content type {media!r} not accepted (accepted: {', '.join(content)})")
            return
        errors.extend(self._format_errors(self._validator(pointer), body, f"{prefix} body"))

    def _body_schema_pointer(self, operation: _Operation, content: Mapping[str, object], media: str) -> str | None:
        """JSON pointer to the schema a body of type ``media`` is validated against, if any."""
        body_pointer = self._request_body_pointer(operation)
        multipart = _as_dict(content.get(_MULTIPART)) if media == _MULTIPART else None
        if multipart is None:
            return f"{body_pointer}{_pointer('content', media, 'schema')}" if media in content else None
        # The caller passes the parsed payload_json part: prefer the multipart schema's own
        # payload_json property (its contentSchema if it has one), else the JSON body schema,
        # else the multipart schema itself.
        schema = self._deref(multipart.get("schema")) or {}
        payload = self._deref((_as_dict(schema.get("properties")) or {}).get("payload_json"))
        if payload is not None:
            tail = ("contentSchema",) if "contentSchema" in payload else ()
            return body_pointer + _pointer("content", _MULTIPART, "schema", "properties", "payload_json", *tail)
        return body_pointer + _pointer("content", _JSON if _JSON in content else _MULTIPART, "schema")

    def _request_body_pointer(self, operation: _Operation) -> str:
        """JSON pointer to the operation's requestBody object (following a component ``$ref``)."""
        paths = _as_dict(self._spec.get("paths")) or {}
        op = _as_dict((_as_dict(paths.get(operation.template)) or {}).get(operation.method.lower())) or {}
        raw = _as_dict(op.get("requestBody")) or {}
        ref = raw.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            return ref[1:]
        return f"{operation.pointer}/requestBody"

    # ---- error rendering -----------------------------------------------------------------------

    def _format_errors(self, validator: _SchemaValidator, instance: object, prefix: str) -> list[str]:
        """Validate ``instance`` and render each distinct failure (the best one within anyOf/oneOf)."""
        errors = list(validator.iter_errors(cast("_Json", instance)))
        if not errors:
            return []
        rendered: list[str] = []
        for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
            best = _best_error(error)
            message = _short_message(best)
            if best.validator in {"oneOf", "anyOf"}:
                message += f" (expected {self._describe_alternatives(best.validator_value)})"
            line = f"{prefix}{_json_path(best)}: {message}"
            if line not in rendered:
                rendered.append(line)
        if len(rendered) > _MAX_ERRORS:
            rendered = [*rendered[:_MAX_ERRORS], f"{prefix}: ... and {len(rendered) - _MAX_ERRORS} more errors"]
        return rendered

    def _describe_alternatives(self, branches: object) -> str:
        """Describe the alternatives of a oneOf/anyOf briefly, e.g. ``null | 0 (ROLE) | 1 (MEMBER)``."""
        text = " | ".join(self._describe(branch) for branch in _as_list(branches) or [])
        return text if len(text) <= _MAX_DESCRIPTION else f"{text[:_MAX_DESCRIPTION]}..."

    def _describe(self, schema: object) -> str:
        """A short description of one alternative: its constants, name (title) or type."""
        node = self._deref(schema) or {}
        if "const" in node:
            return _describe_const(node)
        enum = _as_list(node.get("enum"))
        if enum is not None:
            return " | ".join(repr(value) for value in enum)
        title = node.get("title")
        if isinstance(title, str):
            return title
        declared = node.get("type")
        if isinstance(declared, str):
            return declared
        return "/".join(str(t) for t in _as_list(declared) or []) or "a schema"


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _load_vendored_spec() -> dict[str, object]:
    resource = importlib.resources.files("castbot_hikari.testing") / "data" / "discord-openapi.json.gz"
    spec = orjson.loads(gzip.decompress(resource.read_bytes()))
    if not isinstance(spec, dict):
        msg = "the vendored OpenAPI spec is not a JSON object"
        raise TypeError(msg)
    return cast("dict[str, object]", spec)


def _copy_json(spec: Mapping[str, object]) -> dict[str, object]:
    """A deep copy of a JSON document (much faster than copy.deepcopy for 1 MB of JSON)."""
    return cast("dict[str, object]", orjson.loads(orjson.dumps(spec)))


def _query_candidates(raw: str, types: Sequence[str]) -> list[object]:
    """The typed values a query string value may stand for, in the order of the declared types.

    Booleans are ``true``/``false`` (as hikari sends them), arrays are comma-separated (as hikari
    sends ``sku_ids``). When ``raw`` cannot be read as any declared type, it is returned as is, so
    that the schema reports the type mismatch.
    """
    candidates: list[object] = []
    for declared in types:
        if declared == "string":
            candidates.append(raw)
        elif declared == "boolean" and raw in {"true", "false"}:
            candidates.append(raw == "true")
        elif declared == "integer" and _INTEGER_TEXT.fullmatch(raw):
            candidates.append(int(raw))
        elif declared == "number" and _NUMBER_TEXT.fullmatch(raw) and math.isfinite(float(raw)):
            candidates.append(float(raw))
        elif declared == "array":
            candidates.append(raw.split(",") if raw else [])
        elif declared == "null" and raw == "null":
            candidates.append(None)
    return candidates or [raw]


def _json_path(error: ValidationError) -> str:
    parts: list[str] = []
    for key in error.absolute_path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(f".{key}")
        else:
            parts.append(f"[{key!r}]")
    return "".join(parts)


def _short_message(error: ValidationError) -> str:
    """The error's message, with an over-long repr of the failing value shortened."""
    message = error.message
    instance: object = error.instance
    text = repr(instance)
    if len(text) > _MAX_REPR:
        if isinstance(instance, str):
            size = f"{len(instance)} chars"
        elif isinstance(instance, (dict, list)):
            size = f"{len(cast('Sized', instance))} items"
        else:
            size = "truncated"
        message = message.replace(text, f"{text[:_MAX_REPR]}...<{size}>")
    return message


def _describe_const(schema: Mapping[str, object]) -> str:
    title = schema.get("title")
    return f"{schema['const']!r} ({title})" if isinstance(title, str) else repr(schema["const"])


def _is_discriminator_miss(error: ValidationError) -> bool:
    """Whether an error of a oneOf/anyOf branch says the value's ``type`` tag is not that branch's."""
    return error.validator in {"enum", "const"} and list(error.relative_path) == ["type"]


def _is_null_alternative(alternatives: list[object], branch: object) -> bool:
    """Whether alternative number ``branch`` of a oneOf/anyOf is just ``{"type": "null"}``."""
    return isinstance(branch, int) and branch < len(alternatives) and alternatives[branch] == {"type": "null"}


def _rank(error: ValidationError) -> tuple[Any, bool]:
    """jsonschema's relevance, ties broken in favour of enum/const errors (they list the allowed values)."""
    return _relevance(error), error.validator in {"enum", "const"}


def _best_error(error: ValidationError) -> ValidationError:
    """The most useful error to report for ``error``, descending into anyOf/oneOf alternatives.

    Like :func:`jsonschema.exceptions.best_match`, but aware of Discord's tagged unions: an
    alternative whose ``type`` tag does not match the value (a message component, an interaction
    callback, a command option) is dropped first, so that a broken button is reported as such and
    not as "2 is not one of [10]" from whichever alternative happened to fail deepest; the
    ``{"type": "null"}`` alternative of a nullable value that is not null is dropped too; and a
    failure shared by all alternatives (a missing ``type``) is preferred to the bare "not valid
    under any of the given schemas".
    """
    while error.context:
        branches: dict[object, list[ValidationError]] = {}
        for sub in error.context:
            branch = sub.relative_schema_path[0] if sub.relative_schema_path else None
            branches.setdefault(branch, []).append(sub)
        alternatives = _as_list(error.validator_value) or []
        viable = [
            errs
            for branch, errs in branches.items()
            if not any(map(_is_discriminator_miss, errs))
            and not (error.instance is not None and _is_null_alternative(alternatives, branch))
        ]
        if len(viable) == 1:
            # The one alternative the value is tagged for (or, for a nullable value that is not
            # null, the non-null one): report its most relevant error.
            error = max(viable[0], key=_rank)
            continue
        groups = viable or list(branches.values())
        # A failure every alternative shares (e.g. a missing or unknown "type") is the one to fix.
        keyed = [{(tuple(sub.path), sub.message) for sub in errs} for errs in groups]
        common = keyed[0].intersection(*keyed[1:])
        if common:
            error = max((sub for sub in groups[0] if (tuple(sub.path), sub.message) in common), key=_relevance)
            continue
        candidates = [sub for errs in groups for sub in errs]
        # As best_match does: the deepest error, unless several alternatives tie (then the
        # anyOf/oneOf error itself, which the caller renders with the list of alternatives).
        ranked = sorted(candidates, key=_relevance)
        tied = [sub for sub in ranked if _relevance(sub) == _relevance(ranked[0])]
        if len({(tuple(sub.path), sub.message) for sub in tied}) > 1:
            return error
        error = ranked[0]  # one best error, or the same error from several alternatives
    return error
