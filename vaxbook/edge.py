"""Input at the edge: what every request must be before any handler parses it, and the headers every answer
carries. A request body is bounded in size (Litestar's limit), must be UTF-8, may nest only so deep and may hold
no NUL; a query string must decode to UTF-8 text without NUL. Each refusal is a problem naming the field."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import Any, cast
from urllib.parse import parse_qsl

from litestar import Request
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import ClientException
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from vaxbook.errors import FieldError, Invalid, UnsupportedMediaType
from vaxbook.i18n import Text

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32
"""The deepest nesting of arrays and objects a body may have: ours need four."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NOT_UTF8 = Text("Không phải văn bản UTF-8 hợp lệ", "Not valid UTF-8 text")
_NUL = Text("Không được chứa ký tự NUL", "Must not contain a NUL character")
_TOO_DEEP = Text(f"Dữ liệu lồng nhau quá {MAX_DEPTH} cấp", f"Nested deeper than {MAX_DEPTH} levels")
_REPLACEMENT = "\ufffd"
_JSON = re.compile(r"\s*application/([\w.+-]+\+)?json\s*(;|$)", re.IGNORECASE)
_NOT_JSON = Text(
    "API chỉ nhận dữ liệu JSON (Content-Type: application/json)",
    "The API takes JSON only (Content-Type: application/json)",
)
_RAW_BYTE = re.compile(rb"[\x80-\xff]")
_TWICE = Text("Tên trường bị lặp lại trong cùng một đối tượng", "This key appears twice in one object")


async def inspect(request: Request[Any, Any, Any]) -> None:
    """The app's before-request hook: refuses, before any parsing, a query string or a body that no handler could
    read safely. Cheap on the common path: a few byte scans, and a parse only when one of them finds something."""
    query = request.scope.get("query_string", b"")
    if b"%" in query or not query.isascii():  # percent-encoded, or raw bytes a client sent unencoded
        _check_query(query)
    if not query.isascii():
        request.scope["query_string"] = query = percent_encoded(query)
    if b"&" in query and request.scope["path"].startswith("/api/"):
        _check_names_once(query)  # FHIR searches repeat a name on purpose (start=ge…&start=lt…): not theirs
    if query and (whole := _whole_number_names(request.route_handler)):
        _check_whole_numbers(query, whole)
    # a multipart body (a file) is not checked here, and not read either: a page's form was read already by the
    # CSRF check, and its stream cannot be read twice
    content_type = request.headers.get("content-type", "")
    if (
        content_type.startswith("multipart/")
        and request.scope["path"].startswith("/api/")
        and not _takes_files(request)
    ):
        raise UnsupportedMediaType(_NOT_JSON)  # a file only where a route takes one (the imports)
    if request.method in _BODY_METHODS and not content_type.startswith("multipart/"):
        body = await request.body()  # read once, within the size limit, and kept for the handler
        if body:
            api = request.scope["path"].startswith("/api/")
            if api and content_type and not _JSON.match(content_type):
                # the API reads JSON and only JSON: a body said to be anything else is not guessed at (one said to
                # be nothing is read as JSON)
                raise UnsupportedMediaType(_NOT_JSON)
            _check_body(body, keys_once=api)
            if api and "data" not in request.route_handler.parsed_fn_signature.parameters:
                _nothing_asked(body)


_WHOLE = re.compile(r"-?[0-9]+")
_NOT_WHOLE = Text("Phải là số nguyên", "Must be a whole number")
_whole_numbers_of: dict[Any, frozenset[str]] = {}  # by route handler (one per route and app)


def _whole_number_names(handler: Any) -> frozenset[str]:
    """The query parameters a route reads as integers, by the name sent (`_count`), found once per route."""
    found = _whole_numbers_of.get(handler)
    if found is None:
        found = _whole_numbers_of[handler] = frozenset(
            getattr(field.kwarg_definition, "name", None) or getattr(field.kwarg_definition, "query", None) or name
            for name, field in handler.parsed_fn_signature.parameters.items()
            if type(field.kwarg_definition).__name__ == "QueryParameter"
            and any(t.annotation is int for t in (field, *field.inner_types))
        )
    return found


