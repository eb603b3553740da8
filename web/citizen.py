"""A signed-in citizen's pages: their bookings, profile and dependents; booking a slot found by the search for
themselves or a relative; the booking as a printable slip with its QR; cancelling it. Each calls the use case the
API calls, as the citizen, so every rule (seats, groups, households, ownership) is the API's own."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND

from booking.models import (
    CONSENT_VERSION,
    AlreadyBooked,
    Booking,
    BookingMoved,
    BookingPolicy,
    BookingStatus,
    DependentHasBookings,
    Person,
    PersonNotFound,
    Relation,
    SlotFull,
    StandbyStatus,
)
from booking.schemas import DependentCreate, DependentUpdate, ProfileUpsert, RatingIn
from booking.service import bookings, checkin, feedback, messages, people, standby
from booking.service.eligibility import WhoMayTake
from clinics import service as clinics
from clinics.models import ServiceKind, Sex, waitable
from clinics.sold_out import SoldOutSlots
from priority import service as priority
from priority.models import CHILDBEARING_AGES, WORKING_AGE, SeatsReserved, age_in_years, membership
from priority.schemas import Declarations as DeclarationsIn
from qr import render
from vaxbook.auth.models import Principal, Role
from vaxbook.clock import department_day
from vaxbook.dependencies import AppSettings, CheckInWindow, Keys, UoW
from vaxbook.errors import NotFound
from vaxbook.fields import day_first
from vaxbook.i18n import Language
from web.draws import entered_said, entries_of
from web.notices import done, just_done
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    after_slot,
    back_to_search,
    citizen_of,
    date_refused,
    form_number,
    household,
    language_of,
    local_path,
    once,
    page,
    page_date,
    profile_first,
    said,
    search_query,
    sign_in_first,
    slot_shown,
    span,
    status_said,
    submitted,
    to,
    with_query,
)
from web.waiting import waiting_of

PERSON_FIELDS = ("full_name", "date_of_birth", "sex", "cccd", "province", "district", "ward")
CHANNEL_FIELDS = ("email", "notify_by", "language")  # how the account holder hears from us
CHANNELS = ("sms", "zalo", "email", "none")
DECLARED_FLAGS = ("health_worker", "chronic_disease", "disability")


@dataclass(frozen=True)
class Slip:
    """A booking as its page and its printed slip show it."""

    id: UUID
    code: str
    person: str
    service: str
    clinic: str
    address: str
    when: str
    status: str
    active: bool
    awaited: bool = False  # booked, the person yet to come: the slip's help on what to bring applies
    changeable: bool = False  # may still be moved or cancelled: booked, and its time not begun
    bring: str = "cccd"  # what to bring besides the slip: "cccd", "child" (birth certificate, health book), "id"
    evidence: str = ""  # a priority seat's evidence the door will ask for, in the page's language


CHILD_YEARS = 14  # a Vietnamese citizen is issued a CCCD from 14 (younger only on request)


def what_to_bring(person: Person | None, on: date) -> str:
    """What the person brings to the door besides the slip: their CCCD when they have one on record; else, for a
    child, the birth certificate or vaccination book; else an identity document with a photo."""
    if person is None or person.cccd:
        return "cccd"
    born = person.date_of_birth
    fourteenth = date(born.year + CHILD_YEARS, born.month, 28 if (born.month, born.day) == (2, 29) else born.day)
    return "child" if on < fourteenth else "id"


def slip_of(
    booking: Booking,
    person: str,
    language: Language,
    who: Person | None = None,
    evidence: Sequence[Mapping[str, str]] = (),
) -> Slip:
    return Slip(
        id=booking.id,
        code=booking.code,
        person=person,
        service=booking.service_name_vi if language == "vi" else booking.service_name_en,
        clinic=booking.clinic_name,
        address=booking.clinic_address,
        when=span(booking.starts_at, booking.ends_at, booking.timezone),
        status=status_said(booking, language),
        active=booking.active,
        awaited=booking.status is BookingStatus.BOOKED,
        changeable=booking.status is BookingStatus.BOOKED and booking.starts_at > datetime.now(UTC),
        bring=what_to_bring(who, booking.starts_at.astimezone(ZoneInfo(booking.timezone)).date()),
        evidence="; ".join(item[language] for item in evidence),
    )


def _person_form(form: dict[str, str], names: tuple[str, ...] = PERSON_FIELDS) -> dict[str, Any]:
    """The fields of a person as the form sent them, blank ones left out (the model says which it needs)."""
    typed = {name: form.get(name, "").strip() for name in names}
    if "date_of_birth" in typed:  # 03/02/2024 as typed where a phone's browser has no date picker
        typed["date_of_birth"] = day_first(typed["date_of_birth"])
    return {name: value for name, value in typed.items() if value}


RELATIVE_CHANGES = ("relation", "full_name", "province", "district", "ward")  # what the API's change takes
RELATIVE_FIXED = ("date_of_birth", "sex", "cccd")  # who a relative is: shown on their form, never changed there


async def own_relative(uow: UoW, citizen: Principal, person_id: UUID) -> Person:
    """One of the citizen's relatives; anyone else's, or nobody's, is the API's 404 (person-not-found)."""
    _, relatives = await household(uow, citizen)
    found = next((p for p in relatives if p.id == person_id), None)
    if found is None:
        raise PersonNotFound()
    return found


def _as_typed(relative: Person) -> dict[str, str]:
    relation = {"relation": relative.relation.value if relative.relation else ""}
    return {name: str(getattr(relative, name) or "") for name in PERSON_FIELDS} | relation


def _relative_page(request: AnyRequest, relative: Person, typed: dict[str, str], *, wrong: dict[str, str]) -> Template:
    return page(
        request,
        "citizen/dependent.html.j2",
        relative=relative,
        typed=typed,
        wrong=wrong,
        sexes=list(Sex),
        relations=list(Relation),
        fixed=RELATIVE_FIXED,
        back=f"/me/dependents/{relative.id}",
    )


def _profile_choices() -> dict[str, Any]:
    return {"sexes": list(Sex), "channels": CHANNELS, "languages": ("vi", "en")}


def _consent(form: dict[str, str]) -> dict[str, Any]:
    return {"accepted": form.get("consent") == "yes", "text_version": CONSENT_VERSION}


MOVE_SLOTS = 30  # slots a move page lists at once; "later slots" goes on from the last


async def move_choices(
    uow: UoW,
    settings: AppSettings,
    principal: Principal,
    booking: Booking,
    *,
    day: date | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> tuple[list[dict[str, Any]], UUID | None]:
    """Slots the booking may move to: the same service, in its clinic's district, with a seat for its person (and
    for clinic staff, at their own clinics), from `day` (else today) and after the slot `after` names; and the last
    slot looked at when there are more after it (where "later slots" goes on from), else None."""
    clinic = await clinics.get_clinic(uow, booking.clinic_id)
    found = await clinics.search_availability(
        uow,
        clinics.SearchQuery(date_from=day, service_code=booking.service_code, district=clinic.district, ward=None),
        now=datetime.now(UTC),
        max_days=settings.search_max_days,
        after=after,
        limit=MOVE_SLOTS + 1,
        searcher=await people.searcher(uow, principal, booking.person_id),
    )
    more = found[MOVE_SLOTS - 1].slot.id if len(found) > MOVE_SLOTS else None
    # as booking would take them on each slot's day (age, dose step): a slot past a fifth birthday is not offered
    who = WhoMayTake(uow, [await people.whose(uow, principal, booking.person_id)])
    choices = [
        {"id": f.slot.id, "when": span(f.slot.starts_at, f.slot.ends_at, f.clinic.timezone), "clinic": f.clinic.name}
        for f in found[:MOVE_SLOTS]
        if f.slot.id != booking.slot_id
        and (f.plan.seats(f.slot.remaining) if f.plan else f.slot.remaining)
        and (principal.role is not Role.CLINIC_STAFF or f.clinic.id in principal.clinic_ids)
        and await who.why_not(f.slot.service_id, f.day) is None
    ]
    return choices, more


async def move_page(
    request: AnyRequest,
    uow: UoW,
    settings: AppSettings,
    principal: Principal,
    booking_id: UUID,
    *,
    base: str,
    message: str | None,
) -> Template:
    """The slots a booking may move to, for its citizen (base /me/bookings) or a counter (/counter/bookings); none,
    and why, for a booking that can no longer move (moved already: to which booking; or ended). `message`: a move
    just refused, said as an error; why the booking cannot move is information about it, said as such (unless it is
    what the refusal said already)."""
    booking = await bookings.get(uow, principal, booking_id)
    stuck = await bookings.why_it_cannot_move(uow, booking, now=datetime.now(UTC))
    language = language_of(request)
    why = said(stuck, language) if stuck else None
    # the day to list from (a date field, or typed day first), and where "later slots" goes on from
    typed = (request.query_params.get("from") or "").strip()[:10]
    day, wrong = None, None
    if typed:
        try:
            day = page_date(typed)
        except ValueError as error:
            wrong = WORDS["bad_input"].in_(language).format(fields=date_refused(error, "from_date", language))
    choices: list[dict[str, Any]] = []
    more = None
    if not stuck and wrong is None:
        after = await after_slot(uow, request)
        choices, more = await move_choices(uow, settings, principal, booking, day=day, after=after)
    onwards = ({"from": day.isoformat()} if day else {}) | {"after": str(more)}
    later = f"{base}/{booking_id}/move?{urlencode(onwards)}" if more else None
    return page(
        request,
        "move.html.j2",
        slip=slip_of(booking, "", language),
        base=base,
        choices=choices,
        day=day.isoformat() if day else typed,
        wrong=wrong,
        later=later,
        message=message,
        why=why if why != message else None,
        stuck=stuck is not None,
        # a booking moved already: where it went, as the link back
        moved_to=stuck.moved.booking_id if isinstance(stuck, BookingMoved) and stuck.moved else None,
        back=f"{base}/{booking_id}/move",
    )


async def move_booking(
    request: AnyRequest,
    uow: UoW,
    settings: AppSettings,
    policy: BookingPolicy,
    principal: Principal,
    booking_id: UUID,
    form: dict[str, str],
    *,
    base: str,
) -> Template | Redirect:
    """Move the booking to the slot chosen: the new seat is taken before the old one is let go, so the booking
    moved, or it stands as it was and the page says why."""
    try:
        slot_id = UUID(form.get("slot_id", ""))
    except ValueError:
        return await move_page(request, uow, settings, principal, booking_id, base=base, message=None)
    # the form's own key: pressing it again (or back, then again) replays the move's first answer, not a refusal;
    # back, then another of the page's slots, is a move of its own, said as the booking stands now
    key = once(principal, form, "bookings.move", booking_id=str(booking_id), slot_id=str(slot_id))

    async def moving() -> Booking:
        return await bookings.move(
            uow, principal, policy, booking_id=booking_id, slot_id=slot_id, now=datetime.now(UTC), idempotency=key
        )

    moved, wrong = await submitted(language_of(request), moving)
    if moved is None:
        return await move_page(request, uow, settings, principal, booking_id, base=base, message=wrong["form"])
    return done(f"{base}/{moved.id}", "moved")


async def standby_for(uow: UoW, slot_id: UUID) -> str | None:
    """The standby list's form for a slot whose seat went, as the search offers it: only while waiting is the way to
    a seat of it (clinics.models.waitable: not begun, no draw, open already), else None."""
    now = datetime.now(UTC)
    slot, clinic = await clinics.get_slot(uow, slot_id)
    draw = await priority.draw_of(uow, clinic.id, slot.id)
    pending = draw.closes_at if draw is not None and draw.settled_at is None else None
    if not waitable(slot, bookable=False, draw_closes_at=pending, now=now):
        return None
    day = slot.starts_at.astimezone(clinic.zone).date()
    return "/me/standby/new?" + urlencode({"service_id": slot.service_id, "clinic_id": clinic.id, "from": day})


def in_their_order(found: list[Booking], now: datetime) -> list[Booking]:
    """Bookings as a person reads them: those still to come first, the soonest first; then the rest (cancelled,
    moved, done, missed), the latest first."""
    coming = sorted((b for b in found if b.active and b.ends_at > now), key=lambda b: (b.starts_at, b.code))
    rest = sorted((b for b in found if not (b.active and b.ends_at > now)), key=lambda b: b.starts_at, reverse=True)
    return coming + rest


def cancelled_notice(request: AnyRequest, theirs: list[Booking]) -> str | None:
    """On the page a cancel led to (the citizen's bookings, the caller's page at the counter): which booking was
    cancelled, and where its seat went (while it stands cancelled)."""
    asked = just_done(request)
    if asked is None or asked.what != "cancelled":
        return None
    booking = next((b for b in theirs if b.id == asked.of and b.status is BookingStatus.CANCELLED), None)
    if booking is None:
        return None
    when = span(booking.starts_at, booking.ends_at, booking.timezone)
    return WORDS["done_cancelled"].in_(language_of(request)).format(code=booking.code, when=when)


def moved_notice(request: AnyRequest, booking: Booking) -> str | None:
    """On the slip a move led to: that the booking moved, and its new code (a booking moved here, only)."""
    asked = just_done(request)
    if asked is None or asked.what != "moved" or booking.moved_from is None or not booking.active:
        return None
    return WORDS["done_moved"].in_(language_of(request)).format(code=booking.code)


def _reaction_notice(request: AnyRequest) -> str | None:
    """On the slip a citizen's report of a reaction led back to: that it was sent, and what to do if it worsens."""
    asked = just_done(request)
    if asked is None or asked.what not in ("reaction", "reaction-serious"):
        return None
    return WORDS[f"done_{asked.what}"].in_(language_of(request))


