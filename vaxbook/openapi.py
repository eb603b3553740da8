"""The API description tells every answer the API gives: each operation's problem+json refusals (by what the
operation takes and who may call it, from the policy table) and, for routes anyone may call, no token required.
Litestar writes the operations and their successful answers; this adds what it cannot know."""

from __future__ import annotations

import copy
from typing import Any, TypeVar

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

from vaxbook.errors import domain_errors
from vaxbook.fields import (
    EARLIEST_DATE,
    LATEST_DATE,
    PHONE_MAX_LENGTH,
    PHONE_MIN_LENGTH,
    InputModel,
    PatchModel,
    QueryDate,
    QueryInstant,
)
from vaxbook.policy import Scope, rule_for
from vaxbook.problems import HTTP_PROBLEMS, PROBLEM_TYPE_PREFIX
from vaxbook.spreadsheets import XLSX_MEDIA_TYPE

PROBLEM = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details, in the language Accept-Language asks for (Vietnamese by default)",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<slug>: what went wrong, stable across languages"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "source", "code", "message"],
                "properties": {
                    "field": {"type": "string"},
                    "source": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
WHY = {
    "400": "The request cannot be read (not JSON, a header in the wrong format)",
    "401": "No token, or a token that is not good",
    "403": "The caller's role may not do this, or the clinic is not theirs",
    "404": "Not found, or not the caller's",
    "409": "The rules refuse it as things stand (full, already booked, not active …)",
    "413": "The body is larger than 64 KiB",
    "415": "The body is not JSON",
    "422": "A field is wrong: `errors` names each",
    "429": "Too many requests: wait `Retry-After` seconds",
    "503": "Busy, or the database is out of reach: resend after `Retry-After` (with the same Idempotency-Key)",
}
_HANDS_OFF = ("/schema", "/static/")
RETRY_AFTER = {
    "description": "Seconds to wait before sending the request again",
    "required": True,
    "schema": {"type": "integer", "minimum": 0},
}
# the searches whose date range VAXBOOK_SEARCH_MAX_DAYS bounds (a schema cannot say one parameter's bound by another)
RANGE_LIMITED = frozenset({"/api/v1/availability", "/api/v1/clinics/{clinic_id}/slots"})


def _range_limit(days: int) -> str:
    return (
        f"The last day (the clinics' local date), at most {days} days after date_from (VAXBOOK_SEARCH_MAX_DAYS); "
        "a longer range is refused with 422 naming date_to"
    )


# what a field's validator checks and its schema cannot say by itself, by the field's name in every body
FIELD_RULES: dict[str, dict[str, Any]] = {
    "cccd": {
        "pattern": "^[ .]*([0-9][ .]*){12}$",
        "description": "CCCD (citizen identity card) number: 12 digits, spaces or dots between them as on the card",
    },
    "phone": {
        "minLength": PHONE_MIN_LENGTH,
        "maxLength": PHONE_MAX_LENGTH,
        "description": "A Vietnamese mobile number, in any common spelling (0912 345 678, +84912345678)",
    },
}


def describe_answers(document: dict[str, Any], *, search_max_days: int) -> dict[str, Any]:
    """A copy of Litestar's description with every operation's refusals and its token requirement, PATCH fields
    that refuse null said so, and times of day as they are written."""
    described = copy.deepcopy(document)
    schemas = described.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = copy.deepcopy(PROBLEM_SCHEMA)
    schemas["Problem"]["properties"]["type"]["enum"] = problem_types()
    for body in _subclasses(InputModel):
        if body.__name__ in schemas:
            _bounds_kept(schemas[body.__name__], body)
    for model in _subclasses(PatchModel):
        if model.__name__ in schemas:
            _no_null_unless_clearable(schemas[model.__name__], model.clearable)
    _times_of_day(schemas)
    _field_rules(schemas)
    for scheme in described["components"].get("securitySchemes", {}).values():
        if scheme.get("type") == "http":
            scheme.pop("name", None)  # OpenAPI gives a name to an apiKey scheme only: with it, validators refuse all
    schemes = list(described["components"].get("securitySchemes", {}))
    for path, item in described.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete") and not path.startswith(_HANDS_OFF):
                _describe(path, method, operation, schemes, search_max_days)
    return described


def _describe(path: str, method: str, operation: dict[str, Any], schemes: list[str], search_max_days: int) -> None:
    rule = rule_for(method.upper(), path)
    open_to_all = rule is None or rule.scope in (Scope.PUBLIC, Scope.METRICS)
    if rule is not None and rule.scope is Scope.PUBLIC:
        # no token needed, and one may be sent (/availability says more to a signed-in caller): a client generated
        # from an empty list never sends it
        operation["security"] = [{}, *({scheme: []} for scheme in schemes)]
    takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
    # anywhere: a token that is sent must be good (401); what is asked for may not be there, or not be yours (404)
    statuses = ["400", "401", "404", "429", "503"]
    if takes_input:
        statuses += ["422"]
    if operation.get("requestBody"):
        statuses += ["413", "415"]
    if method != "get":
        statuses += ["409", "422"]
    if path.endswith("/qr"):
        statuses += ["409"]  # a booking's QR is drawn only while the booking stands (booking-not-active, -moved)
    if not open_to_all:
        statuses += ["403"]
    responses = operation.setdefault("responses", {})
    if _offers_csv(operation) and "200" in responses:
        content = responses["200"].setdefault("content", {})
        content["text/csv"] = {"schema": {"type": "string"}}
        content[XLSX_MEDIA_TYPE] = {"schema": {"type": "string", "format": "binary"}}
    if path in RANGE_LIMITED:
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "date_to" and parameter.get("in") == "query":
                parameter["description"] = _range_limit(search_max_days)
    if path.endswith("/certificate"):
        statuses += ["409"]  # a certificate needs a dose recorded (nothing-to-certify)
    for status in sorted(set(statuses)):
        responses[status] = {
            "description": WHY[status],
            "content": {"application/problem+json": {"schema": {"$ref": PROBLEM}}},
        }
        if status in ("429", "503"):
            responses[status]["headers"] = {"Retry-After": RETRY_AFTER}


def _field_rules(schemas: dict[str, Any]) -> None:
    for schema in schemas.values():
        for name, field in schema.get("properties", {}).items():
            if name in FIELD_RULES:
                for option in field.get("oneOf", field.get("anyOf", [field])):
                    if option.get("type") == "string":
                        option.update(FIELD_RULES[name])


def problem_types() -> list[str]:
    """Every problem type the API answers with: each domain error's, and those of what Litestar itself refuses."""
    found = {error.slug for error in domain_errors()}
    found |= {slug for slug, _ in HTTP_PROBLEMS.values()} | {"http-error"}
    return sorted(PROBLEM_TYPE_PREFIX + slug for slug in found)


def _offers_csv(operation: dict[str, Any]) -> bool:
    return any(p.get("name") == "format" and "csv" in str(p.get("schema", {})) for p in operation.get("parameters", []))


Model = TypeVar("Model", bound=InputModel)


def _subclasses(base: type[Model]) -> list[type[Model]]:
    found: list[type[Model]] = []
    todo = list(base.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo += model.__subclasses__()
    return found


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern")


def _bounds_kept(schema: dict[str, Any], model: type[InputModel]) -> None:
    """Litestar drops a field's bounds when the field may be left out or null (`int | None`): put back what
    pydantic, which enforces them, says (capacity 0-10,000, a rank 1-999, seats per household 1-100)."""
    enforced = model.model_json_schema().get("properties", {})
    for name, field in schema.get("properties", {}).items():
        bounds: dict[str, Any] = {}
        for choice in enforced.get(name, {}).get("anyOf", [enforced.get(name, {})]):
            bounds |= {key: choice[key] for key in _BOUNDS if key in choice}
        for choice in field.get("oneOf", [field]):
            if choice.get("type") in ("integer", "number", "string"):
                choice.update(bounds)


def _no_null_unless_clearable(schema: dict[str, Any], clearable: frozenset[str]) -> None:
    """A field left out of a PATCH stays as it is; null is refused unless the field may be cleared."""
    for name, field in schema.get("properties", {}).items():
        if name in clearable or "oneOf" not in field:
            continue
        kept = [choice for choice in field["oneOf"] if choice.get("type") != "null"]
        del field["oneOf"]
        field.update(kept[0] if len(kept) == 1 else {"oneOf": kept})


TIME_OF_DAY = {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?$", "example": "07:30"}


def _times_of_day(schemas: dict[str, Any]) -> None:
    """Litestar calls a time of day a `duration`: it is "07:30" (or "07:30:00")."""

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and node.get("format") == "duration":
                node.pop("format")
                node.update(TIME_OF_DAY)
            for value in node.values():
                fix(value)
        elif isinstance(node, list):
            for value in node:
                fix(value)

    fix(schemas)


class ApiDescription(JsonRenderPlugin):
    """/schema/openapi.json: Litestar's description with the answers it cannot know, worked out once."""

    def __init__(self, *, search_max_days: int) -> None:
        super().__init__()
        self.search_max_days = search_max_days
        self._described: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._described is None:
            described = describe_answers(openapi_schema, search_max_days=self.search_max_days)
            self._described = self.render_json(request, described)
        return self._described


class QueryTimesSchema(OpenAPISchemaPlugin):
    """QueryDate and QueryInstant parameters are a date and a date-time to the API description, with the years
    they may be in."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is QueryDate or value is QueryInstant

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        if field_definition.annotation is QueryInstant:
            return Schema(
                type=OpenAPIType.STRING,
                format=OpenAPIFormat.DATE_TIME,
                description=f"ISO 8601 with its zone, on a day from {EARLIEST_DATE} to {LATEST_DATE}",
            )
        return Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.DATE,
            description=f"YYYY-MM-DD, from {EARLIEST_DATE} to {LATEST_DATE}",
        )
