"""What the booking use cases share: who may act on which person and booking, a service's rules, and where a
freed seat goes."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from uuid import UUID

from booking import repository
from booking.models import (
    CODE_ALPHABET,
    CONSENT_VERSION,
    Booking,
    BookingNotFound,
    BookingPolicy,
    ConsentOutdated,
    NotEligible,
    OutOfScope,
    Person,
    PersonNotFound,
    ProfileMissing,
    SeriesComplete,
    ServiceRules,
    StandbyEntry,
    check_eligibility,
)
from clinics import service as clinics
from clinics.models import Clinic, Slot, SlotStatus
from quotas import service as quotas
from vaxbook import audit
from vaxbook.auth.models import Principal, Role
from vaxbook.db import Connection, UnitOfWork


def attempt_scope(principal: Principal, person_id: UUID | None) -> str:
    """Citizens are limited per account; staff per person they book for, so that a counter is no way around."""
    if principal.role is Role.CITIZEN:
        return f"book:account:{principal.id}"
    return f"book:person:{person_id}"


async def person_for(conn: Connection, principal: Principal, person_id: UUID | None) -> Person:
    """The person the caller acts for: a citizen's own profile or dependent; anyone for assisting staff."""
    if principal.role is Role.CITIZEN:
        if person_id is None:
            person = await repository.person_of_account(conn, account_id=principal.id)
            if person is None:
                raise ProfileMissing()
        else:
            person = await repository.person_for_account(conn, person_id=person_id, account_id=principal.id)
    else:
        person = None if person_id is None else await repository.get_person(conn, person_id=person_id)
    if person is None:
        raise PersonNotFound()
    return person


def check_consent(person: Person) -> None:
    if person.consent_version != CONSENT_VERSION:
        raise ConsentOutdated(current_version=CONSENT_VERSION)


def check_clinic_scope(principal: Principal, clinic_id: UUID) -> None:
    """Clinic staff act at their own clinics; operators (the hotline) and citizens anywhere."""
    if principal.role is Role.CLINIC_STAFF and clinic_id not in principal.clinic_ids:
        raise OutOfScope()


async def booking_for(conn: Connection, principal: Principal, booking_id: UUID) -> Booking:
    """A booking the caller may see; anything else is not found (404, never 403)."""
    if principal.role is Role.CITIZEN:
        booking = await repository.booking_for_account(conn, booking_id=booking_id, account_id=principal.id)
    else:
        booking = await repository.get_booking(conn, booking_id=booking_id)
        if (
            booking is not None
            and principal.role is Role.CLINIC_STAFF
            and booking.clinic_id not in principal.clinic_ids
        ):
            booking = None
    if booking is None:
        raise BookingNotFound()
    return booking


async def rules_of(uow: UnitOfWork, service_id: UUID) -> ServiceRules:
    service = await clinics.get_service(uow, service_id)
    product = await quotas.get_product(uow, service.product_id) if service.product_id else None
    return ServiceRules(
        service_id=service.id,
        product_id=service.product_id,
        min_age_days=service.min_age_days,
        max_age_days=service.max_age_days,
        eligible_sex=service.eligible_sex,
        doses_in_series=product.doses_in_series if product else 1,
        min_days_between_doses=product.min_days_between_doses if product else 0,
    )


async def dose_for(uow: UnitOfWork, conn: Connection, person: Person, rules: ServiceRules, day: date) -> int:
    """The dose step the person may book on `day`, or NotEligible / SeriesComplete."""
    services = await clinics.service_ids_for_product(uow, rules.product_id) if rules.product_id else []
    given = await repository.doses_given(conn, person_id=person.id, service_ids=services) if services else []
    return check_eligibility(person, rules, given, day)


def local_day(slot: Slot, clinic: Clinic) -> date:
    return slot.starts_at.astimezone(clinic.zone).date()


async def pass_seat_on(
    uow: UnitOfWork, conn: Connection, *, slot_id: UUID, policy: BookingPolicy, now: datetime
) -> StandbyEntry | None:
    """A seat of this slot was freed: offer it to the first eligible person waiting, or give it back.

    The seat stays counted in `booked` while it is offered, so nobody else can take it meanwhile.
    """
    slot, clinic = await clinics.get_slot(uow, slot_id)
    if slot.status is SlotStatus.OPEN and slot.starts_at > now:
        day = local_day(slot, clinic)
        rules = await rules_of(uow, slot.service_id)
        waiting = await repository.waiting_for_seat(
            conn,
            service_id=slot.service_id,
            clinic_id=clinic.id,
            province=clinic.province,
            district=clinic.district,
            day=day,
            limit=20,
        )
        for entry in waiting:
            person = await repository.get_person(conn, person_id=entry.person_id)
            if person is None or await repository.has_active_booking(
                conn, person_id=person.id, service_id=slot.service_id
            ):
                continue
            try:
                await dose_for(uow, conn, person, rules, day)
            except (NotEligible, SeriesComplete):
                continue
            offered = await repository.offer_seat(
                conn,
                entry_id=entry.id,
                clinic_id=clinic.id,
                slot_id=slot.id,
                expires_at=min(now + timedelta(minutes=policy.offer_minutes), slot.starts_at),
            )
            await audit.record(
                conn,
                actor=audit.SYSTEM,
                action="standby.offer",
                object_type="standby_entry",
                object_id=entry.id,
                clinic_id=clinic.id,
                details={"slot_id": slot.id, "person_id": person.id, "expires_at": offered.offer_expires_at},
            )
            return offered
    await repository.release_seat(conn, clinic_id=slot.clinic_id, slot_id=slot.id)
    return None


def new_code() -> str:
    """A short code a nurse can read out and type: XXXX-XXXX, 40 random bits."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def actor_columns(principal: Principal) -> dict[str, UUID | None]:
    staff = principal.role is not Role.CITIZEN
    return {"booked_by_account": None if staff else principal.id, "booked_by_staff": principal.id if staff else None}


async def insert_booking(
    conn: Connection,
    principal: Principal,
    *,
    slot: Slot,
    person_id: UUID,
    dose: int,
    moved_from: UUID | None = None,
) -> Booking:
    for _ in range(5):
        booking = await repository.insert_booking(
            conn,
            clinic_id=slot.clinic_id,
            slot_id=slot.id,
            service_id=slot.service_id,
            person_id=person_id,
            dose_number=dose,
            code=new_code(),
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            moved_from=moved_from,
            **actor_columns(principal),
        )
        if booking is not None:
            return booking
    raise RuntimeError("five booking codes in a row were taken")


async def record_booking(
    conn: Connection, principal: Principal, action: str, booking: Booking, **details: object
) -> None:
    await audit.record(
        conn,
        actor=principal,
        action=action,
        object_type="booking",
        object_id=booking.id,
        clinic_id=booking.clinic_id,
        details={"person_id": booking.person_id, "slot_id": booking.slot_id, "code": booking.code, **details},
    )
