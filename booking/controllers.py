from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from booking.models import CONSENT_TEXT, CONSENT_VERSION, BookingPolicy
from booking.schemas import (
    AccountExport,
    AdverseEventCreate,
    AdverseEventOut,
    AssistedBookingCreate,
    AssistedRegistration,
    Booking,
    BookingCreate,
    BookingMove,
    CalledOff,
    CccdSeen,
    CheckIn,
    CheckInRequest,
    ConsentText,
    DayListEntry,
    DependentCreate,
    DependentUpdate,
    Erased,
    Erasure,
    EvidenceCheck,
    FollowUpOut,
    NextDoseOut,
    Person,
    PersonSearch,
    PhoneCode,
    PhoneConfirmation,
    PhoneGiven,
    ProfileUpsert,
    RatingCommentOut,
    RatingIn,
    RatingOut,
    Registered,
    ServiceQualityRow,
    StandbyEntry,
    StandbyJoin,
    VaccinationCreate,
    VaccinationOut,
)
from booking.service import (
    bookings,
    certificates,
    checkin,
    draws,
    feedback,
    open_data,
    people,
    privacy,
    records,
    standby,
    visits,
)
from clinics.service import check_filters_name_what_exists
from clinics.sold_out import SoldOutSlots
from priority import service as priority
from priority.schemas import (
    AssistedDrawEntryCreate,
    Declarations,
    DeclarationsOut,
    DrawEntryCreate,
    DrawOut,
    MyDrawEntry,
)
from qr import render
from qr import service as qr_service
from qr.schemas import CardCheck, VerifiedCard
from vaxbook.auth.models import Principal
from vaxbook.auth.repository import PhoneAwaiting
from vaxbook.auth.security import PUBLIC, CallerRequest
from vaxbook.auth.service import OtpPolicy
from vaxbook.clock import department_day
from vaxbook.db import UnitOfWork
from vaxbook.dependencies import AppSettings, CheckInWindow, Keys, UoW
from vaxbook.errors import Unauthorized
from vaxbook.fields import QueryDate, QueryInstant
from vaxbook.i18n import negotiate
from vaxbook.idempotency import IdempotencyHeader, IdempotencyKey, idempotency_key
from vaxbook.pagination import Cursor, Limit, Page, decode_time_cursor, paginate
from vaxbook.reports import FormatParam, ReportFormat, answer, download

Policy = NamedDependency[BookingPolicy]
Codes = NamedDependency[OtpPolicy]
SoldOut = NamedDependency[SoldOutSlots]
QrFormat = Literal["png", "svg", "text"]


async def _drawn(text: str, format: QrFormat, *, card: bool) -> Response[bytes]:
    """A QR as PNG, SVG or its text; never stored by a browser or a proxy (a card names its holder)."""
    if format == "text":
        body, media_type = text.encode(), "text/plain"
    else:
        body = await render.drawn(text, format, card=card)
        media_type = "image/png" if format == "png" else "image/svg+xml"
    return Response(body, media_type=media_type, headers={"Cache-Control": "no-store"})


async def provide_searcher(
    request: Request[Any, Any, Any],
    uow: UoW,
    caller: NamedDependency[Principal | None],
    person: Annotated[
        UUID | None,
        QueryParameter(
            description="Whom to show what they may book: yourself when left out, or one of your dependents (a "
            "citizen); the caller you are helping (staff)"
        ),
    ] = None,
) -> priority.Someone | None:
    """The person a slot search speaks to (see people.searcher), from the optional token of a public route."""
    if caller is None:
        if person is not None:
            raise Unauthorized()
        return None
    return await people.searcher(uow, caller, person)


def _key(principal: Principal, header: str | None, operation: str, **payload: Any) -> IdempotencyKey | None:
    return idempotency_key(f"{principal.role.value}:{principal.id}", header, operation, payload)


async def _report_reaction(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    header: str | None,
    booking_id: UUID,
    clinic_id: UUID | None,
    data: AdverseEventCreate,
) -> AdverseEventOut:
    key = _key(
        principal,
        header,
        "adverse-events.create",
        clinic_id=clinic_id and str(clinic_id),
        booking_id=str(booking_id),
        **data.model_dump(mode="json"),
    )
    event = await visits.report_adverse_event(
        uow,
        principal,
        booking_id=booking_id,
        clinic_id=clinic_id,
        data=data,
        now=_now(),
        idempotency=key,
        keep_hours=policy.idempotency_hours,
    )
    return AdverseEventOut.of(event)


def _now() -> datetime:
    return datetime.now(UTC)


def _awaiting(awaiting: PhoneAwaiting) -> PhoneConfirmation:
    left = max(0, int((awaiting.expires_at - _now()).total_seconds()))
    return PhoneConfirmation(phone=awaiting.phone, expires_in=left)


# Citizens and assisting staff book, cancel and move through the same three calls; only the route differs.


async def _book(
    uow: UoW,
    principal: Principal,
    policy: BookingPolicy,
    sold_out: SoldOutSlots,
    header: str | None,
    slot_id: UUID,
    person_id: UUID | None,
) -> Booking:
    key = _key(principal, header, "bookings.create", slot_id=str(slot_id), person_id=person_id and str(person_id))
    booked = await bookings.book(
        uow, principal, policy, slot_id=slot_id, person_id=person_id, now=_now(), idempotency=key, sold_out=sold_out
    )
    return Booking.of(booked, staff=principal.is_staff)


