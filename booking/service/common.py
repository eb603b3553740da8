"""What the booking use cases share: who may act on which person and booking, a service's rules, the
standby entries a new booking ends, and where a freed seat goes."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import (
    CODE_ALPHABET,
    CONSENT_VERSION,
    AlreadyBooked,
    AlreadyCheckedIn,
    AlreadyRecorded,
    Booking,
    BookingMoved,
    BookingNotActive,
    BookingNotFound,
    BookingPolicy,
    BookingStarted,
    BookingStatus,
    ConsentOutdated,
    NotCheckedIn,
    NotEligible,
    OutOfScope,
    Person,
    PersonNotFound,
    ProfileMissing,
    SeriesComplete,
    ServiceRules,
    SlotFull,
    SlotNotBookable,
    StandbyEntry,
    StandbyStatus,
    check_eligibility,
)
from booking.service import messages
from clinics import seats
from clinics import service as clinics
from clinics.models import Clinic, Service, Slot, SlotStatus
from priority import service as priority
from priority.models import EVERYONE_ELSE_RANK, PriorityGroup, SeatPlan
from quotas import service as quotas
from quotas.models import VaccineProduct
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.auth.models import Principal, Role
from vaxbook.db import Connection, Lookup, Read, UnitOfWork, read
from vaxbook.errors import DomainError

CANDIDATES = 100
"""How many of the people waiting a freed seat considers (by their best rank over their wait, then time of
joining) before it goes back to everyone."""


def attempt_scope(principal: Principal, person_id: UUID) -> str:
    """Attempts are counted per person booked for: a citizen's for each of their people (a family of six books for
    all of them in one sitting, each within the limit; the account's cap on relatives bounds the whole), staff's
    per person they act for, so that a counter is no way around."""
    if principal.role is Role.CITIZEN:
        return f"book:account:{principal.id}:{person_id}"
    return f"book:person:{person_id}"


async def person_for(conn: Connection, principal: Principal, person_id: UUID | None) -> Person:
    """The person the caller acts for: a citizen's own profile or dependent; anyone whose data was not erased for
    assisting staff."""
    query = person_read(principal, person_id)
    return check_person(principal, person_id, await read(conn, query) if query is not None else None)


def person_read(principal: Principal, person_id: UUID | None) -> Read[Person | None] | None:
    """`person_for`'s read, for a use case that folds it with its own reads (then check_person); None when there is
    nobody to read (staff act for someone named)."""
    if principal.role is Role.CITIZEN:
        if person_id is None:
            return repository.own_person(account_id=principal.id)
        return repository.person_of_account_holder(person_id=person_id, account_id=principal.id)
    return None if person_id is None else repository.person_not_erased(person_id=person_id)


def person_key(principal: Principal, person_id: UUID | None) -> UUID | Lookup:
    """The id of the person `person_read` finds, for reads folded with it: the one named, or the citizen's own
    profile's (nobody for staff who name nobody). What those reads find counts only once `check_person` has taken
    the person read with them."""
    if person_id is not None:
        return person_id
    return repository.own_person_id(account_id=principal.id) if principal.role is Role.CITIZEN else _NOBODY


_NOBODY = Lookup("SELECT NULL::uuid", ())


def check_person(principal: Principal, person_id: UUID | None, person: Person | None) -> Person:
    if person is None:
        raise ProfileMissing() if principal.role is Role.CITIZEN and person_id is None else PersonNotFound()
    return person


def check_consent(person: Person) -> None:
    if person.consent_version != CONSENT_VERSION:
        raise ConsentOutdated(current_version=CONSENT_VERSION)


def already_booked(principal: Principal, held: tuple[UUID, UUID] | None) -> AlreadyBooked:
    """The refusal for a person holding a booking of the service already, naming that (booking, clinic) when the
    caller may open it: clinic staff, at their own clinics only."""
    if held is None:
        return AlreadyBooked()
    booking_id, clinic_id = held
    if principal.role is Role.CLINIC_STAFF and clinic_id not in principal.clinic_ids:
        return AlreadyBooked()
    return AlreadyBooked(booking_id)


def check_clinic_scope(principal: Principal, clinic_id: UUID) -> None:
    """Clinic staff act at their own clinics; operators (the hotline) and citizens anywhere."""
    if principal.role is Role.CLINIC_STAFF and clinic_id not in principal.clinic_ids:
        raise OutOfScope()


class Step(Enum):
    """What a change needs of a booking."""

    CHANGE = "change"  # cancelled or moved: booked, and its time not begun
    CHECK_IN = "check_in"  # booked, and not checked in
    RECORD = "record"  # its dose, visit, evidence or no-dose: checked in, nothing recorded yet
    REACTION = "reaction"  # a reaction reported after it: its dose or visit recorded
    SHOW_CODE = "show_code"  # its QR code shown or printed: booked or checked in


_SEEN_AT_THE_DOOR = (BookingStatus.CHECKED_IN, BookingStatus.COMPLETED)


async def why_not_ready(
    conn: Connection, booking: Booking | None, step: Step, *, now: datetime | None = None
) -> DomainError:
    """Why a booking, as it stands (read again by the caller: another request may have changed it), is not where
    `step` needs it, in the same words for every change: checked in already (when, by whom), its time begun, not
    checked in yet, recorded already, moved (to which booking), or ended otherwise (and how)."""
    if booking is None:
        return BookingNotFound()
    status = booking.status
    # checked in and still there, or vaccinated: who did it and when; one who left without a dose is told below
    if step is Step.CHECK_IN and booking.checked_in_at is not None and status in _SEEN_AT_THE_DOOR:
        by = await repository.checked_in_by(conn, booking_id=booking.id)
        at = booking.checked_in_at.astimezone(ZoneInfo(booking.timezone))
        return AlreadyCheckedIn(at=at, by=by or "?", booking_id=booking.id)
    if step is Step.CHANGE and status is BookingStatus.BOOKED:
        assert now is not None, "a change's time is told against now"
        if booking.starts_at <= now:
            return BookingStarted()
    if step in (Step.RECORD, Step.REACTION) and status in (BookingStatus.BOOKED, BookingStatus.CHECKED_IN):
        return NotCheckedIn()
    if step is Step.RECORD and status is BookingStatus.COMPLETED:
        return AlreadyRecorded()
    if status is BookingStatus.MOVED:
        return BookingMoved(await repository.moved_to(conn, booking_id=booking.id))
    return BookingNotActive.because(status, came=booking.checked_in_at is not None)


async def booking_for(conn: Connection, principal: Principal, booking_id: UUID) -> Booking:
    """A booking the caller may see; anything else is not found (404, never 403)."""
    if principal.role is Role.CITIZEN:
        booking = await repository.booking_for_account(conn, booking_id=booking_id, account_id=principal.id)
    else:
        booking = await repository.get_booking(conn, booking_id=booking_id)
        if booking is not None and principal.role is Role.CLINIC_STAFF:
            booking = booking if booking.clinic_id in principal.clinic_ids else None
    if booking is None:
        raise BookingNotFound()
    return booking


async def rules_of(uow: UnitOfWork, service_id: UUID) -> ServiceRules:
    service = await clinics.get_service(uow, service_id)
    if service.product_id is None:
        return rules_from(service, None, [])
    product = await quotas.get_product(uow, service.product_id)
    return rules_from(service, product, await clinics.service_ids_for_product(uow, service.product_id))


def rules_from(service: Service, product: VaccineProduct | None, siblings: list[UUID]) -> ServiceRules:
    """A service's rules, from it, its vaccine, and the services giving that vaccine."""
    return ServiceRules(
        service_id=service.id,
        product_id=service.product_id,
        min_age_days=service.min_age_days,
        max_age_days=service.max_age_days,
        eligible_sex=service.eligible_sex,
        doses_in_series=product.doses_in_series if product else 1,
        min_days_between_doses=product.min_days_between_doses if product else 0,
        active=service.active,
        siblings=tuple(siblings) if service.product_id else (service.id,),
    )


