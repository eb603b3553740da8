"""The standby list: wait for a seat; a freed seat is offered to the first eligible entry and held for a while."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from booking import repository
from booking.models import (
    AlreadyBooked,
    Booking,
    BookingPolicy,
    NotEligible,
    OfferAccepted,
    OfferGone,
    OutOfScope,
    Person,
    SeatsAvailable,
    SlotNotBookable,
    StandbyEntry,
    StandbyNotFound,
    StandbyStatus,
    TooManyActiveBookings,
)
from booking.schemas import StandbyJoin

# bookings imports this module too (booking a slot you hold an offer of takes the offer): each reaches the other's
# names when called, never while the modules load
from booking.service import bookings, messages
from booking.service.common import (
    already_booked,
    attempt_scope,
    check_clinic_scope,
    check_consent,
    dose_for,
    insert_booking,
    is_open,
    local_day,
    may_take,
    offer,
    pass_seat_on,
    person_for,
    record_booking,
    record_entry,
    record_group,
    rules_of,
    someone,
)
from clinics import seats
from clinics import service as clinics
from clinics.models import (
    Clinic,
    ClinicNotFound,
    ServiceInactive,
    ServiceNotFound,
    Slot,
    SlotStatus,
    check_date_range,
    unknown_reference,
)
from priority import service as priority
from vaxbook import audit
from vaxbook.auth.models import Principal, Role
from vaxbook.clock import department_day
from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import Invalid, TooManyRequests
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyKey, Stored, run_once

STANDBY_MAX_DAYS = 92


async def join(
    uow: UnitOfWork,
    principal: Principal,
    data: StandbyJoin,
    *,
    now: datetime,
    rank: int | None = None,
    even_with_free_seats: bool = False,
    idempotency: IdempotencyKey | None = None,
    keep_hours: int = 24,
) -> StandbyEntry:
    """Wait for a seat of a service at a clinic, or anywhere in a district, between two dates.

    Only while no seat is free there (with one free, booking it is the way), unless `even_with_free_seats`: a draw
    that ran out of seats puts the people it could not seat on the list whatever other slots hold, and offers
    them those. The entry's place in line is the person's best rank over the dates (`rank` when the day is known);
    each offer then ranks the people waiting on the seat's own day. Joined once per key: a second press gets the
    first one's entry.
    """
    check_date_range(data.date_from, data.date_to, max_days=STANDBY_MAX_DAYS, source="body")
    if data.date_to < department_day(now):
        raise Invalid.field(
            "date_to",
            "date_in_past",
            Text(
                "Ngày kết thúc đã qua: hãy chờ đến một ngày từ hôm nay trở đi",
                "date_to is in the past: a wait must reach today or a later day",
            ),
        )

    async def work() -> StandbyEntry:
        return await _join(uow, principal, data, now=now, rank=rank, even_with_free_seats=even_with_free_seats)

    return await run_once(uow, idempotency, work, stored=_STORED_ENTRY, keep_hours=keep_hours)


_STORED_ENTRY = Stored(StandbyEntry)


async def _join(
    uow: UnitOfWork,
    principal: Principal,
    data: StandbyJoin,
    *,
    now: datetime,
    rank: int | None,
    even_with_free_seats: bool,
) -> StandbyEntry:
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, data.person_id)
        check_consent(person)
        if data.clinic_id is None and principal.role is Role.CLINIC_STAFF:
            raise OutOfScope()  # a counter puts people on its own clinics' lists, not a district's
        try:
            service = await clinics.get_service(uow, data.service_id)
            if data.clinic_id is not None:
                clinic = await clinics.get_clinic(uow, data.clinic_id)
                check_clinic_scope(principal, clinic.id)
        except ServiceNotFound:
            raise unknown_reference("service_id") from None
        except ClinicNotFound:
            raise unknown_reference("clinic_id") from None
        if not service.active:
            raise ServiceInactive()
        if (
            data.clinic_id is None
            and data.province is not None
            and data.district is not None
            and not await clinics.gives_service_in_district(
                conn, service_id=service.id, province=data.province, district=data.district
            )
        ):
            raise Invalid.field(
                "district",
                "no_clinic_for_service",
                Text(
                    "Không có cơ sở y tế nào ở quận/huyện này cung cấp dịch vụ đã chọn",
                    "No clinic in this district gives this service",
                ),
            )
        if data.clinic_id is not None and not await clinics.gives_service_at(
            conn, service_id=service.id, clinic_id=data.clinic_id
        ):
            raise Invalid.field(
                "clinic_id",
                "no_service_at_clinic",
                Text("Cơ sở y tế này không cung cấp dịch vụ đã chọn", "This clinic does not give this service"),
            )
        if held := await repository.open_booking_of_service(
            conn, person_id=person.id, service_id=service.id, product_id=service.product_id
        ):
            raise already_booked(principal, held)
        await _eligible_within(uow, person, data)
        if not even_with_free_seats:
            free = await _free_seats(uow, data, data.date_from, service_id=service.id, now=now, limit=1)
            if free:
                raise SeatsAvailable(slot_id=free[0][0].id)
        if rank is None:
            rank = await priority.best_rank_between(uow, someone(person), first=data.date_from, last=data.date_to)
        staff = principal.role is not Role.CITIZEN
        entry = await repository.insert_entry(
            conn,
            person_id=person.id,
            service_id=service.id,
            clinic_id=data.clinic_id,
            province=data.province,
            district=data.district,
            date_from=data.date_from,
            date_to=data.date_to,
            priority_rank=rank,
            joined_by_account=None if staff else principal.id,
            joined_by_staff=principal.id if staff else None,
        )
        await record_entry(conn, principal, "standby.join", entry)
    return entry


async def _free_seats(
    uow: UnitOfWork,
    scope: StandbyJoin | StandbyEntry,
    date_from: date,
    *,
    service_id: UUID,
    now: datetime,
    limit: int,
) -> list[tuple[Slot, Clinic]]:
    """Open slots with seats anyone may book now, where and when a wait is (or would be)."""
    found = await clinics.search_availability(
        uow,
        clinics.SearchQuery(
            date_from=date_from,
            date_to=scope.date_to,
            service_id=service_id,
            clinic_id=scope.clinic_id,
            province=scope.province,
            district=scope.district,
            open_to_everyone=True,
        ),
        now=now,
        max_days=STANDBY_MAX_DAYS,
        after=None,
        limit=limit,
    )
    return [(f.slot, f.clinic) for f in found]


async def _eligible_within(uow: UnitOfWork, person: Person, data: StandbyJoin) -> None:
    """Refuse a wait that could never end in a seat: not eligible on the first day nor on the last."""
    rules = await rules_of(uow, data.service_id)
    try:
        await dose_for(uow, person, rules, data.date_from)
    except NotEligible:
        await dose_for(uow, person, rules, data.date_to)


async def of_account(uow: UnitOfWork, principal: Principal) -> list[StandbyEntry]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.entries_of_account(conn, account_id=principal.id)


async def of_person(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[StandbyEntry]:
    """For staff helping someone: that person's entries, latest first (clinic staff see their own clinics' only, as
    `_entry_for` lets them reach). Each read is audited."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        entries = await repository.entries_of_person(conn, person_id=person.id)
        await audit.record(
            conn, actor=principal, action="person.standby.read", object_type="person", object_id=person.id
        )
    return sorted((e for e in entries if _reaches(principal, e)), key=lambda e: e.created_at, reverse=True)


