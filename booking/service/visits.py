"""After check-in: the evidence a priority group asks for (seen, or the booking is not eligible and no dose is
used), the dose given (the ledger's administered row, the booking completed, in one transaction), a health-service
visit attended, and adverse events reported by staff or by the citizen later."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from booking import repository
from booking.models import (
    OBSERVATION,
    AdverseEvent,
    Booking,
    BookingNotFound,
    BookingPolicy,
    BookingStatus,
    EvidenceRequired,
    FollowUp,
    NotAVaccination,
    NotAVisit,
    NotCheckedIn,
    Vaccination,
)
from booking.schemas import AdverseEventCreate, VaccinationCreate
from booking.service import messages
from booking.service.common import Step, booking_for, free_seat, record_booking, rules_of, why_not_ready
from priority import service as priority
from quotas import service as quotas
from vaxbook import audit
from vaxbook.auth import service as auth
from vaxbook.auth.models import Principal, Role
from vaxbook.db import Connection, UnitOfWork
from vaxbook.errors import Invalid
from vaxbook.i18n import Text
from vaxbook.idempotency import IdempotencyKey, Stored, run_once

_STORED_EVENT = Stored(AdverseEvent)


# a dose recorded after the fact: the same day's work, not last month's
LATEST_BACKDATING = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=5)
"""How far a reported time may lie past the server's clock (a phone's own clock, typed to the minute)."""


async def _at_clinic(conn: Connection, principal: Principal, clinic_id: UUID, booking_id: UUID) -> Booking:
    principal.require_clinic(clinic_id)
    booking = await repository.get_booking(conn, booking_id=booking_id)
    if booking is None or booking.clinic_id != clinic_id:
        raise BookingNotFound()
    return booking


async def confirm_evidence(
    uow: UnitOfWork,
    principal: Principal,
    policy: BookingPolicy,
    *,
    clinic_id: UUID,
    booking_id: UUID,
    seen: bool,
    now: datetime,
) -> Booking:
    async with uow.transaction() as conn:
        booking = await _at_clinic(conn, principal, clinic_id, booking_id)
        if seen:
            seen_now = await repository.see_evidence(
                conn, booking_id=booking.id, clinic_id=clinic_id, staff_id=principal.id, now=now
            )
            if seen_now is None:
                raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
            await record_booking(conn, principal, "booking.evidence_seen", seen_now)
            return seen_now
        if not booking.priority_used:
            # the group gave this booking nothing: without its evidence the person is simply not counted in it
            ungrouped = await repository.drop_group(conn, booking_id=booking.id, clinic_id=clinic_id)
            if ungrouped is None:
                raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
            await record_booking(conn, principal, "booking.group_not_evidenced", ungrouped)
            return ungrouped
        refused = await repository.change_checked_in(
            conn, booking_id=booking.id, clinic_id=clinic_id, to_status=BookingStatus.NOT_ELIGIBLE
        )
        if refused is None:
            raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
        await repository.release_active_place(conn, person_id=booking.person_id)
        await free_seat(uow, booking, policy=policy, now=now)
        await record_booking(conn, principal, "booking.not_eligible", refused)
        return refused


async def record_vaccination(
    uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID, data: VaccinationCreate, now: datetime
) -> Vaccination:
    given_at = data.given_at or now
    if not now - LATEST_BACKDATING <= given_at <= now:
        raise Invalid.field("given_at", "recent", Text("Phải trong 24 giờ qua", "Must be within the last 24 hours"))
    principal.require_clinic(clinic_id)
    vaccinator = data.vaccinator_id or principal.id
    # clinic staff recording their own dose were checked as the clinic's on the way in; anyone else named (or a
    # health officer recording a dose they did not give) is checked here: the record names who gave it
    if not (vaccinator == principal.id and principal.role is Role.CLINIC_STAFF) and not await auth.works_at(
        uow, staff_id=vaccinator, clinic_id=clinic_id
    ):
        raise (
            Invalid.field(
                "vaccinator_id",
                "not_of_this_clinic",
                Text(
                    "Phải là nhân viên đang làm việc tại cơ sở này", "Must be a working member of this clinic's staff"
                ),
            )
            if data.vaccinator_id
            else Invalid.field(
                "vaccinator_id",
                "required",
                Text(
                    "Hãy ghi người đã tiêm: một nhân viên đang làm việc tại cơ sở này",
                    "Name who gave the dose: a working member of this clinic's staff",
                ),
            )
        )
    async with uow.transaction() as conn:
        booking = await _at_clinic(conn, principal, clinic_id, booking_id)
        rules = await rules_of(uow, booking.service_id)
        if rules.product_id is None:
            raise NotAVaccination()
        if booking.status is not BookingStatus.CHECKED_IN:
            raise await why_not_ready(conn, booking, Step.RECORD)
        if booking.checked_in_at is not None and given_at < booking.checked_in_at - CLOCK_SKEW:
            raise Invalid.field(
                "given_at",
                "before_the_check_in",
                Text("Không được trước lúc tiếp đón", "Must not be before the check-in"),
            )
        await _evidence_seen(uow, booking)
        # completed first: the booking's seat then no longer waits for a dose when the dose leaves the stock
        completed = await repository.change_checked_in(
            conn, booking_id=booking.id, clinic_id=clinic_id, to_status=BookingStatus.COMPLETED
        )
        if completed is None:
            raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
        await repository.release_active_place(conn, person_id=booking.person_id)
        await quotas.administer(
            uow,
            principal,
            clinic_id=clinic_id,
            lot_id=data.lot_id,
            product_id=rules.product_id,
            booking_id=booking.id,
            now=now,
        )
        vaccination = await repository.insert_vaccination(
            conn,
            booking=booking,
            product_id=rules.product_id,
            lot_id=data.lot_id,
            injection_site=data.injection_site,
            vaccinator_id=vaccinator,
            given_at=given_at,
            observe_until=given_at + OBSERVATION,
            recorded_by=principal.id,
        )
        await record_booking(conn, principal, "booking.vaccinated", completed, lot_id=data.lot_id)
        await messages.done(uow, completed)
    return vaccination


async def _evidence_seen(uow: UnitOfWork, booking: Booking) -> None:
    """A seat a priority group gave, for a group that asks for evidence, is used only once the evidence was seen:
    a dose or a visit before it would count someone in the group unproven."""
    if booking.priority_used and booking.priority_group_id is not None and booking.evidence_seen_at is None:
        group = await priority.get_group(uow, booking.priority_group_id)
        if group.needs_evidence:
            raise EvidenceRequired()


async def record_attendance(uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID) -> Booking:
    """A health-service visit (an antenatal check-up) took place."""
    async with uow.transaction() as conn:
        booking = await _at_clinic(conn, principal, clinic_id, booking_id)
        if (await rules_of(uow, booking.service_id)).product_id is not None:
            raise NotAVisit()
        if booking.status is not BookingStatus.CHECKED_IN:
            raise await why_not_ready(conn, booking, Step.RECORD)
        await _evidence_seen(uow, booking)
        attended = await repository.change_checked_in(
            conn, booking_id=booking.id, clinic_id=clinic_id, to_status=BookingStatus.COMPLETED
        )
        if attended is None:
            raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
        await repository.release_active_place(conn, person_id=booking.person_id)
        await record_booking(conn, principal, "booking.attended", attended)
        await messages.done(uow, attended)
    return attended


async def report_adverse_event(
    uow: UnitOfWork,
    principal: Principal,
    *,
    booking_id: UUID,
    clinic_id: UUID | None,
    data: AdverseEventCreate,
    now: datetime,
    idempotency: IdempotencyKey | None,
    keep_hours: int,
) -> AdverseEvent:
    """Staff at the clinic (clinic_id given), or the citizen for their own or a dependent's booking, after the dose:
    its onset lies between the dose (or the visit's check-in) and now. Recorded once per key: a second press gets
    the first one's answer, and a serious reaction reaches the department's list once."""

    async def work() -> AdverseEvent:
        async with uow.transaction() as conn:
            if principal.role is Role.CITIZEN:
                booking = await booking_for(conn, principal, booking_id)
            else:
                assert clinic_id is not None
                booking = await _at_clinic(conn, principal, clinic_id, booking_id)
            if booking.status is not BookingStatus.COMPLETED:
                raise await why_not_ready(conn, booking, Step.REACTION)
            given_at = await repository.dose_given_at(conn, clinic_id=booking.clinic_id, booking_id=booking.id)
            _check_onset(data.onset_at, after=given_at or booking.checked_in_at, now=now)
            citizen = principal.role is Role.CITIZEN
            event = await repository.insert_adverse_event(
                conn,
                booking=booking,
                severity=data.severity,
                serious=data.serious,
                outcome=data.outcome,
                description=data.description,
                onset_at=data.onset_at,
                staff_id=None if citizen else principal.id,
                account_id=principal.id if citizen else None,
            )
            await record_booking(
                conn, principal, "booking.adverse_event", booking, severity=data.severity.value, serious=data.serious
            )
        return event

    return await run_once(uow, idempotency, work, stored=_STORED_EVENT, keep_hours=keep_hours)


def _check_onset(onset_at: datetime, *, after: datetime | None, now: datetime) -> None:
    """A reaction starts after the dose and by now, give or take a phone's clock (CLOCK_SKEW)."""
    if onset_at > now + CLOCK_SKEW:
        raise Invalid.field(
            "onset_at", "in_the_future", Text("Không được ở thời điểm tương lai", "Must not be in the future")
        )
    if after is not None and onset_at < after - CLOCK_SKEW:
        raise Invalid.field(
            "onset_at",
            "before_the_dose",
            Text("Không được trước lúc tiêm hoặc khám", "Must not be before the dose or the visit"),
        )


async def recorded_dose(uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID) -> Vaccination:
    """The dose recorded for a booking at this clinic (the door's answer to a second tap of its dose form)."""
    async with uow.transaction(readonly=True) as conn:
        await _at_clinic(conn, principal, clinic_id, booking_id)
        given = await repository.vaccination_of_booking(conn, clinic_id=clinic_id, booking_id=booking_id)
    if given is None:
        raise NotCheckedIn()
    return given


async def last_reaction(
    uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID
) -> AdverseEvent | None:
    """The reaction reported last for a booking at this clinic (what the door says it recorded)."""
    async with uow.reads() as conn:
        await _at_clinic(conn, principal, clinic_id, booking_id)
        return await repository.last_adverse_event_of_booking(conn, clinic_id=clinic_id, booking_id=booking_id)


async def record_no_dose(uow: UnitOfWork, principal: Principal, *, clinic_id: UUID, booking_id: UUID) -> Booking:
    """Checked in, but no dose or visit after all (the person left, or was unwell): the booking ends as a no-show,
    and the person may book again."""
    async with uow.transaction() as conn:
        booking = await _at_clinic(conn, principal, clinic_id, booking_id)
        ended = await repository.change_checked_in(
            conn, booking_id=booking.id, clinic_id=clinic_id, to_status=BookingStatus.NO_SHOW
        )
        if ended is None:
            raise await why_not_ready(conn, await repository.get_booking(conn, booking_id=booking.id), Step.RECORD)
        await repository.release_active_place(conn, person_id=booking.person_id)
        await record_booking(conn, principal, "booking.no_dose", ended)
    return ended


async def serious_events(
    uow: UnitOfWork, principal: Principal, *, since: datetime | None, before: tuple[datetime, UUID] | None, limit: int
) -> list[FollowUp]:
    """Serious adverse events for the department to follow up (whom to call, the dose before): health data, so
    each read leaves an audit row naming the people read."""
    if since is not None and since.tzinfo is None:
        raise Invalid.field(
            "since", "timezone", Text("Cần múi giờ", "Needs a time zone (…Z or +07:00)"), source="query"
        )
    async with uow.transaction() as conn:
        found = await repository.serious_events(conn, since=since, before=before, limit=limit)
        await audit.record(
            conn,
            actor=principal,
            action="adverse_events.read",
            object_type="adverse_events",
            object_id="serious",
            details={"rows": len(found), "people": sorted({str(f.person_id) for f in found})},
        )
    return found


async def end_no_shows(uow: UnitOfWork, *, now: datetime, grace: timedelta, batch: int = 500) -> int:
    """Bookings nobody came for end as no-shows once their slot ended more than `grace` ago (the caller keeps it no
    shorter than the late check-in window); checked-in ones with nothing recorded, once a dose could no longer be
    recorded for them (LATEST_BACKDATING). The person may book again. One transaction per batch. (Run on a
    schedule.)"""
    ended = 0
    while True:
        async with uow.transaction() as conn:
            done = await repository.mark_no_shows(
                conn,
                booked_ended_before=now - grace,
                checked_in_ended_before=now - max(grace, LATEST_BACKDATING),
                limit=batch,
            )
            for booking in done:
                await record_booking(conn, audit.SYSTEM, "booking.no_show", booking)
        ended += len(done)
        if len(done) < batch:
            return ended