def is_open(slot: Slot, clinic: Clinic, rules: ServiceRules, now: datetime) -> bool:
    """Whether the slot takes bookings now: open, ahead of us, at an active clinic, for an active service."""
    return slot.status is SlotStatus.OPEN and slot.starts_at > now and clinic.active and rules.active


def check_open(slot: Slot, clinic: Clinic, rules: ServiceRules, now: datetime) -> None:
    if not is_open(slot, clinic, rules, now):
        raise SlotNotBookable()


async def dose_for(uow: UnitOfWork, person: Person, rules: ServiceRules, day: date) -> int:
    """The dose step the person may book on `day`, or NotEligible / SeriesComplete."""
    conn = uow.conn
    given = (
        await repository.doses_given(conn, person_id=person.id, service_ids=list(rules.siblings))
        if rules.product_id
        else []
    )
    return check_eligibility(person, rules, given, day)


def local_day(slot: Slot, clinic: Clinic) -> date:
    return slot.starts_at.astimezone(clinic.zone).date()


async def end_live_entries(
    uow: UnitOfWork,
    actor: Actor,
    *,
    people: list[Person],
    service_ids: list[UUID] | None,
    policy: BookingPolicy,
    now: datetime,
    locking: list[UUID] | None = None,
) -> None:
    """These people stop waiting (for these services, or for any): a seat held for one of them goes to the next in
    line. Every wait of theirs ends first, so that such a seat never goes to one of them (their entries are locked
    by this transaction: the line's SKIP LOCKED would not pass them over). The slots of those seats are then locked
    together with `locking` (slots the caller goes on to change), in id order, before any seat is passed on: seats'
    lock order, so that a move between the same slots cannot be waiting for one of them while this holds the
    other."""
    conn = uow.conn
    entries = [
        entry
        for person in people
        for entry in await repository.live_entries(conn, person_id=person.id, service_ids=service_ids)
    ]
    for entry in entries:
        if entry.status is StandbyStatus.WAITING:
            await repository.leave_waiting(conn, entry_id=entry.id)
            await record_entry(conn, actor, "standby.leave", entry)
    offers = [entry for entry in entries if entry.status is StandbyStatus.OFFERED]
    if offers:
        await seats.lock_all(conn, slot_ids=[*(e.offer_slot_id for e in offers if e.offer_slot_id), *(locking or [])])
    for entry in offers:
        closed = await repository.close_offer(
            conn, entry_id=entry.id, to_status=StandbyStatus.LEFT, booking_id=None, now=now
        )
        if closed is not None and closed.offer_slot_id is not None:
            await record_entry(conn, actor, "standby.leave", closed)
            await pass_seat_on(uow, slot_id=closed.offer_slot_id, policy=policy, now=now)


