"""Priority groups, what people declare, seats held back for groups and when each may book, and the release of
held-back seats nobody used."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from clinics import seats
from clinics.models import Sex, Slot, SlotNotFound, TemplateNotFound
from priority import repository
from priority.models import (
    Declarations,
    Draw,
    DrawAlreadyHeld,
    DrawClosed,
    DrawCloseOutOfRange,
    DrawEntryNotFound,
    DrawEntryRecord,
    DrawInProgress,
    DrawNotFound,
    DrawStillOpen,
    EntryOutcome,
    GroupNotFound,
    PriorityGroup,
    Reservation,
    ReservationBelowBooked,
    ReservationsTooLarge,
    SeatPlan,
    SeatsReserved,
    TemplateReservation,
    best_group,
    draw_order,
    first_entry,
    rank_of,
)
from priority.models import best_rank_between as rank_between
from priority.models import plan_seat as plan
from priority.schemas import Declarations as DeclarationsIn
from priority.schemas import DrawSetup, PriorityGroupCreate, PriorityGroupUpdate, SlotReservations, TemplateReservations
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.auth.models import Principal
from vaxbook.db import Connection, Lookup, Read, UnitOfWork, read_together
from vaxbook.errors import Invalid
from vaxbook.i18n import Text

# Groups


async def create_group(uow: UnitOfWork, actor: Actor, data: PriorityGroupCreate) -> PriorityGroup:
    async with uow.transaction() as conn:
        await repository.lock_groups(conn)
        group = await repository.insert_group(
            conn,
            code=data.code,
            name_vi=data.name_vi,
            name_en=data.name_en,
            rank=data.rank,
            rule=data.rule.model(),
            needs_evidence=data.needs_evidence,
            active=data.active,
        )
        await _everyone_last(conn, group.id)
        await audit.record(
            conn,
            actor=actor,
            action="priority_group.create",
            object_type="priority_group",
            object_id=group.id,
            details=data.model_dump(mode="json"),
        )
    return group


async def update_group(
    uow: UnitOfWork, actor: Actor, group_id: UUID, data: PriorityGroupUpdate, *, now: datetime
) -> PriorityGroup:
    changes = data.model_dump(exclude_unset=True)
    if data.rule is not None:
        changes["rule"] = data.rule.model()
    async with uow.transaction() as conn:
        await repository.lock_groups(conn)
        group = (
            await repository.update_group(conn, group_id=group_id, changes=changes)
            if changes
            else await repository.get_group(conn, group_id=group_id)
        )
        if group is None:
            raise GroupNotFound()
        await _everyone_last(conn, group.id)
        # switched off: the seats future slots hold back for it go to everyone now, not at their release hour
        released = (
            0
            if group.active
            else await seats.release_held_back(
                conn, now=now, lead=None, clinic_id=None, slot_id=None, group_id=group.id
            )
        )
        await audit.record(
            conn,
            actor=actor,
            action="priority_group.update",
            object_type="priority_group",
            object_id=group_id,
            details=data.model_dump(mode="json", exclude_unset=True)
            | ({"seats_released": released} if released else {}),
        )
    return group


async def _everyone_last(conn: Connection, group_id: UUID) -> None:
    """A group of everyone ranks after every other active group: before one, it would take that group's priority
    away (everyone would rank with it). Checked for the group written only (an older pair refuses nothing else)."""
    if await repository.everyone_outranks(conn, group_id=group_id):
        raise Invalid.field(
            "rank",
            "everyone_not_last",
            Text(
                "Nhóm dành cho mọi người phải xếp sau mọi nhóm ưu tiên đang hoạt động",
                "A group of everyone must rank after every active priority group",
            ),
        )


async def get_group(uow: UnitOfWork, group_id: UUID) -> PriorityGroup:
    async with uow.transaction(readonly=True) as conn:
        group = await repository.get_group(conn, group_id=group_id)
    if group is None:
        raise GroupNotFound()
    return group


async def list_groups(uow: UnitOfWork, *, include_inactive: bool) -> list[PriorityGroup]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_groups(conn, include_inactive=include_inactive)


# Declarations (the caller has checked that the person is the actor's to speak for)


async def save_declarations(uow: UnitOfWork, actor: Actor, person_id: UUID, data: DeclarationsIn) -> Declarations:
    declarations = Declarations(**data.model_dump())
    async with uow.transaction() as conn:
        await repository.save_declarations(conn, person_id=person_id, declarations=declarations)
        # which declarations changed is health data: the audit row says only that they did
        await audit.record(conn, actor=actor, action="declarations.save", object_type="person", object_id=person_id)
    return declarations


async def forget_declarations(uow: UnitOfWork, person_id: UUID) -> None:
    """What the person declared is gone (their data erased at their request)."""
    async with uow.transaction() as conn:
        await repository.delete_declarations(conn, person_id=person_id)


async def declarations_of(uow: UnitOfWork, person_id: UUID) -> Declarations:
    async with uow.transaction(readonly=True) as conn:
        return await repository.declarations_of(conn, person_id=person_id)


# Where a person stands: their best group on a day, whatever a slot holds back


@dataclass(frozen=True)
class Someone:
    """What ranking a person needs: who they are, and what their age and sex are."""

    person_id: UUID
    born: date
    sex: Sex


async def best_group_of(uow: UnitOfWork, someone: Someone, *, on: date) -> PriorityGroup | None:
    async with uow.transaction(readonly=True) as conn:
        groups = await repository.list_groups(conn, include_inactive=False)
        declarations = await repository.declarations_of(conn, person_id=someone.person_id)
    return best_group(groups, born=someone.born, sex=someone.sex, declarations=declarations, on=on)


async def ranks_on(uow: UnitOfWork, people: list[Someone], *, on: date) -> dict[UUID, int]:
    """Each person's rank on a day (their best group's, or everyone else's), read in two queries however many."""
    async with uow.transaction(readonly=True) as conn:
        groups = await repository.list_groups(conn, include_inactive=False)
        declared = await repository.declarations_of_people(conn, person_ids=[p.person_id for p in people])
    return {
        p.person_id: rank_of(
            best_group(groups, born=p.born, sex=p.sex, declarations=declared.get(p.person_id, Declarations()), on=on)
        )
        for p in people
    }


