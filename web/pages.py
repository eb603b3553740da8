"""The public pages (home, language switch, slot search) and a citizen's sign-in with a phone code. Server-rendered,
Vietnamese first, light enough for a cheap phone on a slow network; they call the same use cases as the API."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode
from uuid import UUID

from litestar import Controller, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK
from pydantic import ValidationError

from booking.models import Person
from booking.service.eligibility import WhoMayTake
from clinics import service as clinics
from clinics.models import Found, Service
from priority import service as priority
from priority.models import Reservation, SeatPlan
from vaxbook.auth import service as auth
from vaxbook.auth.models import OtpRateLimited
from vaxbook.auth.schemas import OtpRequest, OtpVerify
from vaxbook.auth.security import TokenIssuer
from vaxbook.auth.service import OtpPolicy, OtpSender
from vaxbook.clock import department_day
from vaxbook.dependencies import AppSettings, Replica, UoW
from vaxbook.edge import client_address, inspect, percent_encoded
from vaxbook.errors import TooManyRequests, Unauthorized
from vaxbook.fields import calendar_date, place_filter
from vaxbook.i18n import Language
from vaxbook.replica import reading
from web.text import WORDS
from web.view import (
    LANGUAGE_COOKIE,
    ONE_YEAR,
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    SEARCHED,
    AnyRequest,
    FormData,
    after_slot,
    citizen_of,
    date_refused,
    drawn_key,
    end_staff_session,
    household,
    language_of,
    local_path,
    local_time,
    next_page,
    page,
    page_date,
    phone_shown,
    said,
    search_query,
    session_cookie,
    span,
    to,
    words,
)
from web.waiting import WAIT_DAYS

MAX_RESULTS = 10  # a page of results a phone scrolls through in a few screens; the rest one tap further


@dataclass(frozen=True)
class Row:
    """A slot found, as the search page shows it."""

    slot_id: UUID
    service_id: UUID
    clinic_id: UUID
    day: date
    clinic: str
    address: str
    service: str
    when: str
    seats: str
    full: bool  # no seat left for everyone (some may be held back for a group, or come back)
    notes: list[str]
    bookable: bool  # seats left that the searcher (or anyone, for a visitor) may take now
    waitable: bool  # none left for the searcher: they may wait for one (the standby list)
    by_draw: bool  # its seats go by a draw still open for entries (that someone the searcher books for may enter)
    book_for: UUID | None = None  # the one person of a household who may take a seat of it now, when others may not


_LABELS = {"service": "service", "province": "province", "district": "district", "ward": "ward", "from": "from_date"}


async def _readable_query(request: AnyRequest) -> None:
    """The search's check of its query before the app's own (vaxbook.edge.inspect, run here on the rest): a value
    that is no UTF-8 text is left to the page, which marks its field (a link cut in the middle of a letter is a
    search to type again, not an error page); everything else is refused as on every route."""
    query = request.scope["query_string"] = percent_encoded(request.scope.get("query_string", b""))
    if b"%" not in query:
        return await inspect(request)
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    readable = [(name, value) for name, value in pairs if _utf8(name) and _utf8(value)]
    if len(readable) == len(pairs):
        return await inspect(request)
    request.scope["query_string"] = urlencode(readable, encoding="latin-1").encode("ascii")
    try:
        await inspect(request)
    finally:
        request.scope["query_string"] = query  # the page reads what was sent, each unreadable value as such


def _utf8(text: str) -> bool:
    try:
        text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class PageController(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/")
    async def home(self, request: AnyRequest) -> Template:
        return page(request, "public/home.html.j2")

    @get("/lang/{code:str}")
    async def switch_language(self, code: FromPath[str], request: AnyRequest) -> Redirect:
        """Remember the chosen language and go back where the visitor was (a path of this site only)."""
        language = "en" if code == "en" else "vi"
        secure = request.url.scheme == "https"
        cookie = Cookie(
            key=LANGUAGE_COOKIE, value=language, max_age=ONE_YEAR, httponly=True, samesite="lax", secure=secure
        )
        return to(local_path(request.query_params.get("next")), cookies=[cookie])

    @get("/erased")
    async def erased(self, request: AnyRequest) -> Template:
        """Where an erasure ends: said, signed out."""
        return page(request, "message.html.j2", message=WORDS["erased"].in_(language_of(request)), good=True)

    @get("/book")
    async def book_link(self, request: AnyRequest) -> Redirect:
        """The link in a message ("book again", "a seat came free"): the search for that service."""
        service = (request.query_params.get("service") or "").strip()[:100]
        return to(f"/search?service={quote(service)}" if service else "/search")

    @get("/search", before_request=_readable_query)
    async def search(self, request: AnyRequest, uow: UoW, settings: AppSettings, replica: Replica) -> Template:
        """Free slots by service, district, ward and day; for a signed-in citizen, with the seats held for their
        groups and their household's, and when the slot opens to them."""
        language = language_of(request)
        sent = {name: (request.query_params.get(name) or "").strip() for name in SEARCHED}
        # a value that was no UTF-8 text (a link cut in the middle of a letter): its field is marked, not searched
        wrong = {
            name: WORDS["unreadable_field"].in_(language).format(field=WORDS[_LABELS[name]].in_(language))
            for name, value in sent.items()
            if "\ufffd" in value
        }
        asked = {name: "" if name in wrong else value[: 10 if name == "from" else 100] for name, value in sent.items()}
        services = await clinics.list_services(uow, include_inactive=False)
        day: date | None = None
        if asked["from"]:
            try:
                day = page_date(asked["from"])  # as the date field sends it, or typed day first
                asked["from"] = day.isoformat()
            except ValueError as error:
                wrong["from"] = date_refused(error, "from_date", language)
        rows: list[Row] | None = None
        who: WhoMayTake | None = None
        later: str | None = None
        me: Person | None = None
        if any(asked.values()) and not wrong:
            citizen = citizen_of(request)
            me, dependents = await household(uow, citizen) if citizen else (None, [])
            searcher = _someone(me) if me else None
            async with reading(uow, replica, anonymous=searcher is None) as where:
                found = await clinics.search_availability(
                    where.uow,
                    clinics.SearchQuery(
                        date_from=day,
                        service_code=asked["service"].lower() or None,
                        province=place_filter(asked["province"]),
                        district=place_filter(asked["district"]),
                        ward=place_filter(asked["ward"]),
                    ),
                    now=datetime.now(UTC),
                    max_days=settings.search_max_days,
                    after=await after_slot(uow, request),
                    limit=MAX_RESULTS + 1,
                    searcher=searcher,
                )
            if len(found) > MAX_RESULTS:  # more than a page: said, with the way on from the last one shown
                found = found[:MAX_RESULTS]
                later = next_page("/search", asked, found[-1].slot.id)
            names = {s.code: (s.name_vi if language == "vi" else s.name_en) for s in services}
            rows = [_row(f, names, language, alone=not dependents) for f in found]
            # a signed-in citizen is offered only what someone they book for may take (anyone else sees every offer:
            # signing in comes first)
            if me is not None:
                who = WhoMayTake(uow, [me, *dependents])
                rows = await _household_rows(uow, found, rows, [me, *dependents], who, language)
        # the district's standby list only when nothing listed can be booked: while a seat is free, joining is refused
        waiting_helps = rows is not None and not any(row.bookable for row in rows)
        wait = await _wait_in_district(uow, asked, services, day, me) if waiting_helps else None
        if wait is not None and who is not None:
            first = calendar_date(wait["from"])
            if await who.why_not(UUID(wait["service_id"]), first, first + timedelta(days=WAIT_DAYS)):
                wait = None
        return page(
            request,
            "public/search.html.j2",
            asked=asked,
            services=services,
            rows=rows,
            wrong=wrong,
            wait=wait,
            later=later,
            # the search, carried to a slot's page and back (the slot's "back to the search" returns to these results)
            searched=search_query(request),
        )