async def _cancel(
    uow: UoW, principal: Principal, policy: BookingPolicy, header: str | None, booking_id: UUID
) -> Booking:
    key = _key(principal, header, "bookings.cancel", booking_id=str(booking_id))
    cancelled = await bookings.cancel(uow, principal, policy, booking_id=booking_id, now=_now(), idempotency=key)
    return Booking.of(cancelled, staff=principal.is_staff)


async def _join_standby(
    uow: UoW, principal: Principal, policy: BookingPolicy, header: str | None, data: StandbyJoin
) -> StandbyEntry:
    key = _key(principal, header, "standby.join", **data.model_dump(mode="json"))
    joined = await standby.join(uow, principal, data, now=_now(), idempotency=key, keep_hours=policy.idempotency_hours)
    return StandbyEntry.of(joined)


async def _enter_draw(
    uow: UoW,
    principal: Principal,
    policy: BookingPolicy,
    header: str | None,
    data: DrawEntryCreate | AssistedDrawEntryCreate,
) -> MyDrawEntry:
    key = _key(principal, header, "draws.enter", **data.model_dump(mode="json"))
    entry = await draws.enter(
        uow,
        principal,
        slot_id=data.slot_id,
        person_id=data.person_id,
        now=_now(),
        idempotency=key,
        keep_hours=policy.idempotency_hours,
    )
    return MyDrawEntry.model_validate(entry.__dict__)


async def _accept_offer(
    uow: UoW, principal: Principal, policy: BookingPolicy, header: str | None, entry_id: UUID
) -> Booking:
    key = _key(principal, header, "standby.accept", entry_id=str(entry_id))
    accepted = await standby.accept(uow, principal, policy, entry_id=entry_id, now=_now(), idempotency=key)
    return Booking.of(accepted, staff=principal.is_staff)


async def _reschedule(
    uow: UoW, principal: Principal, policy: BookingPolicy, header: str | None, booking_id: UUID, slot_id: UUID
) -> Booking:
    key = _key(principal, header, "bookings.move", booking_id=str(booking_id), slot_id=str(slot_id))
    moved = await bookings.move(
        uow, principal, policy, booking_id=booking_id, slot_id=slot_id, now=_now(), idempotency=key
    )
    return Booking.of(moved, staff=principal.is_staff)


class ConsentController(Controller):
    path = "/api/v1/consent"
    tags = ["Citizens"]

    @get("/", opt=PUBLIC, summary="Current consent text")
    async def current(self) -> ConsentText:
        """The consent text a profile must accept (send its version back as consent.text_version)."""
        return ConsentText(version=CONSENT_VERSION, text_vi=CONSENT_TEXT.vi, text_en=CONSENT_TEXT.en)