async def best_rank_between(uow: UnitOfWork, someone: Someone, *, first: date, last: date) -> int:
    async with uow.transaction(readonly=True) as conn:
        groups = await repository.list_groups(conn, include_inactive=False)
        declarations = await repository.declarations_of(conn, person_id=someone.person_id)
    return rank_between(groups, born=someone.born, sex=someone.sex, declarations=declarations, first=first, last=last)


async def reservations_of_slots(uow: UnitOfWork, slots: list[Slot]) -> dict[UUID, list[Reservation]]:
    """Each slot's held-back seats per group (slots holding none are left out)."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.reservations_of_slots(conn, slots=[(s.clinic_id, s.id) for s in slots])


async def drawing(uow: UnitOfWork, slots: list[Slot]) -> set[UUID]:
    """The slots whose seats go by a draw not yet settled (booking refuses them: `refuse_while_drawing`)."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.drawing(conn, slots=[(s.clinic_id, s.id) for s in slots])


async def plans_for(
    uow: UnitOfWork,
    someone: Someone,
    slots: list[tuple[Slot, date]],
    reservations: dict[UUID, list[Reservation]],
    *,
    now: datetime,
) -> dict[UUID, SeatPlan]:
    """What the person may book in each slot (of the given local day), read in two queries however many slots:
    for a search that tells them which seats are theirs to take, and from when."""
    async with uow.transaction(readonly=True) as conn:
        groups = await repository.list_groups(conn, include_inactive=False)
        declarations = await repository.declarations_of(conn, person_id=someone.person_id)
    return {
        slot.id: plan(
            reservations.get(slot.id, []),
            groups=groups,
            slot_opens_at=slot.opens_at,
            born=someone.born,
            sex=someone.sex,
            declarations=declarations,
            on=day,
            now=now,
        )
        for slot, day in slots
    }


