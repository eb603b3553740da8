"""What every page shares: the visitor's language, the words, the session cookie, and the use cases' refusals said
in the visitor's language. No rule lives here: a page calls the same use cases as the API and shows what they say."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from hmac import compare_digest
from html import escape, unescape
from typing import Annotated, Any, NamedTuple, TypeVar
from urllib.parse import quote, urlencode, urlsplit
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import Cookie, FormMultiDict, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import MethodNotAllowedException, NotAuthorizedException, NotFoundException
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_hash, generate_csrf_token
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.response.base import ASGIResponse
from litestar.security.jwt import Token
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, Send
from litestar.utils.scope.state import CONNECTION_STATE_KEY, ScopeState
from pydantic import ValidationError

from booking.models import Booking, BookingStatus, Person
from booking.service import people
from clinics import service as clinics
from clinics.models import Clinic
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import PUBLIC, TokenIssuer, decode, token_generation
from vaxbook.db import UnitOfWork
from vaxbook.errors import DomainError, Forbidden, NotFound
from vaxbook.fields import calendar_date, day_first
from vaxbook.i18n import Language, Text, negotiate, number_in
from vaxbook.idempotency import IdempotencyKey, idempotency_key
from vaxbook.policy import rule_for
from vaxbook.problems import FORM_OUT_OF_DATE, Problem, field_errors_of
from web.text import WORDS

LANGUAGE_COOKIE = "lang"
SESSION_COOKIE = "session"
ONE_YEAR = 365 * 24 * 3600
PAGE_OPTIONS: dict[str, Any] = PUBLIC | {"page": True}
STAFF_ROLES = frozenset({Role.CLINIC_STAFF, Role.OPERATOR, Role.HEALTH_ADMIN})

T = TypeVar("T")
AnyRequest = Request[Any, Any, Any]
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
"""A page's form, as the browser sends it."""


def language_of(request: AnyRequest) -> Language:
    """The language the visitor chose (a cookie the switch sets), else the one their browser asks for."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in ("vi", "en"):
        return "vi" if chosen == "vi" else "en"
    return negotiate(request.headers.get("accept-language"))


def words(language: Language) -> dict[str, str]:
    return {key: text.in_(language) for key, text in WORDS.items()}


def page(request: AnyRequest, name: str, *, back: str | None = None, **context: Any) -> Template:
    """A whole page in the visitor's language. `back`: where the language switch returns to when this page answers
    a form (a POST route cannot be fetched again); else this page's own address."""
    language = language_of(request)
    here = _here(request)
    claims = _claims(request)
    return Template(
        template_name=name,
        context={
            "lang": language,
            "t": words(language),
            "back": here if request.method == "GET" else (back or "/"),
            "signed_in": claims is not None and claims[1] is Role.CITIZEN,
            "staff": claims is not None and claims[1] in STAFF_ROLES,
            "role": claims[1].value if claims else None,
            # each form's own key: a second tap on it replays the first answer (see `once` below)
            "once": str(uuid4()),
            "number": partial(number_in, language),
            "percent": percent,
        }
        | context,
        headers={"Content-Language": language, "Vary": "Cookie, Accept-Language"},
    )


def percent(rate: float | None) -> str:
    """A share (0 to 1) as a whole percentage, rounded (0.999 is 100 %, never 99 %); a dash for none."""
    return "–" if rate is None else f"{round(100 * rate)}%"


class _Claims(NamedTuple):
    id: UUID
    role: Role
    generation: int  # a staff token's (vaxbook.auth.security.token_generation)


def _claims(request: AnyRequest) -> _Claims | None:
    """Who the session cookie names: the same signed token the API takes as a bearer, kept where page scripts
    cannot read it."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = decode(request.app.state.jwt_auth, token)
        return _Claims(UUID(claims.sub), Role(str(claims.extras.get("role"))), token_generation(claims))
    except (NotAuthorizedException, ValueError):
        return None


def citizen_of(request: AnyRequest) -> Principal | None:
    claims = _claims(request)
    return Principal(id=claims[0], role=claims[1]) if claims and claims[1] is Role.CITIZEN else None


async def staff_of(request: AnyRequest, uow: UnitOfWork) -> Principal | None:
    """The staff member signed in, with their role and clinics read fresh (as the API does): an account switched
    off, its password set again or moved to another clinic takes effect at once."""
    claims = _claims(request)
    if claims is None or claims[1] not in STAFF_ROLES:
        return None
    principal = await auth.staff_principal(uow, staff_id=claims.id, generation=claims.generation)
    if principal is None or principal.role is not claims[1]:
        return None
    # the page's rule in the policy table says which staff roles may open it (the door: clinic staff and the
    # department; the counter: clinic staff and the hotline)
    rule = rule_for(request.method, str(request.scope.get("path_template", "")))
    if rule is None or principal.role not in rule.roles:
        raise Forbidden()
    return principal


async def end_staff_session(request: AnyRequest, uow: UnitOfWork) -> None:
    """Signing out of a staff session ends the account's tokens on the server too: a copy of the cookie (a shared
    computer at the clinic) opens nothing after it. A citizen's session ends with its cookie."""
    claims = _claims(request)
    if claims is not None and claims.role in STAFF_ROLES:
        await auth.sign_out_staff(uow, Principal(id=claims.id, role=claims.role), generation=claims.generation)


