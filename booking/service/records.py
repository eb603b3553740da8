"""A person's own health record: the doses they were given, and the doses of their started series still due."""

from __future__ import annotations

from uuid import UUID

from booking import repository
from booking.models import NextDose, Vaccination, due_next
from booking.service.common import person_for
from clinics import service as clinics
from quotas import service as quotas
from vaxbook.auth.models import Principal
from vaxbook.db import UnitOfWork


async def vaccinations(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[Vaccination]:
    """Every dose the caller (or their dependent) was given, oldest first: vaccine, dose, lot, day and clinic."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        return await repository.vaccinations_of_person(conn, person_id=person.id)


async def next_doses(uow: UnitOfWork, principal: Principal, person_id: UUID) -> list[NextDose]:
    """For each vaccine whose series the person started and has not finished: the next dose and the first day
    booking will take it (the minimum interval after the last dose), and the open booking for it if there is one."""
    async with uow.transaction(readonly=True) as conn:
        person = await person_for(conn, principal, person_id)
        given = await repository.vaccinations_of_person(conn, person_id=person.id)
        due = []
        for product_id in sorted({v.product_id for v in given}):
            product = await quotas.get_product(uow, product_id)
            doses = await repository.doses_given(
                conn, person_id=person.id, service_ids=await clinics.service_ids_for_product(uow, product_id)
            )
            step = due_next(product.doses_in_series, product.min_days_between_doses, doses)
            if step is None:
                continue
            booked = await repository.open_booking_for_dose(
                conn, person_id=person.id, product_id=product_id, dose_number=step[0]
            )
            due.append(
                NextDose(
                    product_id=product.id,
                    product_code=product.code,
                    product_name=product.name,
                    dose_number=step[0],
                    doses_in_series=product.doses_in_series,
                    due_from=step[1],
                    booking=booked,
                )
            )
    return due
