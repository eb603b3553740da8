"""Vaccine products, lots, and the movement of doses from the Ministry to the arm, with the capacity bound:
a clinic's coming seats for a vaccine never outnumber the doses it holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from clinics import seats
from clinics.models import ClinicInactive, ClinicNotFound, check_date_range
from quotas import repository
from quotas.models import (
    REPORT_MAX_DAYS,
    Cover,
    DoseAlreadyRecorded,
    DosesBelowBooked,
    ExpiringLotRow,
    InsufficientStock,
    Lot,
    LotExpired,
    LotOfAnotherVaccine,
    Movement,
    MovementKind,
    OpenVial,
    PriorityUptakeRow,
    ProductNotFound,
    QuotaExceeded,
    StockLine,
    StockReportRow,
    VaccineProduct,
    tightest,
    unknown_reference,
    uptake_period,
)
from quotas.schemas import (
    Allocation,
    LotCreate,
    Receipt,
    Return,
    Transfer,
    VaccineProductCreate,
    VaccineProductUpdate,
    Waste,
)
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.auth.models import Principal
from vaxbook.clock import department_day
from vaxbook.db import Connection, Read, UnitOfWork
from vaxbook.errors import FieldError, Invalid
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyKey, Stored, run_once
from vaxbook.settings import DEFAULT_TIMEZONE

# Products


async def create_product(uow: UnitOfWork, actor: Actor, data: VaccineProductCreate) -> VaccineProduct:
    async with uow.transaction() as conn:
        product = await repository.insert_product(conn, **data.model_dump())
        await audit.record(
            conn,
            actor=actor,
            action="product.create",
            object_type="vaccine_product",
            object_id=product.id,
            details=data.model_dump(),
        )
    return product


async def update_product(uow: UnitOfWork, actor: Actor, product_id: UUID, data: VaccineProductUpdate) -> VaccineProduct:
    changes = data.model_dump(exclude_unset=True)
    async with uow.transaction() as conn:
        product = await repository.update_product(conn, product_id=product_id, changes=changes)
        if product is None:
            raise ProductNotFound()
        await audit.record(
            conn,
            actor=actor,
            action="product.update",
            object_type="vaccine_product",
            object_id=product_id,
            details=data.model_dump(mode="json", exclude_unset=True),
        )
    return product


async def get_product(uow: UnitOfWork, product_id: UUID) -> VaccineProduct:
    async with uow.transaction(readonly=True) as conn:
        product = await repository.get_product(conn, product_id=product_id)
    if product is None:
        raise ProductNotFound()
    return product


def product_of_slot_read(slot_id: UUID) -> Read[VaccineProduct | None]:
    """The vaccine a slot's service gives (None when it gives none), read with the caller's other reads."""
    return repository.product_of_slot(slot_id=slot_id)


async def product_exists(uow: UnitOfWork, product_id: UUID) -> bool:
    async with uow.transaction(readonly=True) as conn:
        return await repository.get_product(conn, product_id=product_id) is not None


async def list_products(uow: UnitOfWork) -> list[VaccineProduct]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_products(conn)


# Lots


def expired_lot(expires_on: date, *, now: datetime) -> Invalid | None:
    """The refusal of a lot already past its expiry date: none of its doses could be received, so it would only sit
    in every list of lots to choose from. None for a lot still usable today."""
    if expires_on >= _today(now):
        return None
    return Invalid.field(
        "expires_on",
        "lot_expired",
        Text(
            f"Hạn dùng {expires_on:%d/%m/%Y} đã qua: lô đã hết hạn",
            f"The expiry date {expires_on:%d/%m/%Y} has passed: the lot has expired",
        ),
    )


async def create_lot(uow: UnitOfWork, actor: Actor, data: LotCreate, *, now: datetime) -> Lot:
    """A lot already past its expiry date is refused (expired_lot)."""
    if refused := expired_lot(data.expires_on, now=now):
        raise refused
    async with uow.transaction() as conn:
        if await repository.get_product(conn, product_id=data.product_id) is None:
            raise unknown_reference("product_id")
        lot = await repository.insert_lot(
            conn, product_id=data.product_id, lot_number=data.lot_number, expires_on=data.expires_on
        )
        await audit.record(
            conn,
            actor=actor,
            action="lot.create",
            object_type="vaccine_lot",
            object_id=lot.id,
            details=data.model_dump(mode="json"),
        )
    return lot


async def list_lots(uow: UnitOfWork, product_id: UUID | None) -> list[Lot]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_lots(conn, product_id=product_id)


async def _lot(conn: Connection, lot_id: UUID) -> Lot:
    lot = await repository.get_lot(conn, lot_id=lot_id)
    if lot is None:
        raise unknown_reference("lot_id")
    return lot


# Movements: each is one ledger row and the balance changes it makes, in one transaction


@dataclass(frozen=True)
class SlotCut:
    """A coming slot whose free seats a movement took away (its doses left): which, and its capacity before and
    after, kept in the movement's audit row."""

    slot_id: UUID
    capacity_before: int
    capacity_after: int

    def said(self) -> dict[str, Any]:
        return {"slot_id": self.slot_id, "capacity": [self.capacity_before, self.capacity_after]}