class SlidingSession:
    """A session in use stays open: a page request whose session token has lived more than half its life gets a
    fresh one (the app's own token issuer, the same account, role and token generation), so staff signed in at the
    start of a shift are not signed out in the middle of it while they work. A staff account switched off or whose
    password was set again gets none (its token is refused at once, as before), and nothing outlives a session left
    idle for a token's whole life. Each page controller runs its pages through this."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request: AnyRequest = Request(scope)
        aging = _aging_session(request)
        if aging is None:
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 500:
                headers = MutableScopeHeaders.from_message(message)
                # a page that signs in or out sets the session itself
                if not any(value.startswith(f"{SESSION_COOKIE}=") for value in headers.getall("set-cookie", [])):
                    renewed = await _renewed(request, aging)
                    if renewed is not None:
                        headers.add("set-cookie", renewed.to_header(header=""))
            await send(message)

        await self.app(scope, receive, sending)


PAGE_MIDDLEWARE: list[Any] = [SlidingSession]
"""What every page controller runs its pages through."""


def _aging_session(request: AnyRequest) -> Token | None:
    """The session's token when it is valid and has lived more than half its life, else None."""
    encoded = request.cookies.get(SESSION_COOKIE)
    if not encoded:
        return None
    try:
        token = decode(request.app.state.jwt_auth, encoded)
    except NotAuthorizedException:
        return None
    now = datetime.now(UTC)
    return token if now - token.iat > (token.exp - token.iat) / 2 else None


async def _renewed(request: AnyRequest, token: Token) -> Cookie | None:
    """A fresh session for the token's account: a citizen's as it was; a staff member's only while the account
    accepts the token (switched on, its password not set again since), with its token generation."""
    try:
        role, subject = Role(str(token.extras.get("role"))), UUID(token.sub)
    except ValueError:
        return None
    principal: Principal | None = Principal(id=subject, role=role)
    if role in STAFF_ROLES:
        principal = await auth.staff_principal(
            UnitOfWork(request.app.state.pool), staff_id=subject, generation=token_generation(token)
        )
        if principal is None or principal.role is not role:
            return None
    assert principal is not None
    issuer: TokenIssuer = request.app.state.token_issuer
    issued = issuer.issue(principal)
    return session_cookie(request, issued.token, issued.expires_in)