def _check_whole_numbers(query: bytes, names: frozenset[str]) -> None:
    """An integer written as one: `1.0`, `1e0` or ` 1` is refused naming the parameter, as `1.5` is (the
    framework's reading would take the first three for 1)."""
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in names and value and not _WHOLE.fullmatch(value):
            raise Invalid.field(name, "invalid", _NOT_WHOLE, source="query")


def _nothing_asked(body: bytes) -> None:
    """A body sent to a route that reads none (a call-off, a cancel): what it asks for would be done without it, so
    each field is refused as unknown, as on any route (`{}` and blank ask for nothing); one that is not JSON is 400."""
    try:
        sent = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ClientException() from None
    if sent == {} or sent is None:
        return
    fields = list(sent) if isinstance(sent, dict) else ["body"]
    raise Invalid(
        Text(f"Kiểm tra lại trường: {', '.join(fields)}", f"Check these fields: {', '.join(fields)}"),
        field_errors=tuple(FieldError(field, "extra_forbidden", _NOT_TAKEN, "body") for field in fields),
    )


_NOT_TAKEN = Text("Thao tác này không nhận dữ liệu gửi lên", "This operation takes no body")


def _takes_files(request: Request[Any, Any, Any]) -> bool:
    """Whether the route reads its body as a multipart form (a file uploaded)."""
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    return getattr(getattr(data, "kwarg_definition", None), "media_type", None) == RequestEncodingType.MULTI_PART


def percent_encoded(query: bytes) -> bytes:
    """A query string's raw bytes outside ASCII percent-encoded, as they should have been sent: the parsers read raw
    bytes as Latin-1, so raw UTF-8 would be read as other letters."""
    return _RAW_BYTE.sub(lambda byte: b"%%%02X" % byte[0][0], query)


def client_address(request: Request[Any, Any, Any]) -> str:
    """The caller's address: the peer's, or what a trusted proxy said it was (uvicorn's ProxyHeadersMiddleware, which
    create_app puts in front with VAXBOOK_TRUSTED_PROXIES, has already put it in the scope)."""
    host = request.client.host if request.client else "unknown"
    with suppress(ValueError):
        ip = ipaddress.ip_address(host)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            return str(ip.ipv4_mapped)  # an IPv4 caller on a dual-stack socket
    return host


def _check_query(query: bytes) -> None:
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        field = _printable(name.encode("latin-1"))
        for raw in (name.encode("latin-1"), value.encode("latin-1")):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _refusal(field, "utf8", _NOT_UTF8, "query") from None
            if "\x00" in text:
                raise _refusal(field, "nul", _NUL, "query")


_GIVEN_TWICE = Text(
    "Tham số này được gửi hai lần; mỗi tham số chỉ một giá trị", "This parameter is sent twice; each takes one value"
)


def _check_names_once(query: bytes) -> None:
    """A query parameter named twice is refused rather than read as one of its values (the API's parameters each
    take one value, as a body's keys do)."""
    seen: set[str] = set()
    for name, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        if name in seen:
            raise _refusal(_printable(name.encode("latin-1")), "duplicate_parameter", _GIVEN_TWICE, "query")
        seen.add(name)


def _check_body(body: bytes, *, keys_once: bool = False) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        readable = body.decode("utf-8", errors="replace")
        field = "body" if _too_deep(readable) else _field_holding(readable, _REPLACEMENT)
        raise _refusal(field, "utf8", _NOT_UTF8) from None
    if _too_deep(text):
        raise _refusal("body", "too_deep", _TOO_DEEP)
    if "\\u0000" in text or "\x00" in text:
        field = _field_holding(text, "\x00")
        if field:
            raise _refusal(field, "nul", _NUL)
    if keys_once and text.count(":") > 1:  # one key cannot appear twice
        _check_keys_once(text)


