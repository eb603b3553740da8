"""Book, cancel and move, for oneself, a dependent, or on a caller's behalf; the lists that show them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from booking import repository
from booking.models import (
    AlreadyBooked,
    Booking,
    BookingPolicy,
    BookingStatus,
    DoseGiven,
    HouseholdSeatsTaken,
    MovedTo,
    NoMoveIntoDraw,
    OfferGone,
    OtherService,
    PeopleCheckedIn,
    Person,
    SameSlot,
    ServiceRules,
    SlotFull,
    StandbyEntry,
    TooManyActiveBookings,
    check_eligibility,
)
from booking.service import common, messages, standby
from booking.service.common import (
    Step,
    already_booked,
    attempt_scope,
    booked_by,
    booking_entry,
    booking_for,
    check_clinic_scope,
    check_consent,
    check_open,
    check_person,
    end_live_entries,
    free_seat,
    insert_booking,
    local_day,
    person_for,
    person_key,
    person_read,
    record_booking,
    record_entry,
    rules_from,
    take_seat,
    why_not_ready,
)
from clinics import seats
from clinics import service as clinics
from clinics.models import Clinic, Service, Slot, SlotCancelled, SlotNotFound, check_date_range
from clinics.sold_out import SoldOutSlots
from notify import service as notify
from priority import service as priority
from priority.models import Declarations, Draw, DrawInProgress, PriorityGroup, Reservation, SeatPlan
from quotas import service as quotas
from quotas.models import VaccineProduct
from vaxbook import audit
from vaxbook.auth.models import Principal, Role
from vaxbook.db import Connection, UnitOfWork, read, read_together
from vaxbook.errors import DomainError, TooManyRequests
from vaxbook.i18n import Text
from vaxbook.idempotency import OLDER_RELEASE_LEASE_SECONDS, IdempotencyKey, LongWay, Stored, run_once

STORED = Stored(Booking)


async def count_attempt(conn: Connection, policy: BookingPolicy, scope: str) -> None:
    """Count a booking attempt (run_once's `count`: in the booking's transaction, again on its own if refused)."""
    wait = await repository.count_attempt(
        conn, scope=scope, limit=policy.max_attempts, window_minutes=policy.attempt_window_minutes
    )
    if wait is not None:
        raise too_many_attempts(wait)


def too_many_attempts(wait: int) -> TooManyRequests:
    return TooManyRequests(
        Text(
            f"Bạn đã thử đặt lịch quá nhiều lần; thử lại sau {max(1, wait // 60)} phút.",
            f"Too many booking attempts; try again in {max(1, wait // 60)} minute(s).",
        ),
        retry_after_seconds=wait,
    )


@dataclass(frozen=True)
class Screened:
    """A booking that passed every check a read can make: what the write then needs."""

    slot: Slot
    clinic: Clinic
    service: Service
    rules: ServiceRules
    person: Person
    dose: int
    seat_plan: SeatPlan
    reach: messages.Reach | None  # how the person is told of the booking


@dataclass(frozen=True)
class HeldOffer:
    """The person holds an open standby offer of a seat of the very slot they book: that seat becomes the booking,
    as accepting the offer would make it."""

    entry: StandbyEntry
    person: Person


async def _offer_held(conn: Connection, person: Person, slot_id: UUID, now: datetime) -> HeldOffer | None:
    offered = await read(conn, repository.open_offer_in_slot(person_id=person.id, slot_id=slot_id, now=now))
    return None if offered is None else HeldOffer(offered, person)


async def screen(
    uow: UnitOfWork,
    principal: Principal,
    *,
    slot_id: UUID,
    person_id: UUID | None,
    now: datetime,
    through_draw: bool = False,
    sold_out: SoldOutSlots | None = None,
    offers: bool = False,
) -> Screened | Booking | HeldOffer:
    """Everything a booking can be refused for without reaching for a seat: a slot that cannot be booked (now,
    or by this person), a person who may not take it, a slot with no seat left to them. Or the person's own open
    booking of this very slot, when they ask again because the first answer was lost; or (`offers`) the standby
    offer they hold of one of its seats, which the booking takes rather than reach for another seat.

    A slot this process saw sold out to everyone a moment ago is refused without being read again (`sold_out`,
    a hint that is never asked to grant a seat): the caller's right to act for the person and the person's own
    booking of it, or offer of it, are still read."""
    conn = uow.conn
    offers = offers and not through_draw
    known_full_at = sold_out.clinic_of(slot_id, now) if sold_out is not None and not through_draw else None
    if known_full_at is not None:
        person = await person_for(conn, principal, person_id)
        check_clinic_scope(principal, known_full_at)
        held = await repository.active_booking_in_slot(conn, person_id=person.id, slot_id=slot_id)
        if held is not None:
            return held
        if offers and (offer := await _offer_held(conn, person, slot_id, now)):
            return offer
        raise SlotFull()
    read_in_epoch = sold_out.epoch if sold_out is not None else 0
    # everything is read in one statement: what the slot and the caller name, and what that person holds (read for
    # the person the caller names, and used only once they may act for them)
    who = person_read(principal, person_id)
    key = person_key(principal, person_id)
    clinic_id = clinics.clinic_of_slot(slot_id)
    found: tuple[Slot, Clinic] | None
    service: Service
    product: VaccineProduct | None
    siblings: list[UUID]
    groups: list[PriorityGroup]
    already: Booking | None
    given: list[DoseGiven]
    reach: messages.Reach | None
    reservations: list[Reservation]
    declarations: Declarations
    draw: Draw | None
    (
        found,
        service,
        product,
        siblings,
        groups,
        already,
        given,
        reach,
        reservations,
        declarations,
        draw,
        *named,
    ) = await read_together(
        conn,
        clinics.slot_read(slot_id),
        clinics.service_of_slot_read(slot_id),
        quotas.product_of_slot_read(slot_id),
        clinics.services_of_slot_vaccine_read(slot_id),
        priority.groups_read(),
        repository.open_booking_in_slot(person_id=key, slot_id=slot_id),
        repository.doses(person_id=key, service_ids=clinics.services_of_slot_vaccine(slot_id)),
        messages.reach_read(key),
        *priority.seat_plan_reads(clinic_id=clinic_id, slot_id=slot_id, person_id=key),
        priority.draw_read(clinic_id=clinic_id, slot_id=slot_id),
        *([who] if who is not None else []),
    )
    if found is None:
        raise SlotNotFound()
    slot, clinic = found
    person = check_person(principal, person_id, named[0] if named else None)
    check_clinic_scope(principal, clinic.id)
    if already is not None:
        return already
    rules = rules_from(service, product, siblings)
    check_open(slot, clinic, rules, now)
    check_consent(person)
    day = local_day(slot, clinic)
    dose = check_eligibility(person, rules, given, day)
    seat_plan = priority.seat_plan_from(
        reservations,
        declarations,
        groups,
        slot=slot,
        zone=clinic.zone,
        born=person.date_of_birth,
        sex=person.sex,
        on=day,
        now=now,
    )
    if not through_draw:
        priority.refuse_while_drawing(draw, clinic.zone)
    if slot.remaining == 0 and not any(r.left for r in seat_plan.usable):
        # the seat held for them on the standby list, when they hold one (read only here: a rush's bookings of
        # seats left to everyone never need it)
        if offers and (offer := await _offer_held(conn, person, slot_id, now)):
            return offer
        # A sold-out answer from a plain read. Never the other way round: a seat is only ever granted by
        # take_seat's conditional updates.
        if sold_out is not None and slot.booked >= slot.capacity and sold_out.epoch == read_in_epoch:
            sold_out.remember(
                slot.id,
                clinic_id=clinic.id,
                starts_at=slot.starts_at,
                read_in_epoch=read_in_epoch,
                stakeholders=await repository.accounts_with_a_stake(
                    conn, clinic_id=clinic.id, slot_id=slot.id, starts_at=slot.starts_at
                ),
            )
        raise priority.why_no_seat(seat_plan) or SlotFull()
    return Screened(slot, clinic, service, rules, person, dose, seat_plan, reach)


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
    sold_out: SoldOutSlots | None = None,
) -> Booking:
    """Take a seat of a slot for a person: the seat is claimed by one conditional update, never read then written.

    Refusals a read can tell (and a retry by someone who holds their seat already) are answered before the
    attempt is counted: only a reach for a seat counts against the attempt limit. A slot whose seats go by draw
    is booked only by its draw (through_draw) until the draw is settled.

    A person who holds a standby offer of a seat of the slot gets that seat: the offer is taken, as accepting it
    would take it (the same rows; the offer ends `booked`)."""
    screened: Screened | None = None
    held_offer: HeldOffer | None = None

    async def screen_booking() -> Booking | None:
        nonlocal screened, held_offer
        async with uow.transaction(readonly=True):
            found = await screen(
                uow,
                principal,
                slot_id=slot_id,
                person_id=person_id,
                now=now,
                through_draw=through_draw,
                sold_out=sold_out,
                offers=True,
            )
        if isinstance(found, Booking):
            return found
        if isinstance(found, HeldOffer):
            held_offer = found
        else:
            screened = found
        return None

    async def count(conn: Connection) -> None:
        if held_offer is not None:
            entry, person = held_offer.entry, held_offer.person
            await standby.count_unless_taken(conn, principal, policy, entry_id=entry.id, person_id=person.id)
            return
        assert screened is not None
        await count_attempt(conn, policy, attempt_scope(principal, screened.person.id))

    async def held_instead(refused: AlreadyBooked) -> Booking:
        """The same booking asked for twice at once (a double tap, a retry while the first still ran): the one that
        got the seat is the other's answer too, as it is to a retry that comes after, and no attempt is counted.
        Any other booking the person holds refuses as it did."""
        assert screened is not None
        if uow.holds_connection:  # a caller's transaction (a draw's turn) cannot read past the refusal
            raise refused
        async with uow.reads() as conn:
            held = await repository.active_booking_in_slot(conn, person_id=screened.person.id, slot_id=slot_id)
            if held is None:  # the booking in the way is another slot's: named, to open, move or cancel
                rules = screened.rules
                in_the_way = await repository.open_booking_of_service(
                    conn,
                    person_id=screened.person.id,
                    service_id=rules.service_id,
                    product_id=rules.product_id,
                    dose_number=screened.dose,
                )
                raise already_booked(principal, in_the_way) from refused
        return held

    async def work() -> Booking:
        if held_offer is not None:
            return await take_held_offer(held_offer)
        try:
            return await write_in_a_transaction()
        except AlreadyBooked as refused:
            return await held_instead(refused)
        except HouseholdSeatsTaken:
            raise _household_full(screened) from None

    async def take_held_offer(held: HeldOffer) -> Booking:
        """The seat held for the person becomes their booking; no other seat is claimed. An offer that ended since
        the screen read it (ran out, or turned down) left the slot sold out as the screen would have found it."""
        try:
            return await standby.take_offer(uow, principal, policy, entry_id=held.entry.id, now=now)
        except OfferGone:
            raise SlotFull() from None

    async def write_in_a_transaction() -> Booking:
        assert screened is not None
        slot, person = screened.slot, screened.person
        async with uow.transaction() as conn:
            if not await repository.take_active_place(conn, person_id=person.id, limit=policy.max_active_per_person):
                raise TooManyActiveBookings(limit=policy.max_active_per_person)
            booking = await insert_booking(
                conn, principal, slot=slot, rules=screened.rules, person_id=person.id, dose=screened.dose
            )
            # they stop waiting for this vaccine, and a seat held for them goes to the next in line
            await end_live_entries(
                uow,
                principal,
                people=[person],
                service_ids=list(screened.rules.siblings),
                policy=policy,
                now=now,
                locking=[slot.id],
            )
            await record_booking(conn, principal, "booking.create", booking, dose_number=screened.dose)
            # Last, so that the slot's row stays locked for as short a time as possible (the messages only write
            # to the outbox). A draw's turns follow the person's rank: their group gave them their place.
            booking = await take_seat(
                uow, slot, screened.seat_plan, booking, now, through_draw=through_draw, ranked=through_draw
            )
            await messages.booked(uow, booking, policy, now=now, reach=screened.reach)
            return booking

    async def in_one_statement() -> Booking | None:
        if held_offer is not None:
            raise LongWay()  # the offer's seat is taken in the transaction's way
        assert screened is not None
        if through_draw or any(r.left for r in screened.seat_plan.usable) or uow.holds_connection:
            raise LongWay()  # a draw's turn, a held-back seat to claim, or a caller's transaction to join
        try:
            return await book_in_one_statement(uow, principal, policy, screened, now=now, idempotency=idempotency)
        except AlreadyBooked as refused:
            return await held_instead(refused)
        except HouseholdSeatsTaken:
            raise _household_full(screened) from None

    return await run_once(
        uow,
        idempotency,
        work,
        stored=STORED,
        keep_hours=policy.idempotency_hours,
        screen=screen_booking,
        count=None if through_draw else count,  # a draw's turn is the draw's doing, not an attempt of the person's
        in_one_statement=in_one_statement,
    )


async def where_it_went(uow: UnitOfWork, principal: Principal, booking_id: UUID) -> MovedTo | None:
    """Where a booking the caller may see went, if it was moved: the latest booking in its chain of moves."""
    async with uow.reads() as conn:
        booking = await booking_for(conn, principal, booking_id)
        if booking.status is not BookingStatus.MOVED:
            return None
        return await repository.moved_to(conn, booking_id=booking.id)


async def book_in_one_statement(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    screened: Screened,
    *,
    now: datetime,
    idempotency: IdempotencyKey | None,
) -> Booking | None:
    """`book`'s write for a seat of everyone's, as one statement (`book_seat`, migration 0020) instead of a
    transaction of a dozen: the same rows, the same checks, in the same order. The booking, or None when its
    Idempotency-Key was taken by another request meanwhile. LongWay when the person is on a standby list for this
    vaccine (their wait must end with the booking, which the transaction's way does)."""
    slot, clinic, service, person = screened.slot, screened.clinic, screened.service, screened.person
    group, used = screened.seat_plan.booked_under(None)
    account, staff = booked_by(principal)
    for _ in range(5):
        booking = Booking(
            id=uuid4(),
            clinic_id=slot.clinic_id,
            slot_id=slot.id,
            service_id=slot.service_id,
            person_id=person.id,
            dose_number=screened.dose,
            code=common.new_code(),
            status=BookingStatus.BOOKED,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            moved_from=None,
            created_at=now,  # the database's own time replaces it
            timezone=clinic.timezone,
            clinic_name=clinic.name,
            clinic_address=clinic.address,
            service_code=service.code,
            service_name_vi=service.name_vi,
            service_name_en=service.name_en,
            priority_group_id=group.id if group else None,
            priority_used=used if group else False,
        )
        notices = await messages.booked_notices(uow, booking, policy, now=now, reach=screened.reach)
        write = repository.InOneStatement(
            key_scope=idempotency.scope if idempotency else None,
            key=idempotency.key if idempotency else None,
            fingerprint=idempotency.fingerprint if idempotency else None,
            keep_hours=policy.idempotency_hours,
            lease_seconds=OLDER_RELEASE_LEASE_SECONDS,
            attempt_scope=attempt_scope(principal, person.id),
            attempt_limit=policy.max_attempts,
            attempt_window_minutes=policy.attempt_window_minutes,
            active_limit=policy.max_active_per_person,
            siblings=list(screened.rules.siblings),
            now=now,
            early=screened.seat_plan.early,
            audit=booking_entry(principal, "booking.create", booking, dose_number=screened.dose),
            messages=notify.outbox_rows(notices, quiet=policy.quiet_hours, now=now),
            answer=STORED.encode(booking),
        )
        seat_booking = repository.SeatBooking(
            booking,
            product_id=screened.rules.product_id,
            booked_by_account=account,
            booked_by_staff=staff,
            write=write,
        )
        try:
            booked_at = await seats.claims_together(slot.id, seat_booking, _written_together(uow))
        except repository.CodeTaken:
            continue
        except repository.NoSeatLeft:
            raise priority.why_no_seat(screened.seat_plan) or SlotFull() from None
        except repository.AttemptsSpent as spent:
            raise too_many_attempts(spent.wait_seconds) from None
        return None if booked_at is None else replace(booking, created_at=booked_at)
    raise RuntimeError("five booking codes in a row were taken")


def _written_together(
    uow: UnitOfWork,
) -> Callable[[list[repository.SeatBooking]], Awaitable[list[repository.BookedAt | Exception]]]:
    """The write of one slot's bookings taken together (clinics.seats.claims_together): on a connection of its own,
    since it writes for several requests."""
    apart = uow.apart()

    async def write(together: list[repository.SeatBooking]) -> list[repository.BookedAt | Exception]:
        async with apart.statement() as conn:
            return await repository.book_seats(conn, together)

    return write


async def why_it_cannot_move(uow: UnitOfWork, booking: Booking, *, now: datetime) -> DomainError | None:
    """Why a booking, as read, cannot be moved or cancelled now (None when it can): for a page that offers to."""
    if booking.status is BookingStatus.BOOKED and booking.starts_at > now:
        return None
    async with uow.reads() as conn:
        return await why_not_ready(conn, booking, Step.CHANGE, now=now)


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
                raise await why_not_ready(conn, await booking_for(conn, principal, booking_id), Step.CHANGE, now=now)
            await repository.release_active_place(conn, person_id=booking.person_id)
            offer = await free_seat(uow, booking, policy=policy, now=now)
            await record_booking(
                conn, principal, "booking.cancel", cancelled, seat_offered_to=offer.id if offer else None
            )
            await messages.cancelled(uow, cancelled, policy, now=now)
            return cancelled

    return await run_once(uow, idempotency, work, stored=STORED, keep_hours=policy.idempotency_hours)


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
    booking moved or the old one stands untouched. The new booking has a new id and code. As with booking,
    refusals a read can tell come before the attempt is counted."""
    screened: Screened | None = None
    old: Booking | None = None

    async def screen_move() -> Booking | None:
        nonlocal screened, old
        async with uow.transaction(readonly=True) as conn:
            old = await booking_for(conn, principal, booking_id)
            # what became of the booking first: a cancelled or moved one is not "in this slot already"
            if old.status is not BookingStatus.BOOKED or old.starts_at <= now:
                raise await why_not_ready(conn, old, Step.CHANGE, now=now)
            if old.slot_id == slot_id:
                raise SameSlot()
            slot, _ = await clinics.get_slot(uow, slot_id)
            if slot.service_id != old.service_id:
                raise OtherService()
            try:
                found = await screen(uow, principal, slot_id=slot_id, person_id=old.person_id, now=now)
            except DrawInProgress:  # "enter the draw" is no way for someone holding a booking of the service
                raise NoMoveIntoDraw() from None
            if isinstance(found, Booking):
                # their booking of that slot may be this very move, made by a request alongside: then it says so
                again = await booking_for(conn, principal, booking_id)
                if again.status is not BookingStatus.BOOKED:
                    raise await why_not_ready(conn, again, Step.CHANGE, now=now)
                raise AlreadyBooked(found.id)
        assert isinstance(found, Screened), "a move's screen takes no standby offers"
        screened = found
        return None

    async def count(conn: Connection) -> None:
        assert old is not None
        await count_attempt(conn, policy, attempt_scope(principal, old.person_id))

    async def work() -> Booking:
        assert screened is not None
        assert old is not None
        slot, person = screened.slot, screened.person
        async with uow.transaction() as conn:
            moved = await repository.change_status(
                conn, booking_id=old.id, from_status=BookingStatus.BOOKED, to_status=BookingStatus.MOVED, before=now
            )
            if moved is None:
                raise await why_not_ready(conn, await booking_for(conn, principal, booking_id), Step.CHANGE, now=now)
            # the booking's row, then both slots together (seats' lock order), so that two moves between the same
            # two slots in opposite directions cannot wait on each other
            await seats.lock_all(conn, slot_ids=[old.slot_id, slot.id])
            new = await insert_booking(
                conn,
                principal,
                slot=slot,
                rules=screened.rules,
                person_id=person.id,
                dose=screened.dose,
                moved_from=old.id,
            )
            # the new seat is claimed before the old one is let go: either the booking moved or nothing changed
            new = await take_seat(uow, slot, screened.seat_plan, new, now)
            await record_booking(conn, principal, "booking.moved_away", moved, moved_to=new.id)
            await record_booking(conn, principal, "booking.move", new, moved_from=old.id)
            await free_seat(uow, old, policy=policy, now=now)
            await messages.moved(uow, old, new, policy, now=now)
            return new

    return await run_once(
        uow,
        idempotency,
        work,
        stored=STORED,
        keep_hours=policy.idempotency_hours,
        screen=screen_move,
        count=count,
    )


async def call_off(
    uow: UnitOfWork, principal: Principal, policy: BookingPolicy, *, clinic_id: UUID, slot_id: UUID, now: datetime
) -> int:
    """The clinic calls a session off (the vaccinator is ill, the power is out): the slot is cancelled, every
    booking of it cancelled with its seat given back, every seat held for a standby offer let go (the person back in
    line), and each person told, in one transaction. Refused once anyone of it checked in. Returns the
    bookings cancelled."""
    async with uow.transaction() as conn:
        # the bookings' rows before the slot's, as a cancellation takes them; a booking made meanwhile finds the
        # slot cancelled when it reaches for its seat, and takes none
        principal.require_clinic(clinic_id)
        held = await repository.active_bookings_of_slot(conn, clinic_id=clinic_id, slot_id=slot_id)
        # its draw's row before the slot's, as an entry takes them: those in its draw are out of it, and told below
        ended = await priority.end_entries(conn, clinic_id=clinic_id, slot_id=slot_id, now=now)
        await clinics.call_off_slot(uow, principal, clinic_id, slot_id, now=now)
        # a session in which someone was seen (checked in, given a dose, or sent home) took place: not called off
        if any(b.status is BookingStatus.CHECKED_IN for b in held) or await repository.anyone_came(
            conn, clinic_id=clinic_id, slot_id=slot_id
        ):
            raise PeopleCheckedIn()
        for booking in held:
            cancelled = await repository.change_status(
                conn,
                booking_id=booking.id,
                from_status=BookingStatus.BOOKED,
                to_status=BookingStatus.CANCELLED,
                before=now,
            )
            assert cancelled is not None, "the rows are locked and booked"
            await repository.release_active_place(conn, person_id=booking.person_id)
            await free_seat(uow, cancelled, policy=policy, now=now)  # the slot is off: the seat is released
            await record_booking(conn, principal, "booking.called_off", cancelled)
            await messages.called_off(uow, cancelled, policy, now=now)
        # people offered one of its seats go back to waiting, in their place in line
        for entry in await repository.offers_of_slot(conn, clinic_id=clinic_id, slot_id=slot_id):
            if await repository.back_to_waiting(conn, entry_id=entry.id):
                await seats.give_back(conn, clinic_id=clinic_id, slot_id=slot_id)
                await record_entry(conn, principal, "standby.offer_called_off", entry)
                await messages.offer_called_off(uow, entry, policy, now=now)
        # told why now rather than at a close that will not come
        for entrant in ended:
            await messages.draw_not_won(uow, entrant, policy, now=now, why=SlotCancelled.title)
    return len(held)


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
    uow: UnitOfWork,
    principal: Principal,
    clinic_id: UUID,
    day: date | None,
    *,
    now: datetime,
    reaching: timedelta = timedelta(0),
) -> list[tuple[Booking, str, date]]:
    """A clinic's bookings of one local day (today by default), for the counter: who comes when. Today's list
    also reaches `reaching` past now when that goes past midnight: the door's list holds the first slots of
    tomorrow whose check-in has opened."""
    check_clinic_scope(principal, clinic_id)
    clinic: Clinic = await clinics.get_clinic(uow, clinic_id)
    today = day is None
    day = day or now.astimezone(clinic.zone).date()
    check_date_range(day, day, max_days=1, names=("day", "day"))
    start = datetime.combine(day, datetime.min.time(), clinic.zone)
    before = start + timedelta(days=1)
    if today:
        before = max(before, now + reaching)
    async with uow.transaction() as conn:
        rows = await repository.day_list(conn, clinic_id=clinic_id, starts_from=start, starts_before=before)
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


def _household_full(screened: Screened | None) -> HouseholdSeatsTaken:
    """The database's refusal, said with the slot's own limit (how many of the family fit in one session)."""
    return HouseholdSeatsTaken(screened.slot.seats_per_household if screened is not None else None)
