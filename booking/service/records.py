"""A person's own health record: the doses they were given, and the doses of their started series still due."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from booking import repository
from booking.models import (
    AdverseEvent,
    AdverseEventNotFound,
    BookingPolicy,
    NextDose,
    Person,
    Vaccination,
    due_next,
    past_the_age,
)
from booking.service import messages
from booking.service.common import booking_for, person_for
from clinics import service as clinics
from clinics.models import Service, check_date_range
from quotas import service as quotas
from vaxbook import audit
from vaxbook.auth.models import Principal, Role
from vaxbook.clock import department_day
from vaxbook.db import UnitOfWork
from vaxbook.errors import Invalid
from vaxbook.i18n import Text
from vaxbook.settings import DEFAULT_TIMEZONE


async def vaccinations(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[Vaccination]:
    """Every dose the caller (or their dependent) was given, oldest first: vaccine, dose, lot, day and clinic.
    Clinic staff see the doses their own clinics gave."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        given = await repository.vaccinations_of_person(conn, person_id=person.id)
    return [v for v in given if _sees(principal, v.clinic_id)]


async def adverse_events(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[AdverseEvent]:
    """The reactions reported after the person's doses (clinic staff: those at their own clinics), oldest first."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        events = await repository.adverse_events_of_person(conn, person_id=person.id)
    return [e for e in events if _sees(principal, e.clinic_id)]


async def adverse_event(uow: UnitOfWork, principal: Principal, event_id: UUID) -> tuple[AdverseEvent, UUID]:
    """One reported reaction and whose it is, to those who may see its booking (404 to anyone else)."""
    async with uow.transaction(readonly=True) as conn:
        event = await repository.adverse_event(conn, event_id=event_id)
        if event is None:
            raise AdverseEventNotFound()
        booking = await booking_for(conn, principal, event.booking_id)
    return event, booking.person_id


REGISTRY_MOST_DAYS = 92
REGISTRY_MOST_DOSES = 50_000


async def doses_for_registry(
    uow: UnitOfWork, principal: Principal, *, clinic_id: UUID | None, date_from: date, date_to: date
) -> list[tuple[Vaccination, Person]]:
    """The doses given (by one clinic, or the city's with no clinic) on local days date_from..date_to, with their
    people, for upload to the national immunisation registry. Clinic staff export their own clinics' only; the
    city's whole is the department's. Health data leaving the system: each export is audited."""
    if clinic_id is None and principal.role is not Role.HEALTH_ADMIN:
        raise Invalid.field("clinic_id", "required", Text("Cần chọn cơ sở", "Name the clinic"), source="query")
    if clinic_id is not None:
        principal.require_clinic(clinic_id)
    check_date_range(date_from, date_to, max_days=REGISTRY_MOST_DAYS)
    zone = ZoneInfo(DEFAULT_TIMEZONE)
    start = datetime.combine(date_from, datetime.min.time(), zone)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), zone)
    async with uow.transaction() as conn:
        found = await repository.doses_given_between(
            conn, clinic_id=clinic_id, given_from=start, given_before=end, limit=REGISTRY_MOST_DOSES + 1
        )
        if len(found) > REGISTRY_MOST_DOSES:
            # a Bundle cut short would leave doses out of the registry with nothing to say so
            raise Invalid.field(
                "date_to",
                "too_many_doses",
                Text(
                    f"Hơn {REGISTRY_MOST_DOSES} mũi tiêm trong những ngày này: hãy xuất ít ngày hơn mỗi lần",
                    f"More than {REGISTRY_MOST_DOSES} doses on these days: export fewer days at a time",
                ),
                source="query",
            )
        await audit.record(
            conn,
            actor=principal,
            action="registry.export",
            object_type="clinic" if clinic_id else "city",
            object_id=clinic_id or "-",
            clinic_id=clinic_id,
            details={"date_from": date_from, "date_to": date_to, "doses": len(found)},
        )
    return found


def _sees(principal: Principal, clinic_id: UUID) -> bool:
    return principal.role is not Role.CLINIC_STAFF or clinic_id in principal.clinic_ids


def _aged_out(person: Person, services: list[Service], on: date) -> bool:
    """Whether every service giving the vaccine is past the person's age by the day the dose is due: a dose that
    can no longer be booked is no dose due (a child of 5 for a series of the under-5s)."""
    return bool(services) and all(
        s.max_age_days is not None and past_the_age(person.date_of_birth, s.max_age_days, on) for s in services
    )


async def next_doses(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[NextDose]:
    """For each vaccine whose series the person started and has not finished: the next dose and the first day
    booking will take it (the minimum interval after the last dose), and the open booking for it if there is one."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        given = await repository.vaccinations_of_person(conn, person_id=person.id)
        reactions = await repository.serious_reactions(conn, person_id=person.id) if given else {}
        due = []
        for product_id in sorted({v.product_id for v in given}):
            product = await quotas.get_product(uow, product_id)
            doses = await repository.doses_given(
                conn, person_id=person.id, service_ids=await clinics.service_ids_for_product(uow, product_id)
            )
            step = due_next(product.doses_in_series, product.min_days_between_doses, doses)
            if step is None or _aged_out(person, await clinics.services_for_product(uow, product_id), step[1]):
                continue
            booked = await repository.open_booking_for_dose(
                conn, person_id=person.id, product_id=product_id, dose_number=step[0]
            )
            due.append(
                NextDose(
                    product_id=product.id,
                    product_code=product.code,
                    product_name=product.name,
                    product_name_en=product.name_en,
                    dose_number=step[0],
                    doses_in_series=product.doses_in_series,
                    due_from=step[1],
                    booking=booked,
                    serious_reactions=reactions.get(product_id, ()),
                )
            )
    return due


RECALL_CATCH_UP = timedelta(days=7)
"""How far back a recall looks for doses that became due (should the job not have run for a while)."""


async def recall(uow: UnitOfWork, policy: BookingPolicy, *, now: datetime, batch: int = 500) -> int:
    """Tell people whose next dose became due (its interval after the last dose has passed) and who have not
    booked it; each person and dose is told once. Returns how many were told now. (Run daily.)"""
    today = department_day(now)
    told = 0
    after: tuple[date, UUID, UUID] | None = None
    while True:
        async with uow.transaction() as conn:
            due = await repository.next_doses_due(
                conn, today=today, since=today - RECALL_CATCH_UP, after=after, limit=batch
            )
            for person_id, product_id, dose, due_from in due:
                person = await repository.get_person(conn, person_id=person_id)
                product = await quotas.get_product(uow, product_id)
                services = await clinics.services_for_product(uow, product_id)
                if person is None or not services or _aged_out(person, services, due_from):
                    continue  # nobody to tell, or no service would take them any more: no recall to a refusal
                if product_id in await repository.serious_reactions(conn, person_id=person_id):
                    continue  # a doctor sees them before another dose of it: no invitation to book it by message
                told += await messages.next_dose_due(
                    uow,
                    person,
                    product_id=product.id,
                    product_name=product.name,
                    product_name_en=product.name_en,
                    dose_number=dose,
                    due_from=due_from,
                    service_code=services[0].code,
                    policy=policy,
                    now=now,
                )
        if len(due) < batch:
            return told
        after = (due[-1][3], due[-1][0], due[-1][1])
