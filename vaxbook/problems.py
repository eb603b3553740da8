"""RFC 9457 problem+json: the one place where errors become HTTP responses, in the caller's language."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from datetime import date
from enum import Enum
from http import HTTPStatus
from typing import Any, Literal, get_args, get_origin

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsException, ProblemDetailsPlugin
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Scope, Send
from pydantic import SecretStr

from vaxbook.auth.security import NOT_BEARER
from vaxbook.db import went_away
from vaxbook.errors import (
    Busy,
    Conflict,
    DatabaseUnavailable,
    DomainError,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from vaxbook.fields import QUERY_WORDS
from vaxbook.i18n import Language, Text, count, negotiate

log = structlog.get_logger("vaxbook.errors")

PROBLEM_TYPE_PREFIX = "/problems/"

# What Litestar itself raises (routing, auth middleware, body parsing, rate limits) speaks the same language as
# the domain errors: the statuses they share take the domain's slug and title.
HTTP_PROBLEMS: dict[int, tuple[str, Text]] = {
    error.status: (error.slug, error.title)
    for error in (DomainError, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests, Unavailable)
} | {
    405: ("method-not-allowed", Text("Phương thức không được hỗ trợ", "Method not allowed")),
    413: ("payload-too-large", Text("Dữ liệu gửi lên quá lớn", "Request body too large")),
    415: ("unsupported-media-type", Text("Định dạng dữ liệu không được hỗ trợ", "Unsupported media type")),
    500: ("internal-error", Text("Lỗi hệ thống, vui lòng thử lại sau", "Internal error, please try again later")),
}


# Vietnamese wording of pydantic's error types; English comes from pydantic itself, except where pydantic writes
# Python (True, None, 'a' or 'b', class names), a regular expression or a piece of the input: _EN_VALIDATION has
# those, and values are written as in JSON.
_VI_VALIDATION: dict[str, str] = {
    "missing": "Trường này là bắt buộc",
    "extra_forbidden": "Trường này không được phép gửi lên",
    "string_type": "Phải là chuỗi ký tự",
    "string_too_short": "Phải có ít nhất {min_length} ký tự",
    "string_too_long": "Không được dài quá {max_length} ký tự",
    "string_pattern_mismatch": "Không đúng định dạng",
    "int_type": "Phải là số nguyên",
    "int_parsing": "Phải là số nguyên",
    "int_from_float": "Phải là số nguyên",
    "float_type": "Phải là số",
    "float_parsing": "Phải là số",
    "bool_type": "Phải là true hoặc false",
    "bool_parsing": "Phải là true hoặc false",
    "greater_than": "Phải lớn hơn {gt}",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than": "Phải nhỏ hơn {lt}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "date_type": "Phải là ngày theo dạng YYYY-MM-DD",
    "date_parsing": "Ngày không hợp lệ (dạng YYYY-MM-DD)",
    "date_from_datetime_parsing": "Ngày không hợp lệ (dạng YYYY-MM-DD)",
    "date_from_datetime_inexact": "Phải là ngày, không kèm giờ",
    "datetime_type": "Phải là thời điểm theo ISO 8601",
    "datetime_parsing": "Thời điểm không hợp lệ (ISO 8601, có múi giờ)",
    "datetime_from_date_parsing": "Thời điểm không hợp lệ (ISO 8601, có múi giờ)",
    "timezone_aware": "Thời điểm phải kèm múi giờ, ví dụ 2026-01-05T07:30:00+07:00",
    "time_type": "Phải là giờ theo dạng HH:MM",
    "time_parsing": "Giờ không hợp lệ (dạng HH:MM)",
    "uuid_type": "Phải là mã định danh UUID",
    "uuid_parsing": "Mã định danh UUID không hợp lệ",
    "enum": "Phải là {expected}",
    "literal_error": "Phải là {expected}",
    "none_required": "Phải là null",
    "union_tag_invalid": "Trường {discriminator} phải là {expected_tags}",
    "union_tag_not_found": "Thiếu trường {discriminator}",
    "url_scheme": "Địa chỉ URL phải bắt đầu bằng {expected_schemes}",
    "list_type": "Phải là một danh sách",
    "too_short": "Phải có ít nhất {min_length} phần tử",
    "too_long": "Không được có quá {max_length} phần tử",
    "model_type": "Phải là một đối tượng JSON",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "dict_type": "Phải là một đối tượng JSON",
    "json_invalid": "JSON không hợp lệ",
    "value_error": "Giá trị không hợp lệ",
}
_VI_INVALID = "Giá trị không hợp lệ"
_EN_VALIDATION: dict[str, str] = {
    # pydantic's own would show the pattern (a regular expression) or quote the character it stopped at
    "string_pattern_mismatch": "Not in the expected format",
    "uuid_parsing": "Input should be a valid UUID",
    "enum": "Input should be {expected}",
    "literal_error": "Input should be {expected}",
    "none_required": "Input should be null",
    "union_tag_invalid": "Field {discriminator} should be {expected_tags}",
    "union_tag_not_found": "Field {discriminator} is required",
    "url_scheme": "URL scheme should be {expected_schemes}",
    "model_type": "Input should be an object",
    "model_attributes_type": "Input should be an object",
    "dataclass_type": "Input should be an object",
    "dict_type": "Input should be an object",
}
_EN_VALIDATION |= {
    "greater_than_equal": "Input should be greater than or equal to {ge}",
    "less_than_equal": "Input should be less than or equal to {le}",
    "greater_than": "Input should be greater than {gt}",
    "less_than": "Input should be less than {lt}",
    "string_too_short": "String should have at least {min_length} characters",
    "string_too_long": "String should have at most {max_length} characters",
}
_EN_INVALID = "Invalid value"
# The context entries that pydantic fills with Python literals: "'a', 'b' or 1", "True", "<Role.OPERATOR: 'operator'>".
_PYTHON_LITERALS = ("expected", "discriminator", "expected_tags", "expected_schemes")
_ENUM_MEMBER = re.compile(r"""<\w+(?:\.\w+)*: ('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^<>]*)>""")


PROBLEM_FORMATS = "problem_formats"
"""The app's state key of the formats problems are written in, by path prefix (the first that matches): a
ProblemFormat (FHIR's OperationOutcome under /fhir/, a page under /), or None for problem+json (the API)."""


PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "errors", "request_id"})
"""The members every problem body has its own meaning for: a refusal's extra fields take other names."""


