"""Use cases for clinics, the service catalogue, slots and slot templates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from clinics import repository
from clinics.models import (
    MAX_DAYS_AHEAD,
    CapacityBelowBooked,
    Clinic,
    ClinicInactive,
    ClinicKind,
    ClinicNotFound,
    Found,
    Location,
    Service,
    ServiceInactive,
    ServiceNotFound,
    Slot,
    SlotCancelled,
    SlotHasBookings,
    SlotHasDrawEntries,
    SlotNotCallable,
    SlotNotFound,
    SlotStatus,
    SlotTemplate,
    TemplateNotFound,
    TemplateOverlaps,
    check_date_range,
    days_from,
    slot_in_past,
    slot_too_far_ahead,
    unknown_reference,
    unknown_time_zone,
)
from clinics.schemas import (
    ClinicCreate,
    ClinicUpdate,
    ServiceCreate,
    ServiceUpdate,
    SlotCreate,
    SlotTemplateCreate,
    SlotTemplateUpdate,
    SlotUpdate,
)
from priority import service as priority
from quotas import service as quotas
from vaxbook import audit
from vaxbook.audit import Actor
from vaxbook.auth.models import Principal
from vaxbook.clock import department_day
from vaxbook.db import Connection, Lookup, Read, UnitOfWork
from vaxbook.errors import FieldError, Invalid
from vaxbook.i18n import Text

SEARCH_DEFAULT_DAYS = 14


@dataclass(frozen=True)
class SearchQuery:
    date_from: date | None = None
    date_to: date | None = None
    service_code: str | None = None
    service_id: UUID | None = None
    clinic_id: UUID | None = None
    clinic_code: str | None = None
    slot_id: UUID | None = None
    province: str | None = None
    district: str | None = None
    ward: str | None = None
    # only seats anyone may book now (not held back for a group, slot open to everyone)
    open_to_everyone: bool = False


# Clinics


async def _check_time_zone(conn: Connection, name: str | None) -> None:
    # Python's and PostgreSQL's zone databases differ; the search converts times in PostgreSQL.
    if name is not None and not await repository.time_zone_known(conn, name=name):
        raise unknown_time_zone()


async def create_clinic(uow: UnitOfWork, actor: Actor, data: ClinicCreate) -> Clinic:
    async with uow.transaction() as conn:
        await _check_time_zone(conn, data.timezone)
        clinic = await repository.insert_clinic(conn, fields=data.model_dump())
        await audit.record(
            conn,
            actor=actor,
            action="clinic.create",
            object_type="clinic",
            object_id=clinic.id,
            clinic_id=clinic.id,
            details=data.model_dump(mode="json"),
        )
    return clinic


async def update_clinic(uow: UnitOfWork, actor: Actor, clinic_id: UUID, data: ClinicUpdate) -> Clinic:
    changes = data.model_dump(exclude_unset=True)
    async with uow.transaction() as conn:
        await _check_time_zone(conn, data.timezone)
        clinic = await repository.update_clinic(conn, clinic_id=clinic_id, changes=changes)
        if clinic is None:
            raise ClinicNotFound()
        await audit.record(
            conn,
            actor=actor,
            action="clinic.update",
            object_type="clinic",
            object_id=clinic_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json", exclude_unset=True),
        )
    return clinic


async def get_clinic(uow: UnitOfWork, clinic_id: UUID) -> Clinic:
    async with uow.transaction(readonly=True) as conn:
        clinic = await repository.get_clinic(conn, clinic_id=clinic_id)
    if clinic is None:
        raise ClinicNotFound()
    return clinic


async def clinics_by_code(uow: UnitOfWork, codes: list[str]) -> list[Clinic]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.get_clinics_by_code(conn, codes=codes)


async def list_clinics(
    uow: UnitOfWork,
    *,
    province: str | None,
    district: str | None,
    ward: str | None,
    kind: ClinicKind | None,
    include_inactive: bool,
    after_code: str | None,
    limit: int,
) -> list[Clinic]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_clinics(
            conn,
            province=province,
            district=district,
            ward=ward,
            kind=kind,
            include_inactive=include_inactive,
            after_code=after_code,
            limit=limit,
        )


MOST_CLINICS = 10_000


async def every_clinic(uow: UnitOfWork, *, include_inactive: bool = False) -> list[Clinic]:
    """The city's clinics, by code (a city has hundreds: the pages' pickers, the feeds, the imports)."""
    return await list_clinics(
        uow,
        province=None,
        district=None,
        ward=None,
        kind=None,
        include_inactive=include_inactive,
        after_code=None,
        limit=MOST_CLINICS,
    )


async def list_locations(uow: UnitOfWork) -> list[Location]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_locations(conn)


async def _managed_clinic(conn: Connection, principal: Principal, clinic_id: UUID) -> Clinic:
    principal.require_clinic(clinic_id)
    clinic = await repository.get_clinic(conn, clinic_id=clinic_id)
    if clinic is None:
        raise ClinicNotFound()
    return clinic


# Services


async def create_service(uow: UnitOfWork, actor: Actor, data: ServiceCreate) -> Service:
    async with uow.transaction() as conn:
        if data.product_id is not None and not await quotas.product_exists(uow, data.product_id):
            raise unknown_reference("product_id")
        service = await repository.insert_service(conn, fields=data.model_dump())
        await audit.record(
            conn,
            actor=actor,
            action="service.create",
            object_type="service",
            object_id=service.id,
            details=data.model_dump(mode="json"),
        )
    return service


async def update_service(uow: UnitOfWork, actor: Actor, service_id: UUID, data: ServiceUpdate) -> Service:
    changes = data.model_dump(exclude_unset=True)
    async with uow.transaction() as conn:
        service = await repository.update_service(conn, service_id=service_id, changes=changes)
        if service is None:
            raise ServiceNotFound()
        await audit.record(
            conn,
            actor=actor,
            action="service.update",
            object_type="service",
            object_id=service_id,
            details=data.model_dump(mode="json", exclude_unset=True),
        )
    return service


async def get_service(uow: UnitOfWork, service_id: UUID) -> Service:
    async with uow.transaction(readonly=True) as conn:
        service = await repository.get_service(conn, service_id=service_id)
    if service is None:
        raise ServiceNotFound()
    return service


async def service_ids_for_product(uow: UnitOfWork, product_id: UUID) -> list[UUID]:
    """Every service (active or not) that gives this vaccine product: doses count across them."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.service_ids_for_product(conn, product_id=product_id)