class ProfileController(Controller):
    path = "/api/v1/me"
    tags = ["Citizens"]

    @get("/profile", summary="My profile")
    async def get_profile(self, uow: UoW, request: CallerRequest) -> Person:
        """Your own profile: the person your phone number stands for. Citizens only; 404 person-not-found until you have
        saved one."""
        return Person.of(await people.profile(uow, request.user))

    @put("/profile", summary="Create or replace my profile")
    async def save_profile(self, data: JSONBody[ProfileUpsert], uow: UoW, request: CallerRequest) -> Person:
        """Create or replace your profile; consent to the current text (GET /api/v1/consent) is part of it."""
        return Person.of(await people.save_profile(uow, request.user, data, now=_now()))

    @get("/export", summary="Export my data")
    async def export(self, uow: UoW, request: CallerRequest) -> Response[AccountExport]:
        """Everything held about your account and the people you manage, as one JSON file: profiles, consent,
        declarations, bookings, standby and draw entries, doses and reported reactions. Each export is audited."""
        now = _now()
        data = AccountExport.of(await privacy.export(uow, request.user), now=now)
        day = department_day(now)
        return Response(
            data,
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": f'attachment; filename="vaxbook-my-data-{day}.json"',
            },
        )

    @post("/erasure", status_code=HTTP_200_OK, summary="Erase my personal data")
    async def erase(self, data: JSONBody[Erasure], uow: UoW, request: CallerRequest, policy: Policy) -> Erased:
        """Erase your account and its people's personal data (`{"confirm": true}`): the phone, names, CCCD
        numbers, addresses below the province and declarations go; doses and reactions stay under no name, as
        medical records must. Refused (409 open-bookings) while a booking is open."""
        return Erased(people_erased=await privacy.erase(uow, request.user, policy, now=_now()))

    @get("/dependents", summary="My dependents")
    async def list_dependents(self, uow: UoW, request: CallerRequest) -> list[Person]:
        """The people you book for who have no phone of their own. Citizens only."""
        return [Person.of(p) for p in await people.dependents(uow, request.user)]

    @post("/dependents", summary="Add a dependent to book for")
    async def add_dependent(
        self,
        data: JSONBody[DependentCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Person:
        """Someone you book for who has no phone of their own (at most five). An Idempotency-Key makes a retry safe:
        the same key adds them once."""
        key = _key(request.user, idempotency_key, "dependents.create", **data.model_dump(mode="json"))
        added = await people.add_dependent(
            uow, request.user, data, now=_now(), idempotency=key, keep_hours=policy.idempotency_hours
        )
        return Person.of(added)

    @patch("/dependents/{person_id:uuid}", summary="Change a dependent's details")
    async def update_dependent(
        self, person_id: FromPath[UUID], data: JSONBody[DependentUpdate], uow: UoW, request: CallerRequest
    ) -> Person:
        """Change a dependent's relation, name or place; date of birth, sex and CCCD stay. Citizens only, for their own
        dependents (anyone else is 404 person-not-found)."""
        return Person.of(await people.update_dependent(uow, request.user, person_id, data))

    @get(
        "/people/{person_id:uuid}/certificate",
        media_type="image/png",
        summary="Vaccination certificate (SMART Health Card)",
    )
    async def certificate(
        self,
        person_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        keys: Keys,
        settings: AppSettings,
        format: FromQuery[QrFormat] = "png",
    ) -> Response[bytes]:
        """A vaccination certificate as a SMART Health Card (every dose recorded), for yourself or a dependent: any
        SMART Health Card verifier app reads it, offline, with our keys at /.well-known/jwks.json."""
        text = await certificates.health_card(
            uow, request.user, keys, person_id=person_id, issuer=settings.public_url, now=_now()
        )
        return await _drawn(text, format, card=True)

    @get("/people/{person_id:uuid}/vaccinations", summary="My vaccination record")
    async def vaccinations(self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[VaccinationOut]:
        """Every dose you (or a dependent) were given, oldest first: vaccine, dose, lot, day and clinic."""
        return [VaccinationOut.model_validate(v) for v in await records.vaccinations(uow, request.user, person_id)]

    @get("/people/{person_id:uuid}/next-doses", summary="Next doses due")
    async def next_doses(self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[NextDoseOut]:
        """The next dose of each series you (or a dependent) started and have not finished, and the first day it
        may be booked; with your booking for it, if you have one."""
        return [NextDoseOut.of(due) for due in await records.next_doses(uow, request.user, person_id)]

    @get("/people/{person_id:uuid}/declarations", summary="My priority-group declarations")
    async def get_declarations(self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> DeclarationsOut:
        """What you declared for priority groups, for yourself (your profile's id) or a dependent."""
        return DeclarationsOut.model_validate(await people.declarations(uow, request.user, person_id))

    @put("/people/{person_id:uuid}/declarations", summary="Declare for priority groups")
    async def declare(
        self, person_id: FromPath[UUID], data: JSONBody[Declarations], uow: UoW, request: CallerRequest
    ) -> DeclarationsOut:
        """Declare pregnancy dates, health work, chronic disease or disability: priority seats check them, and
        staff may ask for evidence at check-in."""
        return DeclarationsOut.model_validate(await people.declare(uow, request.user, person_id, data))

    @delete("/dependents/{person_id:uuid}", summary="Remove a dependent from my account")
    async def remove_dependent(
        self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy
    ) -> None:
        """Remove a dependent who never had a booking or a draw entry (409 dependent-has-bookings otherwise: those stay
        for their health record); a seat offered to them from the standby list goes to the next in line. Citizens only,
        for their own dependents (anyone else is 404 person-not-found)."""
        await people.remove_dependent(uow, request.user, policy, person_id, now=_now())


class BookingController(Controller):
    path = "/api/v1/bookings"
    tags = ["Bookings"]

    @get("/", summary="My bookings")
    async def list_bookings(
        self, uow: UoW, request: CallerRequest, limit: Limit = 50, cursor: Cursor = None
    ) -> Page[Booking]:
        """Your bookings and your dependents', latest first."""
        found = await bookings.of_account(uow, request.user, after=decode_time_cursor(cursor), limit=limit + 1)
        return paginate([Booking.of(b) for b in found], limit, lambda b: (b.starts_at.isoformat(), b.id))

    @post("/", summary="Book a seat")
    async def book(
        self,
        data: JSONBody[BookingCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        sold_out: SoldOut,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Book a seat for yourself or a dependent (person_id)."""
        return await _book(uow, request.user, policy, sold_out, idempotency_key, data.slot_id, data.person_id)

    @post("/{booking_id:uuid}/adverse-events", summary="Report a reaction after my dose")
    async def report_reaction(
        self,
        booking_id: FromPath[UUID],
        data: JSONBody[AdverseEventCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> AdverseEventOut:
        """Report a reaction after a dose (yours or a dependent's). An Idempotency-Key makes a retry safe: the same
        key reports it once."""
        return await _report_reaction(uow, request.user, policy, idempotency_key, booking_id, None, data)

    @post("/{booking_id:uuid}/rating", summary="Rate my visit")
    async def rate(
        self, booking_id: FromPath[UUID], data: JSONBody[RatingIn], uow: UoW, request: CallerRequest
    ) -> RatingOut:
        """Rate a visit that took place (yours or a dependent's): 1 to 5, and a comment if you like. Once per visit
        (409 already-rated); 409 visit-not-completed before the dose or the visit; anyone else's is 404."""
        await feedback.rate(
            uow, request.user, booking_id=booking_id, rating=data.rating, comment=data.comment, now=_now()
        )
        return RatingOut(booking_id=booking_id, rating=data.rating)

    @get("/{booking_id:uuid}/qr", media_type="image/png", summary="My booking's QR code")
    async def qr_code(
        self,
        booking_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        keys: Keys,
        checkin_window: CheckInWindow,
        format: FromQuery[QrFormat] = "png",
    ) -> Response[bytes]:
        """Your booking's QR for the door: PNG (default), SVG, or the signed text itself. It carries the booking's
        id, clinic and time only, and stops working when the booking is cancelled or moved."""
        text = await checkin.appointment_qr(uow, request.user, keys, booking_id=booking_id, window=checkin_window)
        return await _drawn(text, format, card=False)

    @get("/{booking_id:uuid}", summary="One of my bookings")
    async def get_booking(self, booking_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> Booking:
        """One booking of yours or a dependent's. Citizens only; anyone else's is 404 booking-not-found."""
        return Booking.of(await bookings.get(uow, request.user, booking_id))

    @post("/{booking_id:uuid}/cancel", status_code=HTTP_200_OK, summary="Cancel my booking")
    async def cancel(
        self,
        booking_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Cancel your booking (or a dependent's) before its time; its seat goes to the standby list or back to
        everyone. An Idempotency-Key makes a retry safe. Citizens only. Refused: 409 booking-started once its time has
        come, 409 booking-moved (with where it went) when it was moved, 409 booking-not-active when it was already
        cancelled or ended."""
        return await _cancel(uow, request.user, policy, idempotency_key, booking_id)

    @post("/{booking_id:uuid}/reschedule", summary="Move my booking to another slot")
    async def reschedule(
        self,
        booking_id: FromPath[UUID],
        data: JSONBody[BookingMove],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Move to another slot of the same service; the answer is the new booking (new id and code)."""
        return await _reschedule(uow, request.user, policy, idempotency_key, booking_id, data.slot_id)


class StandbyController(Controller):
    path = "/api/v1/standby"
    tags = ["Standby list"]

    @get("/", summary="My standby entries")
    async def list_entries(self, uow: UoW, request: CallerRequest) -> list[StandbyEntry]:
        """Your entries and your dependents'; an offered seat shows under `offer` until it expires."""
        return [StandbyEntry.of(e) for e in await standby.of_account(uow, request.user)]

    @post("/", summary="Join the standby list")
    async def join(
        self,
        data: JSONBody[StandbyJoin],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> StandbyEntry:
        """Wait for a seat when none is free at a clinic (or in a district) between two dates. An Idempotency-Key
        makes a retry safe: the same key joins once, and its repeat gets the same entry."""
        return await _join_standby(uow, request.user, policy, idempotency_key, data)

    @post("/{entry_id:uuid}/accept", summary="Accept a standby offer")
    async def accept(
        self,
        entry_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Take the offered seat: it becomes your booking. An offer accepted already answers the booking it became
        (201 again, and no booking attempt counted); one that ran out or was turned down is 409 offer-gone."""
        return await _accept_offer(uow, request.user, policy, idempotency_key, entry_id)

    @post("/{entry_id:uuid}/decline", status_code=HTTP_200_OK, summary="Decline a standby offer")
    async def decline(self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy) -> StandbyEntry:
        """Turn the offer down; the seat goes to the next in line."""
        return StandbyEntry.of(await standby.leave(uow, request.user, policy, entry_id=entry_id, now=_now()))

    @delete("/{entry_id:uuid}", summary="Leave the standby list")
    async def leave(self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy) -> None:
        """Leave the standby list (an open offer is declined)."""
        await standby.leave(uow, request.user, policy, entry_id=entry_id, now=_now())


class AssistController(Controller):
    """Clinic staff at a counter and hotline operators, acting for a citizen within the same rules and limits."""

    path = "/api/v1/assist"
    tags = ["Assisted booking"]

    @post("/people", summary="Register a walk-in or a caller")
    async def register(
        self,
        data: JSONBody[AssistedRegistration],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        otp_policy: Codes,
        idempotency_key: IdempotencyHeader = None,
    ) -> Registered:
        """Register a walk-in or a caller. With a phone, a code goes to it by SMS (`phone_confirmation` says where
        and for how long): the person is that phone's own profile (they can sign in and see their bookings, and hear
        from us) only once the code the caller reads back is confirmed (`…/phone/confirmation`); until then they are
        registered without a phone. 409 phone-has-profile (`person_id`) for a phone someone's profile has; 429 past
        the codes a phone or a staff member may be sent. An Idempotency-Key makes a retry safe: the same key
        registers them once, and sends one code."""
        key = _key(request.user, idempotency_key, "people.register", **data.model_dump(mode="json"))
        registered = await people.register(
            uow,
            request.user,
            data,
            codes=otp_policy,
            now=_now(),
            idempotency=key,
            keep_hours=policy.idempotency_hours,
        )
        awaiting = await people.phone_awaiting(uow, registered.id) if data.phone is not None else None
        return Registered(
            **Person.of(registered).model_dump(),
            phone_confirmation=_awaiting(awaiting) if awaiting is not None else None,
        )

    @post("/people/{person_id:uuid}/phone", status_code=HTTP_202_ACCEPTED, summary="Send a code to a caller's phone")
    async def send_phone_code(
        self, person_id: FromPath[UUID], data: JSONBody[PhoneGiven], uow: UoW, request: CallerRequest, otp_policy: Codes
    ) -> PhoneConfirmation:
        """Send a code by SMS to a phone for someone registered without one (a phone given at registration again,
        or another: a code sent before to another phone no longer counts); asked again within 30 s for the same
        phone, no second code goes out. 409 person-has-phone for someone who has one (their own account, or a
        relative's); 409 phone-has-profile; 403 clinic-out-of-scope for clinic staff when the person has bookings
        or waits at other clinics; 429 as for registering."""
        awaiting = await people.send_phone_code(uow, request.user, otp_policy, person_id, data)
        return _awaiting(awaiting)

    @post(
        "/people/{person_id:uuid}/phone/confirmation",
        status_code=HTTP_200_OK,
        summary="Confirm a caller's phone with the code they read back",
    )
    async def confirm_phone(
        self, person_id: FromPath[UUID], data: JSONBody[PhoneCode], uow: UoW, request: CallerRequest, otp_policy: Codes
    ) -> Person:
        """The code the caller read back: the person becomes the phone's own profile (`relation: self`). 422 on
        `code`: `code_wrong` (with the tries left), `code_expired` (expired, used, too many wrong tries, or none
        sent: send a new one); 409 phone-has-profile, person-has-phone; 429 past the wrong codes a staff member may
        type. Confirmed already with this code: the person again."""
        return Person.of(await people.confirm_phone(uow, request.user, otp_policy, person_id, data))

    @post("/people/search", status_code=HTTP_200_OK, summary="Find a caller by phone or CCCD")
    async def search(self, data: JSONBody[PersonSearch], uow: UoW, request: CallerRequest) -> list[Person]:
        """Find someone by phone (with their dependents) or by CCCD; searched in the body, never the URL."""
        return [Person.of(p) for p in await people.search(uow, request.user, data)]

    @get("/people/{person_id:uuid}/bookings", summary="A caller's bookings")
    async def person_bookings(self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[Booking]:
        """A person's bookings, latest first (at most 200; clinic staff see their own clinics' only). Each read is
        audited. Clinic staff and operators; 404 person-not-found."""
        return [Booking.of(b, staff=True) for b in await bookings.of_person(uow, request.user, person_id)]

    @post(
        "/people/{person_id:uuid}/cccd-verification",
        status_code=HTTP_200_OK,
        summary="Confirm a person's CCCD from the card",
    )
    async def verify_cccd(
        self, person_id: FromPath[UUID], data: JSONBody[CccdSeen], uow: UoW, request: CallerRequest
    ) -> Person:
        """Clinic staff saw the person's CCCD card: its number becomes theirs, verified and unique, and is taken
        from anyone who had typed it for someone else (audited). 409 cccd-verified-elsewhere when it is another
        person's verified number (`person_id`). Clinic staff only: the hotline cannot see a card."""
        return Person.of(await people.verify_cccd(uow, request.user, person_id, data, now=_now()))

    @put("/people/{person_id:uuid}/declarations", summary="Record a caller's priority declarations")
    async def declare(
        self, person_id: FromPath[UUID], data: JSONBody[Declarations], uow: UoW, request: CallerRequest
    ) -> DeclarationsOut:
        """Record what a caller declares for priority groups (pregnancy dates, health work, …) for them."""
        return DeclarationsOut.model_validate(await people.declare(uow, request.user, person_id, data))

    @post("/standby", summary="Put a caller on the standby list")
    async def join_standby(
        self,
        data: JSONBody[StandbyJoin],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> StandbyEntry:
        """Put a caller on the standby list (person_id required); offers show in their own list. An
        Idempotency-Key makes a retry safe, as for a citizen."""
        return await _join_standby(uow, request.user, policy, idempotency_key, data)

    @get("/people/{person_id:uuid}/standby", summary="A caller's standby entries")
    async def person_standby(self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> list[StandbyEntry]:
        """A person's standby entries, latest first; an offered seat shows under `offer` until it expires. Clinic
        staff see their own clinics' lists (and offers of seats at their clinics) only. Each read is audited. 404
        person-not-found."""
        return [StandbyEntry.of(e) for e in await standby.of_person(uow, request.user, person_id)]

    @post("/standby/{entry_id:uuid}/accept", summary="Accept a standby offer for a caller")
    async def accept_offer(
        self,
        entry_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Take the seat offered to a person (a walk-in without a phone, a caller): it becomes their booking, as
        their own accept would make it. An offer accepted already answers the booking it became; one that ran out or
        was turned down is 409 offer-gone. Clinic staff reach their own clinics' entries only (others are 404
        standby-not-found)."""
        return await _accept_offer(uow, request.user, policy, idempotency_key, entry_id)

    @post("/standby/{entry_id:uuid}/decline", status_code=HTTP_200_OK, summary="Decline a standby offer for a caller")
    async def decline_offer(
        self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy
    ) -> StandbyEntry:
        """Turn a person's offer down; the seat goes to the next in line (declined already: the entry as it
        stands)."""
        return StandbyEntry.of(await standby.leave(uow, request.user, policy, entry_id=entry_id, now=_now()))

    @post("/draw-entries", summary="Enter a caller in a slot's draw")
    async def enter_draw(
        self,
        data: JSONBody[AssistedDrawEntryCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> MyDrawEntry:
        """Enter a person (a caller, a walk-in) in a slot's draw, under the rules their own entry meets; at its turn
        the entry books as the staff member who made it. Clinic staff at their own clinics only (403
        clinic-out-of-scope). An Idempotency-Key makes a retry safe, as for a citizen."""
        return await _enter_draw(uow, request.user, policy, idempotency_key, data)

    @get("/people/{person_id:uuid}/draw-entries", summary="A caller's draw entries")
    async def person_draw_entries(
        self, person_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> list[MyDrawEntry]:
        """A person's draw entries and how they ended, latest first (clinic staff see their own clinics' only). Each
        read is audited. 404 person-not-found."""
        return [MyDrawEntry.model_validate(e.__dict__) for e in await draws.of_person(uow, request.user, person_id)]

    @delete("/draw-entries/{entry_id:uuid}", summary="Take a caller out of a slot's draw")
    async def leave_draw(self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> None:
        """Take a person out of a draw before it closes (409 draw-closed after); another clinic's entry, for clinic
        staff, is 404 draw-entry-not-found."""
        await draws.leave(uow, request.user, entry_id, now=_now())

    @delete("/standby/{entry_id:uuid}", summary="Take a caller off the standby list")
    async def leave_standby(self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy) -> None:
        """Take a person off the standby list (an open offer is declined, its seat passed on); left or declined
        already: 204 again."""
        await standby.leave(uow, request.user, policy, entry_id=entry_id, now=_now())

    @post("/bookings", summary="Book a seat for a caller")
    async def book(
        self,
        data: JSONBody[AssistedBookingCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        sold_out: SoldOut,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Book a seat for a registered person (person_id) under the same rules as their own booking: who the service is
        for, priority seats, draws, and the open-booking and attempt limits. An Idempotency-Key makes a retry safe.
        Operators book anywhere; clinic staff at their own clinics only (403 clinic-out-of-scope)."""
        return await _book(uow, request.user, policy, sold_out, idempotency_key, data.slot_id, data.person_id)

    @post("/bookings/{booking_id:uuid}/cancel", status_code=HTTP_200_OK, summary="Cancel a caller's booking")
    async def cancel(
        self,
        booking_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Cancel a person's booking before its time; its seat goes to the standby list or back to everyone. An
        Idempotency-Key makes a retry safe. Operators reach any booking, clinic staff their own clinics' (others are 404
        booking-not-found). Refused as a citizen's cancel is: 409 booking-started, booking-moved, booking-not-active."""
        return await _cancel(uow, request.user, policy, idempotency_key, booking_id)

    @get("/bookings/{booking_id:uuid}/qr", media_type="image/png", summary="A caller's booking QR code")
    async def qr_code(
        self,
        booking_id: FromPath[UUID],
        uow: UoW,
        request: CallerRequest,
        keys: Keys,
        checkin_window: CheckInWindow,
        format: FromQuery[QrFormat] = "png",
    ) -> Response[bytes]:
        """The QR of a booking you may act on (clinic staff: at your clinics), to print or send to a caller without
        a phone of their own; each fetch is audited."""
        text = await checkin.appointment_qr(uow, request.user, keys, booking_id=booking_id, window=checkin_window)
        return await _drawn(text, format, card=False)

    @post("/bookings/{booking_id:uuid}/reschedule", summary="Move a caller's booking")
    async def reschedule(
        self,
        booking_id: FromPath[UUID],
        data: JSONBody[BookingMove],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> Booking:
        """Move a person's booking to another slot of the same service; the answer is the new booking (new id and code).
        Operators reach any booking, clinic staff their own clinics'. Refused: 409 same-slot, other-service,
        booking-started, booking-moved, booking-not-active, and whatever would refuse a new booking of that slot."""
        return await _reschedule(uow, request.user, policy, idempotency_key, booking_id, data.slot_id)


class ClinicBookingController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/bookings"
    tags = ["Bookings"]

    @get("/", summary="A clinic's bookings for one day")
    async def day_list(
        self, clinic_id: FromPath[UUID], uow: UoW, request: CallerRequest, day: FromQuery[QueryDate | None] = None
    ) -> list[DayListEntry]:
        """Who comes when on one day (the clinic's local date; today by default), for the counter."""
        rows = await bookings.day_list(uow, request.user, clinic_id, day, now=_now())
        return [
            DayListEntry(booking=Booking.of(b, staff=True), person_name=name, date_of_birth=born)
            for b, name, born in rows
        ]


class CallOffController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/call-off"
    tags = ["Slots"]

    @post("/", status_code=HTTP_200_OK, summary="Call a session off and tell everyone booked")
    async def call_off(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy
    ) -> CalledOff:
        """Cancel a slot that has not started, with its bookings (health_admin, or that clinic's staff): each
        person is told, with a link to book again, and the seats held for standby offers are let go. 409
        slot-not-callable once it started or was cancelled, people-checked-in once anyone of it checked in."""
        cancelled = await bookings.call_off(uow, request.user, policy, clinic_id=clinic_id, slot_id=slot_id, now=_now())
        return CalledOff(bookings_cancelled=cancelled)


class DrawEntryController(Controller):
    path = "/api/v1/draw-entries"
    tags = ["Bookings"]

    @get("/", summary="My draw entries")
    async def my_entries(self, uow: UoW, request: CallerRequest) -> list[MyDrawEntry]:
        """Your draw entries and how they ended, latest first."""
        return [MyDrawEntry.model_validate(e.__dict__) for e in await priority.entries_of_account(uow, request.user.id)]

    @post("/", summary="Enter a slot's draw")
    async def enter(
        self,
        data: JSONBody[DrawEntryCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> MyDrawEntry:
        """Enter yourself or a dependent in a slot's draw. Any time before it closes is as good as the first second.
        An Idempotency-Key makes a retry safe: the same key enters once, and its repeat gets the same entry."""
        return await _enter_draw(uow, request.user, policy, idempotency_key, data)

    @delete("/{entry_id:uuid}", summary="Leave a slot's draw")
    async def leave(self, entry_id: FromPath[UUID], uow: UoW, request: CallerRequest) -> None:
        """Take yourself or a dependent out of a draw before it closes (409 draw-closed after; anyone else's entry
        is 404 draw-entry-not-found)."""
        await draws.leave(uow, request.user, entry_id, now=_now())


class DrawRunController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/slots/{slot_id:uuid}/draw/run"
    tags = ["Priority groups"]

    @post("/", status_code=HTTP_200_OK, summary="Hold a closed draw now")
    async def run(
        self, clinic_id: FromPath[UUID], slot_id: FromPath[UUID], uow: UoW, request: CallerRequest, policy: Policy
    ) -> DrawOut:
        """Hold a closed draw now, rather than at the next sweep, and settle it."""
        await draws.run(uow, request.user, policy, clinic_id=clinic_id, slot_id=slot_id, now=_now())
        draw, entries = await priority.draw_record(uow, clinic_id, slot_id)
        return DrawOut.of(draw, entries, negotiate(request.headers.get("accept-language")))


class CheckInController(Controller):
    path = "/api/v1/clinics/{clinic_id:uuid}/check-ins"
    tags = ["Check-in"]

    @post("/", status_code=HTTP_200_OK, summary="Check a booking in")
    async def check_in(
        self,
        clinic_id: FromPath[UUID],
        data: JSONBody[CheckInRequest],
        uow: UoW,
        request: CallerRequest,
        checkin_window: CheckInWindow,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> CheckIn:
        """Check a booking in: send what the scanner read (`qr`), or the booking `code` with `cccd_last4` or
        `date_of_birth`. An Idempotency-Key makes a retried scan safe. Once per booking; a second scan is 409
        `already-checked-in` saying when and by whom. Each refusal of a QR has its own type: qr-malformed,
        qr-algorithm-refused, qr-unknown-key, qr-key-revoked, qr-bad-signature, qr-wrong-clinic, qr-too-early,
        qr-expired, booking-moved, booking-not-active."""
        key = _key(request.user, idempotency_key, "check-in", clinic_id=str(clinic_id), **data.model_dump(mode="json"))
        done = await checkin.check_in(
            uow,
            request.user,
            clinic_id=clinic_id,
            request=data,
            window=checkin_window,
            now=_now(),
            idempotency=key,
            keep_hours=policy.idempotency_hours,
        )
        return CheckIn.of(done)


class VisitController(Controller):
    """What staff record after check-in."""

    path = "/api/v1/clinics/{clinic_id:uuid}/bookings/{booking_id:uuid}"
    tags = ["Check-in"]

    @post("/evidence", status_code=HTTP_200_OK, summary="Record whether priority evidence was seen")
    async def evidence(
        self,
        clinic_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        data: JSONBody[EvidenceCheck],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
    ) -> Booking:
        """The priority group's evidence was seen (`seen: true`), or not: the booking is then `not_eligible`, its
        seat is freed and no dose is used."""
        booking = await visits.confirm_evidence(
            uow, request.user, policy, clinic_id=clinic_id, booking_id=booking_id, seen=data.seen, now=_now()
        )
        return Booking.of(booking, staff=True)

    @post("/vaccination", summary="Record a dose given")
    async def vaccination(
        self,
        clinic_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        data: JSONBody[VaccinationCreate],
        uow: UoW,
        request: CallerRequest,
    ) -> VaccinationOut:
        """Record the dose: a lot of the booking's vaccine that this clinic holds and that has not expired. The
        ledger's administered row and the booking's completion commit together, or not at all."""
        done = await visits.record_vaccination(
            uow, request.user, clinic_id=clinic_id, booking_id=booking_id, data=data, now=_now()
        )
        return VaccinationOut.model_validate(done)

    @post("/attendance", status_code=HTTP_200_OK, summary="Record a health-service visit")
    async def attendance(
        self, clinic_id: FromPath[UUID], booking_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> Booking:
        """A health-service visit (antenatal check-up) took place."""
        return Booking.of(
            await visits.record_attendance(uow, request.user, clinic_id=clinic_id, booking_id=booking_id), staff=True
        )

    @post("/no-dose", status_code=HTTP_200_OK, summary="End a check-in without a dose")
    async def no_dose(
        self, clinic_id: FromPath[UUID], booking_id: FromPath[UUID], uow: UoW, request: CallerRequest
    ) -> Booking:
        """Checked in, but no dose or visit after all (the person left, or was unwell): the booking ends as a
        no-show and the person may book again."""
        return Booking.of(
            await visits.record_no_dose(uow, request.user, clinic_id=clinic_id, booking_id=booking_id), staff=True
        )

    @post("/adverse-events", summary="Record a reaction at the clinic")
    async def adverse_event(
        self,
        clinic_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        data: JSONBody[AdverseEventCreate],
        uow: UoW,
        request: CallerRequest,
        policy: Policy,
        idempotency_key: IdempotencyHeader = None,
    ) -> AdverseEventOut:
        """Record a reaction after the dose, as staff at the clinic saw or heard of it; a serious one goes on the health
        department's follow-up list. Health admins, and clinic staff at their own clinics; 404 booking-not-found for a
        booking of another clinic, 409 not-checked-in until the dose is recorded. An Idempotency-Key makes a retry
        safe: the same key records it once."""
        return await _report_reaction(uow, request.user, policy, idempotency_key, booking_id, clinic_id, data)


class AdverseEventController(Controller):
    path = "/api/v1/adverse-events"
    tags = ["Check-in"]

    @get("/", summary="Serious adverse events to follow up")
    async def serious(
        self,
        uow: UoW,
        request: CallerRequest,
        since: Annotated[QueryInstant | None, QueryParameter(description="Reported at or after this instant")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> Page[FollowUpOut]:
        """Serious adverse events reported, latest first, for the health department to follow up: the person and
        the phone to call (a dependent's guardian's), the clinic, the vaccine, lot and dose before it. Each read is
        audited with the people it showed."""
        found = await visits.serious_events(
            uow,
            request.user,
            since=since,
            before=decode_time_cursor(cursor),
            limit=limit + 1,
        )
        return paginate(
            [FollowUpOut.of(f) for f in found], limit, lambda f: (f.event.reported_at.isoformat(), f.event.id)
        )


class CertificateController(Controller):
    path = "/api/v1/certificates/verify"
    tags = ["Check-in"]

    @post("/", opt=PUBLIC, status_code=HTTP_200_OK, summary="Verify a health card")
    async def verify(self, data: JSONBody[CardCheck], uow: UoW) -> VerifiedCard:
        """Check a health card we issued (the text of its QR): the same check a verifier app makes offline with
        our JWKS. Refusals: card-malformed, qr-unknown-key, qr-bad-signature, qr-algorithm-refused."""
        return VerifiedCard.of(await qr_service.verify_card(uow, data.qr))


class QualityController(Controller):
    """How the service fared, for the department: per clinic and week, and what citizens wrote."""

    path = "/api/v1/reports"
    tags = ["Reports"]

    @get("/service-quality", summary="Service quality by clinic and week")
    async def service_quality(
        self,
        uow: UoW,
        request: CallerRequest,
        settings: AppSettings,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        format: FormatParam = None,
    ) -> Response[list[ServiceQualityRow]]:
        """Per clinic and ISO week of the slots' start: bookings due, attended, no-shows and the no-show rate;
        doses and visits on time (within VAXBOOK_ON_TIME_MINUTES of the slot's start) and the on-time rate; the
        median wait from check-in to dose or visit; the number and average of citizens' ratings. Local days, at
        most 366; by default the last 8 weeks up to today. Counts only: JSON, CSV or XLSX."""
        first, last = _period(date_from, date_to)
        rows = await feedback.quality(uow, date_from=first, date_to=last, on_time_minutes=settings.on_time_minutes)
        out = [ServiceQualityRow.of(r) for r in rows]
        return answer(request, "service-quality", ServiceQualityRow, out, format)

    @get("/rating-comments", summary="What citizens wrote with their ratings")
    async def rating_comments(
        self,
        uow: UoW,
        request: CallerRequest,
        clinic_id: FromQuery[UUID | None] = None,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        format: FormatParam = None,
    ) -> Response[list[RatingCommentOut]]:
        """The comments given with ratings, newest first (500 at most), with the rating and the clinic: JSON, CSV or
        XLSX, as every report. Written by citizens, so each read is audited."""
        first, last = _period(date_from, date_to)
        found = await feedback.comments(uow, request.user, clinic_id=clinic_id, date_from=first, date_to=last)
        if not found:
            await check_filters_name_what_exists(uow, clinic_id=clinic_id)
        out = [RatingCommentOut(**c.__dict__) for c in found]
        return answer(request, "rating-comments", RatingCommentOut, out, format)


def _period(date_from: date | None, date_to: date | None) -> tuple[date, date]:
    """A report's local days: by default the last eight weeks, from a Monday, up to today."""
    today = department_day(_now())
    date_to = date_to or today
    return date_from or date_to - timedelta(days=date_to.weekday() + 7 * 7), date_to


class OpenDataController(Controller):
    """What the city's vaccinations and visits came to, for anyone: counts per district and week."""

    path = "/api/v1/open-data"
    tags = ["Open data"]

    @get("/weekly", opt=PUBLIC, summary="Open data: per district and week", cache=True)
    async def weekly(
        self,
        uow: UoW,
        settings: AppSettings,
        date_from: FromQuery[QueryDate | None] = None,
        date_to: FromQuery[QueryDate | None] = None,
        format: FromQuery[Literal["json", "csv", "xlsx"]] = "json",
    ) -> Response[Any]:
        """Per district and ISO week of the slots' start (Cần Thơ time; local days, at most 366, by default the last
        8 weeks up to today; whole weeks that have ended only: the answer's date_from and date_to are the Monday and
        the Sunday the days asked for fall in, or the last Sunday before today): seats offered, bookings due,
        attended, no-shows, doses by priority group (by the group's code; "" for none), the on-time rate and the
        average of citizens' ratings. Any count from 1 to VAXBOOK_OPEN_DATA_MIN_COUNT - 1 is held back (null), and
        so is any count or rate it could be worked out from. Anonymous; under the licence the answer carries
        (VAXBOOK_OPEN_DATA_LICENCE). JSON, CSV or XLSX."""
        first, last = _period(date_from, date_to)
        first, last, rows, groups = await open_data.weekly(
            uow,
            date_from=first,
            date_to=last,
            threshold=settings.open_data_min_count,
            on_time_minutes=settings.on_time_minutes,
            now=_now(),
        )
        if format == "json":
            return Response(
                {
                    "licence": settings.open_data_licence,
                    "min_count": settings.open_data_min_count,
                    "date_from": first,
                    "date_to": last,
                    "rows": rows,
                }
            )
        header = [
            "province",
            "district",
            "week_start",
            "seats_offered",
            "booked",
            "attended",
            "no_shows",
            *(f"doses_{code or 'no_group'}" for code in groups),
            "on_time_rate",
            "ratings",
            "average_rating",
            "licence",
        ]
        table = [
            [
                row["province"],
                row["district"],
                row["week_start"].isoformat(),
                row["seats_offered"],
                row["booked"],
                row["attended"],
                row["no_shows"],
                *(row["doses_by_group"].get(code, 0) for code in groups),
                row["on_time_rate"],
                row["ratings"],
                row["average_rating"],
                settings.open_data_licence,
            ]
            for row in rows
        ]
        return download("open-data-weekly", header, table, ReportFormat(format))