def _reaches(principal: Principal, entry: StandbyEntry) -> bool:
    """Whether staff may act on an entry: operators any; clinic staff one on their clinic's list, or holding an
    offer of a seat at their clinic."""
    if principal.role is not Role.CLINIC_STAFF:
        return True
    return entry.clinic_id in principal.clinic_ids or entry.offer_clinic_id in principal.clinic_ids


async def _entry_for(conn: Connection, principal: Principal, entry_id: UUID) -> StandbyEntry:
    """An entry the caller may act on: a citizen's own people's; assisting staff's as `_reaches` says. Anything else
    is not found (404, never 403)."""
    if principal.role is Role.CITIZEN:
        entry = await repository.entry_for_account(conn, entry_id=entry_id, account_id=principal.id)
    else:
        entry = await repository.get_entry(conn, entry_id=entry_id)
        entry = entry if entry is not None and _reaches(principal, entry) else None
    if entry is None:
        raise StandbyNotFound()
    return entry


async def accept(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    *,
    entry_id: UUID,
    now: datetime,
    idempotency: IdempotencyKey | None,
) -> Booking:
    """Take the seat an offer holds: it becomes a booking without another claim, since it was never let go.

    An offer accepted already answers the booking it became, however often and however many at once it is
    pressed, and none of those presses counts as an attempt: asking again for a seat you hold is not one."""
    person_id: UUID | None = None

    async def screen() -> Booking | None:
        nonlocal person_id
        async with uow.transaction(readonly=True) as conn:
            entry = await _entry_for(conn, principal, entry_id)
            person_id = entry.person_id
            return await _booking_it_became(conn, entry)

    async def work() -> Booking:
        return await take_offer(uow, principal, policy, entry_id=entry_id, now=now)

    async def count(conn: Connection) -> None:
        assert person_id is not None
        await count_unless_taken(conn, principal, policy, entry_id=entry_id, person_id=person_id)

    try:
        return await run_once(
            uow,
            idempotency,
            work,
            stored=bookings.STORED,
            keep_hours=policy.idempotency_hours,
            screen=screen,
            count=count,
        )
    except (OfferGone, AlreadyBooked):
        # accepted meanwhile by a press that was not waiting behind this one (a counter's and the citizen's at once)
        async with uow.reads() as conn:
            taken = await _booking_it_became(conn, await _entry_for(conn, principal, entry_id))
        if taken is None:
            raise
        return taken