class SignInController(Controller):
    """A citizen signs in with a code sent to their phone, through the same use cases as the API; the session is a
    cookie (HttpOnly, SameSite=Lax, Secure over HTTPS), and every form carries a CSRF token."""

    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/signin")
    async def form(self, request: AnyRequest) -> Template:
        after = local_path(request.query_params.get("next"), "/me")
        # a form sent after the session ended comes here: said, so that nothing typed seems lost for no reason
        ended = WORDS["session_ended_form"].in_(language_of(request)) if request.query_params.get("ended") else None
        return page(request, "public/signin.html.j2", step="phone", phone="", message=None, after=after, ended=ended)

    @post("/signin", status_code=HTTP_200_OK)
    async def send_code(
        self,
        request: AnyRequest,
        uow: UoW,
        otp_sender: NamedDependency[OtpSender],
        otp_policy: NamedDependency[OtpPolicy],
        data: FormData,
    ) -> Template:
        language = language_of(request)
        typed = str(data.get("phone", ""))[:40]
        after = local_path(data.get("next"), "/me")
        form = {"back": "/signin", "after": after}
        try:
            phone = OtpRequest(phone=typed).phone
        except ValidationError:
            message = WORDS["bad_phone"].in_(language)
            return page(
                request, "public/signin.html.j2", step="phone", phone=typed, message=message, mistyped=True, **form
            )
        try:
            went = await auth.request_otp(uow, otp_sender, otp_policy, phone=phone, address=client_address(request))
        except OtpRateLimited as refused:
            # the phone's codes for now went out (perhaps asked by someone else): the last of them still signs in,
            # unless it was used or its tries are gone, and then there is only the wait
            wait = said(refused, language)
            if not refused.last_code_works:
                message = WORDS["codes_used_up_spent"].in_(language).format(phone=phone_shown(phone), wait=wait)
                return page(request, "public/signin.html.j2", step="phone", phone=typed, message=message, **form)
            sent = WORDS["codes_used_up"].in_(language).format(phone=phone_shown(phone), wait=wait)
            return page(request, "public/signin.html.j2", step="code", phone=phone, message=None, sent=sent, **form)
        except TooManyRequests as refused:
            return page(
                request, "public/signin.html.j2", step="phone", phone=typed, message=said(refused, language), **form
            )
        if went:
            minutes = max(1, otp_policy.ttl_seconds // 60)
            sent = WORDS["code_sent"].in_(language).format(phone=phone_shown(phone), minutes=minutes)
        else:  # asked again at once: the code sent a moment ago is on its way, and is still the one to type
            seconds = otp_policy.resend_after_seconds
            sent = WORDS["code_on_its_way"].in_(language).format(phone=phone_shown(phone), seconds=seconds)
        return page(request, "public/signin.html.j2", step="code", phone=phone, message=None, sent=sent, **form)

    @post("/signin/code", status_code=HTTP_200_OK)
    async def check_code(
        self,
        request: AnyRequest,
        uow: UoW,
        otp_policy: NamedDependency[OtpPolicy],
        token_issuer: NamedDependency[TokenIssuer],
        data: FormData,
    ) -> Template | Redirect:
        language = language_of(request)
        after = local_path(data.get("next"), "/me")
        try:
            typed = OtpVerify(phone=str(data.get("phone", ""))[:40], code=str(data.get("code", ""))[:10])
            principal = await auth.verify_otp(
                uow,
                otp_policy,
                phone=typed.phone,
                code=typed.code,
                address=client_address(request),
                # a second tap signs in as the first did (its code is spent by then)
                idempotency=drawn_key(data),
            )
        except TooManyRequests as refused:
            message, mistyped = said(refused, language), False
        except (ValidationError, Unauthorized):
            message, mistyped = WORDS["bad_code"].in_(language), True
        else:
            issued = token_issuer.issue(principal)
            return to(after, cookies=[session_cookie(request, issued.token, issued.expires_in)])
        phone = str(data.get("phone", ""))[:40]
        return page(
            request,
            "public/signin.html.j2",
            step="code",
            phone=phone,
            message=message,
            mistyped=mistyped,
            back="/signin",
            after=after,
        )

    @post("/signout", status_code=HTTP_200_OK)
    async def sign_out(self, request: AnyRequest, uow: UoW) -> Redirect:
        await end_staff_session(request, uow)
        return to("/", cookies=[session_cookie(request, "", 0)])


async def _wait_in_district(
    uow: UoW, asked: dict[str, str], services: list[Service], day: date | None, me: Person | None
) -> dict[str, str] | None:
    """For a service searched in a place: the standby list for it in that district (a ward's: the district its
    clinics are in; no place: the signed-in citizen's own), for when no seat suits. None where no clinic gives it."""
    service = next((s for s in services if s.code == asked["service"].lower()), None)
    if service is None:
        return None
    wanted = {name: place_filter(asked[name]) for name in ("province", "district", "ward")}
    if not any(wanted.values()):
        if me is None:
            return None
        wanted = {"province": me.province, "district": me.district, "ward": None}
    # the district as the clinics there spell it (typed without accents or "Quận", it is the same place)
    there = await clinics.list_clinics(uow, kind=None, include_inactive=False, after_code=None, limit=50, **wanted)
    places = list(dict.fromkeys((c.province, c.district) for c in there))
    if len(places) > 1 and me is not None and (me.province, me.district) in places:
        places = [(me.province, me.district)]  # a ward's name found in several districts: the citizen's own
    if len(places) != 1:
        return None
    province, district = places[0]
    async with uow.reads() as conn:
        if not await clinics.gives_service_in_district(
            conn, service_id=service.id, province=province, district=district
        ):
            return None  # the list would refuse it
    first = day or department_day(datetime.now(UTC))
    return {"service_id": str(service.id), "province": province, "district": district, "from": str(first)}


def _someone(person: Person) -> priority.Someone:
    return priority.Someone(person_id=person.id, born=person.date_of_birth, sex=person.sex)


async def _household_rows(
    uow: UoW, found: list[Found], rows: list[Row], household: list[Person], who: WhoMayTake, language: Language
) -> list[Row]:
    """The rows as a signed-in citizen sees them: the seats each person they book for may take (the citizen's plan
    came with the search; their relatives' are read here, in two queries each)."""
    now = datetime.now(UTC)
    me, *dependents = household
    plans = {me.id: {f.slot.id: f.plan for f in found if f.plan is not None}}
    slots, held = [(f.slot, f.day) for f in found], {f.slot.id: f.held_back for f in found}
    for person in dependents:
        plans[person.id] = await priority.plans_for(uow, _someone(person), slots, held, now=now)
    each = {person.id: WhoMayTake(uow, [person]) for person in household}
    shown = []
    for row, f in zip(rows, found, strict=True):
        may_take = [p for p in household if await each[p.id].why_not(row.service_id, row.day) is None]
        shown.append(await _for_them(row, f, {p.id: plans[p.id][f.slot.id] for p in may_take}, who, language, now))
    return shown


async def _for_them(
    row: Row, found: Found, plans: dict[UUID, SeatPlan], who: WhoMayTake, language: Language, now: datetime
) -> Row:
    """The row as a signed-in citizen sees it. When nobody they book for may take the service that day (booking's
    own rule: age, sex, dose step), no booking, standby list or draw is offered, and the row says why. Otherwise it
    is bookable when one of those who may take it has a seat open to them now (their groups' held back, or
    everyone's), and says for whom when that is not all of them; a draw is offered when one of them may enter it."""
    slot, t = found.slot, words(language)
    # a draw's seats are not booked first come
    takers = (
        [] if found.draw_closes_at else [p for p in who.people if p.id in plans and plans[p.id].seats(slot.remaining)]
    )
    waitable = found.waitable(bookable=bool(takers), now=now)
    if not plans:
        days = (row.day, row.day + timedelta(days=WAIT_DAYS)) if waitable else (row.day,)
        refused = await who.why_not(row.service_id, *days)
        if refused is not None:
            why = said(refused, language) if len(who.people) == 1 else WORDS["nobody_may_take"].in_(language)
            return replace(row, bookable=False, waitable=False, by_draw=False, notes=[*row.notes, why])
        return replace(row, bookable=False, waitable=waitable, by_draw=False)
    by_draw = row.by_draw and any(plan.opens_at is None for plan in plans.values())
    notes = list(row.notes)
    named = len(who.people) > 1  # the citizen's own plan speaks to "you"; a household's, of whom
    if named and takers and len(takers) < len(plans):  # seats held back for some of them only
        for_group: dict[str, list[str]] = {}
        for person in takers:
            group = plans[person.id].usable[0].group  # whoever takes a seat that others may not, takes it by a group
            for_group.setdefault(group.name_vi if language == "vi" else group.name_en, []).append(person.full_name)
        notes += [t["held_book_for"].format(group=g, names=", ".join(n)) for g, n in for_group.items()]
    elif named and not takers and not by_draw:
        opening: dict[datetime, list[str]] = {}
        for person in who.people:
            if person.id in plans and (when := _opens_to(plans[person.id], found.held_back, now)):
                opening.setdefault(when, []).append(person.full_name)
        if opening:
            first = min(opening)
            notes.append(
                t["opens_for"].format(names=", ".join(opening[first]), when=local_time(first, found.clinic.timezone))
            )
    return replace(
        row,
        notes=notes,
        bookable=bool(takers),
        waitable=waitable,
        by_draw=by_draw,
        book_for=takers[0].id if len(takers) == 1 and len(plans) > 1 else None,
    )


def _opens_to(plan: SeatPlan, held: list[Reservation], now: datetime) -> datetime | None:
    """When a seat of the slot first opens to a person who has none now: the slot's opening to them, or the window
    of a group of theirs whose seats are still held."""
    if plan.opens_at is not None:
        return plan.opens_at
    not_theirs = {reservation.group.id for reservation, _ in plan.refusals}
    later = [
        r.opens_at for r in held if r.left and r.group.active and r.opens_at > now and r.group.id not in not_theirs
    ]
    return min(later, default=None)


def _row(found: Found, service_names: dict[str, str], language: Language, *, alone: bool = True) -> Row:
    zone = found.clinic.timezone
    t = words(language)
    slot = found.slot
    notes = [
        t["held_for"].format(
            n=held.left,
            group=held.group.name_vi if language == "vi" else held.group.name_en,
            when=local_time(held.opens_at, zone),
        )
        for held in found.held_back
        if held.left
    ]
    now = datetime.now(UTC)
    if slot.opens_at and slot.opens_at > now:
        notes.append(t["opens_at"].format(when=local_time(slot.opens_at, zone)))
    if found.draw_closes_at:
        notes.append(t["by_draw"].format(when=local_time(found.draw_closes_at, zone)))
    plan = found.plan
    if plan is None:
        bookable = bool(slot.remaining) and not (slot.opens_at and slot.opens_at > now) and not found.draw_closes_at
    else:
        bookable = plan.seats(slot.remaining) > 0 and not found.draw_closes_at
        # a household's seats are said by whose they are (_for_them), not as "yours"
        if alone and plan.opens_at is not None:
            notes.append(t["opens_to_you"].format(when=local_time(plan.opens_at, zone)))
        elif alone and sum(r.left for r in plan.usable) > 0:  # none left for their group: nothing to say of it
            notes.append(t["yours_held"].format(n=sum(r.left for r in plan.usable)))
    return Row(
        slot_id=slot.id,
        service_id=slot.service_id,
        clinic_id=found.clinic.id,
        day=found.day,
        clinic=found.clinic.name,
        address=found.clinic.address,
        service=service_names.get(found.service_code, found.service_code),
        when=span(slot.starts_at, slot.ends_at, zone),
        seats=t["seats_left"].format(n=slot.remaining) if slot.remaining else t["no_seats_for_all"],
        full=not slot.remaining,
        notes=notes,
        bookable=bookable,
        by_draw=found.draw_closes_at is not None and found.draw_closes_at > now,
        waitable=found.waitable(bookable=bookable, now=now),
    )