async def services_for_product(uow: UnitOfWork, product_id: UUID) -> list[Service]:
    """The active services that give this vaccine, by code."""
    return [s for s in await list_services(uow, include_inactive=False) if s.product_id == product_id]


async def list_services(uow: UnitOfWork, *, include_inactive: bool) -> list[Service]:
    async with uow.transaction(readonly=True) as conn:
        return await repository.list_services(conn, include_inactive=include_inactive)


# Availability


_NONE_BY_THAT = {
    "service": Text("Không có dịch vụ nào mang mã này", "No service has this code"),
    "clinic": Text("Không có cơ sở y tế nào mang mã hoặc id này", "No clinic has this id or code"),
    "slot": Text("Không có khung giờ nào mang id này", "No slot has this id"),
    "clinic_id": Text("Không có cơ sở y tế nào mang id này", "No clinic has this id"),
    "product_id": Text("Không có vắc xin nào mang id này", "No vaccine product has this id"),
}


async def check_search_names_what_exists(uow: UnitOfWork, query: SearchQuery) -> None:
    """For a search that found nothing: a service, clinic or slot it names that does not exist is a 422 naming the
    parameter (a mistyped code is not "no seats")."""
    async with uow.transaction(readonly=True) as conn:
        unknown = await repository.named_in_vain(
            conn,
            service_code=query.service_code,
            clinic_id=query.clinic_id,
            clinic_code=query.clinic_code,
            slot_id=query.slot_id,
        )
    if unknown:
        raise Invalid(
            field_errors=tuple(FieldError(name, "not_found", _NONE_BY_THAT[name], "query") for name in unknown)
        )