# A slot's held-back seats


@dataclass(frozen=True)
class SlotSeats:
    slot_id: UUID
    opens_at: datetime | None
    held_back: int
    groups: list[Reservation]
    timezone: str  # the clinic's


async def slot_seats(uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID) -> SlotSeats:
    principal.require_clinic(clinic_id)
    async with uow.transaction(readonly=True) as conn:
        return await _slot_seats(conn, clinic_id, slot_id)


async def _slot_seats(conn: Connection, clinic_id: UUID, slot_id: UUID) -> SlotSeats:
    opening = await repository.slot_opening(conn, clinic_id=clinic_id, slot_id=slot_id)
    if opening is None:
        raise SlotNotFound()
    groups = await repository.reservations_of(conn, clinic_id=clinic_id, slot_id=slot_id)
    return SlotSeats(slot_id, opening.opens_at, opening.held_back, groups, opening.timezone)


async def _known_groups(conn: Connection, group_ids: list[UUID]) -> None:
    """Seats are held back only for groups that exist and are active: seats held for a group switched off would be
    held for nobody."""
    found = await repository.existing_groups(conn, group_ids=group_ids)
    for n, group_id in enumerate(group_ids):
        if group_id not in found:
            raise Invalid.field(
                f"groups.{n}.group_id",
                "unknown_reference",
                Text("Nhóm ưu tiên không tồn tại", "No such priority group"),
            )
        if not found[group_id]:
            raise Invalid.field(
                f"groups.{n}.group_id",
                "group_inactive",
                Text("Nhóm ưu tiên này đã ngừng hoạt động", "This priority group is switched off"),
            )


