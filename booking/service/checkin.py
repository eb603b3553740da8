"""Check-in at the door: a scanned appointment QR (or, without one, the booking code and the CCCD's last four
digits) turns a booking into checked_in once; a second scan says when and by whom."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn
from uuid import UUID
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import (
    Booking,
    BookingAtAnotherClinic,
    BookingNotFound,
    BookingStatus,
    CheckedIn,
    NoSuchAppointment,
    Person,
)
from booking.schemas import CheckInRequest
from booking.service.common import Step, booking_for, record_booking, rules_of, why_not_ready
from priority import service as priority
from qr import service as qr
from qr.keystore import KeyStore
from qr.models import Appointment, QrWrongClinic, Window
from quotas import service as quotas
from vaxbook.auth.models import Principal
from vaxbook.db import Connection, UnitOfWork
from vaxbook.idempotency import IdempotencyKey, Stored, run_once

_STORED = Stored(CheckedIn)


async def check_in(
    uow: UnitOfWork,
    principal: Principal,
    *,
    clinic_id: UUID,
    request: CheckInRequest,
    window: Window,
    now: datetime,
    idempotency: IdempotencyKey | None = None,
    keep_hours: int = 24,
) -> CheckedIn:
    """Check in once. With an Idempotency-Key, a scanner that retries after a lost answer gets the first answer
    again rather than already-checked-in."""

    async def work() -> CheckedIn:
        return await _check_in(uow, principal, clinic_id=clinic_id, request=request, window=window, now=now)

    return await run_once(uow, idempotency, work, stored=_STORED, keep_hours=keep_hours)


_STILL_THERE = (BookingStatus.BOOKED, BookingStatus.CHECKED_IN, BookingStatus.COMPLETED)


async def _check_in(
    uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, request: CheckInRequest, window: Window, now: datetime
) -> CheckedIn:
    principal.require_clinic(clinic_id)
    if request.qr is not None:
        try:
            appointment = await qr.read_appointment(uow, request.qr, clinic_id=clinic_id)
        except QrWrongClinic as elsewhere:  # a signed QR of another clinic's: where the person should be
            async with uow.transaction(readonly=True) as conn:
                found = (
                    await repository.get_booking(conn, booking_id=elsewhere.booking_id)
                    if elsewhere.booking_id
                    else None
                )
                if found is not None:
                    await _refuse_elsewhere(conn, found)
            raise
    else:
        assert request.code is not None
        async with uow.transaction(readonly=True) as conn:
            found = await repository.booking_by_code(
                conn, code=request.code, cccd_last4=request.cccd_last4, date_of_birth=request.date_of_birth
            )
            if found is not None and found.clinic_id != clinic_id:
                await _refuse_elsewhere(conn, found)
        if found is None:
            raise NoSuchAppointment.by_birth() if request.date_of_birth is not None else NoSuchAppointment.by_cccd()
        appointment = Appointment(found.id, clinic_id, found.starts_at, found.ends_at, found.ends_at + window.late)
    async with uow.transaction() as conn:
        # the booking's state first: a moved or cancelled booking says so, whatever the time
        current = await repository.get_booking(conn, booking_id=appointment.booking_id)
        if current is None or current.clinic_id != clinic_id:
            raise BookingNotFound()
        if current.status is not BookingStatus.BOOKED:
            raise await why_not_ready(conn, current, Step.CHECK_IN)
        window.check(appointment, now, ZoneInfo(current.timezone))
        booking = await repository.check_in(
            conn, booking_id=current.id, clinic_id=clinic_id, staff_id=principal.id, now=now
        )
        if booking is None:
            raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=current.id), Step.CHECK_IN)
        await record_booking(
            conn, principal, "booking.check_in", booking, by="qr" if request.qr is not None else "code"
        )
        person = await repository.get_person(conn, person_id=booking.person_id)
        assert person is not None
    return await _what_the_door_needs(uow, booking, person)


async def _refuse_elsewhere(conn: Connection, found: Booking) -> NoReturn:
    """A booking shown at a clinic it is not for (its code and proof typed, or its signed QR): what became of it
    first (a cancelled booking sends nobody anywhere), then where and when the person should be."""
    if found.status not in _STILL_THERE:
        raise await why_not_ready(conn, found, Step.CHECK_IN)
    raise BookingAtAnotherClinic(found.clinic_name, found.starts_at.astimezone(ZoneInfo(found.timezone)))


async def checked_in_here(uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID) -> CheckedIn:
    """A booking checked in at this clinic before (a second scan at the door): what the door shows of it, to go on
    from where it is, its reading on record as the first scan's was. BookingNotFound for anything else."""
    principal.require_clinic(clinic_id)
    async with uow.transaction() as conn:
        booking = await repository.get_booking(conn, booking_id=booking_id)
        if booking is None or booking.clinic_id != clinic_id or booking.checked_in_at is None:
            raise BookingNotFound()
        person = await repository.get_person(conn, person_id=booking.person_id)
        assert person is not None
        await record_booking(conn, principal, "booking.read_at_the_door", booking)
    return await _what_the_door_needs(uow, booking, person)


async def whose(uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID) -> str:
    """The name of the person a booking at this clinic is for: what the door says beside a step the nurse just took
    on it (the step is on record; this reads nothing more of theirs). BookingNotFound for anything else."""
    principal.require_clinic(clinic_id)
    async with uow.reads() as conn:
        booking = await repository.get_booking(conn, booking_id=booking_id)
        if booking is None or booking.clinic_id != clinic_id:
            raise BookingNotFound()
        person = await repository.get_person(conn, person_id=booking.person_id)
    assert person is not None
    return person.full_name


async def _what_the_door_needs(uow: UnitOfWork, booking: Booking, person: Person) -> CheckedIn:
    rules = await rules_of(uow, booking.service_id)
    vaccine = await quotas.get_product(uow, rules.product_id) if rules.product_id else None
    group = await priority.get_group(uow, booking.priority_group_id) if booking.priority_group_id else None
    declarations = await priority.declarations_of(uow, person.id) if group else None
    reactions = {}
    if vaccine is not None:
        async with uow.reads() as conn:
            reactions = await repository.serious_reactions(conn, person_id=person.id)
    return CheckedIn(
        booking,
        person,
        vaccine.name if vaccine else None,
        group,
        declarations,
        serious_reactions=reactions.get(vaccine.id, ()) if vaccine else (),
    )


async def appointment_qr(
    uow: UnitOfWork, principal: Principal, store: KeyStore, *, booking_id: UUID, window: Window
) -> str:
    """The QR text of an active booking: the caller's own (or a dependent's), or, for staff who may act on it, the
    booking of a caller they help."""
    async with uow.transaction() as conn:
        booking = await booking_for(conn, principal, booking_id)
        kept = await repository.qr_token(conn, booking_id=booking.id)
        if principal.is_staff:
            # a slip printed or read out for a caller: who fetched whose code stays on record
            await record_booking(conn, principal, "booking.qr.read", booking)
        if not booking.active:
            raise await why_not_ready(conn, booking, Step.SHOW_CODE)
    # the payload never changes for a booking: sign once, and again only when the signing key was revoked
    if kept is not None and await qr.still_signed(uow, kept):
        return kept
    token = await qr.appointment_qr(
        uow,
        store,
        booking_id=booking.id,
        clinic_id=booking.clinic_id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        window=window,
    )
    async with uow.transaction() as conn:
        return await repository.keep_qr_token(conn, booking_id=booking.id, token=token, replacing=kept)