async def _move(
    conn: Connection,
    actor: Actor,
    kind: MovementKind,
    lot: Lot,
    doses: int,
    *,
    from_clinic_id: UUID | None = None,
    to_clinic_id: UUID | None = None,
    booking_id: UUID | None = None,
    note: str | None = None,
    cut: list[SlotCut] | None = None,
) -> Movement:
    try:
        movement = await repository.insert_movement(
            conn,
            kind=kind,
            lot=lot,
            doses=doses,
            from_clinic_id=from_clinic_id,
            to_clinic_id=to_clinic_id,
            booking_id=booking_id,
            actor_kind=actor.audit_kind,
            actor_id=actor.audit_id,
            note=note,
        )
    except asyncpg.ForeignKeyViolationError:
        raise unknown_reference("clinic_id") from None
    except asyncpg.UniqueViolationError:
        raise DoseAlreadyRecorded() from None
    await audit.record(
        conn,
        actor=actor,
        action=f"stock.{kind.value}",
        object_type="stock_movement",
        object_id=movement.id,
        clinic_id=from_clinic_id or to_clinic_id,
        details={"lot_id": lot.id, "doses": doses, "from": from_clinic_id, "to": to_clinic_id, "note": note}
        | ({"slots_cut": [c.said() for c in cut]} if cut else {}),
    )
    return movement


async def _to_clinic(conn: Connection, lot: Lot, clinic_id: UUID, now: datetime, *, field: str) -> None:
    """Doses go to a clinic only while it works and only of a lot still usable: an expired dose at a clinic backs no
    seat and can only be wasted. `field` is where the caller named the clinic."""
    if not lot.usable_on(_today(now)):
        raise LotExpired()
    active = await repository.clinic_takes_doses(conn, clinic_id=clinic_id)
    if active is None:
        raise unknown_reference(field)
    if not active:
        raise ClinicInactive()


async def _known_clinic(conn: Connection, clinic_id: UUID, *, field: str) -> None:
    """Doses taken from a clinic that does not exist are refused as such, not as a clinic holding none."""
    if not await repository.clinic_exists(conn, clinic_id=clinic_id):
        raise unknown_reference(field)


async def _from_department(conn: Connection, lot: Lot, doses: int) -> None:
    left = await repository.take_from_department(conn, lot_id=lot.id, doses=doses)
    if left is not None:
        raise InsufficientStock(available=left, requested=doses)


def _today(now: datetime) -> date:
    return department_day(now)


async def _hold(conn: Connection, lot: Lot, *clinic_ids: UUID | None) -> None:
    """Lock the clinics' doses and seats for the lot's vaccine before any stock row: every movement takes its
    clinics in the same order, so two movements never wait on each other in a circle."""
    for clinic_id in sorted({c for c in clinic_ids if c is not None}):
        await repository.lock_quota(conn, clinic_id=clinic_id, product_id=lot.product_id)


async def _from_clinic(conn: Connection, clinic_id: UUID, lot: Lot, doses: int, now: datetime) -> list[SlotCut]:
    """Take doses from a clinic (under _hold). Seats that would no longer have a dose are taken out of its coming
    slots (unbooked seats, latest slots first), and the slots cut returned for the movement's record; if booked
    seats would still outnumber the doses, nothing happens."""
    left = await repository.take_from_clinic(conn, clinic_id=clinic_id, lot_id=lot.id, doses=doses)
    if left is not None:
        raise InsufficientStock(available=left, requested=doses)
    covers = await _cover(conn, clinic_id, lot.product_id, now)
    short = tightest(covers)
    if short.spare >= 0:
        return []
    booked = min(covers, key=lambda cover: (cover.doses - cover.booked, cover.day))
    if booked.booked > booked.doses:
        raise DosesBelowBooked(doses_after=booked.doses, booked=booked.booked)
    cut = await seats.trim_free(conn, clinic_id=clinic_id, product_id=lot.product_id, seats=-short.spare, now=now)
    still = tightest(await _cover(conn, clinic_id, lot.product_id, now))
    if still.spare < 0:
        # the free seats left were on earlier days, or the rest are held back for priority groups (promised like
        # booked ones until released)
        raise DosesBelowBooked(doses_after=still.doses, booked=still.seats)
    return [SlotCut(slot_id, before, after) for slot_id, before, after in cut]


_STORED = Stored(Movement)


