"""The hotline's and the counters' pages (operators, clinic staff): find a caller by phone or CCCD (in the form's
body, never the address), register a caller without a phone, find a slot for them, book it, print or read out the
slip, cancel. Each form calls the API's assisted use cases as the staff member, so the same rules and limits hold
(clinic staff at their own clinics only), and every read of a person is audited."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_404_NOT_FOUND
from pydantic import ValidationError

from booking.models import CONSENT_VERSION, BookingPolicy, OnAccount, Person, SlotNotBookable
from booking.schemas import AssistedRegistration, PersonSearch, PhoneCode, PhoneGiven
from booking.service import bookings, checkin, draws, messages, people
from booking.service.eligibility import WhoMayTake
from booking.service.people import PhoneHasProfile
from clinics import service as clinics
from clinics.models import Sex, SlotStatus
from clinics.sold_out import SoldOutSlots
from qr import render
from vaxbook.auth.models import Principal, Role
from vaxbook.auth.service import OtpPolicy
from vaxbook.dependencies import AppSettings, CheckInWindow, Keys, UoW
from vaxbook.errors import DomainError
from vaxbook.fields import day_first, place_filter
from vaxbook.i18n import Language
from vaxbook.settings import DEFAULT_TIMEZONE
from web.citizen import (
    PERSON_FIELDS,
    cancelled_notice,
    inline_qr,
    move_booking,
    move_page,
    moved_notice,
    slip_of,
)
from web.draws import entered_said, entries_shown
from web.notices import done, just_done
from web.text import WORDS
from web.view import (
    PAGE_MIDDLEWARE,
    PAGE_OPTIONS,
    AnyRequest,
    FormData,
    after_slot,
    date_refused,
    field_messages,
    language_of,
    local_time,
    next_page,
    once,
    page,
    page_date,
    phone_shown,
    said,
    sign_in_first,
    span,
    staff_of,
    submitted,
    to,
)

MAX_SLOTS = 30
Codes = NamedDependency[OtpPolicy]


async def _phone_panel(
    request: AnyRequest, uow: UoW, caller: Person, typed: Mapping[str, Any]
) -> dict[str, Any] | None:
    """For someone registered without a phone: where a code went, to type what they read back, and a phone to send
    a (new) code to; None for someone reached through an account already."""
    if caller.account_id is not None or caller.guardian_id is not None:
        return None
    awaiting = await people.phone_awaiting(uow, caller.id)
    wrong = dict(typed.get("wrong") or {})
    return {
        "sent_to": phone_shown(awaiting.phone) if awaiting else None,
        "until": local_time(awaiting.expires_at, DEFAULT_TIMEZONE)[:5] if awaiting else None,
        "phone": typed.get("phone", phone_shown(awaiting.phone) if awaiting else ""),
        "code": typed.get("code", ""),
        "wrong": wrong,
    }


def _reached(account: OnAccount, language: Language) -> str | None:
    """The phone the caller is reached at, as the record says it ("Phone: 0912 345 678", or their guardian's)."""
    if account.phone is None:
        return None
    said = WORDS["phone_of_guardian" if account.guardians else "phone_on_record"]
    return said.in_(language).format(phone=phone_shown(account.phone))


def _searched(request: AnyRequest, person_id: UUID) -> dict[str, str]:
    """The slot search on the caller's record that a form was sent from (its Referer), to show it again after."""
    searched = urlsplit(request.headers.get("referer") or "")
    if searched.path != f"/counter/people/{person_id}":
        return {}
    return {name: value for name, value in parse_qsl(searched.query) if name not in ("done", "of")}


def _draw_notice(request: AnyRequest, entries: list[dict[str, Any]]) -> str | None:
    """After entering the caller in a draw, or taking them out of one: said above their record."""
    asked, language = just_done(request), language_of(request)
    if asked is None or asked.what not in ("draw", "draw-left"):
        return None
    if asked.what == "draw-left":
        return WORDS["done_draw-left"].in_(language)
    return entered_said(entries, asked.of, language)


def _phone_notice(request: AnyRequest, caller: Person) -> str | None:
    asked = just_done(request)
    if asked is None or asked.what != "phone_confirmed" or caller.account_id is None:
        return None
    return WORDS["done_phone_confirmed"].in_(language_of(request))


async def _why_not_bookable(uow: UoW, slot_id: UUID, language: Language) -> str | None:
    """A slot refused because its time has come, said as the caller hears it: the session has started (it is on
    now), or it is past; None for any other refusal."""
    try:
        slot, _ = await clinics.get_slot(uow, slot_id)
    except DomainError:
        return None
    now = datetime.now(UTC)
    if slot.status is SlotStatus.CANCELLED or slot.starts_at > now:
        return None
    return WORDS["counter_session_started" if slot.ends_at > now else "counter_session_past"].in_(language)


class CounterPages(Controller):
    include_in_schema = False
    opt = PAGE_OPTIONS
    middleware = PAGE_MIDDLEWARE

    @get("/counter")
    async def start(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return page(request, "counter/counter.html.j2", typed={}, found=None, message=None)

    @post("/counter/search", status_code=HTTP_200_OK)
    async def find(self, request: AnyRequest, uow: UoW, data: FormData) -> Template | Redirect:
        """A caller by phone (with the relatives they book for), by CCCD, or by full name and date of birth
        (someone registered with neither)."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        typed = {name: str(data.get(name, "")).strip()[:20] for name in ("phone", "cccd", "date_of_birth")}
        typed["full_name"] = str(data.get("full_name", "")).strip()
        # a date as a date field sends it, or day first as it is written here (shown again as the field takes it)
        typed["date_of_birth"] = day_first(typed["date_of_birth"])
        asking = {name: value for name, value in typed.items() if value}
        try:
            asked = PersonSearch.model_validate(asking)
        except ValidationError as error:
            wrong = field_messages(error, language)
            return page(
                request,
                "counter/counter.html.j2",
                typed=typed,
                found=None,
                wrong=wrong,
                message=WORDS["check_marked"].in_(language),
                back="/counter",
            )
        found = await people.search(uow, staff, asked)
        return page(request, "counter/counter.html.j2", typed=typed, found=found, message=None, back="/counter")

    @get("/counter/register")
    async def register_form(self, request: AnyRequest, uow: UoW) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return page(
            request, "counter/counter_register.html.j2", typed={"province": "Cần Thơ"}, wrong={}, sexes=list(Sex)
        )

    @post("/counter/register", status_code=HTTP_200_OK)
    async def register(
        self, request: AnyRequest, uow: UoW, data: FormData, settings: AppSettings, otp_policy: Codes
    ) -> Template | Redirect:
        """Register a walk-in or a caller, with or without a phone of their own; the caller's consent is asked
        aloud and ticked by the staff member. A phone given gets a code, which the caller reads back on their page
        before the phone is theirs."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        typed = {name: str(data.get(name, "")).strip() for name in (*PERSON_FIELDS, "phone")}
        typed["date_of_birth"] = day_first(typed["date_of_birth"])  # 17/05/1990, as the operator hears and types it
        consent = {"accepted": data.get("consent") == "yes", "text_version": CONSENT_VERSION}

        async def register() -> Person:
            registration = AssistedRegistration.model_validate(
                {name: value for name, value in typed.items() if value} | {"consent": consent}
            )
            key = once(staff, data, "people.register", **registration.model_dump(mode="json"))
            return await people.register(
                uow,
                staff,
                registration,
                codes=otp_policy,
                now=datetime.now(UTC),
                idempotency=key,
                keep_hours=settings.idempotency_hours,
            )

        person, wrong = await submitted(language, register)
        if person is not None:
            return to(f"/counter/people/{person.id}#phone" if typed["phone"] else f"/counter/people/{person.id}")
        if "form" in wrong and wrong.keys() == {"form"} and typed["phone"]:
            wrong["phone"] = wrong["form"]  # no code could go to the phone now (too many): said beside it
        # a phone that has a profile already: the caller is probably that person, found as a search would find them
        has_profile = wrong.get("form") == said(PhoneHasProfile(), language)
        known = await people.search(uow, staff, PersonSearch(phone=typed["phone"])) if has_profile else []
        return page(
            request,
            "counter/counter_register.html.j2",
            typed=typed,
            wrong=wrong,
            known=[p for p in known if p.account_id is not None][:1],
            consented=consent["accepted"],  # asked aloud once: it stays ticked for the next try
            sexes=list(Sex),
            back="/counter/register",
        )

    @get("/counter/people/{person_id:uuid}")
    async def person(
        self, person_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        """The caller, their bookings (clinic staff: at their own clinics), and free slots for them to book."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return await self._person_page(request, uow, settings, staff, person_id, request.query_params, refusal=None)

    @post("/counter/people/{person_id:uuid}/phone", status_code=HTTP_200_OK)
    async def send_phone_code(
        self,
        person_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        data: FormData,
        otp_policy: Codes,
    ) -> Template | Redirect:
        """Send a code to the phone the caller gives (again, or another number): they read it back below."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True, back=f"/counter/people/{person_id}")
        typed = str(data.get("phone", "")).strip()[:20]

        async def send() -> object:
            given = PhoneGiven.model_validate({"phone": typed})
            return await people.send_phone_code(uow, staff, otp_policy, person_id, given)

        sent, wrong = await submitted(language_of(request), send)
        if sent is not None:
            return to(f"/counter/people/{person_id}#phone")
        phone = {"phone": typed, "wrong": {"phone": wrong.get("phone") or wrong.get("form", "")}}
        return await self._person_page(request, uow, settings, staff, person_id, {}, refusal=None, phone=phone)

    @post("/counter/people/{person_id:uuid}/phone/confirmation", status_code=HTTP_200_OK)
    async def confirm_phone(
        self,
        person_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        data: FormData,
        otp_policy: Codes,
    ) -> Template | Redirect:
        """The code the caller read back: the phone becomes theirs (their sign-in account's own profile)."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True, back=f"/counter/people/{person_id}")
        typed = "".join(str(data.get("code", "")).split())[:20]  # read out in pairs, typed with spaces

        async def confirm() -> Person:
            code = PhoneCode.model_validate({"code": typed})
            return await people.confirm_phone(uow, staff, otp_policy, person_id, code)

        linked, wrong = await submitted(language_of(request), confirm)
        if linked is not None:
            return done(f"/counter/people/{person_id}", "phone_confirmed")
        phone = {"code": typed, "wrong": {"code": wrong.get("code") or wrong.get("form", "")}}
        return await self._person_page(request, uow, settings, staff, person_id, {}, refusal=None, phone=phone)

    async def _person_page(
        self,
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        staff: Principal,
        person_id: UUID,
        query: Mapping[str, str],
        *,
        refusal: str | None,
        phone: Mapping[str, Any] | None = None,
    ) -> Template:
        """`query`: the search (service, district, from); `refusal`: why a slot chosen from it was not booked, said
        above the same search's slots, to choose another; `phone`: the phone or code typed, refused (`wrong`)."""
        language = language_of(request)
        caller = await people.caller(uow, staff, person_id)
        account = await people.on_account(uow, staff, person_id)
        theirs = await bookings.of_person(uow, staff, person_id)
        entries = await draws.of_person(uow, staff, person_id)
        draw_entries = await entries_shown(uow, entries, {caller.id: caller.full_name}, language)
        slips = [slip_of(b, caller.full_name, language) for b in theirs]
        asked = {name: (query.get(name) or "").strip()[:100] for name in ("service", "district")}
        if "district" not in query:  # first opened: slots near where the caller lives (cleared, the whole city)
            asked["district"] = caller.district
        asked["from"] = (query.get("from") or "").strip()[:10]
        services = await clinics.list_services(uow, include_inactive=False)
        slots: list[dict[str, Any]] | None = None
        message, later = None, None
        day = None
        if asked["from"]:
            try:
                day = page_date(asked["from"])  # as the date field sends it, or typed day first
                asked["from"] = day.isoformat()
            except ValueError as error:
                message = WORDS["bad_input"].in_(language).format(fields=date_refused(error, "from_date", language))
        if (asked["service"] or asked["district"]) and message is None:
            found = await clinics.search_availability(
                uow,
                clinics.SearchQuery(
                    date_from=day,
                    service_code=asked["service"].lower() or None,
                    district=place_filter(asked["district"]),
                    ward=None,
                ),
                now=datetime.now(UTC),
                max_days=settings.search_max_days,
                after=await after_slot(uow, request),
                limit=MAX_SLOTS + 1,
                searcher=await people.searcher(uow, staff, person_id),
            )
            if len(found) > MAX_SLOTS:  # more than a page: said, with the way on from the last one looked at
                found = found[:MAX_SLOTS]
                later = next_page(f"/counter/people/{person_id}", asked, found[-1].slot.id)
            names = {s.code: (s.name_vi if language == "vi" else s.name_en) for s in services}
            # a slot the caller may not take (booking's own rule: age, sex, dose step) says why, with nothing to book
            who = WhoMayTake(uow, [caller])
            slots = []
            now = datetime.now(UTC)
            for f in found:
                if staff.role is Role.CLINIC_STAFF and f.clinic.id not in staff.clinic_ids:
                    continue
                refused = await who.why_not(f.slot.service_id, f.day)
                slots.append(
                    {
                        "id": f.slot.id,
                        "when": span(f.slot.starts_at, f.slot.ends_at, f.clinic.timezone),
                        "clinic": f.clinic.name,
                        "service": names.get(f.service_code, f.service_code),
                        "seats": f.plan.seats(f.slot.remaining) if f.plan else f.slot.remaining,
                        "why_not": said(refused, language) if refused else None,
                        # its seats go by a draw still taking entries: entered, not booked
                        "draw_closes": local_time(f.draw_closes_at, f.clinic.timezone)
                        if f.draw_closes_at and f.draw_closes_at > now
                        else None,
                    }
                )
        return page(
            request,
            "counter/counter_person.html.j2",
            phone=await _phone_panel(request, uow, caller, phone or {}),
            reached=_reached(account, language),
            relatives=account.relatives,
            caller=caller,
            slips=slips,
            draws=draw_entries,
            services=services,
            asked=asked,
            slots=slots,
            later=later,
            message=message,
            refusal=refusal,
            notice=cancelled_notice(request, theirs)
            or _phone_notice(request, caller)
            or _draw_notice(request, draw_entries),
            back=f"/counter/people/{person_id}",
        )

    @post("/counter/people/{person_id:uuid}/book/{slot_id:uuid}", status_code=HTTP_200_OK)
    async def book(
        self,
        person_id: FromPath[UUID],
        slot_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        policy: NamedDependency[BookingPolicy],
        sold_out: NamedDependency[SoldOutSlots],
    ) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        try:
            booked = await bookings.book(
                uow,
                staff,
                policy,
                slot_id=slot_id,
                person_id=person_id,
                now=datetime.now(UTC),
                idempotency=None,
                sold_out=sold_out,
            )
        except DomainError as refused:
            message = None
            if isinstance(refused, SlotNotBookable):
                message = await _why_not_bookable(uow, slot_id, language_of(request))
            return await self._refused(request, uow, settings, staff, person_id, refused, message)
        return to(f"/counter/bookings/{booked.id}")

    async def _refused(
        self,
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        staff: Principal,
        person_id: UUID,
        refused: DomainError,
        message: str | None = None,
    ) -> Template:
        """A booking or a draw entry refused: said on the caller's record, above the slots of the search the slot was
        chosen from, to choose another; a slot, person or entry that is not there, with its status."""
        if refused.status == 403:
            raise refused
        message = message or said(refused, language_of(request))
        if refused.status == HTTP_404_NOT_FOUND:
            caller = f"/counter/people/{person_id}"
            shown = page(request, "message.html.j2", message=message, back=caller, onward=caller)
            shown.status_code = HTTP_404_NOT_FOUND
            return shown
        return await self._person_page(
            request, uow, settings, staff, person_id, _searched(request, person_id), refusal=message
        )

    @post("/counter/people/{person_id:uuid}/draw/{slot_id:uuid}", status_code=HTTP_200_OK)
    async def enter_draw(
        self, person_id: FromPath[UUID], slot_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        """Enter the caller in a slot's draw, as they would enter themselves; a refusal is said above the slots."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        try:
            entry = await draws.enter(uow, staff, slot_id=slot_id, person_id=person_id, now=datetime.now(UTC))
        except DomainError as refused:
            return await self._refused(request, uow, settings, staff, person_id, refused)
        return done(f"/counter/people/{person_id}", "draw", entry.id, keep=_searched(request, person_id))

    @post("/counter/people/{person_id:uuid}/draws/{entry_id:uuid}/leave", status_code=HTTP_200_OK)
    async def leave_draw(
        self, person_id: FromPath[UUID], entry_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        """Take the caller out of a draw before it closes."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        try:
            await draws.leave(uow, staff, entry_id, now=datetime.now(UTC))
        except DomainError as refused:
            return await self._refused(request, uow, settings, staff, person_id, refused)
        return done(f"/counter/people/{person_id}", "draw-left", keep=_searched(request, person_id))

    @get("/counter/bookings/{booking_id:uuid}")
    async def slip(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, keys: Keys, checkin_window: CheckInWindow
    ) -> Template | Redirect:
        """The caller's slip, to print at the counter or read out on the phone (the code, the time, the place)."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        language = language_of(request)
        text = await checkin.appointment_qr(uow, staff, keys, booking_id=booking_id, window=checkin_window)
        found = await bookings.get(uow, staff, booking_id)
        caller = await people.caller(uow, staff, found.person_id)
        qr = inline_qr(await render.drawn(text, "svg", card=False), WORDS["qr_label"].in_(language))
        return page(
            request,
            "counter/counter_slip.html.j2",
            notice=moved_notice(request, found),
            slip=slip_of(found, caller.full_name, language, caller, await messages.evidence_to_bring(uow, found)),
            qr=qr,
            caller=caller,
            dose=found.dose_number,
        )

    @get("/counter/bookings/{booking_id:uuid}/move")
    async def move_form(
        self, booking_id: FromPath[UUID], request: AnyRequest, uow: UoW, settings: AppSettings
    ) -> Template | Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return await move_page(request, uow, settings, staff, booking_id, base="/counter/bookings", message=None)

    @post("/counter/bookings/{booking_id:uuid}/move", status_code=HTTP_200_OK)
    async def move(
        self,
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        settings: AppSettings,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Template | Redirect:
        """Move a caller's booking, within the counter's clinics."""
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        return await move_booking(request, uow, settings, policy, staff, booking_id, data, base="/counter/bookings")

    @post("/counter/bookings/{booking_id:uuid}/cancel", status_code=HTTP_200_OK)
    async def cancel(
        self,
        booking_id: FromPath[UUID],
        request: AnyRequest,
        uow: UoW,
        policy: NamedDependency[BookingPolicy],
        data: FormData,
    ) -> Redirect:
        staff = await staff_of(request, uow)
        if staff is None:
            return sign_in_first(request, staff=True)
        key = once(staff, data, "bookings.cancel", booking_id=str(booking_id))  # a second tap: the same answer
        cancelled = await bookings.cancel(
            uow, staff, policy, booking_id=booking_id, now=datetime.now(UTC), idempotency=key
        )
        # the caller's page says it was cancelled and where its seat went, in the operator's language
        return done(f"/counter/people/{cancelled.person_id}", "cancelled", cancelled.id)