async def set_slot_seats(
    uow: UnitOfWork,
    principal: Principal,
    clinic_id: UUID,
    slot_id: UUID,
    data: SlotReservations,
    *,
    now: datetime,
    release_lead: timedelta,
) -> SlotSeats:
    """Replace a slot's reservations in one transaction, under the slot's row lock. Seats are not held back anew
    for a slot within `release_lead` of its start: they would go to everyone at the release job's next run."""
    principal.require_clinic(clinic_id)
    groups = [(g.group_id, g.seats, g.opens_at) for g in data.groups]
    async with uow.transaction() as conn:
        await _known_groups(conn, [g for g, _, _ in groups])
        await seats.lock(conn, clinic_id=clinic_id, slot_id=slot_id)
        opening = await repository.slot_opening(conn, clinic_id=clinic_id, slot_id=slot_id)
        assert opening is not None, "the slot's row is locked"
        _before_the_start(data, opening.starts_at)
        wanted = {group: count for group, count, _ in groups}
        booked_in = await repository.reserved_bookings(conn, clinic_id=clinic_id, slot_id=slot_id)
        for group_id, (code, booked) in booked_in.items():
            if booked > wanted.get(group_id, 0):
                raise ReservationBelowBooked(group=code, booked=booked)
        held_anew = [n for n, (group, count, _) in enumerate(groups) if count > booked_in.get(group, ("", 0))[1]]
        if held_anew and opening.starts_at - release_lead <= now:
            hours = int(release_lead.total_seconds() // 3600)
            raise Invalid.field(
                f"groups.{held_anew[0]}.seats",
                "inside_release_time",
                Text(
                    f"Khung giờ bắt đầu trong vòng {hours} giờ: chỗ giữ cho nhóm ưu tiên đã được trả cho mọi người",
                    f"The slot starts within {hours} hours: seats held back for groups have gone to everyone",
                ),
            )
        try:
            await seats.hold_back(conn, clinic_id=clinic_id, slot_id=slot_id, opens_at=data.opens_at, groups=groups)
        except asyncpg.CheckViolationError:
            raise ReservationsTooLarge() from None
        await _draw_still_enterable(conn, clinic_id, slot_id, now=now)
        await audit.record(
            conn,
            actor=principal,
            action="slot.reservations",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json"),
        )
        return await _slot_seats(conn, clinic_id, slot_id)


def _before_the_start(data: SlotReservations, starts_at: datetime) -> None:
    """A booking window that opens once the slot has begun would open on nothing: nobody could ever use it."""
    late = Text("Phải trước giờ bắt đầu của khung giờ", "Must be before the slot starts")
    if data.opens_at is not None and data.opens_at >= starts_at:
        raise Invalid.field("opens_at", "opens_after_start", late)
    for n, group in enumerate(data.groups):
        if group.opens_at >= starts_at:
            raise Invalid.field(f"groups.{n}.opens_at", "opens_after_start", late)


async def _draw_still_enterable(conn: Connection, clinic_id: UUID, slot_id: UUID, *, now: datetime) -> None:
    """New opening times must leave a draw not held yet some time for entries before it closes."""
    draw = await repository.draw_of(conn, clinic_id=clinic_id, slot_id=slot_id)
    if draw is None or draw.drawn_at is not None:
        return
    opening = await repository.slot_opening(conn, clinic_id=clinic_id, slot_id=slot_id)
    assert opening is not None
    first = first_entry(opening, await repository.reservations_of(conn, clinic_id=clinic_id, slot_id=slot_id), now=now)
    if draw.closes_at <= first:
        zone = ZoneInfo(opening.timezone)
        raise DrawCloseOutOfRange(
            first_entry=first.astimezone(zone), starts_at=opening.starts_at.astimezone(zone), field="opens_at"
        )


# Per template: applied to the slots it makes from then on


async def template_seats(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, template_id: UUID
) -> tuple[int | None, list[TemplateReservation]]:
    principal.require_clinic(clinic_id)
    async with uow.transaction(readonly=True) as conn:
        found = await repository.template_reservations(conn, clinic_id=clinic_id, template_id=template_id)
    if found is None:
        raise TemplateNotFound()
    return found


async def set_template_seats(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, template_id: UUID, data: TemplateReservations
) -> tuple[int | None, list[TemplateReservation]]:
    principal.require_clinic(clinic_id)
    shares = [TemplateReservation(g.group_id, g.share_percent, g.opens_days_before) for g in data.groups]
    async with uow.transaction() as conn:
        await _known_groups(conn, [s.group_id for s in shares])
        if await repository.template_reservations(conn, clinic_id=clinic_id, template_id=template_id) is None:
            raise TemplateNotFound()
        await repository.replace_template_reservations(
            conn,
            clinic_id=clinic_id,
            template_id=template_id,
            opens_days_before=data.opens_days_before,
            groups=shares,
        )
        await audit.record(
            conn,
            actor=principal,
            action="slot_template.reservations",
            object_type="slot_template",
            object_id=template_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json"),
        )
    return data.opens_days_before, shares


async def reserve_from_templates(uow: UnitOfWork, slots: list[Slot]) -> None:
    """Slots just made from templates take their templates' reservations and opening times."""
    by_clinic: dict[UUID, list[UUID]] = {}
    for slot in slots:
        if slot.template_id is not None:
            by_clinic.setdefault(slot.clinic_id, []).append(slot.id)
    async with uow.transaction() as conn:
        for clinic_id, slot_ids in sorted(by_clinic.items()):
            await seats.hold_back_as_templates_say(conn, clinic_id=clinic_id, slot_ids=slot_ids)


# Booking: which seat a person may take, taking it, and giving it back


async def plan_seat(
    uow: UnitOfWork, *, slot: Slot, zone: tzinfo, person_id: UUID, born: date, sex: Sex, on: date, now: datetime
) -> SeatPlan:
    """What the person may book in the slot, and their best group on its date (raises NotOpenYet when nothing is
    open to them yet)."""
    async with uow.transaction() as conn:
        groups, reservations, declarations = await read_together(
            conn, groups_read(), *seat_plan_reads(clinic_id=slot.clinic_id, slot_id=slot.id, person_id=person_id)
        )
    return seat_plan_from(reservations, declarations, groups, slot=slot, zone=zone, born=born, sex=sex, on=on, now=now)


def groups_read() -> Read[list[PriorityGroup]]:
    """The active groups, best rank first (for a use case that reads them with its own reads)."""
    return repository.groups(include_inactive=False)


def seat_plan_reads(
    *, clinic_id: UUID | Lookup, slot_id: UUID, person_id: UUID | Lookup
) -> tuple[Read[list[Reservation]], Read[Declarations]]:
    """What `seat_plan_from` needs beside the groups: the slot's reservations and what the person declared."""
    return repository.reservations(clinic_id=clinic_id, slot_id=slot_id), repository.declarations(person_id=person_id)


def seat_plan_from(
    reservations: list[Reservation],
    declarations: Declarations,
    groups: list[PriorityGroup],
    *,
    slot: Slot,
    zone: tzinfo,
    born: date,
    sex: Sex,
    on: date,
    now: datetime,
) -> SeatPlan:
    """`plan_seat` from what it reads (raises NotOpenYet when nothing is open to the person yet)."""
    seat_plan = plan(
        reservations,
        groups=groups,
        slot_opens_at=slot.opens_at,
        born=born,
        sex=sex,
        declarations=declarations,
        on=on,
        now=now,
    )
    seat_plan.check_open(zone)
    return seat_plan


async def claim_reserved(uow: UnitOfWork, *, slot: Slot, seat_plan: SeatPlan, now: datetime) -> Reservation | None:
    """Take a held-back seat of the person's best group that has one; None when none is left to them."""
    async with uow.transaction() as conn:
        for reservation in seat_plan.usable:
            if reservation.left and await seats.claim_held(
                conn, clinic_id=slot.clinic_id, slot_id=slot.id, group_id=reservation.group.id, now=now
            ):
                return reservation
    return None


def why_no_seat(seat_plan: SeatPlan) -> SeatsReserved | None:
    """Why a person found no seat although seats are left: they are held back for a group the person is not in."""
    if seat_plan.refusals:
        reservation, refusal = seat_plan.refusals[0]
        return SeatsReserved(reservation, refusal)
    return None


async def return_seat(uow: UnitOfWork, *, clinic_id: UUID, slot_id: UUID, group_id: UUID) -> bool:
    """A cancelled or moved booking's held-back seat goes back to its group (False once released)."""
    async with uow.transaction() as conn:
        return await seats.give_back_held(conn, clinic_id=clinic_id, slot_id=slot_id, group_id=group_id)


# Release


async def release_due(uow: UnitOfWork, actor: Actor, *, now: datetime, lead: timedelta) -> int:
    """Release to everyone the unbooked held-back seats of slots starting within `lead` (run on a schedule)."""
    async with uow.transaction() as conn:
        released = await seats.release_held_back(conn, now=now, lead=lead, clinic_id=None, slot_id=None)
        if released:
            await audit.record(
                conn,
                actor=actor,
                action="reservations.release",
                object_type="all_clinics",
                object_id="*",
                details={"seats": released, "lead_hours": lead.total_seconds() / 3600},
            )
    return released


async def release_slot(uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID, *, now: datetime) -> int:
    """Release one slot's unbooked held-back seats now, whenever it starts."""
    principal.require_clinic(clinic_id)
    async with uow.transaction() as conn:
        await seats.lock(conn, clinic_id=clinic_id, slot_id=slot_id)
        released = await seats.release_held_back(conn, now=now, lead=timedelta(0), clinic_id=clinic_id, slot_id=slot_id)
        await audit.record(
            conn,
            actor=principal,
            action="slot.release",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details={"seats": released},
        )
    return released


# Fair draws: entries until the close, then a recorded seed decides the order


async def set_draw(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID, data: DrawSetup, *, now: datetime
) -> Draw:
    """Give a slot's seats by draw: requests until `closes_at` become entries (set again to move the close)."""
    principal.require_clinic(clinic_id)
    async with uow.transaction() as conn:
        await seats.lock(conn, clinic_id=clinic_id, slot_id=slot_id)
        opening = await repository.slot_opening(conn, clinic_id=clinic_id, slot_id=slot_id)
        assert opening is not None  # the slot's row is locked
        reservations = await repository.reservations_of(conn, clinic_id=clinic_id, slot_id=slot_id)
        first = first_entry(opening, reservations, now=now)
        if not first < data.closes_at < opening.starts_at:
            zone = ZoneInfo(opening.timezone)
            raise DrawCloseOutOfRange(first_entry=first.astimezone(zone), starts_at=opening.starts_at.astimezone(zone))
        draw = await repository.upsert_draw(conn, clinic_id=clinic_id, slot_id=slot_id, closes_at=data.closes_at)
        if draw is None:
            raise DrawAlreadyHeld()
        await audit.record(
            conn,
            actor=principal,
            action="slot.draw",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json"),
        )
    return draw


async def draw_record(uow: UnitOfWork, clinic_id: UUID, slot_id: UUID) -> tuple[Draw, list[DrawEntryRecord]]:
    """The draw as anyone may check it: its seed (once held) and its entries."""
    async with uow.transaction(readonly=True) as conn:
        draw = await repository.draw_of(conn, clinic_id=clinic_id, slot_id=slot_id)
        if draw is None:
            raise DrawNotFound()
        return draw, await repository.draw_entries(conn, clinic_id=clinic_id, slot_id=slot_id)


async def recent_draws(uow: UnitOfWork, *, limit: int = 50) -> list[tuple[Draw, int]]:
    """The latest draws, open or held, with how many entered each (for the department's page)."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.recent_draws(conn, limit=limit)


async def draw_of(uow: UnitOfWork, clinic_id: UUID, slot_id: UUID) -> Draw | None:
    """A slot's draw, if its seats go by one."""
    async with uow.reads() as conn:
        return await repository.draw_of(conn, clinic_id=clinic_id, slot_id=slot_id)


def draw_read(*, clinic_id: UUID | Lookup, slot_id: UUID) -> Read[Draw | None]:
    return repository.draw(clinic_id=clinic_id, slot_id=slot_id)


def refuse_while_drawing(draw: Draw | None, zone: tzinfo) -> None:
    """Refuse a direct booking of a slot whose seats go by a draw not yet settled (a friendly early answer: the
    seat claim itself refuses such a slot too), from the slot's draw read with the caller's other reads."""
    if draw is not None and draw.settled_at is None:
        raise DrawInProgress(closes_at=draw.closes_at.astimezone(zone))


async def draw_pending(uow: UnitOfWork, slot: Slot) -> bool:
    async with uow.transaction() as conn:
        draw = await repository.draw_of(conn, clinic_id=slot.clinic_id, slot_id=slot.id)
    return draw is not None and draw.settled_at is None


async def add_entry(
    uow: UnitOfWork,
    *,
    slot: Slot,
    person_id: UUID,
    entered_by: UUID | None,
    entered_by_staff: UUID | None,
    rank: int,
    now: datetime,
) -> DrawEntryRecord:
    """Entered by a citizen's account or by a staff account: one of the two."""
    async with uow.transaction() as conn:
        entry = await repository.insert_draw_entry(
            conn,
            clinic_id=slot.clinic_id,
            slot_id=slot.id,
            person_id=person_id,
            entered_by=entered_by,
            entered_by_staff=entered_by_staff,
            rank=rank,
            now=now,
        )
        if entry is None:
            if await repository.draw_of(conn, clinic_id=slot.clinic_id, slot_id=slot.id) is None:
                raise DrawNotFound()
            raise DrawClosed()
    return entry


async def draw_entry(conn: Connection, entry_id: UUID) -> DrawEntryRecord:
    entry = await repository.draw_entry(conn, entry_id=entry_id)
    if entry is None:
        raise DrawEntryNotFound()
    return entry


async def remove_entry(conn: Connection, entry: DrawEntryRecord, *, now: datetime) -> None:
    """Take the entry out of its draw, while the draw is open (409 draw-closed after)."""
    if not await repository.delete_draw_entry(conn, entry_id=entry.id, now=now):
        raise DrawClosed()


async def entries_of_person(uow: UnitOfWork, person_id: UUID) -> list[DrawEntryRecord]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.entries_of_person(conn, person_id=person_id)


async def entries_of_account(uow: UnitOfWork, account_id: UUID) -> list[DrawEntryRecord]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.entries_of_account(conn, account_id=account_id)


async def due_draws(uow: UnitOfWork, *, now: datetime, limit: int = 50) -> list[tuple[UUID, UUID]]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.due_draws(conn, now=now, limit=limit)


async def hold_draw(uow: UnitOfWork, actor: Actor, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> bool:
    """Close the draw: draw a seed, record it and every entry's place. False when it was held already."""
    async with uow.transaction() as conn:
        draw = await repository.draw_of(conn, clinic_id=clinic_id, slot_id=slot_id, lock=True)
        if draw is None:
            raise DrawNotFound()
        if draw.drawn_at is not None:
            return False
        if draw.closes_at > now:
            raise DrawStillOpen()
        # drawn only now, after the last entry, so that nobody could have known it while entering
        seed = secrets.token_hex(16)
        entries = await repository.draw_entries(conn, clinic_id=clinic_id, slot_id=slot_id)
        order = draw_order(seed, entries)
        await repository.hold_draw(conn, clinic_id=clinic_id, slot_id=slot_id, seed=seed, order=order, now=now)
        await audit.record(
            conn,
            actor=actor,
            action="draw.hold",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details={"seed": seed, "entries": len(entries)},
        )
    return True


async def next_turn(uow: UnitOfWork, *, clinic_id: UUID, slot_id: UUID) -> DrawEntryRecord | None:
    """The next drawn entry to settle. The draw stays locked until the caller's transaction ends: turns are taken
    one at a time and strictly in the drawn order, however many settle the draw at once."""
    async with uow.transaction() as conn:
        if await repository.draw_of(conn, clinic_id=clinic_id, slot_id=slot_id, lock=True) is None:
            return None
        return await repository.next_drawn(conn, clinic_id=clinic_id, slot_id=slot_id)


async def end_entries(conn: Connection, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> list[DrawEntryRecord]:
    """The slot is called off: its draw closes now and the entries still waiting are refused (returned, to be
    told); the draw is never held (due draws leave cancelled slots out)."""
    return await repository.end_entries(conn, clinic_id=clinic_id, slot_id=slot_id, now=now)


async def settle_entry(
    uow: UnitOfWork, entry: DrawEntryRecord, outcome: EntryOutcome, *, booking_id: UUID | None, refusal: str | None
) -> None:
    async with uow.transaction() as conn:
        await repository.settle_entry(conn, entry_id=entry.id, outcome=outcome, booking_id=booking_id, refusal=refusal)


async def finish_draw(uow: UnitOfWork, *, clinic_id: UUID, slot_id: UUID, now: datetime) -> bool:
    """Mark the draw settled once every drawn entry had its turn: the slot is then bookable as any other."""
    async with uow.transaction() as conn:
        return await repository.mark_settled(conn, clinic_id=clinic_id, slot_id=slot_id, now=now)
