"""Fair draws, the booking side: entering a person in a slot's draw, and settling a held draw by booking its
entries in the drawn order until seats run out; the others join the standby list with their rank."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import structlog

from booking import repository
from booking.models import BookingPolicy, SlotFull
from booking.schemas import StandbyJoin
from booking.service import bookings, messages, standby
from booking.service.common import (
    already_booked,
    check_clinic_scope,
    check_consent,
    check_open,
    dose_for,
    local_day,
    person_for,
    plan_seat,
    rules_of,
)
from clinics import service as clinics
from priority import service as priority
from priority.models import DrawEntryNotFound, DrawEntryRecord, EntryOutcome, SeatsReserved, rank_of
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.errors import DomainError
from vaxbook.idempotency import IdempotencyKey, Stored, run_once

log = structlog.get_logger(__name__)


async def enter(
    uow: UnitOfWork,
    principal: Principal,
    *,
    slot_id: UUID,
    person_id: UUID | None,
    now: datetime,
    idempotency: IdempotencyKey | None = None,
    keep_hours: int = 24,
) -> DrawEntryRecord:
    """Enter a person in a slot's draw, under the same rules as booking it: when they enter makes no difference.
    Entered once per key: a second press gets the first one's entry."""

    async def work() -> DrawEntryRecord:
        return await _enter(uow, principal, slot_id=slot_id, person_id=person_id, now=now)

    return await run_once(uow, idempotency, work, stored=_STORED_ENTRY, keep_hours=keep_hours)


_STORED_ENTRY = Stored(DrawEntryRecord)


async def leave(uow: UnitOfWork, principal: Principal, entry_id: UUID, *, now: datetime) -> None:
    """Take yourself or a dependent out of a draw before it closes (a change of mind, or a dependent to remove)."""
    async with uow.transaction() as conn:
        try:
            entry = await priority.draw_entry(conn, entry_id)
        except DrawEntryNotFound:
            # taken out already, by this caller (a second tap, a retry whose answer was lost): done, as asked
            if await audit.recorded(
                conn, actor=principal, action="draw.leave", object_type="draw_entry", object_id=entry_id
            ):
                return
            raise
        try:
            await person_for(conn, principal, entry.person_id)
            check_clinic_scope(principal, entry.clinic_id)
        except DomainError:
            raise DrawEntryNotFound() from None  # another's entry (or another clinic's, for its staff): none of theirs
        await priority.remove_entry(conn, entry, now=now)
        await audit.record(conn, actor=principal, action="draw.leave", object_type="draw_entry", object_id=entry.id)