class Problem(ProblemDetailsException):
    """A problem whose title, detail and field messages are rendered in the language the caller asked for."""

    def __init__(
        self,
        *,
        status: int,
        slug: str,
        title: Text,
        detail: Text | None = None,
        field_errors: tuple[FieldError, ...] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            detail=detail.en if detail else title.en,
            status_code=status,
            headers=headers,
            type_=PROBLEM_TYPE_PREFIX + slug,
            title=title.en,
        )
        self.slug = slug
        self.localized_title = title
        self.localized_detail = detail
        self.field_errors = field_errors
        self.fields = extra or {}
        if clash := PROBLEM_MEMBERS & self.fields.keys():
            # RFC 9457's own members keep their meaning: `status` is the HTTP status, never a booking's
            raise ValueError(f"a problem's own fields cannot be overridden: {sorted(clash)}")

    def to_response(self, request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        problem = self.as_the_route_names_it(request.scope)
        render = _format_of(request.scope)
        if render is not None:
            return render(problem, request)
        language = negotiate(request.headers.get("accept-language"))
        return Response(
            problem.body(language, request.scope),
            status_code=self.status_code,
            headers={**(self.headers or {}), "Content-Language": language},
            media_type="application/problem+json",
        )

    def as_the_route_names_it(self, scope: Scope) -> Problem:
        """A refusal of a query, header or cookie value named as the request sent it (`_count`, not the handler's
        `count`), and a value that is none of a parameter's choices answered with the choices. Litestar's own error
        names the handler's parameter and not its choices; the route that refused it does."""
        handler = scope.get("route_handler")
        parameters = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", None)
        if not parameters or not any(e.source in _SENT_AS for e in self.field_errors):
            return self
        named = tuple(_as_sent(e, parameters.get(e.field)) for e in self.field_errors)
        if named == self.field_errors:
            return self
        fields = ", ".join(sorted({e.field for e in named if e.field}))
        return Problem(
            status=self.status_code,
            slug=self.slug,
            title=self.localized_title,
            detail=Text(f"Kiểm tra lại các trường: {fields}", f"Check these fields: {fields}"),
            field_errors=named,
            headers=self.headers,
            extra=self.fields,
        )

    def body(self, language: Language, scope: Scope) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type_,
            "title": self.localized_title.in_(language),
            "status": self.status_code,
            "detail": (self.localized_detail or self.localized_title).in_(language),
            "instance": scope["path"],
        }
        if self.field_errors:
            body["errors"] = [
                {"field": e.field, "source": e.source, "code": e.code, "message": e.message.in_(language)}
                for e in self.field_errors
            ]
        body.update(self.fields)
        request_id = scope.get("state", {}).get("request_id")
        if request_id:
            body["request_id"] = request_id
        return body


