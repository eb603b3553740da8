"""A citizen's standby list on the pages: joining it for a full slot's clinic and days, seeing an offered seat with
the time left to take it (in the clinic's local time), accepting or declining it, leaving the list. The messages that
offer a seat link here (/me/standby/{id}). Each form calls the API's standby use case as the citizen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND

from booking.models import BookingPolicy, SeatsAvailable, StandbyEntry, StandbyNotFound, StandbyStatus
from booking.schemas import StandbyJoin
from booking.service import standby
from clinics import service as clinics
from vaxbook.clock import department_day
from vaxbook.dependencies import UoW
from vaxbook.errors import NotFound
from vaxbook.fields import calendar_date, day_first
from vaxbook.i18n import Language
from web.notices import done, just_done
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    citizen_of,
    duration,
    household,
    language_of,
    local_time,
    once,
    page,
    profile_first,
    said,
    sign_in_first,
    span,
    submitted,
    to,
)

WAIT_DAYS = 7  # how long a wait lasts when the citizen does not say
SCOPE_FIELDS = ("service_id", "clinic_id", "province", "district", "from")  # at a clinic, or anywhere in a district


@dataclass(frozen=True)
class Waiting:
    """A standby entry as the pages show it."""

    id: UUID
    person: str
    service: str
    place: str
    days: str
    status: str
    offered: bool
    waiting: bool
    offer_when: str | None = None  # the offered seat's time
    offer_where: str | None = None
    expires: str | None = None  # when the offer lapses, local time
    minutes_left: int | None = None
    left: str | None = None  # the time left, in hours and minutes
    booking_href: str | None = None  # the seat taken: its slip
    again_href: str | None = None  # the entry ended without a seat: waiting again for the days still to come


def _wait_again(entry: StandbyEntry) -> str | None:
    """The form to wait again, as the entry waited (its service, clinic or district, from today at the earliest), for
    an entry that ended without a seat while some of its days are still to come."""
    today = department_day(datetime.now(UTC))
    ended = entry.status in (StandbyStatus.EXPIRED, StandbyStatus.DECLINED, StandbyStatus.LEFT)
    if not ended or entry.date_to < today:
        return None
    place = (
        {"clinic_id": entry.clinic_id} if entry.clinic_id else {"province": entry.province, "district": entry.district}
    )
    asked = {"service_id": entry.service_id, **place, "from": max(entry.date_from, today)}
    return "/me/standby/new?" + urlencode(asked)


async def _shown(uow: UoW, entry: StandbyEntry, names: dict[UUID, str], language: Language) -> Waiting:
    service = await clinics.get_service(uow, entry.service_id)
    place = (await clinics.get_clinic(uow, entry.clinic_id)).name if entry.clinic_id else f"{entry.district}"
    shown = Waiting(
        id=entry.id,
        person=names.get(entry.person_id, ""),
        service=service.name_vi if language == "vi" else service.name_en,
        place=place,
        days=f"{entry.date_from:%d/%m/%Y} – {entry.date_to:%d/%m/%Y}",
        status=WORDS[f"standby_{entry.status.value}"].in_(language),
        offered=entry.status is StandbyStatus.OFFERED,
        waiting=entry.status is StandbyStatus.WAITING,
        booking_href=f"/me/bookings/{entry.booking_id}"
        if entry.status is StandbyStatus.BOOKED and entry.booking_id
        else None,
        again_href=_wait_again(entry),
    )
    if entry.status is StandbyStatus.OFFERED and entry.offer_slot_id and entry.offer_expires_at:
        slot, clinic = await clinics.get_slot(uow, entry.offer_slot_id)
        left = max(0, int((entry.offer_expires_at - datetime.now(UTC)).total_seconds() // 60))
        return Waiting(
            **(
                shown.__dict__
                | {
                    "offer_when": span(slot.starts_at, slot.ends_at, clinic.timezone),
                    "offer_where": f"{clinic.name}, {clinic.address}",
                    "expires": local_time(entry.offer_expires_at, clinic.timezone),
                    "minutes_left": left,
                    "left": duration(left, language),
                }
            )
        )
    return shown


async def waiting_of(uow: UoW, request: AnyRequest, names: dict[UUID, str]) -> list[Waiting]:
    """The citizen's entries still open (waiting, or with a seat offered), for their bookings page."""
    citizen = citizen_of(request)
    assert citizen is not None
    language = language_of(request)
    entries = await standby.of_account(uow, citizen)
    open_ = [e for e in entries if e.status in (StandbyStatus.WAITING, StandbyStatus.OFFERED)]
    return [await _shown(uow, e, names, language) for e in open_]


class StandbyPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/me/standby/new")
    async def join_form(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Wait for a seat of a service at a clinic from a day: what the search offers for a full slot."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        me, dependents = await household(uow, citizen)
        if me is None:
            return profile_first(request)
        asked = {name: (request.query_params.get(name) or "")[:100] for name in SCOPE_FIELDS}
        return await self._join_page(request, uow, [me, *dependents], asked, wrong={})

    @post("/me/standby", status_code=HTTP_200_OK)
    async def join(self, request: AnyRequest, uow: UoW, data: FormData) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        language = language_of(request)
        asked = {name: str(data.get(name, ""))[:100] for name in (*SCOPE_FIELDS, "to", "person")}
        asked |= {name: day_first(asked[name].strip()) for name in ("from", "to")}

        async def join() -> StandbyEntry:
            joined = StandbyJoin.model_validate(
                {
                    "service_id": asked["service_id"],
                    "clinic_id": asked["clinic_id"] or None,
                    "province": asked["province"] or None,
                    "district": asked["district"] or None,
                    "person_id": asked["person"] or None,
                    "date_from": asked["from"],
                    "date_to": asked["to"],
                }
            )
            key = once(citizen, data, "standby.join", **joined.model_dump(mode="json"))
            return await standby.join(uow, citizen, joined, now=datetime.now(UTC), idempotency=key)

        entry, wrong = await submitted(language, join)
        if entry is not None:
            return done(f"/me/standby/{entry.id}", "joined")
        me, dependents = await household(uow, citizen)
        return await self._join_page(request, uow, [me, *dependents] if me else [], asked, wrong=wrong)

    async def _join_page(
        self, request: AnyRequest, uow: UoW, people: list[object], asked: dict[str, str], *, wrong: dict[str, str]
    ) -> Template:
        language = language_of(request)
        try:
            service = await clinics.get_service(uow, UUID(asked["service_id"]))
            # where the search would find the free seats a refusal may point to: the clinic's district, or the one asked
            where = {"province": asked.get("province") or "", "district": asked.get("district") or ""}
            if asked.get("clinic_id"):
                clinic = await clinics.get_clinic(uow, UUID(asked["clinic_id"]))
                place = f"{clinic.name}, {clinic.address}"
                where = {"province": clinic.province, "district": clinic.district}
            elif asked.get("district") and asked.get("province"):
                place = WORDS["anywhere_in"].in_(language).format(district=asked["district"])
            else:
                raise ValueError("no place")
        except (ValueError, NotFound):
            shown = page(request, "message.html.j2", message=WORDS["standby_unknown"].in_(language))
            shown.status_code = HTTP_404_NOT_FOUND  # no such service or clinic: said with the status of one
            return shown
        try:
            first = calendar_date(asked["from"])
        except ValueError:
            first = department_day(datetime.now(UTC))
        last = asked.get("to") or (first + timedelta(days=WAIT_DAYS)).isoformat()
        # refused because seats are free: the way to them, not a dead end
        free = wrong.get("form") == said(SeatsAvailable(), language)
        search = "/search?" + urlencode({"service": service.code, **where, "from": first.isoformat()}) if free else None
        return page(
            request,
            "citizen/standby_join.html.j2",
            service=service.name_vi if language == "vi" else service.name_en,
            place=place,
            asked=asked | {"from": first.isoformat(), "to": last},
            people=people,
            wrong=wrong,
            search=search,
            back="/search",
        )

    @get("/me/standby/{entry_id:uuid}")
    async def entry(self, entry_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """An entry: with a seat offered, where and when, and how long is left to take it."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        found = next((e for e in await standby.of_account(uow, citizen) if e.id == entry_id), None)
        if found is None:
            raise StandbyNotFound()
        me, dependents = await household(uow, citizen)
        names = {p.id: p.full_name for p in ([me] if me else []) + dependents}
        asked = just_done(request)
        joined = asked is not None and asked.what == "joined" and found.status is StandbyStatus.WAITING
        notice = WORDS["done_joined"].in_(language_of(request)) if joined else None
        shown = await _shown(uow, found, names, language_of(request))
        return page(request, "citizen/standby.html.j2", entry=shown, notice=notice)

    @post("/me/standby/{entry_id:uuid}/accept", status_code=HTTP_200_OK)
    async def accept(
        self,
        entry_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        key = once(citizen, data, "standby.accept", entry_id=str(entry_id))
        booked = await standby.accept(uow, citizen, policy, entry_id=entry_id, now=datetime.now(UTC), idempotency=key)
        return to(f"/me/bookings/{booked.id}")

    @post("/me/standby/{entry_id:uuid}/leave", status_code=HTTP_200_OK)
    async def leave(
        self, entry_id: FromPath[UUID], request: AnyRequest, uow: UoW, policy: NamedDependency[BookingPolicy]
    ) -> Redirect:
        """Leave the list; with a seat offered, turn it down (it goes to the next in line)."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        await standby.leave(uow, citizen, policy, entry_id=entry_id, now=datetime.now(UTC))
        return done("/me", "left", entry_id)