async def _booking_it_became(conn: Connection, entry: StandbyEntry) -> Booking | None:
    """The booking an accepted offer became (None while it is not one)."""
    if entry.status is not StandbyStatus.BOOKED or entry.booking_id is None:
        return None
    booked = await repository.get_booking(conn, booking_id=entry.booking_id)
    assert booked is not None
    return booked


class _NotAnAttempt(Exception):
    """The offer was accepted while this press waited for its count: nothing is counted."""


async def count_unless_taken(
    conn: Connection, principal: Principal, policy: BookingPolicy, *, entry_id: UUID, person_id: UUID
) -> None:
    """Count a reach for an offered seat as a booking attempt (run_once's `count`), unless the offer has become a
    booking: then the press asks for a seat it holds, which is no attempt. Presses sent together wait for each other
    at the count (the attempt counter's row), so each looks at the entry again once the one before it has committed;
    a count made meanwhile is taken back with its savepoint."""
    if await _taken(conn, entry_id):
        return
    try:
        async with conn.transaction():  # a savepoint: a count of a press that turns out to be a repeat is undone
            await bookings.count_attempt(conn, policy, attempt_scope(principal, person_id))
            if await _taken(conn, entry_id):
                raise _NotAnAttempt()
    except _NotAnAttempt:
        return
    except TooManyRequests:
        if await _taken(conn, entry_id):
            return
        raise


async def _taken(conn: Connection, entry_id: UUID) -> bool:
    entry = await repository.get_entry(conn, entry_id=entry_id)
    return entry is not None and entry.status is StandbyStatus.BOOKED


async def take_offer(
    uow: UnitOfWork, principal: Principal, policy: BookingPolicy, *, entry_id: UUID, now: datetime
) -> Booking:
    """The offered seat becomes the person's booking, in one transaction (the caller's, when it has one open):
    accepting the offer, or booking its very slot. The seat was claimed when it was offered and never let go, so no
    seat is claimed here; the offer ends `booked` by one conditional update. An offer accepted already answers the
    booking it became."""
    async with uow.transaction() as conn:
        entry = await _entry_for(conn, principal, entry_id)
        taken = await _booking_it_became(conn, entry)
        if taken is not None:
            return taken  # accepted already (a second tap, a retry without a key): the booking it became
        if entry.status is not StandbyStatus.OFFERED or entry.offer_slot_id is None:
            raise OfferGone()
        slot, clinic = await clinics.get_slot(uow, entry.offer_slot_id)
        check_clinic_scope(principal, clinic.id)
        rules = await rules_of(uow, slot.service_id)
        # the seat is held already, and the person was told so: what stops new bookings (the slot closed, the clinic
        # or the service switched off) leaves it theirs; only the session's start takes it (a call-off ends the offer)
        if slot.status is SlotStatus.CANCELLED or slot.starts_at <= now:
            raise SlotNotBookable()
        person = await person_for(conn, principal, entry.person_id)
        check_consent(person)
        dose = await dose_for(uow, person, rules, local_day(slot, clinic))
        if not await repository.take_active_place(conn, person_id=person.id, limit=policy.max_active_per_person):
            raise TooManyActiveBookings(limit=policy.max_active_per_person)
        booking = await insert_booking(conn, principal, slot=slot, rules=rules, person_id=person.id, dose=dose)
        # their best group on the seat's day put them where they were in line
        group = await priority.best_group_of(uow, someone(person), on=local_day(slot, clinic))
        booking = await record_group(conn, booking, group, reserved_seat=False, used=True)
        if (
            await repository.close_offer(
                conn, entry_id=entry.id, to_status=StandbyStatus.BOOKED, booking_id=booking.id, now=now
            )
            is None
        ):
            raise OfferGone()
        await record_booking(conn, principal, "booking.create", booking, dose_number=dose, from_standby=entry.id)
        await messages.booked(uow, booking, policy, now=now, reach=await messages.reach_of(conn, person.id))
        return booking