class _Twice(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Twice(key)
        seen[key] = value
    return seen


def _check_keys_once(text: str) -> None:
    """A key given twice in one object is refused, not read as its last value (as the JSON parser would): two
    readers of one body must never see two requests."""
    try:
        json.loads(text, object_pairs_hook=_once_each)
    except _Twice as twice:
        raise _refusal(_printable(twice.key.encode("utf-8", errors="replace")), "duplicate_key", _TWICE) from None
    except ValueError:
        return  # not JSON: the handler's parse says so


def _too_deep(text: str) -> bool:
    # counting brackets (those inside strings too) over-counts, never under-counts: the walk runs only past it
    return text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH


def _depth(text: str) -> int:
    """The deepest nesting of the JSON text's arrays and objects, skipping strings; no parse, so no recursion."""
    deepest = depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _field_holding(text: str, bad: str) -> str:
    """The dotted name of the first key or string in the JSON `text` that holds `bad` ("body" when the text is not
    JSON or the whole body is that string; "" when no string holds it)."""
    try:
        document = json.loads(text)
    except ValueError:
        return "body" if bad in text else ""
    return _find(document, bad, ()) or ("" if bad == "\x00" else "body")


def _find(value: Any, bad: str, path: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return (".".join(path) or "body") if bad in value else None
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if bad in key:
                return ".".join((*path, _printable(key.encode("utf-8", errors="replace"))))
            items.append((key, item))
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    for key, item in items:
        found = _find(item, bad, (*path, key))
        if found:
            return found
    return None


def _printable(name: bytes) -> str:
    """A field name fit to echo back: UTF-8 where it is, without control characters, at most 64 characters."""
    text = name.decode("utf-8", errors="replace")
    return "".join(char if char.isprintable() else _REPLACEMENT for char in text)[:64] or "body"


def _refusal(field: str, code: str, message: Text, source: str = "body") -> Invalid:
    return Invalid(
        Text(f"Kiểm tra lại trường: {field}", f"Check this field: {field}"),
        field_errors=(FieldError(field, code, message, source),),
    )


# Answers the browser must not sniff, frame, refer onwards or keep. The Referer goes to vaxbook's own pages only
# (same-origin): a form sent once the session had ended leads back, after signing in again, to the page it was on.
# An answer that says how it may be cached (public search results, static files) keeps its own Cache-Control; any
# other may hold personal data and is never stored.
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# pages (the API docs among them) run scripts and styles from vaxbook's own files only, never an inline script;
# inline styles are allowed because Swagger UI sets them from its scripts
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"

_ALWAYS_PAIRS = [(name.lower().encode(), value.encode()) for name, value in _ALWAYS.items()]
_REPLACED = frozenset(name for name, _ in _ALWAYS_PAIRS) | {b"x-request-id"}
_NO_STORE = (b"cache-control", b"no-store")
_API_POLICY = (b"content-security-policy", API_POLICY.encode())
_PAGE_POLICY = (b"content-security-policy", PAGE_POLICY.encode())
_HSTS = (b"strict-transport-security", HSTS.encode())
_REPLACED_HTTPS = _REPLACED | {_HSTS[0]}


def protect(message: Message, scope: Scope, request_id: str) -> None:
    """Adds the security headers and the request id to a response's start message, in one pass over the headers the
    handler set: those of `_ALWAYS`, X-Request-ID and (over HTTPS) HSTS replace the handler's own; Cache-Control and
    the CSP are added only where the handler set none."""
    https = scope.get("scheme") == "https"
    replaced = _REPLACED_HTTPS if https else _REPLACED
    given = cast(Iterable[tuple[bytes, bytes]], message.get("headers", ()))
    headers = [(name.lower(), value) for name, value in given]
    names = {name for name, _ in headers}
    if not names.isdisjoint(replaced):
        headers = [(name, value) for name, value in headers if name not in replaced]
    headers += _ALWAYS_PAIRS
    headers.append((b"x-request-id", request_id.encode("latin-1")))
    if b"cache-control" not in names:
        headers.append(_NO_STORE)
    if b"content-security-policy" not in names:
        page = any(name == b"content-type" and value.startswith(b"text/html") for name, value in headers)
        headers.append(_PAGE_POLICY if page else _API_POLICY)
    if https:
        headers.append(_HSTS)
    message["headers"] = headers  # type: ignore[typeddict-unknown-key]  # Message is any ASGI event


def answers_head(app: ASGIApp) -> ASGIApp:
    """HEAD is GET without the body (RFC 9110), on every GET route: a monitor or a link checker asks for the headers
    alone, and gets the status and headers GET would give (its Content-Length too), the same guards and checks
    included."""

    async def head_as_get(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("method") != "HEAD":
            await app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        as_get = cast(Scope, {**scope, "method": "GET"})
        try:
            await app(as_get, receive, headers_only)
        finally:
            if "path_template" in as_get:  # the route the router found, for the access line written outside
                scope["path_template"] = as_get["path_template"]

    return head_as_get