async def answer_directly(problem: Problem, scope: Scope, send: Send) -> None:
    """The problem+json of a refusal sent straight to the ASGI server, for a middleware answering before the app
    (the same body, status, headers and language as the app's own answer; the middleware around still add theirs).
    `problem` is only read: one made once may answer every request refused alike (booking.gate's "full")."""
    render = _format_of(scope)
    if render is not None:  # a path with a format of its own (FHIR's, the pages') says it as the app's answer would
        request: Request[Any, Any, Any] = Request(scope)
        await render(problem, request).to_asgi_response(app=None, request=request)(scope, request.receive, send)
        return
    accept = next((value for name, value in scope["headers"] if name == b"accept-language"), b"")
    language = negotiate(accept.decode("latin-1") or None)
    body = _encode_json(problem.body(language, scope))
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"content-language", language.encode()),
        *((name.lower().encode(), value.encode()) for name, value in (problem.headers or {}).items()),
    ]
    start: HTTPResponseStartEvent = {"type": "http.response.start", "status": problem.status_code, "headers": headers}
    await send(start)
    ended: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(ended)


_encode_json = msgspec.json.Encoder().encode  # compact UTF-8, as the app's own answers are encoded


ProblemFormat = Callable[[Problem, Request[Any, Any, Any]], Response[Any]]


def _format_of(scope: Scope) -> ProblemFormat | None:
    app = scope.get("app")  # none for a bare ASGI app (a middleware's own tests)
    formats: dict[str, ProblemFormat | None] = app.state.get(PROBLEM_FORMATS, {}) if app is not None else {}
    return next((render for prefix, render in formats.items() if scope["path"].startswith(prefix)), None)


def from_domain_error(exc: DomainError) -> Problem:
    return Problem(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        field_errors=exc.field_errors,
        headers=exc.headers,
        extra=exc.extra,
    )


def from_validation_error(exc: ValidationException) -> Problem:
    errors = _pydantic_field_errors(exc) or _litestar_field_errors(exc)
    fields = ", ".join(sorted({e.field for e in errors if e.field})) or "body"
    return Problem(
        status=422,
        slug="validation",
        title=Invalid.title,
        detail=Text(f"Kiểm tra lại các trường: {fields}", f"Check these fields: {fields}"),
        field_errors=errors,
    )


def _pydantic_field_errors(exc: ValidationException) -> tuple[FieldError, ...]:
    raw = getattr(exc.__cause__, "errors", None)
    return field_errors_of(raw) if isinstance(raw, list) else ()


def field_errors_of(raw: list[Any]) -> tuple[FieldError, ...]:
    """pydantic's errors (ValidationError.errors()), each named by its field and said in both languages."""
    result = []
    for err in raw:
        error_type = str(err.get("type", "value_error"))
        context = err.get("ctx") or {}
        result.append(
            FieldError(
                field=".".join(str(part) for part in err.get("loc", ())) or "body",  # the body as a whole
                code=error_type.removeprefix("vaxbook."),
                message=_message(_of_text(error_type, err.get("input")), context, str(err.get("msg", _EN_INVALID))),
                source="body",
            )
        )
    return tuple(result)


def _of_text(error_type: str, value: Any) -> str:
    """A length refused of a text (a password's, say) is counted in characters, not in a list's items."""
    if error_type in ("too_short", "too_long") and isinstance(value, str | SecretStr):
        return f"string_{error_type}"
    return error_type