_OFF_THE_LIST = (StandbyStatus.LEFT, StandbyStatus.DECLINED, StandbyStatus.EXPIRED)


async def leave(
    uow: UnitOfWork, principal: Principal, policy: BookingPolicy, *, entry_id: UUID, now: datetime
) -> StandbyEntry:
    """Leave the list: while waiting, or by turning an offer down (its seat goes to the next in line)."""
    async with uow.transaction() as conn:
        entry = await _entry_for(conn, principal, entry_id)
        if entry.status in _OFF_THE_LIST:
            return entry  # off the list already (a second tap, or an offer lapsed): the entry as it stands
        if entry.status is StandbyStatus.WAITING and await repository.leave_waiting(conn, entry_id=entry.id):
            await record_entry(conn, principal, "standby.leave", entry)
            return await _entry_for(conn, principal, entry_id)
        closed = await repository.close_offer(
            conn, entry_id=entry.id, to_status=StandbyStatus.DECLINED, booking_id=None, now=now
        )
        if closed is None or closed.offer_slot_id is None:
            now_stands = await _entry_for(conn, principal, entry_id)
            if now_stands.status in _OFF_THE_LIST:
                return now_stands  # turned down by a second press at the same moment: the first one's answer
            # accepted meanwhile, or before: the booking it became is said, not an offer "gone"
            taken = await _booking_it_became(conn, now_stands)
            raise OfferAccepted(taken.id, taken.code) if taken is not None else OfferGone()
        await record_entry(conn, principal, "standby.decline", closed)
        await pass_seat_on(uow, slot_id=closed.offer_slot_id, policy=policy, now=now)
        return closed


async def expire_offers(uow: UnitOfWork, policy: BookingPolicy, *, now: datetime) -> int:
    """End every offer whose time ran out and pass each seat on; one transaction per offer. (Run on a schedule.)"""
    expired = 0
    while True:
        async with uow.transaction() as conn:
            entries = await repository.expired_offers(conn, now=now, limit=1)
            if not entries:
                return expired
            closed = await repository.close_offer(
                conn, entry_id=entries[0].id, to_status=StandbyStatus.EXPIRED, booking_id=None, now=now
            )
            assert closed is not None
            assert closed.offer_slot_id is not None
            await record_entry(conn, audit.SYSTEM, "standby.expire", closed)
            await pass_seat_on(uow, slot_id=closed.offer_slot_id, policy=policy, now=now)
        expired += 1


async def fill_free_seats(uow: UnitOfWork, policy: BookingPolicy, *, now: datetime, batch: int = 200) -> int:
    """Offer seats that came free without a cancellation (a slot added or enlarged) to people waiting for them.

    Each seat is claimed like a booking's, by the conditional update, then held as an offer. Each offer is a
    transaction of its own: one that held a slot's row while it claimed a seat of another would break seats' lock
    order. (Run on a schedule.)
    """
    offered = 0
    async with uow.reads() as conn:
        entries = await repository.waiting_entries(conn, limit=batch)
    for entry in entries:
        async with uow.transaction() as conn:
            # skipped if it is being offered a seat right now, or no longer waits
            if await repository.lock_waiting(conn, entry_id=entry.id) and await offer_free_seat(
                uow, entry, policy=policy, now=now
            ):
                offered += 1
    return offered


async def offer_free_seat(
    uow: UnitOfWork, entry: StandbyEntry, *, policy: BookingPolicy, now: datetime
) -> StandbyEntry | None:
    """Offer a waiting entry the first seat anyone may book now where and when it waits, if there is one it may
    take; the seat is claimed by the conditional update and held as the offer. (The entry is locked.)"""
    conn = uow.conn
    rules = await rules_of(uow, entry.service_id)
    person = await repository.get_person(conn, person_id=entry.person_id)
    if person is None or not rules.active:
        return None
    free = await _free_seats(
        uow, entry, max(entry.date_from, now.date()), service_id=entry.service_id, now=now, limit=5
    )
    for slot, clinic in free:
        if not is_open(slot, clinic, rules, now) or not await may_take(
            uow, person, slot, rules, local_day(slot, clinic), policy
        ):
            continue
        if await seats.claim(conn, clinic_id=clinic.id, slot_id=slot.id, now=now):
            return await offer(uow, entry, slot, clinic, policy=policy, now=now)
    return None