async def once(
    uow: UnitOfWork, key: IdempotencyKey | None, keep_hours: int, work: Callable[[], Awaitable[Movement]]
) -> Movement:
    """Record a movement at most once per Idempotency-Key: a health officer's second click replays the first."""

    return await run_once(uow, key, work, stored=_STORED, keep_hours=keep_hours)


async def receive(uow: UnitOfWork, actor: Actor, data: Receipt, *, now: datetime) -> Movement:
    """Doses into the department's store: only of a lot still usable (an expired lot's doses can only be wasted,
    and counted as stock they would cover seats and quotas)."""
    async with uow.transaction() as conn:
        lot = await _lot(conn, data.lot_id)
        if not lot.usable_on(_today(now)):
            raise LotExpired(
                Text(
                    f"Lô {lot.lot_number} đã hết hạn ngày {lot.expires_on:%d/%m/%Y}: không nhận vào kho.",
                    f"Lot {lot.lot_number} expired on {lot.expires_on:%d/%m/%Y}: it is not taken into the store.",
                ),
                field_errors=(FieldError("lot_id", "lot_expired", Text("Lô này đã hết hạn", "This lot has expired")),),
            )
        await repository.add_to_department(conn, lot_id=lot.id, doses=data.doses)
        return await _move(conn, actor, MovementKind.RECEIPT, lot, data.doses, note=data.note)


async def allocate(uow: UnitOfWork, actor: Actor, data: Allocation, *, now: datetime) -> Movement:
    async with uow.transaction() as conn:
        lot = await _lot(conn, data.lot_id)
        await _to_clinic(conn, lot, data.clinic_id, now, field="clinic_id")
        await _hold(conn, lot, data.clinic_id)
        await _from_department(conn, lot, data.doses)
        movement = await _move(
            conn, actor, MovementKind.ALLOCATION, lot, data.doses, to_clinic_id=data.clinic_id, note=data.note
        )
        await repository.add_to_clinic(conn, clinic_id=data.clinic_id, lot_id=lot.id, doses=data.doses)
        return movement


async def transfer(uow: UnitOfWork, actor: Actor, data: Transfer, *, now: datetime) -> Movement:
    async with uow.transaction() as conn:
        lot = await _lot(conn, data.lot_id)
        await _known_clinic(conn, data.from_clinic_id, field="from_clinic_id")
        await _to_clinic(conn, lot, data.to_clinic_id, now, field="to_clinic_id")
        await _hold(conn, lot, data.from_clinic_id, data.to_clinic_id)
        cut = await _from_clinic(conn, data.from_clinic_id, lot, data.doses, now)
        movement = await _move(
            conn,
            actor,
            MovementKind.TRANSFER,
            lot,
            data.doses,
            from_clinic_id=data.from_clinic_id,
            to_clinic_id=data.to_clinic_id,
            note=data.note,
            cut=cut,
        )
        await repository.add_to_clinic(conn, clinic_id=data.to_clinic_id, lot_id=lot.id, doses=data.doses)
        return movement


async def give_back(uow: UnitOfWork, actor: Actor, data: Return, *, now: datetime) -> Movement:
    async with uow.transaction() as conn:
        lot = await _lot(conn, data.lot_id)
        await _known_clinic(conn, data.clinic_id, field="clinic_id")
        await _hold(conn, lot, data.clinic_id)
        cut = await _from_clinic(conn, data.clinic_id, lot, data.doses, now)
        await repository.add_to_department(conn, lot_id=lot.id, doses=data.doses)
        return await _move(
            conn, actor, MovementKind.RETURNED, lot, data.doses, from_clinic_id=data.clinic_id, note=data.note, cut=cut
        )


async def waste(uow: UnitOfWork, actor: Actor, data: Waste, *, now: datetime) -> Movement:
    async with uow.transaction() as conn:
        lot = await _lot(conn, data.lot_id)
        if data.clinic_id is not None:
            await _known_clinic(conn, data.clinic_id, field="clinic_id")
        await _hold(conn, lot, data.clinic_id)
        cut = []
        if data.clinic_id is None:
            await _from_department(conn, lot, data.doses)
        else:
            cut = await _from_clinic(conn, data.clinic_id, lot, data.doses, now)
        return await _move(
            conn, actor, MovementKind.WASTED, lot, data.doses, from_clinic_id=data.clinic_id, note=data.note, cut=cut
        )


