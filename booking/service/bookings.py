"""Book, cancel and move, for oneself, a dependent, or on a caller's behalf; the lists that show them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from booking import repository
from booking.models import (
    Booking,
    BookingNotActive,
    BookingPolicy,
    BookingStarted,
    BookingStatus,
    OtherService,
    SameSlot,
    SlotFull,
    TooManyActiveBookings,
)
from booking.service.common import (
    attempt_scope,
    booking_for,
    check_clinic_scope,
    check_consent,
    check_open,
    dose_for,
    end_live_entries,
    free_seat,
    insert_booking,
    local_day,
    person_for,
    plan_seat,
    record_booking,
    rules_of,
    sibling_services,
    take_seat,
)
from clinics import service as clinics
from clinics.models import Clinic, check_date_range
from priority import service as priority
from vaxbook import audit
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.errors import TooManyRequests
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyKey, run_once

_stored = TypeAdapter(Booking)


def encode(booking: Booking) -> Any:
    return _stored.dump_python(booking, mode="json")


def decode(data: Any) -> Booking:
    return _stored.validate_python(data)


async def count_attempt(uow: UnitOfWork, policy: BookingPolicy, scope: str) -> None:
    """Count a booking attempt in its own committed transaction: a refused attempt still counts."""
    async with uow.transaction() as conn:
        wait = await repository.count_attempt(
            conn, scope=scope, limit=policy.max_attempts, window_minutes=policy.attempt_window_minutes
        )
    if wait is not None:
        raise TooManyRequests(
            Text(
                f"Bạn đã thử đặt lịch quá nhiều lần; thử lại sau {max(1, wait // 60)} phút.",
                f"Too many booking attempts; try again in {max(1, wait // 60)} minute(s).",
            ),
            retry_after_seconds=wait,
        )


async def book(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    *,
    slot_id: UUID,
    person_id: UUID | None,
    now: datetime,
    idempotency: IdempotencyKey | None,
    through_draw: bool = False,
) -> Booking:
    """Take a seat of a slot for a person: the seat is claimed by one conditional update, never read then written.

    A slot whose seats go by draw is booked only by its draw (through_draw) until the draw is settled."""

    async def work() -> Booking:
        async with uow.transaction() as conn:
            slot, clinic = await clinics.get_slot(uow, slot_id)
            rules = await rules_of(uow, slot.service_id)
            check_open(slot, clinic, rules, now)
            if slot.remaining == 0 and slot.held_back == 0:
                # A sold-out answer from a plain read, before any write. Never the other way round: a seat is
                # only ever granted by take_seat's conditional updates below.
                raise SlotFull()
            person = await person_for(conn, principal, person_id)
            check_consent(person)
            check_clinic_scope(principal, clinic.id)
            dose = await dose_for(uow, conn, person, rules, local_day(slot, clinic))
            seat_plan = await plan_seat(uow, slot, clinic, person, now)
            if not through_draw:
                await priority.check_no_draw(uow, slot, clinic.zone)
            if not await repository.take_active_place(conn, person_id=person.id, limit=policy.max_active_per_person):
                raise TooManyActiveBookings(limit=policy.max_active_per_person)
            booking = await insert_booking(conn, principal, slot=slot, rules=rules, person_id=person.id, dose=dose)
            # they stop waiting for this vaccine, and a seat held for them goes to the next in line
            await end_live_entries(
                uow,
                conn,
                principal,
                person=person,
                service_ids=await sibling_services(uow, rules),
                policy=policy,
                now=now,
            )
            await record_booking(conn, principal, "booking.create", booking, dose_number=dose)
            # Last, so that the slot's row stays locked for as short a time as possible.
            return await take_seat(uow, conn, slot, seat_plan, booking, now, through_draw=through_draw)

    async def count() -> None:
        await count_attempt(uow, policy, attempt_scope(principal, person_id or principal.id))

    return await run_once(
        uow, idempotency, work, encode=encode, decode=decode, keep_hours=policy.idempotency_hours, before=count
    )


def _explain_unchanged(booking: Booking, now: datetime) -> Exception:
    if booking.status is BookingStatus.BOOKED and booking.starts_at <= now:
        return BookingStarted()
    return BookingNotActive(status=booking.status.value)


async def cancel(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    *,
    booking_id: UUID,
    now: datetime,
    idempotency: IdempotencyKey | None,
) -> Booking:
    """Cancel a booking before its time; its seat goes to the standby list or back to everyone at once."""

    async def work() -> Booking:
        async with uow.transaction() as conn:
            booking = await booking_for(conn, principal, booking_id)
            cancelled = await repository.change_status(
                conn,
                booking_id=booking.id,
                from_status=BookingStatus.BOOKED,
                to_status=BookingStatus.CANCELLED,
                before=now,
            )
            if cancelled is None:
                raise _explain_unchanged(booking, now)
            await repository.release_active_place(conn, person_id=booking.person_id)
            offer = await free_seat(uow, conn, booking, policy=policy, now=now)
            await record_booking(
                conn, principal, "booking.cancel", cancelled, seat_offered_to=offer.id if offer else None
            )
            return cancelled

    return await run_once(uow, idempotency, work, encode=encode, decode=decode, keep_hours=policy.idempotency_hours)


async def move(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    *,
    booking_id: UUID,
    slot_id: UUID,
    now: datetime,
    idempotency: IdempotencyKey | None,
) -> Booking:
    """Reschedule in one transaction: the new seat is claimed before the old one is let go, so either the
    booking moved or the old one stands untouched. The new booking has a new id and code."""

    async def work() -> Booking:
        async with uow.transaction() as conn:
            booking = await booking_for(conn, principal, booking_id)
            slot, clinic = await clinics.get_slot(uow, slot_id)
            if slot.id == booking.slot_id:
                raise SameSlot()
            if slot.service_id != booking.service_id:
                raise OtherService()
            rules = await rules_of(uow, slot.service_id)
            check_open(slot, clinic, rules, now)
            check_clinic_scope(principal, clinic.id)
            person = await person_for(conn, principal, booking.person_id)
            check_consent(person)
            dose = await dose_for(uow, conn, person, rules, local_day(slot, clinic))
            seat_plan = await plan_seat(uow, slot, clinic, person, now)
            await priority.check_no_draw(uow, slot, clinic.zone)
            # Both slots are locked in one order, so that two moves between the same two slots in opposite
            # directions cannot wait on each other.
            await repository.lock_slots(conn, slot_ids=[booking.slot_id, slot.id])
            moved = await repository.change_status(
                conn, booking_id=booking.id, from_status=BookingStatus.BOOKED, to_status=BookingStatus.MOVED, before=now
            )
            if moved is None:
                raise _explain_unchanged(booking, now)
            new = await insert_booking(
                conn, principal, slot=slot, rules=rules, person_id=person.id, dose=dose, moved_from=booking.id
            )
            # the new seat is claimed before the old one is let go: either the booking moved or nothing changed
            new = await take_seat(uow, conn, slot, seat_plan, new, now)
            await record_booking(conn, principal, "booking.moved_away", moved, moved_to=new.id)
            await record_booking(conn, principal, "booking.move", new, moved_from=booking.id)
            await free_seat(uow, conn, booking, policy=policy, now=now)
            return new

    async def count() -> None:
        async with uow.transaction(readonly=True) as conn:
            person_id = (await booking_for(conn, principal, booking_id)).person_id
        await count_attempt(uow, policy, attempt_scope(principal, person_id))

    return await run_once(
        uow, idempotency, work, encode=encode, decode=decode, keep_hours=policy.idempotency_hours, before=count
    )


async def get(uow: UnitOfWork, principal: Principal, booking_id: UUID) -> Booking:
    async with uow.transaction(readonly=True) as conn:
        return await booking_for(conn, principal, booking_id)


async def of_account(
    uow: UnitOfWork, principal: Principal, *, after: tuple[datetime, UUID] | None, limit: int
) -> list[Booking]:
    """The bookings of a citizen and their dependents, latest first."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.bookings_of_account(conn, account_id=principal.id, after=after, limit=limit)