def session_cookie(request: AnyRequest, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def status_said(booking: Booking, language: Language) -> str:
    """A booking's state in words: one that ended after its check-in without a dose came, and left (no no-show)."""
    if booking.status is BookingStatus.NO_SHOW and booking.checked_in_at is not None:
        return WORDS["status_left_without_dose"].in_(language)
    return WORDS[f"status_{booking.status.value}"].in_(language)


def phone_shown(phone: str) -> str:
    """A phone as Vietnamese write it (+84912345678 is 0912 345 678), whichever way it was typed."""
    if phone.startswith("+84") and len(phone) == 12:
        local = "0" + phone[3:]
        return f"{local[:4]} {local[4:7]} {local[7:]}"
    return phone


def local_path(value: str | None, default: str = "/") -> str:
    """A path of this site, never an address elsewhere (an open redirect would send a signed-in visitor away)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def to(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """After a form: see the result on a page of its own (a reload does not post again)."""
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER, cookies=cookies or [])


def profile_first(request: AnyRequest, going: str | None = None) -> Redirect:
    """A citizen with no profile yet fills it in first, then goes on where they were going (this page, unless
    `going` says which page the form was for)."""
    after = going or (_here(request) if request.method == "GET" else "")
    return to("/me/profile" + (f"?{urlencode({'next': after})}" if after else ""))


def staff_home(role: Role) -> str:
    """Where a staff role works: the hotline at the counter, the department at its overview, clinic staff at the
    door."""
    return {Role.OPERATOR: "/counter", Role.HEALTH_ADMIN: "/department"}.get(role, "/door")


def sign_in_first(request: AnyRequest, *, staff: bool = False, back: str | None = None) -> Redirect:
    """No session: sign in, and come back here. A form sent once the session had ended: back to the page the form
    was on (its POST address is no page to come back to; `back`, where the form's handler knows better), and the
    sign-in page says that the session ended and that what the form held was not sent."""
    where = "/staff/signin" if staff else "/signin"
    claims = _claims(request)
    if not staff and claims is not None and claims.role in STAFF_ROLES:
        return to(staff_home(claims.role))  # a citizen's page opened by staff: their own pages, not a phone sign-in
    if request.method in ("GET", "HEAD"):
        return to(f"{where}?next={quote(_here(request), safe='/')}")
    back = back or _came_from(request) or ("" if staff else "/me")
    return to(f"{where}?ended=1&next={quote(back, safe='/')}")


def signed_out(request: AnyRequest, *, staff: bool = False, back: str | None = None) -> Template | Redirect:
    """No session on a request a page's script made (htmx, the door): a few words for the box it fills (the session
    ended, and for a form that what it sent was not saved; sign in again, with a link back to the page, or to
    `back`), never the sign-in page nested in the box; else as sign_in_first."""
    if request.headers.get("hx-request") != "true":
        return sign_in_first(request, staff=staff, back=back)
    back = back or _came_from(request, request.headers.get("hx-current-url")) or ""
    where = "/staff/signin" if staff else "/signin"
    shown = page(
        request,
        "_session_ended.html.j2",
        signin=f"{where}?next={quote(back, safe='/')}",
        not_saved=request.method not in ("GET", "HEAD"),
    )
    shown.headers["HX-Trigger"] = "session-ended"
    return shown


def _came_from(request: AnyRequest, address: str | None = None) -> str | None:
    """The page of this site a form was sent from (its Referer, or the address htmx names), as a path and query."""
    seen = urlsplit(address or request.headers.get("referer") or "")
    if seen.netloc and seen.netloc != request.headers.get("host"):
        return None
    path = local_path(seen.path, "")
    return (path + (f"?{seen.query}" if seen.query else "")) if path else None


SEARCHED = ("service", "province", "district", "ward", "from")  # the search page's question
SEARCH_KEPT = (*SEARCHED, "after")  # and which page of its results


def search_query(request: AnyRequest) -> str:
    """The search a slot's page was opened from, as a query string: the search page's own fields (and its page of
    results) from this request's query and nothing else, carried on to the slot's forms and back to the search."""
    asked = request.query_params
    return urlencode([(name, value[:100]) for name in SEARCH_KEPT if (value := (asked.get(name) or "").strip())])


def next_page(path: str, asked: Mapping[str, str], last_shown: UUID) -> str:
    """A slot search's next page: the same question, on from the last slot shown."""
    return f"{path}?{urlencode({name: value for name, value in asked.items() if value} | {'after': str(last_shown)})}"


def product_named(name: str, name_en: str | None, language: Language) -> str:
    """A vaccine's name for a reader of `language`: its English one where it has one, else as registered."""
    return name_en if language == "en" and name_en else name


def with_query(path: str, query: str) -> str:
    """`path`, with `query` (an encoded query string) when there is one."""
    return f"{path}?{query}" if query else path


def back_to_search(query: str) -> str:
    """The search a page came from, landing on its results; a new search when it came from none."""
    return with_query("/search", query) + ("#results" if query else "")


def _here(request: AnyRequest) -> str:
    """This page's own address, path and query, as the request named it (not through the Host header, which a
    refusal of any request, however odd, must not depend on)."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return request.scope["path"] + (f"?{query}" if query else "")


def said(error: DomainError, language: Language) -> str:
    """A use case's refusal in the visitor's words: its detail when it has one, else its title."""
    return (error.detail or error.title).in_(language)


async def submitted(
    language: Language, work: Callable[[], Awaitable[T]], *, not_found_is_refusal: bool = False
) -> tuple[T | None, dict[str, str]]:
    """A form's use case, run: its result, or what is wrong in the visitor's language: each field's own message,
    and the use case's refusal under "form" (with its fields marked too, when it names them: a phone or a code
    taken already). A page the visitor may not open (401, 403) or an object that is not theirs (404) is no mistake
    of the form: it is said as a page with its status (problem_page), unless a missing object is the form's answer
    (a scanned code that is no booking here)."""
    try:
        return await work(), {}
    except ValidationError as error:
        return None, field_messages(error, language)
    except DomainError as refused:
        if refused.status in (401, 403) or (refused.status == 404 and not not_found_is_refusal):
            raise
        marked = {e.field.split(".")[0]: e.message.in_(language) for e in refused.field_errors if e.field}
        return None, {**marked, "form": said(refused, language)}


def field_messages(error: ValidationError, language: Language) -> dict[str, str]:
    """Each wrong field of a form and what is wrong with it, keyed by the form's field name, in a page's words."""
    messages: dict[str, Text] = {}
    raw = error.errors()
    for cause, found in zip(raw, field_errors_of(raw), strict=True):
        name = found.field.split(".")[0] or "form"
        messages.setdefault(name, _in_page_words(found.code, cause.get("input"), cause.get("ctx") or {}, found.message))
    return {name: said.in_(language) for name, said in messages.items()}


# The API says what a program sent wrong ("Phải là true", "Input should be 'mild', 'moderate' or 'severe'", "ISO
# 8601"); a person filling in a form is told what to do, in the form's own terms.
_LEFT_EMPTY = Text("Hãy điền hoặc chọn mục này", "Fill in or choose this")
_TICK = Text("Hãy đánh dấu vào ô này để tiếp tục", "Tick this box to go on")
_CHOOSE = Text("Hãy chọn một trong các mục có sẵn", "Choose one of the options given")
_NUMBER = Text("Hãy nhập một số nguyên, ví dụ 12", "Enter a whole number, e.g. 12")
_DAY = Text(
    "Ngày không hợp lệ: viết ngày/tháng/năm, ví dụ 31/12/2026", "Not a date: write day/month/year, e.g. 31/12/2026"
)
_MOMENT = Text(
    "Ngày giờ không hợp lệ: ví dụ ngày 31/12/2026, giờ 14:30", "Not a date and time: e.g. day 31/12/2026, time 14:30"
)
_PAGE_WORDS = {
    "missing": _LEFT_EMPTY,
    "not_null": _LEFT_EMPTY,
    "enum": _CHOOSE,
    "literal_error": _CHOOSE,
    "uuid_parsing": _CHOOSE,
    "uuid_type": _CHOOSE,
    "bool_parsing": _TICK,
    "int_parsing": _NUMBER,
    "int_type": _NUMBER,
    "int_from_float": _NUMBER,
    "float_parsing": _NUMBER,
    **dict.fromkeys(
        ("date_format", "date_from_number", "date_type", "date_parsing", "date_from_datetime_parsing"), _DAY
    ),
    **dict.fromkeys(
        (
            "datetime_type",
            "datetime_parsing",
            "datetime_from_date_parsing",
            "timezone_aware",
            "instant_from_number",
            "time_parsing",
            "time_type",
        ),
        _MOMENT,
    ),
}


def _in_page_words(code: str, typed: Any, context: dict[str, Any], said: Text) -> Text:
    if code == "bool_parsing" or (code == "literal_error" and str(context.get("expected")) in ("True", "true")):
        return _TICK  # a box to tick (a consent): nothing else would do
    left_empty = typed is None or (isinstance(typed, str) and not typed.strip())
    if left_empty and (code in _PAGE_WORDS or code == "string_too_short"):
        return _LEFT_EMPTY  # a choice not made, a field left blank: whatever its type, it is missing
    return _PAGE_WORDS.get(code, said)


def local_time(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M %d/%m/%Y")


def span(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    local = starts_at.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} – {ends_at.astimezone(ZoneInfo(zone)):%H:%M} {local:%d/%m/%Y}"


def problem_page(problem: Problem, request: AnyRequest) -> Response[Any]:
    """Any refusal a page did not say in its own form (someone else's booking, a slot gone, a form whose CSRF token
    is refused, a query the route cannot read, an address that is no page): said on a page in the visitor's
    language, with its status (the app's problem format for the pages' paths, vaxbook.problems)."""
    if problem.status_code == 405 and request.method == "GET":
        form = form_of(request)
        if form is not None:  # a form's address opened again (reloaded, restored, shared): its form instead
            return to(form)
    language = language_of(request)
    said = (problem.localized_detail or problem.localized_title).in_(language)
    if problem.status_code == 405:  # the method's name is no word for a visitor
        said = WORDS["refused_method"].in_(language)
    fields = "; ".join(
        f"{e.field}: {e.message.in_(language)}"
        for e in problem.field_errors
        if e.field and e.message.in_(language) != said
    )
    message = f"{said} ({fields})" if fields else said
    claims = _claims(request)
    role = claims.role if claims is not None else None
    home, home_label = own_page(role)
    # "go back" leads to the page the visitor came from (the form's page, the list they followed a link from),
    # never to this refusal itself: a reload of it would only say it again
    came = _came_from(request)
    fresh_token = _form_token(request) if role is not None else None
    shown = page(
        request,
        "message.html.j2",
        message=message,
        heading=said if problem.status_code == 405 else problem.localized_title.in_(language),
        hint=_what_to_do(problem.status_code, role, language),
        onward=came if came and came != _here(request) else None,
        home=home,
        home_label=home_label.in_(language),
    )
    shown.status_code = problem.status_code
    shown.headers.update(problem.headers or {})
    if fresh_token is not None:
        shown.cookies.append(fresh_token)
    if problem.localized_detail is FORM_OUT_OF_DATE and request.method not in ("GET", "HEAD"):
        return _FormAgain(shown)  # this refusal only when the form's page cannot be drawn again
    return shown


def form_of(request: AnyRequest) -> str | None:
    """The page whose form posts to this address, for a GET of an address that takes only a form's POST: its "new"
    page (/me/dependents: /me/dependents/new), else the nearest page above it (/signin/code: /signin)."""
    path = request.scope["path"].rstrip("/")
    parts = path.split("/")
    above = ["/".join(parts[:end]) or "/" for end in range(len(parts) - 1, 0, -1)]
    for candidate in [f"{path}/new", *above]:
        try:
            _, handler, *_ = request.app.asgi_router.handle_routing(path=candidate, method="GET")
        except (NotFoundException, MethodNotAllowedException):
            continue
        if handler.opt.get("page"):
            return candidate
    return None


def _form_token(request: AnyRequest) -> Cookie | None:
    """A refusal made before the CSRF middleware ran (an address that is no page, a body too large) still draws the
    header's sign-out form: with the visitor's CSRF token, or a new one, whose cookie this returns."""
    state = ScopeState.from_scope(request.scope)
    config = request.app.csrf_config
    if state.csrf_token is not Empty or config is None:
        return None
    kept = request.cookies.get(config.cookie_name)
    state.csrf_token = kept or generate_csrf_token(secret=config.secret)
    if kept:
        return None
    return Cookie(
        key=config.cookie_name,
        value=state.csrf_token,
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    )


# A form refused for its CSRF token (its cookie expired or cleared, the browser restarted, a phone that drops
# cookies) is drawn again on its own page, with what was typed in it and a token that works, rather than a bare
# refusal that loses it all. Nothing it asked was done: the CSRF check refused it before its handler ran.
_NOT_KEPT = frozenset({"_csrf_token", "once", "password", "code"})  # the form's own token and key, and secrets
_NOT_TYPED = frozenset({"hidden", "password", "file", "submit", "button", "reset", "image"})
_FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S)
_FIELD = re.compile(r"<input\b[^>]*>|<textarea\b[^>]*>.*?</textarea>|<select\b[^>]*>.*?</select>", re.S)
_OPTION = re.compile(r"<option\b[^>]*>")
_ATTRIBUTE = re.compile(r'\s([^\s="/>]+)(?:="([^"]*)")?')
_BOX_ID = re.compile(r"[A-Za-z][\w-]*")


class _FormAgain(Response[Any]):
    """The answer to a form refused for its CSRF token: its page drawn again (_form_again), else `refused`."""

    def __init__(self, refused: Response[Any]) -> None:
        super().__init__(None, status_code=refused.status_code)
        self.refused = refused

    def to_asgi_response(self, app: Any, request: AnyRequest, **kwargs: Any) -> ASGIResponse:
        return _Redrawn(request, self.refused.to_asgi_response(app, request, **kwargs))


class _Redrawn(ASGIResponse):
    def __init__(self, request: AnyRequest, refused: ASGIResponse) -> None:
        super().__init__()
        self.request, self.refused = request, refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await _form_again(self.request, send):
            await self.refused(scope, receive, send)


async def _form_again(request: AnyRequest, send: Send) -> bool:
    """The form's page (the page it was sent from, else the page at its address or above it: form_of) drawn again
    as a GET of it would draw it, saying that the form was not sent, with what was typed in it (never its token, its
    key, a password or a code) and a CSRF cookie that the next send passes; a redirect of that page's (the session
    ended meanwhile) passed on. In the box of a page's script (htmx), the same words above what it holds, its form
    left as it was. False when there is no such page, or it refuses: the refusal page says it instead."""
    config = request.app.csrf_config
    assert config is not None
    sent = await request.form()
    kept, carried = request.cookies.get(config.cookie_name), sent.get("_csrf_token")
    if kept and _signed(kept, config.secret) and not (isinstance(carried, str) and _signed(carried, config.secret)):
        return False  # a form that never held a token of ours (made elsewhere, or by hand): refused as it was
    ours = _same_origin(request)  # a form from another site gets no values of its own put in our page
    token, cookie = _token_again(request, config, sent if ours else None)
    cookies = [cookie.to_header(header="").encode("latin-1")] if cookie else []
    script = request.headers.get("hx-request") == "true"
    said = WORDS["form_expired_box" if script else "form_expired"].in_(language_of(request))
    notice = f'<p class="error" role="alert">{escape(said)}</p>'
    if script:
        box = request.headers.get("hx-target") or ""
        where = f"#{box}" if _BOX_ID.fullmatch(box) else f'form[hx-post="{request.scope["path"]}"]'
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"hx-retarget", where.encode())]
        headers.append((b"hx-reswap", b"afterbegin" if where.startswith("#") else b"beforebegin"))
        await _answer(send, 200, headers, notice.encode(), cookies)
        return True
    drawn = await _drawn_again(request, token)
    if drawn is None:
        return False
    status, headers, body = drawn
    if 300 <= status < 400:
        await _answer(send, status, headers, body, cookies)
        return True
    if status != 200 or not dict(headers).get(b"content-type", b"").startswith(b"text/html"):
        return False
    text = body.decode()
    if ours:
        path = request.scope["path"]
        text = _FORM.sub(lambda form: _filled(form.group(0), path, sent), text)
    text = text.replace('<main id="main">', f'<main id="main">\n{notice}', 1)
    await _answer(send, 200, headers, text.encode(), cookies)
    return True


def _same_origin(request: AnyRequest) -> bool:
    """Whether the form was sent from a page of this site (its Origin, else its Referer, names this host)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return urlsplit(origin).netloc == request.headers.get("host")
    return _came_from(request) is not None