async def administer(
    uow: UnitOfWork,
    actor: Actor,
    *,
    clinic_id: UUID,
    lot_id: UUID,
    product_id: UUID,
    booking_id: UUID,
    now: datetime,
) -> Movement:
    """One dose of a lot of the booking's vaccine, given at a clinic that holds it, for a booking. The caller
    marks the booking completed first, in the same transaction, so that its seat no longer waits for a dose."""
    async with uow.transaction() as conn:
        lot = await repository.get_lot(conn, lot_id=lot_id)
        if lot is None:
            raise unknown_reference("lot_id")
        if lot.product_id != product_id:
            raise LotOfAnotherVaccine()
        if not lot.usable_on(_today(now)):
            raise LotExpired()
        await _hold(conn, lot, clinic_id)
        cut = await _from_clinic(conn, clinic_id, lot, 1, now)
        return await _move(
            conn, actor, MovementKind.ADMINISTERED, lot, 1, from_clinic_id=clinic_id, booking_id=booking_id, cut=cut
        )


async def hold_seats(uow: UnitOfWork, *, clinic_id: UUID, product_id: UUID) -> None:
    """Begin a change to a clinic's seats for a vaccine: nothing else moves its doses or seats until commit."""
    async with uow.transaction() as conn:
        await repository.lock_quota(conn, clinic_id=clinic_id, product_id=product_id)


async def check_seats(uow: UnitOfWork, *, clinic_id: UUID, product_id: UUID, now: datetime) -> None:
    """After a change to a clinic's seats (under hold_seats): refuse it if, on some day, the seats from that day on
    outnumber the doses still usable that day."""
    async with uow.transaction() as conn:
        short = tightest(await _cover(conn, clinic_id, product_id, now))
    if short.spare < 0:
        raise QuotaExceeded(doses=short.doses, seats=short.seats, from_day=short.day)


async def room_for_seats(uow: UnitOfWork, *, clinic_id: UUID, product_id: UUID, now: datetime) -> int:
    """How many more seats the clinic's doses allow on every coming day (under hold_seats): the least to spare of
    any day; negative when some day's seats are short of doses already."""
    async with uow.transaction() as conn:
        return tightest(await _cover(conn, clinic_id, product_id, now)).spare


async def _cover(conn: Connection, clinic_id: UUID, product_id: UUID, now: datetime) -> list[Cover]:
    return await repository.cover(conn, clinic_id=clinic_id, product_id=product_id, now=now, today=_today(now))


async def clinic_stock(uow: UnitOfWork, principal: Principal, clinic_id: UUID) -> list[StockLine]:
    """A clinic's lots, for its own staff (or the department)."""
    principal.require_clinic(clinic_id)
    return await stock(uow, clinic_id=clinic_id, department=False)


async def open_vials(uow: UnitOfWork, principal: Principal, clinic_id: UUID, *, now: datetime) -> list[OpenVial]:
    """The multi-dose vials the clinic opened today and has not used up, for its own staff (or the department): the
    doses left in each, and how many of today's bookings may still use them."""
    principal.require_clinic(clinic_id)
    async with uow.reads() as conn:
        if not await repository.clinic_exists(conn, clinic_id=clinic_id):
            raise ClinicNotFound()
        return await repository.open_vials(conn, clinic_id=clinic_id, now=now)


async def stock(uow: UnitOfWork, *, clinic_id: UUID | None, department: bool) -> list[StockLine]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.stock_lines(conn, clinic_id=clinic_id, department=department)


async def movements(
    uow: UnitOfWork, *, clinic_id: UUID | None, product_id: UUID | None, before_id: int | None, limit: int
) -> list[Movement]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_movements(
            conn, clinic_id=clinic_id, product_id=product_id, before_id=before_id, limit=limit
        )


# Reports for the health department (read-only; see docs/api.md for what each number counts)

# Weeks and days are Cần Thơ's: every clinic's zone today.
REPORT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)


def report_day(now: datetime) -> datetime:
    return now.astimezone(REPORT_ZONE)


async def stock_report(uow: UnitOfWork, *, clinic_id: UUID | None, product_id: UUID | None) -> list[StockReportRow]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.stock_report(conn, clinic_id=clinic_id, product_id=product_id)


async def priority_uptake(
    uow: UnitOfWork, *, clinic_id: UUID | None, date_from: date | None, date_to: date | None, now: datetime
) -> list[PriorityUptakeRow]:
    first, last = uptake_period(report_day(now).date(), date_from, date_to)
    check_date_range(first, last, max_days=REPORT_MAX_DAYS)
    async with uow.transaction(readonly=True) as conn:
        return await repository.priority_uptake(
            conn,
            clinic_id=clinic_id,
            starts_from=datetime.combine(first, time.min, REPORT_ZONE),
            starts_before=datetime.combine(last + timedelta(days=1), time.min, REPORT_ZONE),
            zone=DEFAULT_TIMEZONE,
        )


async def expiring_lots(uow: UnitOfWork, *, days: int, now: datetime) -> list[ExpiringLotRow]:
    today = report_day(now).date()
    async with uow.transaction(readonly=True) as conn:
        return await repository.expiring_lots(conn, today=today, last_day=today + timedelta(days=days))
