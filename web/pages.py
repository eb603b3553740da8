"""The pages: server-rendered, Vietnamese first, light enough for a cheap phone on a slow network. They call the same
use cases as the API; no rule lives here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.datastructures import Cookie
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from clinics import service as clinics
from clinics.models import Found
from vaxbook.auth.security import PUBLIC
from vaxbook.dependencies import AppSettings, UoW
from vaxbook.fields import normalize_text
from vaxbook.i18n import Language, negotiate
from web.text import WORDS

LANGUAGE_COOKIE = "lang"
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
        context={"lang": language, "t": words(language), "path": request.url.path, "query": request.url.query}
        | context,
        headers={"Content-Language": language, "Vary": "Cookie, Accept-Language"},
    )


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