async def plan_seat(uow: UnitOfWork, slot: Slot, clinic: Clinic, person: Person, now: datetime) -> SeatPlan:
    """The seats of the slot open to this person now: held back for their groups, or everyone's."""
    return await priority.plan_seat(
        uow,
        slot=slot,
        zone=clinic.zone,
        person_id=person.id,
        born=person.date_of_birth,
        sex=person.sex,
        on=local_day(slot, clinic),
        now=now,
    )


async def take_seat(
    uow: UnitOfWork,
    slot: Slot,
    seat_plan: SeatPlan,
    booking: Booking,
    now: datetime,
    *,
    through_draw: bool = False,
    ranked: bool = False,
) -> Booking:
    """Claim the booking's seat, by conditional updates only: one held back for the person's best group that has
    one left, else one of everyone's. Raises when none is left to them (and why, when seats are held back).

    The booking records the person's group either way (`ranked`: their rank already gave them their place, as
    on the standby list or in a draw)."""
    conn = uow.conn
    reservation = await priority.claim_reserved(uow, slot=slot, seat_plan=seat_plan, now=now)
    if reservation is None and not await seats.claim(
        conn, clinic_id=slot.clinic_id, slot_id=slot.id, now=now, early=seat_plan.early, through_draw=through_draw
    ):
        raise priority.why_no_seat(seat_plan) or SlotFull()
    group, used = seat_plan.booked_under(reservation)
    return await record_group(conn, booking, group, reserved_seat=reservation is not None, used=used or ranked)