def _message(error_type: str, context: dict[str, Any], english: str) -> Text:
    if error_type.startswith("vaxbook."):
        return Text(str(context.get("vi", english)), english)
    # a bound that is a day is written as JSON writes it (2000-01-01), not as Python does (pydantic gives its repr)
    context = {k: _PYTHON_DATE.sub(_iso_day, v) if isinstance(v, str) else v for k, v in context.items()}
    vi_context, en_context = dict(context), dict(context)
    for key in ("ge", "gt", "le", "lt"):  # a bound of thousands, grouped as each language writes it
        if isinstance(context.get(key), int) and not isinstance(context[key], bool) and abs(context[key]) >= 10_000:
            vi_context[key], en_context[key] = count(context[key])
    for key in _PYTHON_LITERALS:
        if key in context:
            values = _json_values(str(context[key]))
            if values is None:  # not a list of literals: say nothing rather than show Python
                return Text(_VI_INVALID, _EN_INVALID)
            vi_context[key], en_context[key] = _alternatives(values, "hoặc"), _alternatives(values, "or")
    vi = _format(_VI_VALIDATION.get(error_type, _VI_INVALID), vi_context, _VI_INVALID)
    en = _format(_EN_VALIDATION[error_type], en_context, _EN_INVALID) if error_type in _EN_VALIDATION else english
    return Text(vi, en)


_PYTHON_DATE = re.compile(r"datetime\.date\((\d{1,4}), (\d{1,2}), (\d{1,2})\)")


def _iso_day(found: re.Match[str]) -> str:
    return date(*(int(part) for part in found.groups())).isoformat()


def _format(template: str, context: dict[str, Any], fallback: str) -> str:
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return fallback


def _json_values(python: str) -> list[str] | None:
    """The values in pydantic's Python rendering of a choice ("'a', 'b' or 1") as JSON literals ('"a"', '"b"', '1'),
    or None when it holds anything but literals."""
    try:
        choice = ast.parse(_ENUM_MEMBER.sub(r"\1", python), mode="eval").body
        return [json.dumps(ast.literal_eval(value), ensure_ascii=False) for value in _choices(choice)]
    except (SyntaxError, ValueError, TypeError):
        return None


def _choices(node: ast.expr) -> list[ast.expr]:
    """'a', 'b' or 'c' parses as a tuple whose last item is an `or`: the leaves are the values."""
    if isinstance(node, ast.Tuple):
        return [leaf for item in node.elts for leaf in _choices(item)]
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return [leaf for item in node.values for leaf in _choices(item)]
    return [node]