async def of_person(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[DrawEntryRecord]:
    """For staff helping someone: that person's draw entries, latest first (clinic staff see their own clinics'
    only). Each read is audited."""
    async with uow.transaction() as conn:
        person = await person_for(conn, principal, person_id)
        entries = await priority.entries_of_person(uow, person.id)
        await audit.record(conn, actor=principal, action="person.draws.read", object_type="person", object_id=person.id)
    reached = [e for e in entries if principal.role is not Role.CLINIC_STAFF or e.clinic_id in principal.clinic_ids]
    return sorted(reached, key=lambda e: e.created_at, reverse=True)


async def _enter(
    uow: UnitOfWork, principal: Principal, *, slot_id: UUID, person_id: UUID | None, now: datetime
) -> DrawEntryRecord:
    async with uow.transaction() as conn:
        slot, clinic = await clinics.get_slot(uow, slot_id)
        rules = await rules_of(uow, slot.service_id)
        check_open(slot, clinic, rules, now)
        person = await person_for(conn, principal, person_id)
        check_consent(person)
        check_clinic_scope(principal, clinic.id)
        await dose_for(uow, person, rules, local_day(slot, clinic))
        if held := await repository.open_booking_of_service(
            conn, person_id=person.id, service_id=rules.service_id, product_id=rules.product_id
        ):
            raise already_booked(principal, held)
        seat_plan = await plan_seat(uow, slot, clinic, person, now)
        # the person's best group on the slot's day, whatever the slot holds back
        rank = rank_of(seat_plan.best)
        citizen = principal.role is Role.CITIZEN
        return await priority.add_entry(
            uow,
            slot=slot,
            person_id=person.id,
            entered_by=principal.id if citizen else None,
            entered_by_staff=None if citizen else principal.id,
            rank=rank,
            now=now,
        )


async def run(
    uow: UnitOfWork, actor: Actor, policy: BookingPolicy, *, clinic_id: UUID, slot_id: UUID, now: datetime
) -> int:
    """Hold a closed draw (if not held yet) and settle it: returns the entries settled now."""
    await priority.hold_draw(uow, actor, clinic_id=clinic_id, slot_id=slot_id, now=now)
    settled = 0
    while await _settle_next(uow, policy, clinic_id=clinic_id, slot_id=slot_id, now=now):
        settled += 1
    await priority.finish_draw(uow, clinic_id=clinic_id, slot_id=slot_id, now=now)
    return settled


async def run_due(uow: UnitOfWork, actor: Actor, policy: BookingPolicy, *, now: datetime) -> int:
    """Hold and settle every draw whose entries have closed (run on a schedule). Returns the entries settled."""
    settled = 0
    for clinic_id, slot_id in await priority.due_draws(uow, now=now):
        try:
            settled += await run(uow, actor, policy, clinic_id=clinic_id, slot_id=slot_id, now=now)
        except DomainError as refused:
            # its close was moved since it was found due, or it was held meanwhile: the others still go ahead
            log.info("draw.skipped", slot_id=str(slot_id), reason=refused.slug)
    return settled


async def _settle_next(
    uow: UnitOfWork, policy: BookingPolicy, *, clinic_id: UUID, slot_id: UUID, now: datetime
) -> bool:
    """Give the next entry in the drawn order its turn, in one transaction: a seat if one is left to them, else
    the standby list. False when no entry waits for its turn."""
    async with uow.transaction() as conn:
        entry = await priority.next_turn(uow, clinic_id=clinic_id, slot_id=slot_id)
        if entry is None:
            return False
        entrant = _entrant(entry)
        outcome, booking_id, refused_by = EntryOutcome.REFUSED, None, None
        try:
            # a savepoint: a refused booking undoes only itself, and the entry still records how its turn went
            async with conn.transaction():
                booked = await bookings.book(
                    uow,
                    entrant,
                    policy,
                    slot_id=slot_id,
                    person_id=entry.person_id,
                    now=now,
                    idempotency=None,
                    through_draw=True,
                )
            outcome, booking_id = EntryOutcome.BOOKED, booked.id
        except (SlotFull, SeatsReserved):
            outcome, refused_by = await _wait(uow, entrant, entry, policy, now)
        except DomainError as refused:
            refused_by = refused
        refusal = refused_by.slug if refused_by else None
        await priority.settle_entry(uow, entry, outcome, booking_id=booking_id, refusal=refusal)
        if outcome is not EntryOutcome.BOOKED:
            await messages.draw_not_won(uow, entry, policy, now=now, why=refused_by.title if refused_by else None)
        return True


def _entrant(entry: DrawEntryRecord) -> Principal:
    """Whom an entry books as at its turn: the citizen who entered, or the staff member, at the draw's clinic (where
    they could enter them)."""
    if entry.entered_by is not None:
        return Principal(id=entry.entered_by, role=Role.CITIZEN)
    assert entry.entered_by_staff is not None, "an entry is made by a citizen or by staff (draw_entries_one_entrant)"
    return Principal(id=entry.entered_by_staff, role=Role.CLINIC_STAFF, clinic_ids=frozenset({entry.clinic_id}))


async def _wait(
    uow: UnitOfWork, entrant: Principal, entry: DrawEntryRecord, policy: BookingPolicy, now: datetime
) -> tuple[EntryOutcome, DomainError | None]:
    """No seat of the draw was left at their turn: onto the clinic's standby list for that day, with their rank,
    and offered at once a seat of another slot that day if one is free (the offer shows in their standby list)."""
    conn = uow.conn
    slot, clinic = await clinics.get_slot(uow, entry.slot_id)
    day = local_day(slot, clinic)
    join = StandbyJoin(
        service_id=slot.service_id, clinic_id=clinic.id, date_from=day, date_to=day, person_id=entry.person_id
    )
    try:
        async with conn.transaction():
            waiting = await standby.join(uow, entrant, join, now=now, rank=entry.rank, even_with_free_seats=True)
            await standby.offer_free_seat(uow, waiting, policy=policy, now=now)
    except DomainError as refused:
        return EntryOutcome.REFUSED, refused
    return EntryOutcome.WAITING, None