async def record_group(
    conn: Connection, booking: Booking, group: PriorityGroup | None, *, reserved_seat: bool, used: bool
) -> Booking:
    """The booking's priority group (the person's best on the slot's date, or the one whose seat it took), and
    whether the group gave it its seat."""
    if group is None:
        return booking
    return await repository.mark_priority(
        conn, booking_id=booking.id, group_id=group.id, reserved_seat=reserved_seat, priority_used=used
    )


async def free_seat(uow: UnitOfWork, booking: Booking, *, policy: BookingPolicy, now: datetime) -> StandbyEntry | None:
    """A booking let its seat go: one held back for a group goes back to the group (until its release), any
    other to the standby list or everyone."""
    if (
        booking.reserved_seat
        and booking.priority_group_id is not None
        and await priority.return_seat(
            uow, clinic_id=booking.clinic_id, slot_id=booking.slot_id, group_id=booking.priority_group_id
        )
    ):
        return None
    return await pass_seat_on(uow, slot_id=booking.slot_id, policy=policy, now=now)


async def pass_seat_on(uow: UnitOfWork, *, slot_id: UUID, policy: BookingPolicy, now: datetime) -> StandbyEntry | None:
    """A seat of this slot was freed: offer it to the first eligible person waiting, or give it back.

    The seat stays counted in `booked` while it is offered, so nobody else can take it meanwhile.
    """
    conn = uow.conn
    slot, clinic = await clinics.get_slot(uow, slot_id)
    rules = await rules_of(uow, slot.service_id)
    # not before the slot opens to everyone (people on the list may be in no priority group), nor while its
    # seats go by draw
    if (
        is_open(slot, clinic, rules, now)
        and (slot.opens_at is None or slot.opens_at <= now)
        and not await priority.draw_pending(uow, slot)
    ):
        day = local_day(slot, clinic)
        for entry in await _in_line(uow, slot, clinic, day):
            if await repository.lock_waiting(conn, entry_id=entry.id) and await may_take(
                uow, await repository.get_person(conn, person_id=entry.person_id), slot, rules, day, policy
            ):
                return await offer(uow, entry, slot, clinic, policy=policy, now=now)
    await seats.give_back(conn, clinic_id=slot.clinic_id, slot_id=slot.id)
    return None


async def _in_line(uow: UnitOfWork, slot: Slot, clinic: Clinic, day: date) -> list[StandbyEntry]:
    """The people waiting for a seat of this slot's service, clinic and day, in the order a seat goes to them: by
    their rank on that day, then by the time they joined.

    An entry's stored rank is the best it has on any day of its wait, never worse than its rank on this day: the
    first CANDIDATES by stored rank hold everyone who can come first."""
    conn = uow.conn
    waiting = await repository.waiting_for(
        conn,
        service_id=slot.service_id,
        clinic_id=clinic.id,
        province=clinic.province,
        district=clinic.district,
        day=day,
        limit=CANDIDATES,
    )
    people = await repository.people_by_id(conn, person_ids=list({e.person_id for e in waiting}))
    ranks = await priority.ranks_on(uow, [someone(p) for p in people.values()], on=day)
    return sorted(waiting, key=lambda e: (ranks.get(e.person_id, EVERYONE_ELSE_RANK), e.created_at, e.id))


