"""The pages: server-rendered, Vietnamese first, light enough for a cheap phone on a slow network. They call the same
use cases as the API; no rule lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_303_SEE_OTHER
from pydantic import ValidationError

from booking.models import Booking
from booking.service import bookings
from clinics import service as clinics
from clinics.models import Found
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.schemas import OtpRequest, OtpVerify
from vaxbook.auth.security import PUBLIC, TokenIssuer, decode
from vaxbook.auth.service import OtpPolicy, OtpSender
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.edge import client_address
from vaxbook.errors import TooManyRequests, Unauthorized
from vaxbook.fields import normalize_text
from vaxbook.i18n import Language, negotiate
from web.text import WORDS

LANGUAGE_COOKIE = "lang"
SESSION_COOKIE = "session"
ONE_YEAR = 365 * 24 * 3600
MAX_RESULTS = 30
PAGE_OPTIONS: dict[str, Any] = PUBLIC | {"page": True}


def language_of(request: Request[Any, Any, Any]) -> Language:
    """The language the visitor chose (a cookie the switch sets), else the one their browser asks for."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in ("vi", "en"):
        return "vi" if chosen == "vi" else "en"
    return negotiate(request.headers.get("accept-language"))


def words(language: Language) -> dict[str, str]:
    return {key: text.in_(language) for key, text in WORDS.items()}


def page(request: Request[Any, Any, Any], name: str, **context: Any) -> Template:
    language = language_of(request)
    return Template(
        template_name=name,
        context={
            "lang": language,
            "t": words(language),
            # where the language switch goes back to: this page, or for an answer to a form, the form's own page
            "back": request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method == "GET"
            else "/signin",
            "signed_in": signed_in(request) is not None,
        }
        | context,
        headers={"Content-Language": language, "Vary": "Cookie, Accept-Language"},
    )


def signed_in(request: Request[Any, Any, Any]) -> Principal | None:
    """The citizen whose session cookie this is: the same signed token the API takes as a bearer, kept where
    page scripts cannot read it."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        claims = decode(request.app.state.jwt_auth, token)
        principal = Principal(id=UUID(claims.sub), role=Role(str(claims.extras.get("role"))))
    except (NotAuthorizedException, ValueError):
        return None
    return principal if principal.role is Role.CITIZEN else None


def _session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
"""A page's form, as the browser sends it."""


@dataclass(frozen=True)
class Row:
    """A slot found, as the search page shows it."""

    clinic: str
    address: str
    service: str
    when: str
    seats: str
    notes: list[str]


