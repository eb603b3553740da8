"""What every page shares: the visitor's language, the words, the session cookie, and the use cases' refusals said
in the visitor's language. No rule lives here: a page calls the same use cases as the API and shows what they say."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, NamedTuple, TypeVar
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from pydantic import ValidationError

from booking.models import Person
from booking.service import people
from clinics import service as clinics
from clinics.models import Clinic
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.security import PUBLIC, decode, token_generation
from vaxbook.db import UnitOfWork
from vaxbook.errors import DomainError, Forbidden, NotFound
from vaxbook.i18n import Language, negotiate
from vaxbook.idempotency import IdempotencyKey, idempotency_key
from vaxbook.policy import rule_for
from vaxbook.problems import Problem, field_errors_of
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
        }
        | context,
        headers={"Content-Language": language, "Vary": "Cookie, Accept-Language"},
    )


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


def session_cookie(request: AnyRequest, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def local_path(value: str | None, default: str = "/") -> str:
    """A path of this site, never an address elsewhere (an open redirect would send a signed-in visitor away)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def to(path: str, *, cookies: list[Cookie] | None = None) -> Redirect:
    """After a form: see the result on a page of its own (a reload does not post again)."""
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER, cookies=cookies or [])


def sign_in_first(request: AnyRequest, *, staff: bool = False) -> Redirect:
    return to(f"{'/staff/signin' if staff else '/signin'}?next={_here(request)}")


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
    """Each wrong field of a form and what is wrong with it, keyed by the form's field name."""
    messages: dict[str, str] = {}
    for found in field_errors_of(error.errors()):
        name = found.field.split(".")[0] or "form"
        messages.setdefault(name, found.message.in_(language))
    return messages


def local_time(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%H:%M %d/%m/%Y")


def span(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    local = starts_at.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} – {ends_at.astimezone(ZoneInfo(zone)):%H:%M} {local:%d/%m/%Y}"


def problem_page(problem: Problem, request: AnyRequest) -> Response[Any]:
    """Any refusal a page did not say in its own form (someone else's booking, a slot gone, a form whose CSRF token
    is refused, a query the route cannot read, an address that is no page): said on a page in the visitor's
    language, with its status (the app's problem format for the pages' paths, vaxbook.problems)."""
    language = language_of(request)
    said = (problem.localized_detail or problem.localized_title).in_(language)
    fields = "; ".join(
        f"{e.field}: {e.message.in_(language)}"
        for e in problem.field_errors
        if e.field and e.message.in_(language) != said
    )
    shown = page(request, "message.html.j2", message=f"{said} ({fields})" if fields else said)
    shown.status_code = problem.status_code
    shown.headers.update(problem.headers or {})
    return shown


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