async def check_filters_name_what_exists(
    uow: UnitOfWork, *, clinic_id: UUID | None = None, product_id: UUID | None = None
) -> None:
    """For a list or report that came back empty: a clinic or vaccine its filter names that does not exist is a 422
    naming the parameter (a mistyped id is not "no doses", "no data")."""
    if clinic_id is None and product_id is None:
        return
    async with uow.reads() as conn:
        unknown = await repository.filters_in_vain(conn, clinic_id=clinic_id, product_id=product_id)
    if unknown:
        raise Invalid(
            field_errors=tuple(FieldError(name, "not_found", _NONE_BY_THAT[name], "query") for name in unknown)
        )


async def gives_service_in_district(conn: Connection, *, service_id: UUID, province: str, district: str) -> bool:
    """Whether an active clinic of the district gives the service (has had slots of it or an active template)."""
    return await repository.district_offers_service(conn, service_id=service_id, province=province, district=district)


async def gives_service_at(conn: Connection, *, service_id: UUID, clinic_id: UUID) -> bool:
    """Whether the clinic, active, gives the service (as gives_service_in_district reads it)."""
    return await repository.clinic_offers_service(conn, service_id=service_id, clinic_id=clinic_id)


async def search_availability(
    uow: UnitOfWork,
    query: SearchQuery,
    *,
    now: datetime,
    max_days: int,
    after: tuple[datetime, UUID] | None,
    limit: int,
    searcher: priority.Someone | None = None,
) -> list[Found]:
    today = department_day(now)
    date_from = query.date_from or today
    date_to = query.date_to or days_from(date_from, SEARCH_DEFAULT_DAYS)
    async with uow.transaction(readonly=True) as conn:
        if query.slot_id is not None and query.date_from is None and query.date_to is None:
            # one slot asked for by its id: its own day, however far ahead (not "no seats" past the default days)
            named = await repository.get_slot_by_id(conn, slot_id=query.slot_id)
            if named is not None:
                slot, clinic = named
                date_from = date_to = slot.starts_at.astimezone(ZoneInfo(clinic.timezone)).date()
        check_date_range(date_from, date_to, max_days=max_days)
        rows = await repository.search_open_slots(
            conn,
            now=now,
            date_from=date_from,
            date_to=date_to,
            service_code=query.service_code,
            service_id=query.service_id,
            clinic_id=query.clinic_id,
            clinic_code=query.clinic_code,
            slot_id=query.slot_id,
            province=query.province,
            district=query.district,
            ward=query.ward,
            open_to_everyone=query.open_to_everyone,
            after=after,
            limit=limit,
        )
        # in the same transaction (one connection, one snapshot): the seats the slots hold back, and the searcher's
        held = await priority.reservations_of_slots(uow, [slot for slot, *_ in rows]) if rows else {}
        found = [Found(slot, code, clinic, held.get(slot.id, []), draw) for slot, code, clinic, draw in rows]
        if searcher is None or not found:
            return found
        plans = await priority.plans_for(uow, searcher, [(f.slot, f.day) for f in found], held, now=now)
    return [replace(f, plan=plans[f.slot.id], searcher=searcher.person_id) for f in found]


# Slots