class PageController(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS

    @get("/")
    async def home(self, request: Request[Any, Any, Any]) -> Template:
        return page(request, "home.html.j2")

    @get("/lang/{code:str}")
    async def switch_language(self, code: FromPath[str], request: Request[Any, Any, Any]) -> Redirect:
        """Remember the chosen language and go back where the visitor was (a path of this site only)."""
        back = request.query_params.get("next") or "/"
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = "/"
        language = "en" if code == "en" else "vi"
        secure = request.url.scheme == "https"
        cookie = Cookie(
            key=LANGUAGE_COOKIE, value=language, max_age=ONE_YEAR, httponly=True, samesite="lax", secure=secure
        )
        return Redirect(path=back, status_code=HTTP_303_SEE_OTHER, cookies=[cookie])

    @get("/search")
    async def search(self, request: Request[Any, Any, Any], uow: UoW, settings: AppSettings) -> Template:
        language = language_of(request)
        asked = {name: (request.query_params.get(name) or "").strip()[:100] for name in ("service", "district", "ward")}
        asked["from"] = (request.query_params.get("from") or "").strip()[:10]
        services = await clinics.list_services(uow, include_inactive=False)
        wrong: list[str] = []
        day: date | None = None
        if asked["from"]:
            try:
                day = date.fromisoformat(asked["from"])
            except ValueError:
                wrong.append(WORDS["from_date"].in_(language))
        rows: list[Row] | None = None
        if any(asked.values()) and not wrong:
            found = await clinics.search_availability(
                uow,
                clinics.SearchQuery(
                    date_from=day,
                    service_code=asked["service"].lower() or None,
                    district=normalize_text(asked["district"]) or None,
                    ward=normalize_text(asked["ward"]) or None,
                ),
                now=datetime.now(UTC),
                max_days=settings.search_max_days,
                after=None,
                limit=MAX_RESULTS,
                searcher=None,
            )
            names = {s.code: (s.name_vi if language == "vi" else s.name_en) for s in services}
            rows = [_row(f, names, language) for f in found]
        return page(request, "search.html.j2", asked=asked, services=services, rows=rows, wrong=wrong)


class SignInController(Controller):
    """A citizen signs in with a code sent to their phone, through the same use cases as the API; the session is a
    cookie (HttpOnly, SameSite=Lax, Secure over HTTPS), and every form carries a CSRF token."""

    include_in_schema = False
    opt = PAGE_OPTIONS

    @get("/signin")
    async def form(self, request: Request[Any, Any, Any]) -> Template:
        return page(request, "signin.html.j2", step="phone", phone="", message=None)

    @post("/signin", status_code=HTTP_200_OK)
    async def send_code(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        otp_sender: NamedDependency[OtpSender],
        otp_policy: NamedDependency[OtpPolicy],
        data: FormData,
    ) -> Template:
        language = language_of(request)
        typed = str(data.get("phone", ""))[:40]
        try:
            phone = OtpRequest(phone=typed).phone
        except ValidationError:
            return page(request, "signin.html.j2", step="phone", phone=typed, message=WORDS["bad_phone"].in_(language))
        try:
            await auth.request_otp(uow, otp_sender, otp_policy, phone=phone, address=client_address(request))
        except TooManyRequests as refused:
            return page(request, "signin.html.j2", step="phone", phone=typed, message=_wait(refused, language))
        minutes = max(1, otp_policy.ttl_seconds // 60)
        sent = WORDS["code_sent"].in_(language).format(phone=typed, minutes=minutes)
        return page(request, "signin.html.j2", step="code", phone=phone, message=None, sent=sent)

    @post("/signin/code", status_code=HTTP_200_OK)
    async def check_code(
        self,
        request: Request[Any, Any, Any],
        uow: UoW,
        otp_policy: NamedDependency[OtpPolicy],
        token_issuer: NamedDependency[TokenIssuer],
        data: FormData,
    ) -> Template | Redirect:
        language = language_of(request)
        try:
            typed = OtpVerify(phone=str(data.get("phone", ""))[:40], code=str(data.get("code", ""))[:10])
            principal = await auth.verify_otp(
                uow, otp_policy, phone=typed.phone, code=typed.code, address=client_address(request)
            )
        except TooManyRequests as refused:
            message = _wait(refused, language)
        except (ValidationError, Unauthorized):
            message = WORDS["bad_code"].in_(language)
        else:
            issued = token_issuer.issue(principal)
            cookie = _session_cookie(request, issued.token, issued.expires_in)
            return Redirect(path="/me", status_code=HTTP_303_SEE_OTHER, cookies=[cookie])
        return page(request, "signin.html.j2", step="code", phone=str(data.get("phone", ""))[:40], message=message)

    @get("/me")
    async def my_bookings(self, request: Request[Any, Any, Any], uow: UoW) -> Template | Redirect:
        principal = signed_in(request)
        if principal is None:
            return Redirect(path="/signin", status_code=HTTP_303_SEE_OTHER)
        language = language_of(request)
        found = await bookings.of_account(uow, principal, after=None, limit=100)
        rows = [_booking_row(b, language) for b in found]
        return page(request, "me.html.j2", rows=rows)

    @post("/signout", status_code=HTTP_200_OK)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        return Redirect(path="/", status_code=HTTP_303_SEE_OTHER, cookies=[_session_cookie(request, "", 0)])


def _wait(refused: TooManyRequests, language: Language) -> str:
    """The refusal's own words (how long to wait), as the API says them."""
    return (refused.detail or refused.title).in_(language)


def _booking_row(booking: Booking, language: Language) -> dict[str, str]:
    zone = ZoneInfo(booking.timezone)
    local = booking.starts_at.astimezone(zone)
    return {
        "code": booking.code,
        "service": booking.service_name_vi if language == "vi" else booking.service_name_en,
        "clinic": booking.clinic_name,
        "address": booking.clinic_address,
        "when": f"{local:%H:%M} – {booking.ends_at.astimezone(zone):%H:%M} {local:%d/%m/%Y}",
        "status": WORDS[f"status_{booking.status.value}"].in_(language),
    }


def _row(found: Found, service_names: dict[str, str], language: Language) -> Row:
    zone = ZoneInfo(found.clinic.timezone)
    t = words(language)

    def moment(value: datetime) -> str:
        return value.astimezone(zone).strftime("%H:%M %d/%m/%Y")

    slot = found.slot
    notes = [
        t["held_for"].format(
            n=held.left,
            group=held.group.name_vi if language == "vi" else held.group.name_en,
            when=moment(held.opens_at),
        )
        for held in found.held_back
        if held.left
    ]
    if slot.opens_at and slot.opens_at > datetime.now(UTC):
        notes.append(t["opens_at"].format(when=moment(slot.opens_at)))
    if found.draw_closes_at:
        notes.append(t["by_draw"].format(when=moment(found.draw_closes_at)))
    local = slot.starts_at.astimezone(zone)
    return Row(
        clinic=found.clinic.name,
        address=found.clinic.address,
        service=service_names.get(found.service_code, found.service_code),
        when=f"{local:%H:%M} – {slot.ends_at.astimezone(zone):%H:%M} {local:%d/%m/%Y}",
        seats=t["seats_left"].format(n=slot.remaining) if slot.remaining else t["no_seats_for_all"],
        notes=notes,
    )