def _token_again(request: AnyRequest, config: CSRFConfig, sent: FormMultiDict | None) -> tuple[str, Cookie | None]:
    """The CSRF token the form's page is drawn again with, and the cookie to set for it when one is needed: the
    visitor's cookie when it is one of ours (their other tabs go on working); else the token the form carried, when
    one of our pages sent it (the cookie alone was lost: the page's other forms work again as they are); else a new
    one."""
    kept = request.cookies.get(config.cookie_name)
    if kept and _signed(kept, config.secret):
        return kept, None
    carried = sent.get("_csrf_token") if sent is not None else None
    token = carried if isinstance(carried, str) and _signed(carried, config.secret) else None
    token = token or generate_csrf_token(secret=config.secret)
    cookie = Cookie(
        key=config.cookie_name,
        value=token,
        path=config.cookie_path,
        secure=config.cookie_secure,
        httponly=config.cookie_httponly,
        samesite=config.cookie_samesite,
        domain=config.cookie_domain,
    )
    return token, cookie


def _signed(token: str, secret: str) -> bool:
    """A CSRF token this service made (Litestar's: 64 hex digits, then their HMAC)."""
    return len(token) > 64 and compare_digest(token[64:], generate_csrf_hash(token=token[:64], secret=secret))


async def _drawn_again(request: AnyRequest, token: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
    """A GET of the form's page, run below the middleware every request passes once (it counts, and holds a turn,
    already), with the visitor's cookies and `token` for CSRF cookie: its status, headers and body."""
    config = request.app.csrf_config
    assert config is not None
    routed = _form_page(request)
    if routed is None:
        return None
    (app, handler, path, params, template), query = routed
    while not isinstance(app, CSRFMiddleware):
        app = getattr(app, "app", None)
        if app is None:
            return None
    cookies = {**request.cookies, config.cookie_name: token}
    dropped = (b"content-type", b"content-length", b"cookie")
    headers = [(name, value) for name, value in request.scope["headers"] if name not in dropped]
    headers.append((b"cookie", "; ".join(f"{name}={value}" for name, value in cookies.items()).encode("latin-1")))
    state = {key: value for key, value in request.scope.get("state", {}).items() if key != CONNECTION_STATE_KEY}
    scope: Any = {
        **request.scope,
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "state": state,
        "path_params": params,
        "path_template": template,
        "route_handler": handler,
    }
    ScopeState.from_scope(scope).exception_handlers = handler.resolve_exception_handlers()
    said: list[Any] = []

    async def nothing() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def keep(message: Message) -> None:
        said.append(message)

    await app(scope, nothing, keep)
    body = b"".join(message.get("body", b"") for message in said[1:])
    return said[0]["status"], list(said[0].get("headers", [])), body


def _form_page(request: AnyRequest) -> tuple[tuple[Any, Any, str, dict[str, Any], str], str] | None:
    """The page a form was sent from (its Referer), else the page at the form's address, else its form (form_of): as
    the router finds its GET, with its query string."""
    came = urlsplit(_came_from(request) or "")
    candidates = [(came.path, came.query)] if came.path else []
    candidates.append((request.scope["path"], request.scope.get("query_string", b"").decode("latin-1")))
    above = form_of(request)
    if above is not None:
        candidates.append((above, ""))
    for path, query in candidates:
        try:
            routed = request.app.asgi_router.handle_routing(path=path, method="GET")
        except (NotFoundException, MethodNotAllowedException):
            continue
        if routed[1].opt.get("page"):
            return routed, query
    return None


def _filled(form: str, path: str, sent: FormMultiDict) -> str:
    """A form of the page drawn again that posts to `path`, with what was typed in it when it was sent."""
    opening = _attributes(form[: form.index(">") + 1])
    if opening.get("method", "").lower() != "post" or urlsplit(opening.get("action", "")).path != path:
        return form
    return _FIELD.sub(lambda field: _field_filled(field.group(0), sent), form)


def _field_filled(field: str, sent: FormMultiDict) -> str:
    tag = field[: field.index(">") + 1]
    attributes = _attributes(tag)
    name, kind = attributes.get("name", ""), attributes.get("type", "text").lower()
    typed = [value for value in sent.getall(name, []) if isinstance(value, str)]
    if not name or name in _NOT_KEPT or kind in _NOT_TYPED:
        return field
    if field.startswith("<input") and kind in ("checkbox", "radio"):
        if kind == "radio" and not typed:
            return field
        unticked = re.sub(r'\schecked(?:="[^"]*")?(?=[\s/>])', "", tag)
        chosen = unescape(attributes.get("value", "on")) in typed
        return _with(unticked, " checked") if chosen else unticked
    if not typed:
        return field
    if field.startswith("<input"):
        return _with(re.sub(r'\svalue="[^"]*"', "", tag), f' value="{escape(typed[0])}"')
    if field.startswith("<textarea"):
        return f"{tag}{escape(typed[0])}</textarea>"

    def option(found: re.Match[str]) -> str:
        plain = re.sub(r'\sselected(?:="[^"]*")?(?=[\s/>])', "", found.group(0))
        return _with(plain, " selected") if unescape(_attributes(plain).get("value", "")) in typed else plain

    return _OPTION.sub(option, field)


def _attributes(tag: str) -> dict[str, str]:
    return {name.lower(): value or "" for name, value in _ATTRIBUTE.findall(tag[tag.find(" ") :] if " " in tag else "")}


def _with(tag: str, attribute: str) -> str:
    """An opening tag with one attribute more, at its end."""
    end = -2 if tag.endswith("/>") else -1
    return tag[:end].rstrip() + attribute + tag[end:]


async def _answer(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, cookies: list[bytes]
) -> None:
    headers = [(name, value) for name, value in headers if name != b"content-length"]
    headers += [(b"content-length", str(len(body)).encode()), *((b"set-cookie", cookie) for cookie in cookies)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def own_page(role: Role | None) -> tuple[str, Text]:
    """Where someone starts again after a refusal, and its name: a citizen's bookings, a staff member's place of work,
    else the home page."""
    if role is Role.CITIZEN:
        return "/me", WORDS["my_bookings"]
    if role in STAFF_ROLES:
        assert role is not None
        name = {Role.OPERATOR: "counter_nav", Role.HEALTH_ADMIN: "department_nav"}.get(role, "door_title")
        return staff_home(role), WORDS[name]
    return "/", WORDS["home"]


def _what_to_do(status: int, role: Role | None, language: Language) -> str | None:
    """Why a page is refused, when its title cannot say (a page not found, not for this account), and what to do."""
    if status == 404:
        who = "citizen" if role is Role.CITIZEN else "staff" if role in STAFF_ROLES else "anyone"
        return WORDS[f"refused_not_found_{who}"].in_(language)
    if status == 403:
        return WORDS["refused_forbidden"].in_(language)
    return None


async def household(uow: UnitOfWork, citizen: Principal) -> tuple[Person | None, list[Person]]:
    """The citizen's own record (None before they fill in their profile) and the people they book for."""
    try:
        me = await people.profile(uow, citizen)
    except NotFound:
        return None, []
    return me, await people.dependents(uow, citizen)


def drawn_key(form: dict[str, str]) -> str | None:
    """The key the page drew for this form (a UUID; anything else is no key at all)."""
    try:
        return str(UUID(form.get("once", "")))
    except ValueError:
        return None


def once(caller: Principal, form: dict[str, str], operation: str, **payload: Any) -> IdempotencyKey | None:
    """The key each form carries (made when the page was drawn), with what the form asks: a second tap on the same
    form replays the first answer rather than acting twice, and the same page sent again with something else (back,
    another slot, another name) is a request of its own. Anything but the UUID the page drew is no key at all."""
    drawn = drawn_key(form)
    asked = idempotency_key(f"{caller.role.value}:{caller.id}", drawn, operation, payload)
    return None if asked is None else replace(asked, key=f"{drawn}:{asked.fingerprint.hex()[:32]}")


_YEAR_MONTH_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def page_date(text: str) -> date:
    """A day typed on a page: as a date field sends it (YYYY-MM-DD), or as Vietnamese write it, day first
    (dd/mm/yyyy: never month first in Vietnam, so never ambiguous), in the years the service plans for (2000-2100).
    ValueError("unreadable") or ValueError("years") otherwise: date_refused says which, in words."""
    text = day_first(text)
    try:
        return calendar_date(text)
    except ValueError:
        pass
    if not _YEAR_MONTH_DAY.fullmatch(text):
        raise ValueError("unreadable")
    try:
        date.fromisoformat(text)  # a real day, outside the years
    except ValueError:
        raise ValueError("unreadable") from None
    raise ValueError("years")


def date_refused(error: ValueError, field: str, language: Language) -> str:
    """Why a day typed (page_date) was refused and how to write it, after the field's name."""
    key = "date_out_of_years" if str(error) == "years" else "date_unreadable"
    return WORDS[key].in_(language).format(field=WORDS[field].in_(language))


async def after_slot(uow: UnitOfWork, request: AnyRequest) -> tuple[datetime, UUID] | None:
    """Where a list of slots goes on from ("later slots": `after` names the last slot shown), else None."""
    try:
        slot_id = UUID((request.query_params.get("after") or "")[:36])
        slot, _ = await clinics.get_slot(uow, slot_id)
    except (ValueError, NotFound):
        return None
    return slot.starts_at, slot.id


def duration(minutes: int, language: Language) -> str:
    """A time left, in hours and minutes ("5 giờ 16 phút")."""
    hours, left = divmod(max(0, minutes), 60)
    if not hours:
        return WORDS["left_minutes"].in_(language).format(m=left)
    key = "left_hours_minutes" if left else "left_hours"
    return WORDS[key].in_(language).format(h=hours, m=left)


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def form_number(text: str) -> int | str:
    """A number typed in a form: the number its ASCII digits make (at most 18, a minus before them or not), or the
    text as typed, for the form's model to refuse with its own words ("²" is a digit to Python, not to us)."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else text


async def slot_shown(uow: UnitOfWork, slot_id: UUID, language: Language) -> tuple[dict[str, Any], Clinic]:
    """A slot as a page names it before booking or entering its draw: when, what, where."""
    slot, clinic = await clinics.get_slot(uow, slot_id)
    service = await clinics.get_service(uow, slot.service_id)
    shown = {
        "id": slot.id,
        "service": service.name_vi if language == "vi" else service.name_en,
        "clinic": clinic.name,
        "address": clinic.address,
        "when": span(slot.starts_at, slot.ends_at, clinic.timezone),
    }
    return shown, clinic