async def of_person(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[Booking]:
    """For staff helping someone: that person's bookings (clinic staff see their own clinics' only)."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        bookings = await repository.bookings_of_person(conn, person_id=person.id, limit=200)
        await audit.record(
            conn, actor=principal, action="person.bookings.read", object_type="person", object_id=person.id
        )
    if principal.role is Role.CLINIC_STAFF:
        return [b for b in bookings if b.clinic_id in principal.clinic_ids]
    return bookings


async def day_list(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, day: date | None, *, now: datetime
) -> list[tuple[Booking, str, date]]:
    """A clinic's bookings of one local day (today by default), for the counter: who comes when."""
    check_clinic_scope(principal, clinic_id)
    clinic: Clinic = await clinics.get_clinic(uow, clinic_id)
    day = day or now.astimezone(clinic.zone).date()
    check_date_range(day, day, max_days=1, names=("day", "day"))
    start = datetime.combine(day, datetime.min.time(), clinic.zone)
    async with uow.transaction() as conn:
        rows = await repository.day_list(
            conn, clinic_id=clinic_id, starts_from=start, starts_before=start + timedelta(days=1)
        )
        await audit.record(
            conn,
            actor=principal,
            action="bookings.day_list.read",
            object_type="clinic",
            object_id=clinic_id,
            clinic_id=clinic_id,
            details={"day": day, "rows": len(rows)},
        )
    return rows