def inline_qr(svg: bytes, label: str) -> str:
    """A QR drawn as SVG, to put in the page itself (no second request, sharp on paper); its size is the page's."""
    text = svg.decode()
    text = re.sub(r'\s(width|height)="[^"]*"', "", text, count=2)
    return text.replace("<svg", f'<svg role="img" aria-label="{label}"', 1)


class CitizenPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/me")
    async def home(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        language = language_of(request)
        me, dependents = await household(uow, citizen)
        names = {p.id: p.full_name for p in ([me] if me else []) + dependents}
        found = await bookings.of_account(uow, citizen, after=None, limit=100)
        slips = [slip_of(b, names.get(b.person_id, ""), language) for b in in_their_order(found, datetime.now(UTC))]
        relations = {r.value: WORDS[f"relation_{r.value}"].in_(language) for r in Relation}
        waits = await waiting_of(uow, request, names) if me else []
        entries = await entries_of(uow, citizen.id, names, language) if me else []
        notice = await _notice_on_me(request, uow, citizen, dependents, found, entries) if me else None
        return page(
            request,
            "citizen/me.html.j2",
            me=me,
            dependents=dependents,
            slips=slips,
            relations=relations,
            waits=waits,
            draws=entries,
            notice=notice,
        )

    @get("/me/profile")
    async def profile_form(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        me, _ = await household(uow, citizen)
        if me is None:
            typed = {"province": "Cần Thơ", "notify_by": "sms", "language": language_of(request)}
        else:
            typed = {name: str(getattr(me, name) or "") for name in PERSON_FIELDS + CHANNEL_FIELDS}
        # where the citizen was going when the profile was asked for first (the slot they chose to book)
        after = local_path(request.query_params.get("next"), "")
        return page(
            request,
            "citizen/profile.html.j2",
            typed=typed,
            wrong={},
            consented=me is not None,
            after=after,
            **_profile_choices(),
        )

    @post("/me/profile", status_code=HTTP_200_OK)
    async def save_profile(self, request: AnyRequest, uow: UoW, data: FormData) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        typed = _person_form(data, PERSON_FIELDS + CHANNEL_FIELDS)

        async def save() -> Person:
            profile = ProfileUpsert.model_validate(typed | {"consent": _consent(data)})
            return await people.save_profile(uow, citizen, profile, now=datetime.now(UTC))

        saved, wrong = await submitted(language_of(request), save)
        if "notify_by" in wrong and typed.get("notify_by") == "email" and "email" not in typed:
            wrong["email"] = wrong.pop("notify_by")  # the email to give: said, marked and focused where it is typed
        after = local_path(data.get("next"), "")
        if saved:
            return to(after) if after else done("/me", "profile")
        return page(
            request,
            "citizen/profile.html.j2",
            typed=typed,
            wrong=wrong,
            consented=data.get("consent") == "yes",  # ticked, it stays ticked for the next try
            after=after,
            back="/me/profile" + (f"?{urlencode({'next': after})}" if after else ""),
            **_profile_choices(),
        )

    @get("/me/dependents/new")
    async def dependent_form(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        me, _ = await household(uow, citizen)
        if me is None:
            return profile_first(request)
        typed = {"province": me.province, "district": me.district, "ward": me.ward}
        return page(
            request, "citizen/dependent.html.j2", typed=typed, wrong={}, sexes=list(Sex), relations=list(Relation)
        )

    @post("/me/dependents", status_code=HTTP_200_OK)
    async def add_dependent(
        self, request: AnyRequest, uow: UoW, data: FormData, settings: AppSettings
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        typed = _person_form(data) | ({"relation": data["relation"]} if data.get("relation") else {})

        async def add() -> Person:
            dependent = DependentCreate.model_validate(typed | {"consent": _consent(data)})
            key = once(citizen, data, "dependents.create", **dependent.model_dump(mode="json"))
            return await people.add_dependent(
                uow, citizen, dependent, now=datetime.now(UTC), idempotency=key, keep_hours=settings.idempotency_hours
            )

        added, wrong = await submitted(language_of(request), add)
        if added:
            return done("/me", "dependent", added.id)
        return page(
            request,
            "citizen/dependent.html.j2",
            typed=typed,
            wrong=wrong,
            sexes=list(Sex),
            relations=list(Relation),
            consented=data.get("consent") == "yes",  # ticked, it stays ticked for the next try
            back="/me/dependents/new",
        )

    @get("/me/dependents/{person_id:uuid}")
    async def relative_form(self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """A relative's details, to correct: the API's own change (relation, name, place); who they are stays."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        relative = await own_relative(uow, citizen, person_id)
        return _relative_page(request, relative, _as_typed(relative), wrong={})

    @post("/me/dependents/{person_id:uuid}", status_code=HTTP_200_OK)
    async def save_relative(
        self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW, data: FormData
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        relative = await own_relative(uow, citizen, person_id)  # someone else's: 404, whatever the form holds
        typed = _person_form(data) | ({"relation": data["relation"]} if data.get("relation") else {})
        stays = _as_typed(relative)

        async def save() -> Person:
            # a field left blank is null, which the change refuses on its field; who they are is no field of the
            # change, so one typed otherwise (the form shows it read-only) is refused on its field too
            changes = {name: typed.get(name) for name in RELATIVE_CHANGES}
            changes |= {name: typed[name] for name in RELATIVE_FIXED if name in typed and typed[name] != stays[name]}
            return await people.update_dependent(uow, citizen, person_id, DependentUpdate.model_validate(changes))

        saved, wrong = await submitted(language_of(request), save)
        if saved:
            return done("/me", "dependent-saved", saved.id)
        language = language_of(request)
        wrong |= {name: WORDS["relative_fixed"].in_(language) for name in RELATIVE_FIXED if name in wrong}
        kept = {name: typed.get(name, "") for name in RELATIVE_CHANGES} | {name: stays[name] for name in RELATIVE_FIXED}
        return _relative_page(request, relative, kept, wrong=wrong)

    @get("/me/dependents/{person_id:uuid}/remove")
    async def remove_form(self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """Whether to remove the relative: asked first, the answer a form of its own."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        relative = await own_relative(uow, citizen, person_id)
        return page(request, "citizen/relative_remove.html.j2", relative=relative, kept=None, theirs=[])

    @post("/me/dependents/{person_id:uuid}/remove", status_code=HTTP_200_OK)
    async def remove_relative(
        self,
        person_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        relative = await own_relative(uow, citizen, person_id)  # someone else's: 404, as the API's
        language = language_of(request)
        try:
            await people.remove_dependent(uow, citizen, policy, person_id, now=datetime.now(UTC))
        except DependentHasBookings:
            # their bookings are kept for their record: said in words, with the way to each of them
            found = await bookings.of_account(uow, citizen, after=None, limit=100)
            theirs = [b for b in in_their_order(found, datetime.now(UTC)) if b.person_id == person_id]
            return page(
                request,
                "citizen/relative_remove.html.j2",
                relative=relative,
                kept=WORDS["relative_kept"].in_(language).format(name=relative.full_name),
                theirs=[slip_of(b, relative.full_name, language) for b in theirs],
                back=f"/me/dependents/{person_id}/remove",
            )
        return done("/me", "dependent-gone")

    @get("/book/{slot_id:uuid}")
    async def book_form(self, slot_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        """The slot, and whom to book it for: `?person=` (the search's link, for the one of the household the seat is
        open to) chosen first when it is one of theirs."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        try:
            person = UUID(request.query_params.get("person") or "")
        except ValueError:
            person = None
        return await self._book_page(request, uow, citizen, slot_id, message=None, person=person)

    @post("/book/{slot_id:uuid}", status_code=HTTP_200_OK)
    async def book(
        self,
        slot_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
        sold_out: NamedDependency[SoldOutSlots],
        data: FormData,
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        try:
            person_id = UUID(data["person"]) if data.get("person") else None
        except ValueError:
            person_id = None
        key = once(citizen, data, "bookings.create", slot_id=str(slot_id), person_id=person_id and str(person_id))
        in_the_way: list[str] = []  # booked already: where that booking is, to see, move or cancel it
        no_seat: list[bool] = []  # the seats went meanwhile (or are held for a group): the standby list may be the way

        async def book() -> Booking:
            try:
                return await bookings.book(
                    uow,
                    citizen,
                    policy,
                    slot_id=slot_id,
                    person_id=person_id,
                    now=datetime.now(UTC),
                    idempotency=key,
                    sold_out=sold_out,
                )
            except AlreadyBooked as refused:
                booking_id = refused.extra.get("booking_id")
                in_the_way.append(f"/me/bookings/{booking_id}" if booking_id else "/me")
                raise
            except (SlotFull, SeatsReserved):
                no_seat.append(True)
                raise

        booked, wrong = await submitted(language_of(request), book)
        if booked is None:
            return await self._book_page(
                request,
                uow,
                citizen,
                slot_id,
                message=wrong["form"],
                person=person_id,
                see_mine=next(iter(in_the_way), None),
                wait=await standby_for(uow, slot_id) if no_seat else None,
            )
        return to(f"/me/bookings/{booked.id}")

    async def _book_page(
        self,
        request: AnyRequest,
        uow: UoW,
        citizen: Principal,
        slot_id: UUID,
        *,
        message: str | None,
        person: UUID | None = None,
        see_mine: str | None = None,
        wait: str | None = None,
    ) -> Template | Redirect:
        """`person`: whom the refused form was for, chosen again for the next try; `see_mine`: the refusal is a booking
        the person holds already, which the page links to; `wait`: the standby list's form, for a seat that went. The
        search the slot was found by stays in the page's address, its form's and its way back."""
        searched = search_query(request)
        here = with_query(f"/book/{slot_id}", searched)
        me, dependents = await household(uow, citizen)
        if me is None:
            return profile_first(request, here)
        language = language_of(request)
        try:
            chosen, _ = await slot_shown(uow, slot_id, language)
        except NotFound as missing:
            # no such slot: said on the page, with the status of a thing not found
            shown = page(
                request,
                "citizen/book.html.j2",
                slot=None,
                message=said(missing, language),
                back=back_to_search(searched),
                search=back_to_search(searched),
            )
            shown.status_code = HTTP_404_NOT_FOUND
            return shown
        household_ = [me, *dependents]
        return page(
            request,
            "citizen/book.html.j2",
            slot=chosen,
            people=household_,
            chosen=person if any(p.id == person for p in household_) else me.id,
            message=message,
            see_mine=see_mine,
            wait=wait,
            back=here,
            action=here,
            search=back_to_search(searched),
        )

    @get("/me/bookings/{booking_id:uuid}")
    async def slip(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, keys: Keys, checkin_window: CheckInWindow
    ) -> Template | Redirect:
        """The booking, and while it stands, its QR: on the screen, or printed on an A6 slip."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        language = language_of(request)
        booking = await bookings.get(uow, citizen, booking_id)
        qr = None
        if booking.active:
            text = await checkin.appointment_qr(uow, citizen, keys, booking_id=booking.id, window=checkin_window)
            qr = inline_qr(await render.drawn(text, "svg", card=False), WORDS["qr_label"].in_(language))
        return await _slip_page(request, uow, citizen, booking, qr=qr, wrong={})

    @post("/me/bookings/{booking_id:uuid}/rating", status_code=HTTP_200_OK)
    async def rate(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, data: FormData
    ) -> Template | Redirect:
        """How the visit went, once, from the booking's page (the messages after a visit link there)."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)

        async def rate() -> bool:
            given = RatingIn.model_validate(
                {"rating": form_number(data.get("rating", ""))}
                | ({"comment": data["comment"]} if data.get("comment", "").strip() else {})
            )
            await feedback.rate(
                uow, citizen, booking_id=booking_id, rating=given.rating, comment=given.comment, now=datetime.now(UTC)
            )
            return True

        done, wrong = await submitted(language_of(request), rate)
        if done:
            return to(f"/me/bookings/{booking_id}")
        booking = await bookings.get(uow, citizen, booking_id)
        typed = {"rating": data.get("rating", "")[:2], "comment": data.get("comment", "")}
        return await _slip_page(
            request, uow, citizen, booking, qr=None, wrong=wrong, back=f"/me/bookings/{booking_id}", typed=typed
        )

    @get("/me/bookings/{booking_id:uuid}/move")
    async def move_form(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        """Other slots of the same service, in the same district first, to move the booking to."""
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        return await move_page(request, uow, settings, citizen, booking_id, base="/me/bookings", message=None)

    @post("/me/bookings/{booking_id:uuid}/move", status_code=HTTP_200_OK)
    async def move(
        self,
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        return await move_booking(request, uow, settings, policy, citizen, booking_id, data, base="/me/bookings")

    @post("/me/bookings/{booking_id:uuid}/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self,
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        key = once(citizen, data, "bookings.cancel", booking_id=str(booking_id))
        # a refusal (someone else's booking, one already started) is said on a page of its own (problem_page)
        await bookings.cancel(uow, citizen, policy, booking_id=booking_id, now=datetime.now(UTC), idempotency=key)
        return done("/me", "cancelled", booking_id)


class DeclarationPages(Controller):
    """What a person declares for priority groups (pregnancy dates, health work, a chronic disease, a disability),
    and what it means, in words: which groups they are in, from which day to which."""

    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/me/people/{person_id:uuid}/declarations")
    async def form(self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        declared = await people.declarations(uow, citizen, person_id)
        typed = {
            "due_date": str(declared.due_date or ""),
            "last_period": str(declared.last_period or ""),
        } | {name: "yes" if getattr(declared, name) else "" for name in DECLARED_FLAGS}
        return await self._page(request, uow, citizen, person_id, typed, wrong={}, saved=False)

    @post("/me/people/{person_id:uuid}/declarations", status_code=HTTP_200_OK)
    async def save(
        self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW, data: FormData
    ) -> Template | Redirect:
        citizen = citizen_of(request)
        if citizen is None:
            return sign_in_first(request)
        typed = {name: str(data.get(name, "")).strip()[:10] for name in ("due_date", "last_period", *DECLARED_FLAGS)}
        typed |= {name: day_first(typed[name]) for name in ("due_date", "last_period")}

        async def declare() -> object:
            declared = DeclarationsIn.model_validate(
                {"due_date": typed["due_date"] or None, "last_period": typed["last_period"] or None}
                | {name: typed[name] == "yes" for name in DECLARED_FLAGS}
            )
            return await people.declare(uow, citizen, person_id, declared)

        saved, wrong = await submitted(language_of(request), declare)
        return await self._page(request, uow, citizen, person_id, typed, wrong=wrong, saved=saved is not None)

    async def _page(
        self,
        request: AnyRequest,
        uow: UoW,
        citizen: Principal,
        person_id: UUID,
        typed: dict[str, str],
        *,
        wrong: dict[str, str],
        saved: bool,
    ) -> Template:
        language = language_of(request)
        declared = await people.declarations(uow, citizen, person_id)  # someone else's: 404, here first
        me, dependents = await household(uow, citizen)
        person = next(p for p in ([me] if me else []) + dependents if p.id == person_id)
        today = department_day(datetime.now(UTC))
        groups = []
        for group in sorted(await priority.list_groups(uow, include_inactive=False), key=lambda g: g.rank):
            window = membership(
                group, born=person.date_of_birth, sex=person.sex, declarations=declared, first=today, days=300
            )
            if window is None:
                continue
            name = group.name_vi if language == "vi" else group.name_en
            already = window[0] is not None and window[0] <= today  # in it now: no "from" today's date
            start, end = (f"{day:%d/%m/%Y}" if day else None for day in window)
            key = (
                ("in_group_until" if end else "in_group_now")
                if already
                else "in_group_from_to"
                if end
                else "in_group_from"
            )
            groups.append(WORDS[key].in_(language).format(group=name, start=start, end=end))
        age = age_in_years(person.date_of_birth, today)
        youngest, oldest = CHILDBEARING_AGES
        return page(
            request,
            "citizen/declarations.html.j2",
            # only what this person may declare (the declarations refuse the rest: a baby is no health worker)
            may_declare_pregnancy=person.sex is Sex.FEMALE and youngest <= age <= oldest,
            may_declare_health_work=age >= WORKING_AGE,
            person=person,
            typed=typed,
            wrong=wrong,
            saved=saved,
            groups=groups,
            back=f"/me/people/{person_id}/declarations",
        )


async def _slip_page(
    request: AnyRequest,
    uow: UoW,
    citizen: Principal,
    booking: Booking,
    *,
    qr: str | None,
    wrong: dict[str, str],
    back: str | None = None,
    typed: dict[str, str] | None = None,
) -> Template:
    """A booking's slip: whom it is for (and what they bring), its QR while it stands, and once done its rating (or
    the form to give one, until it is given: a vaccination's or a visit's; `typed`, what a refused one held)."""
    me, dependents = await household(uow, citizen)
    who = next((p for p in ([me] if me else []) + dependents if p.id == booking.person_id), None)
    done = booking.status is BookingStatus.COMPLETED
    rated = await feedback.rating_of(uow, citizen, booking.id) if done else None
    # a moved booking's slip says where it went, with the way there (as its move page does)
    went = await bookings.where_it_went(uow, citizen, booking.id) if booking.status is BookingStatus.MOVED else None
    kind = (await clinics.get_service(uow, booking.service_id)).kind
    return page(
        request,
        "citizen/slip.html.j2",
        back=back,
        notice=moved_notice(request, booking) or _reaction_notice(request),
        went=went,
        went_said=said(BookingMoved(went), language_of(request)) if went else None,
        slip=slip_of(
            booking,
            who.full_name if who else "",
            language_of(request),
            who,
            await messages.evidence_to_bring(uow, booking),
        ),
        qr=qr,
        can_rate=done and rated is None,
        # after a dose, its reactions are reported from here (a visit's check-up has no dose to react to)
        can_report=done and kind is ServiceKind.VACCINATION,
        dose=WORDS["dose_n"].in_(language_of(request)).format(n=booking.dose_number)
        if kind is ServiceKind.VACCINATION
        else None,
        rate_title="rate_title_vaccination" if kind is ServiceKind.VACCINATION else "rate_title",
        rated=rated,
        wrong=wrong,
        typed=typed or {},
    )


async def _notice_on_me(
    request: AnyRequest,
    uow: UoW,
    citizen: Principal,
    dependents: list[Person],
    found: list[Booking],
    draws: list[dict[str, Any]],
) -> str | None:
    """What the form before /me did, in words: a profile saved, a relative added, saved or removed, a booking
    cancelled (and where its seat went), a standby list left or its offer turned down, a draw entered."""
    asked = just_done(request)
    if asked is None:
        return None
    language = language_of(request)
    words = WORDS.get(f"done_{asked.what}")
    if words is None:
        return None
    said_ = words.in_(language)
    if asked.what in ("profile", "draw-left", "dependent-gone"):
        return said_
    if asked.what in ("dependent", "dependent-saved"):
        added = next((d for d in dependents if d.id == asked.of), None)
        return said_.format(name=added.full_name) if added else None
    if asked.what == "cancelled":
        return cancelled_notice(request, found)
    if asked.what == "draw":
        return entered_said(draws, asked.of, language)
    if asked.what == "left":
        entry = next((e for e in await standby.of_account(uow, citizen) if e.id == asked.of), None)
        if entry is None or entry.status not in (StandbyStatus.LEFT, StandbyStatus.DECLINED):
            return None
        service = await clinics.get_service(uow, entry.service_id)
        key = "done_left" if entry.status is StandbyStatus.LEFT else "done_declined"
        return WORDS[key].in_(language).format(service=service.name_vi if language == "vi" else service.name_en)
    return None