async def list_clinic_slots(
    uow: UnitOfWork,
    principal: Principal,
    clinic_id: UUID,
    *,
    now: datetime,
    date_from: date | None,
    date_to: date | None,
    max_days: int,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> tuple[Clinic, list[Slot]]:
    async with uow.transaction(readonly=True) as conn:
        clinic = await _managed_clinic(conn, principal, clinic_id)
        date_from = date_from or now.astimezone(clinic.zone).date()
        date_to = date_to or days_from(date_from, SEARCH_DEFAULT_DAYS)
        check_date_range(date_from, date_to, max_days=max_days)
        slots = await repository.list_clinic_slots(
            conn,
            clinic_id=clinic_id,
            starts_from=datetime.combine(date_from, datetime.min.time(), clinic.zone),
            starts_before=datetime.combine(date_to + timedelta(days=1), datetime.min.time(), clinic.zone),
            after=after,
            limit=limit,
        )
    return clinic, slots


async def published_slots(
    uow: UnitOfWork,
    *,
    clinic_id: UUID | None,
    service_id: UUID | None,
    starts_from: datetime,
    starts_before: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Slot]:
    """Every slot of active clinics and services between two instants, free or not (an open-data feed's)."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.published_slots(
            conn,
            clinic_id=clinic_id,
            service_id=service_id,
            starts_from=starts_from,
            starts_before=starts_before,
            after=after,
            limit=limit,
        )


async def schedules(uow: UnitOfWork, *, now: datetime) -> list[tuple[UUID, UUID]]:
    """The (clinic, service) pairs that have slots from today on: a finder's schedules."""
    async with uow.transaction(readonly=True) as conn:
        return await repository.schedules(conn, starts_from=now - timedelta(days=1))


async def clinic_slot(uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID) -> tuple[Clinic, Slot]:
    async with uow.transaction(readonly=True) as conn:
        clinic = await _managed_clinic(conn, principal, clinic_id)
        slot = await repository.get_slot(conn, clinic_id=clinic_id, slot_id=slot_id)
    if slot is None:
        raise SlotNotFound()
    return clinic, slot


async def get_slot(uow: UnitOfWork, slot_id: UUID) -> tuple[Slot, Clinic]:
    """A slot and its clinic, by the slot's id alone."""
    async with uow.transaction(readonly=True) as conn:
        found = await repository.get_slot_by_id(conn, slot_id=slot_id)
    if found is None:
        raise SlotNotFound()
    return found


def slot_read(slot_id: UUID) -> Read[tuple[Slot, Clinic] | None]:
    """`get_slot`'s read, for a use case that folds it with its own reads (None: SlotNotFound is the caller's)."""
    return repository.slot_by_id(slot_id=slot_id)


def service_of_slot_read(slot_id: UUID) -> Read[Service | None]:
    return repository.service_of_slot(slot_id=slot_id)


def services_of_slot_vaccine_read(slot_id: UUID) -> Read[list[UUID]]:
    """`service_ids_for_product`'s answer for the slot's vaccine (empty when its service gives none)."""
    return repository.sibling_services_of_slot(slot_id=slot_id)


def services_of_slot_vaccine(slot_id: UUID) -> Lookup:
    """`services_of_slot_vaccine_read`'s answer, as a parameter of a read folded with it."""
    return repository.sibling_service_ids_of_slot(slot_id=slot_id)


def clinic_of_slot(slot_id: UUID) -> Lookup:
    """The slot's clinic, as a parameter of a read folded with `slot_read`."""
    return repository.clinic_of_slot(slot_id=slot_id)


async def _bookable_service(conn: Connection, service_id: UUID) -> Service:
    service = await repository.get_service(conn, service_id=service_id)
    if service is None:
        raise unknown_reference("service_id")
    if not service.active:
        raise ServiceInactive()
    return service


async def create_slot(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, data: SlotCreate, *, now: datetime
) -> tuple[Clinic, Slot]:
    if data.starts_at <= now:
        raise slot_in_past()
    if data.starts_at > now + timedelta(days=MAX_DAYS_AHEAD):
        raise slot_too_far_ahead()
    async with uow.transaction() as conn:
        clinic = await _managed_clinic(conn, principal, clinic_id)
        if not clinic.active:
            raise ClinicInactive()
        service = await _bookable_service(conn, data.service_id)
        if service.product_id is not None:
            await quotas.hold_seats(uow, clinic_id=clinic_id, product_id=service.product_id)
        slot = await repository.insert_slot(
            conn,
            clinic_id=clinic_id,
            service_id=data.service_id,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            capacity=data.capacity,
            seats_per_household=data.seats_per_household,
        )
        if service.product_id is not None:
            await quotas.check_seats(uow, clinic_id=clinic_id, product_id=service.product_id, now=now)
        await audit.record(
            conn,
            actor=principal,
            action="slot.create",
            object_type="slot",
            object_id=slot.id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json"),
        )
    return clinic, slot


async def update_slot(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID, data: SlotUpdate, *, now: datetime
) -> tuple[Clinic, Slot]:
    async with uow.transaction() as conn:
        clinic = await _managed_clinic(conn, principal, clinic_id)
        before = await repository.get_slot(conn, clinic_id=clinic_id, slot_id=slot_id)
        if before is None:
            raise SlotNotFound()
        service = await repository.get_service(conn, service_id=before.service_id)
        product_id = service.product_id if service else None
        room = None
        if product_id is not None:
            await quotas.hold_seats(uow, clinic_id=clinic_id, product_id=product_id)
            room = await quotas.room_for_seats(uow, clinic_id=clinic_id, product_id=product_id, now=now)
        slot = await repository.change_slot(
            conn,
            clinic_id=clinic_id,
            slot_id=slot_id,
            capacity=data.capacity,
            status=data.status,
            seats_per_household=data.seats_per_household,
        )
        if slot is None:
            raise await _why_slot_unchanged(conn, clinic_id, slot_id, data)
        if product_id is not None and room is not None:
            # Only a change that adds seats can go past the doses; one that takes seats away is always let through.
            after = await quotas.room_for_seats(uow, clinic_id=clinic_id, product_id=product_id, now=now)
            if after < 0 and after < room:
                await quotas.check_seats(uow, clinic_id=clinic_id, product_id=product_id, now=now)
        await audit.record(
            conn,
            actor=principal,
            action="slot.update",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json", exclude_unset=True),
        )
    return clinic, slot


async def call_off_slot(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, slot_id: UUID, *, now: datetime
) -> tuple[Clinic, Slot]:
    """Cancel a slot that has not started, whatever it holds (its bookings are the caller's to end and tell, in
    the same transaction)."""
    async with uow.transaction() as conn:
        clinic = await _managed_clinic(conn, principal, clinic_id)
        slot = await repository.call_off_slot(conn, clinic_id=clinic_id, slot_id=slot_id, now=now)
        if slot is None:
            current = await repository.get_slot(conn, clinic_id=clinic_id, slot_id=slot_id)
            if current is None:
                raise SlotNotFound()
            raise SlotNotCallable(slot_status=current.status.value)
        await audit.record(
            conn,
            actor=principal,
            action="slot.call_off",
            object_type="slot",
            object_id=slot_id,
            clinic_id=clinic_id,
            details={"booked": slot.booked},
        )
    return clinic, slot


async def _why_slot_unchanged(conn: Connection, clinic_id: UUID, slot_id: UUID, data: SlotUpdate) -> Exception:
    """Explain a refused conditional update (the refusal itself was decided atomically by the update)."""
    slot = await repository.get_slot(conn, clinic_id=clinic_id, slot_id=slot_id)
    if slot is None:
        return SlotNotFound()
    if slot.status is SlotStatus.CANCELLED:
        return SlotCancelled()
    if data.capacity is not None and data.capacity < slot.booked + slot.held_back:
        # seats held back for a priority group count as taken until they are released
        return CapacityBelowBooked(booked=slot.booked, held_back=slot.held_back, requested=data.capacity)
    if slot.booked == 0:
        return SlotHasDrawEntries(entries=await repository.draw_entrants(conn, clinic_id=clinic_id, slot_id=slot_id))
    offered = await repository.seats_offered(conn, clinic_id=clinic_id, slot_id=slot_id)
    return SlotHasBookings(booked=slot.booked - offered, offered=offered)


# Slot templates


async def list_templates(uow: UnitOfWork, principal: Principal, clinic_id: UUID) -> list[SlotTemplate]:
    async with uow.transaction(readonly=True) as conn:
        await _managed_clinic(conn, principal, clinic_id)
        return await repository.list_templates(conn, clinic_id=clinic_id)


async def create_template(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, data: SlotTemplateCreate
) -> SlotTemplate:
    async with uow.transaction() as conn:
        await _managed_clinic(conn, principal, clinic_id)
        await _bookable_service(conn, data.service_id)
        template = await repository.insert_template(conn, clinic_id=clinic_id, fields=data.model_dump())
        await _check_no_overlap(conn, template)
        await audit.record(
            conn,
            actor=principal,
            action="slot_template.create",
            object_type="slot_template",
            object_id=template.id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json"),
        )
    return template


async def update_template(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, template_id: UUID, data: SlotTemplateUpdate
) -> SlotTemplate:
    async with uow.transaction() as conn:
        await _managed_clinic(conn, principal, clinic_id)
        template = await repository.update_template(
            conn, clinic_id=clinic_id, template_id=template_id, changes=data.model_dump(exclude_unset=True)
        )
        if template is None:
            raise TemplateNotFound()
        await _check_no_overlap(conn, template)
        await audit.record(
            conn,
            actor=principal,
            action="slot_template.update",
            object_type="slot_template",
            object_id=template_id,
            clinic_id=clinic_id,
            details=data.model_dump(mode="json", exclude_unset=True),
        )
    return template


async def _check_no_overlap(conn: Connection, template: SlotTemplate) -> None:
    """Refuse a template (just written, in this transaction) that overlaps another of its clinic's. The clinic's row
    is locked first, so that two templates written at once are checked one after the other."""
    await repository.lock_clinic(conn, clinic_id=template.clinic_id)
    for other in await repository.list_templates(conn, clinic_id=template.clinic_id):
        if template.overlaps(other):
            raise TemplateOverlaps(other)


async def delete_template(uow: UnitOfWork, principal: Principal, clinic_id: UUID, template_id: UUID) -> None:
    """Remove a template; the slots it already made stay as they are."""
    async with uow.transaction() as conn:
        await _managed_clinic(conn, principal, clinic_id)
        if not await repository.delete_template(conn, clinic_id=clinic_id, template_id=template_id):
            raise TemplateNotFound()
        await audit.record(
            conn,
            actor=principal,
            action="slot_template.delete",
            object_type="slot_template",
            object_id=template_id,
            clinic_id=clinic_id,
        )


@dataclass(frozen=True)
class Skipped:
    """Slots templates would give that were not made, for one clinic and service, and why: `short_of_doses` (the
    clinic lacks the vaccine's doses for their seats) or `slot_exists` (a slot of the service made by hand or by
    another template already starts then)."""

    clinic_id: UUID
    clinic_code: str
    service_id: UUID
    service_code: str
    reason: str
    slots: int
    seats: int


@dataclass(frozen=True)
class Generation:
    created: int
    already_made: int  # by the same templates, in an earlier run
    skipped: list[Skipped]
    first_day: date
    last_day: date

    @property
    def short_of_doses(self) -> int:
        return sum(s.slots for s in self.skipped if s.reason == SHORT_OF_DOSES)


SHORT_OF_DOSES, SLOT_EXISTS = "short_of_doses", "slot_exists"


async def generate_clinic_slots(
    uow: UnitOfWork, principal: Principal, clinic_id: UUID, *, now: datetime, from_date: date | None, days: int
) -> Generation:
    async with uow.transaction() as conn:
        await _managed_clinic(conn, principal, clinic_id)
        return await generate_slots(uow, principal, clinic_id=clinic_id, now=now, from_date=from_date, days=days)


async def generate_slots(
    uow: UnitOfWork, actor: Actor, *, clinic_id: UUID | None, now: datetime, from_date: date | None, days: int
) -> Generation:
    """Make the slots that active templates give over the next `days` days (from each clinic's today), for one
    clinic or for all, as far as each clinic's doses go: vaccination slots past its doses are not made. Says what
    it did not make, per clinic and service, and why.

    Safe to run again and from several places at once: a slot that exists is left as it is.
    """
    if from_date is not None and from_date > department_day(now) + timedelta(days=MAX_DAYS_AHEAD):
        raise slot_too_far_ahead("from_date")
    horizon = now + timedelta(days=MAX_DAYS_AHEAD)  # as far as a slot made by hand may be
    async with uow.transaction() as conn:
        rows = []
        vaccines: dict[UUID, UUID] = {}
        names: dict[tuple[UUID, UUID], tuple[str, str]] = {}
        for template, timezone, product_id, clinic_code, service_code in await repository.active_templates(
            conn, clinic_id=clinic_id
        ):
            zone = ZoneInfo(timezone)
            first_day = from_date or now.astimezone(zone).date()
            names[(template.clinic_id, template.service_id)] = (clinic_code, service_code)
            if product_id is not None:
                vaccines[template.service_id] = product_id
            for starts_at, ends_at in template.occurrences(first_day, first_day + timedelta(days=days - 1), zone):
                if now < starts_at <= horizon:
                    rows.append(
                        (template.clinic_id, template.service_id, template.id, starts_at, ends_at, template.capacity)
                    )
        # the same order everywhere, so that two runs never wait on each other's locks in a circle
        pairs = sorted({(row[0], vaccines[row[1]]) for row in rows if row[1] in vaccines})
        for clinic, product in pairs:
            await quotas.hold_seats(uow, clinic_id=clinic, product_id=product)
        made = await repository.insert_generated_slots(conn, rows=rows)
        await priority.reserve_from_templates(uow, made)
        dropped: list[Slot] = []
        for clinic, product in pairs:
            dropped += await _trim_to_doses(uow, made, vaccines, clinic=clinic, product=product, now=now)
        made_keys = {(s.clinic_id, s.service_id, s.starts_at) for s in made}
        not_made = [row for row in rows if (row[0], row[1], row[3]) not in made_keys]
        makers = await repository.slot_makers(conn, keys=[(row[0], row[1], row[3]) for row in not_made])
        taken = [row for row in not_made if makers.get((row[0], row[1], row[3])) != row[2]]
        skipped = _skipped(names, SHORT_OF_DOSES, [(s.clinic_id, s.service_id, s.capacity) for s in dropped]) + (
            _skipped(names, SLOT_EXISTS, [(row[0], row[1], row[5]) for row in taken])
        )
        first = from_date or department_day(now)
        generation = Generation(
            created=len(made) - len(dropped),
            already_made=len(not_made) - len(taken),
            skipped=skipped,
            first_day=first,
            last_day=min(first + timedelta(days=days - 1), department_day(horizon)),  # none made past the horizon
        )
        await audit.record(
            conn,
            actor=actor,
            action="slots.generate",
            object_type="clinic" if clinic_id else "all_clinics",
            object_id=clinic_id or "*",
            clinic_id=clinic_id,
            details={
                "created": generation.created,
                "skipped": [(s.clinic_code, s.service_code, s.reason, s.slots) for s in skipped],
                "first_day": first,
            },
        )
    return generation


def _skipped(
    names: dict[tuple[UUID, UUID], tuple[str, str]], reason: str, slots: list[tuple[UUID, UUID, int]]
) -> list[Skipped]:
    """(clinic, service, seats) of slots not made, summed per clinic and service."""
    totals: dict[tuple[UUID, UUID], tuple[int, int]] = {}
    for clinic, service, seats in slots:
        count, seat_total = totals.get((clinic, service), (0, 0))
        totals[(clinic, service)] = (count + 1, seat_total + seats)
    return [
        Skipped(clinic, names[(clinic, service)][0], service, names[(clinic, service)][1], reason, count, seats)
        for (clinic, service), (count, seats) in sorted(totals.items(), key=lambda kv: names[kv[0]])
    ]


async def _trim_to_doses(
    uow: UnitOfWork,
    made: list[Slot],
    vaccines: dict[UUID, UUID],
    *,
    clinic: UUID,
    product: UUID,
    now: datetime,
) -> list[Slot]:
    """Take back the latest of the slots just made for a clinic and vaccine until its doses cover its seats on every
    day (a slot taken back frees its seats on its own day and every day before: a lot that expires sooner may still
    cover the earlier slots). Returns the slots taken back."""
    conn = uow.conn
    room = await quotas.room_for_seats(uow, clinic_id=clinic, product_id=product, now=now)
    mine = sorted(
        (s for s in made if s.clinic_id == clinic and vaccines.get(s.service_id) == product),
        key=lambda s: (s.starts_at, s.id),
        reverse=True,
    )
    dropped: list[Slot] = []
    for slot in mine:
        if room >= 0:
            break
        dropped.append(slot)
        await repository.delete_unbooked_slots(conn, clinic_id=clinic, slot_ids=[slot.id])
        room = await quotas.room_for_seats(uow, clinic_id=clinic, product_id=product, now=now)
    return dropped