async def may_take(
    uow: UnitOfWork, person: Person | None, slot: Slot, rules: ServiceRules, day: date, policy: BookingPolicy
) -> bool:
    """Whether the person could accept a seat of this slot offered from the standby list: an offer they could not
    take (their open bookings at the limit, their household's seats of the slot taken, a dose not due) would hold
    the seat for nobody until it lapsed, and pass over those behind them."""
    conn = uow.conn
    if (
        person is None
        or person.active_bookings >= policy.max_active_per_person
        or await repository.has_active_booking(
            conn, person_id=person.id, service_id=rules.service_id, product_id=rules.product_id
        )
        or await repository.household_seats_in(conn, person_id=person.id, slot_id=slot.id) >= slot.seats_per_household
    ):
        return False
    try:
        await dose_for(uow, person, rules, day)
    except (NotEligible, SeriesComplete):
        return False
    return True


def someone(person: Person) -> priority.Someone:
    return priority.Someone(person_id=person.id, born=person.date_of_birth, sex=person.sex)


async def offer(
    uow: UnitOfWork,
    entry: StandbyEntry,
    slot: Slot,
    clinic: Clinic,
    *,
    policy: BookingPolicy,
    now: datetime,
) -> StandbyEntry:
    """Hold a seat of `slot` (already counted in booked) for the entry, until accepted, declined or expired, and
    tell the person. The offer runs from when the message can reach them (after quiet hours for an SMS)."""
    conn = uow.conn
    reaches = await messages.offer_time(conn, entry, slot, clinic, policy, now=now)
    offered = await repository.offer_seat(
        conn,
        entry_id=entry.id,
        clinic_id=slot.clinic_id,
        slot_id=slot.id,
        expires_at=min(reaches + timedelta(minutes=policy.offer_minutes), slot.starts_at),
    )
    await record_entry(conn, audit.SYSTEM, "standby.offer", offered)
    service = await clinics.get_service(uow, slot.service_id)
    await messages.offered(uow, offered, slot, clinic, (service.name_vi, service.name_en), policy, now=now)
    return offered


def new_code() -> str:
    """A short code a nurse can read out and type: two groups of four characters, 40 random bits (five for each
    character of the 32-letter alphabet, drawn at once)."""
    bits = secrets.randbits(40)
    chars = "".join(CODE_ALPHABET[(bits >> shift) & 31] for shift in range(35, -1, -5))
    return f"{chars[:4]}-{chars[4:]}"


def booked_by(principal: Principal) -> tuple[UUID | None, UUID | None]:
    """Who made a booking: (the citizen's account, the staff member), one of them."""
    return (principal.id, None) if principal.role is Role.CITIZEN else (None, principal.id)


async def insert_booking(
    conn: Connection,
    principal: Principal,
    *,
    slot: Slot,
    rules: ServiceRules,
    person_id: UUID,
    dose: int,
    moved_from: UUID | None = None,
) -> Booking:
    account, staff = booked_by(principal)
    for _ in range(5):
        booking = await repository.insert_booking(
            conn,
            clinic_id=slot.clinic_id,
            slot_id=slot.id,
            service_id=slot.service_id,
            product_id=rules.product_id,
            person_id=person_id,
            dose_number=dose,
            code=new_code(),
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            moved_from=moved_from,
            booked_by_account=account,
            booked_by_staff=staff,
        )
        if booking is not None:
            return booking
    raise RuntimeError("five booking codes in a row were taken")


async def record_booking(conn: Connection, actor: Actor, action: str, booking: Booking, **details: object) -> None:
    await audit.insert(conn, booking_entry(actor, action, booking, **details))


def booking_entry(actor: Actor, action: str, booking: Booking, **details: object) -> dict[str, Any]:
    """A booking's audit row."""
    return audit.entry(
        actor=actor,
        action=action,
        object_type="booking",
        object_id=booking.id,
        clinic_id=booking.clinic_id,
        details={"person_id": booking.person_id, "slot_id": booking.slot_id, "code": booking.code, **details},
    )


async def record_entry(conn: Connection, actor: Actor, action: str, entry: StandbyEntry) -> None:
    await audit.record(
        conn,
        actor=actor,
        action=action,
        object_type="standby_entry",
        object_id=entry.id,
        clinic_id=entry.offer_clinic_id or entry.clinic_id,
        details={"person_id": entry.person_id, "service_id": entry.service_id, "slot_id": entry.offer_slot_id},
    )