def _alternatives(values: list[str], word: str) -> str:
    """One value, or a list ending in the language's "or": `"a", "b" or "c"`."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} {word} {values[-1]}"


def _litestar_field_errors(exc: ValidationException) -> tuple[FieldError, ...]:
    raw = exc.extra if isinstance(exc.extra, list) else []
    missing = _MISSING_PARAMETER.match(exc.detail or "")
    if missing is not None:  # Litestar names the first one missing in its words only
        source, name = missing.groups()
        return (FieldError(name, "missing", _REQUIRED, source),)
    return tuple(
        _litestar_field_error(item, str(getattr(item.get("source"), "value", item.get("source", "body"))))
        for item in raw
        if isinstance(item, dict)
    ) or (FieldError(field="", code="invalid", message=Text(_VI_INVALID, exc.detail)),)


def _litestar_field_error(item: dict[str, Any], source: str) -> FieldError:
    """One of Litestar's errors, named by its key (a parameter, or `data`, the body); a field missing from an object
    is named inside it (msgspec's words say which; Litestar has cut off where the object is)."""
    english = str(item.get("message", "Invalid value"))
    key = str(item.get("key", ""))
    if key == "data" and english == "'data'":  # the handler's body, and none was sent (Litestar's KeyError)
        return FieldError("body", "missing", _BODY_REQUIRED, source)
    missing = _MSGSPEC_MISSING.match(english)
    if missing is not None:
        name = missing.group(1) if key in ("", "data") else f"{key}.{missing.group(1)}"
        return FieldError(name, "missing", _REQUIRED, source)
    if source == "header" and key in _HEADERS:  # named as it is sent, and said in words, not as a pattern
        header, words = _HEADERS[key]
        return FieldError(header, "invalid", words, source)
    if english.startswith("Invalid enum value"):  # its choices are said once the route is known (as_the_route_names_it)
        return FieldError(key, "enum", Text("Không phải giá trị được nhận", "Not one of the values it takes"), source)
    return FieldError(
        key, "invalid", _msgspec_words(english) or Text(QUERY_WORDS.get(english, _VI_INVALID), english), source
    )


_BODY_REQUIRED = Text("Cần gửi dữ liệu JSON trong nội dung yêu cầu", "A JSON body is required")


def _msgspec_words(english: str) -> Text | None:
    """What msgspec says of a query, header or cookie value (a bound, a type, a length) in both languages, with the
    bound it broke, and without the backticks or the value sent."""
    for pattern, vi, en in _MSGSPEC_WORDS:
        found = pattern.fullmatch(english)
        if found is not None:
            return Text(vi.format(*found.groups()), en.format(*found.groups()))
    return None


_MSGSPEC_WORDS = (
    (re.compile(r"Expected `(?:int|float)[^`]*` >= (\S+)"), "Phải lớn hơn hoặc bằng {0}", "Must be at least {0}"),
    (re.compile(r"Expected `(?:int|float)[^`]*` <= (\S+)"), "Phải nhỏ hơn hoặc bằng {0}", "Must be at most {0}"),
    (re.compile(r"Expected `(?:int|float)[^`]*` > (\S+)"), "Phải lớn hơn {0}", "Must be more than {0}"),
    (re.compile(r"Expected `(?:int|float)[^`]*` < (\S+)"), "Phải nhỏ hơn {0}", "Must be less than {0}"),
    (re.compile(r"Expected `str[^`]*` of length <= (\d+)"), "Không được dài quá {0} ký tự", "At most {0} characters"),
    (re.compile(r"Expected `str[^`]*` of length >= (\d+)"), "Phải có ít nhất {0} ký tự", "At least {0} characters"),
    (re.compile(r"Expected `int(?: \| null)?`, got `\w+`"), "Phải là số nguyên", "Must be a whole number"),
    (re.compile(r"Expected `float(?: \| null)?`, got `\w+`"), "Phải là số", "Must be a number"),
    (re.compile(r"Expected `bool(?: \| null)?`, got `\w+`"), "Phải là true hoặc false", "Must be true or false"),
    (re.compile(r"Invalid UUID"), "Mã định danh UUID không hợp lệ", "Not a valid UUID"),
    # a form's part sent twice (two files under one name) where the handler takes one
    (re.compile(r"Unsupported type: <class 'list'>"), "Chỉ gửi một lần", "Send it once"),
)


_SENT_AS = ("query", "header", "cookie")


def _as_sent(error: FieldError, parameter: Any) -> FieldError:
    """One of Litestar's parameter errors, named as the request sends the parameter, with its choices when the value
    was none of them."""
    if parameter is None or error.source not in _SENT_AS:
        return error
    definition = parameter.kwarg_definition
    # QueryParameter(name=...) and its kind, or the older Parameter(query=...) style
    alias = (getattr(definition, "name", None) or getattr(definition, error.source, None)) if definition else None
    field = alias if isinstance(alias, str) and alias else error.field
    message = error.message
    choices = _choices_of(parameter.annotation) if error.code == "enum" else None
    if choices:
        message = Text(f"Phải là {_alternatives(choices, 'hoặc')}", f"Input should be {_alternatives(choices, 'or')}")
    return FieldError(field, error.code, message, error.source)


def _choices_of(annotation: Any) -> list[str] | None:
    """The values a parameter takes, as JSON: a Literal's, or an Enum's (through Optional and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [json.dumps(member.value, ensure_ascii=False) for member in annotation]
    if get_origin(annotation) is Literal:
        return [json.dumps(value, ensure_ascii=False) for value in get_args(annotation)]
    for inner in get_args(annotation):
        found = _choices_of(inner)
        if found:
            return found
    return None


_HEADERS = {
    "idempotency_key": (
        "Idempotency-Key",
        Text(
            "Idempotency-Key gồm 1 đến 255 ký tự ASCII in được, không có dấu cách",
            "An Idempotency-Key is 1 to 255 printable ASCII characters, with no spaces",
        ),
    ),
}
"""Request headers a handler reads, by the name of the handler's parameter: the header's own name, and what it
takes."""


_REQUIRED = Text(_VI_VALIDATION["missing"], "Field required")
_MSGSPEC_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (query|header|cookie|path) parameter '([^']+)'")


CLIENT_GONE = "client disconnected prematurely"
"""Litestar's words (as a 500) when a request's body stops coming: the caller left, nothing went wrong here."""


def from_http_exception(exc: HTTPException) -> Problem:
    if exc.detail == CLIENT_GONE:
        log.info("client_gone")  # no traceback, no server error: anyone could make those by hanging up mid-upload
        slug, title = HTTP_PROBLEMS[400]
        return Problem(status=400, slug=slug, title=title, detail=REQUEST_CUT_SHORT)
    if exc.status_code >= 500:
        log.error("server_error", status=exc.status_code, detail=exc.detail, exc_info=exc)
    slug, title = HTTP_PROBLEMS.get(exc.status_code, ("http-error", Text("Lỗi", "Error")))
    # the framework's name for the status ("Not Found") is no detail: the title says it, in both languages
    generic = {title.en.lower(), _phrase(exc.status_code).lower()}
    show_detail = exc.status_code < 500 and exc.detail and exc.detail.lower() not in generic
    headers = dict(exc.headers or {})
    said_allow = next((name for name in headers if name.lower() == "allow"), None)
    if said_allow:  # what a caller may send: every GET answers HEAD too, and OPTIONS is nobody's
        allowed = {m.strip().upper() for m in headers.pop(said_allow).split(",") if m.strip()} - {"OPTIONS"}
        headers["Allow"] = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
    detail = _LITESTAR_DETAILS.get(exc.detail) or (Text(title.vi, exc.detail) if show_detail else None)
    return Problem(status=exc.status_code, slug=slug, title=title, detail=detail, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


REQUEST_CUT_SHORT = Text("Yêu cầu bị ngắt trước khi gửi hết dữ liệu.", "The request ended before its body did.")
FORM_OUT_OF_DATE = Text(
    "Biểu mẫu này đã cũ; hãy tải lại trang rồi gửi lại.",
    "This form is out of date; reload the page and send it again.",
)
"""A page's form refused for its CSRF token (opened before signing in again, in another browser, or its cookie gone):
what to do now. A page's own refusal (web.view.problem_page) draws the form's page again instead."""


_LITESTAR_DETAILS = {
    "CSRF token verification failed": FORM_OUT_OF_DATE,
    # a token sent under another scheme than Bearer (a Basic credential is no token of ours)
    NOT_BEARER: Text(
        "Hãy gửi mã truy cập dạng: Authorization: Bearer <mã>", "Send the token as: Authorization: Bearer <token>"
    ),
}
"""Litestar's own details that are said in both languages, in the visitor's words."""


def from_database_contention(exc: Exception) -> Problem:
    """Two transactions caught each other (a deadlock or a serialization failure), or a lock was not free within
    the lock timeout: nothing was written, and the same request sent again will go through."""
    log.warning("database_contention", error=type(exc).__name__)
    busy = Busy()
    return Problem(status=busy.status, slug=busy.slug, title=busy.title, headers=busy.headers)


def from_database_away(exc: Exception) -> Problem:
    """The database went away while the request ran: what it sent may or may not have been committed, so the
    answer is 503 with Retry-After, and the same request with the same Idempotency-Key is done once."""
    if not went_away(exc):
        return from_unexpected_error(exc)  # a misuse of a connection is a bug, not an outage
    log.warning("database_away", error=type(exc).__name__)
    return from_domain_error(DatabaseUnavailable())


def from_unexpected_error(exc: Exception) -> Problem:
    log.error("unhandled_error", exc_info=exc)
    slug, title = HTTP_PROBLEMS[500]
    return Problem(status=500, slug=slug, title=title)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                DomainError: from_domain_error,
                ValidationException: from_validation_error,
                HTTPException: from_http_exception,
                asyncpg.DeadlockDetectedError: from_database_contention,
                asyncpg.SerializationError: from_database_contention,
                asyncpg.LockNotAvailableError: from_database_contention,
                asyncpg.PostgresConnectionError: from_database_away,
                asyncpg.exceptions.OperatorInterventionError: from_database_away,
                asyncpg.TooManyConnectionsError: from_database_away,
                asyncpg.InterfaceError: from_database_away,
                asyncpg.exceptions.InternalClientError: from_database_away,
                ConnectionError: from_database_away,
                Exception: from_unexpected_error,
            }
        )
    )
