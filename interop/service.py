"""The FHIR read API's searches and reads, on the domains' own use cases: the catalogue and the slots for anyone;
appointments, patients, doses and reactions only to whom the API shows them (their people; a clinic's staff, their
clinic's). Each returns resources ready to send and, for a search, the cursor of the next page."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from booking.models import BookingNotFound, PersonNotFound, ServiceRules
from booking.service import bookings, people, records
from booking.service.common import is_open, rules_of
from clinics import service as clinics
from clinics.models import Clinic, Slot, SlotNotFound
from interop import fhir as resources
from priority import service as priority
from quotas import service as quotas
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.errors import Invalid
from vaxbook.fields import OUT_OF_RANGE_EN, OUT_OF_RANGE_VI, in_our_years, place_filter, plus_restored
from vaxbook.i18n import Text
from vaxbook.pagination import decode_cursor, decode_time_cursor, encode_cursor

T = TypeVar("T")

DEFAULT_SLOT_DAYS = 14
MAX_SLOT_DAYS = 92


@dataclass(frozen=True)
class Found:
    """A page of resources, and the cursor of the next page (None on the last)."""

    resources: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass(frozen=True)
class Bases:
    fhir: str  # this API's base URL (…/fhir/r4), for references and the codes it defines
    booking: str  # where the pages are, for a slot's booking link


def _invalid(name: str, vi: str, en: str) -> Invalid:
    return Invalid.field(name, "fhir_search", Text(vi, en), source="query")


def reference_id(value: str | None, kind: str, name: str) -> UUID | None:
    """The id in a search's reference (`Patient/…` or the bare id)."""
    if not value:
        return None
    try:
        return UUID(value.removeprefix(f"{kind}/"))
    except ValueError:
        raise _invalid(name, f"Cần {kind}/<id>", f"Expected {kind}/<id>") from None


def paged(found: Found, *, count: int, after: str | None) -> Found:
    """A page of a search answered whole (a person's records, the services, the schedules): `count` of them from
    the cursor on, and the cursor of the rest."""
    start = 0
    if after is not None:
        [raw] = decode_cursor(after, 1) or ["0"]
        if not raw.isdigit():
            raise _invalid("_cursor", "Con trỏ phân trang không hợp lệ", "Invalid pagination cursor")
        start = int(raw)
    shown = found.resources[start : start + count]
    more = len(found.resources) > start + count
    return Found(shown, encode_cursor(start + count) if more else None)


DATE_PREFIXES = ("eq", "ne", "gt", "ge", "lt", "le")
_YEAR, _MONTH, _DAY = re.compile(r"\d{4}"), re.compile(r"(\d{4})-(\d{2})"), re.compile(r"\d{4}-\d{2}-\d{2}")


def date_range(value: str, name: str) -> tuple[str, datetime, datetime]:
    """A FHIR date search value as its prefix (eq when it has none) and the period it names, [first, after): a
    year, a month or a day as the department's local days (Cần Thơ's, whatever zone the server runs in), or an
    instant with its offset (to the second). FHIR's `sa`, `eb` and `ap` are refused, as is anything else."""
    prefix, raw = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in DATE_PREFIXES:
        raise _invalid(name, "Tiền tố: eq, ne, gt, ge, lt, le", "Prefixes: eq, ne, gt, ge, lt, le")
    raw = plus_restored(raw)
    zone = resources.DEPARTMENT_ZONE
    try:
        if _YEAR.fullmatch(raw):
            first = datetime(int(raw), 1, 1, tzinfo=zone)
            after = first.replace(year=first.year + 1)
        elif month := _MONTH.fullmatch(raw):
            first = datetime(int(month[1]), int(month[2]), 1, tzinfo=zone)
            after = (first + timedelta(days=32)).replace(day=1)
        elif _DAY.fullmatch(raw):
            day = date.fromisoformat(raw)
            first = datetime(day.year, day.month, day.day, tzinfo=zone)
            after = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        elif "T" in raw:
            first = datetime.fromisoformat(raw)
            after = first + timedelta(seconds=1)
        else:
            raise ValueError(raw)
    except (ValueError, OverflowError):
        raise _invalid(name, "Ngày hoặc thời điểm không hợp lệ", "Not a valid date or instant") from None
    if first.tzinfo is None:
        raise _invalid(name, "Cần múi giờ", "Needs a time zone (…Z or +07:00)")
    if not in_our_years(first.date()):
        raise _invalid(name, OUT_OF_RANGE_VI, OUT_OF_RANGE_EN)
    return prefix, first, after


def date_matches(values: list[str], name: str) -> list[tuple[str, datetime, datetime]]:
    return [date_range(value, name) for value in values]


def in_dates(moment: datetime, wanted: list[tuple[str, datetime, datetime]]) -> bool:
    """Whether an instant (a point: an appointment's start) meets every date search value (they are ANDed)."""
    for prefix, first, after in wanted:
        within = first <= moment < after
        if not {
            "eq": within,
            "ne": not within,
            "gt": moment >= after,
            "ge": moment >= first,
            "lt": moment < first,
            "le": moment < after,
        }[prefix]:
            return False
    return True


async def locations(
    uow: UnitOfWork, bases: Bases, *, city: str | None, district: str | None, after: str | None, count: int
) -> Found:
    after_code: str | None = None
    if after is not None:  # a cursor this search made (the last clinic's code, encoded as every cursor is)
        decoded = decode_cursor(after, 1)
        if decoded is None:
            raise _invalid("_cursor", "Con trỏ phân trang không hợp lệ", "Invalid pagination cursor")
        [after_code] = decoded
    found = await clinics.list_clinics(
        uow,
        province=place_filter(city),
        district=place_filter(district),
        ward=None,
        kind=None,
        include_inactive=False,
        after_code=after_code,
        limit=count + 1,
    )
    page, more = found[:count], len(found) > count
    return Found([resources.location(bases.fhir, c) for c in page], encode_cursor(page[-1].code) if more else None)


async def location(uow: UnitOfWork, bases: Bases, clinic_id: UUID) -> dict[str, Any]:
    return resources.location(bases.fhir, await clinics.get_clinic(uow, clinic_id))


async def healthcare_services(uow: UnitOfWork, bases: Bases) -> Found:
    return Found(
        [resources.healthcare_service(bases.fhir, s) for s in await clinics.list_services(uow, include_inactive=False)]
    )


async def healthcare_service(uow: UnitOfWork, bases: Bases, service_id: UUID) -> dict[str, Any]:
    return resources.healthcare_service(bases.fhir, await clinics.get_service(uow, service_id))


async def all_schedules(uow: UnitOfWork, bases: Bases, now: datetime) -> dict[UUID, tuple[UUID, UUID, dict[str, Any]]]:
    """Every schedule: its id -> (clinic, service, resource)."""
    pairs = await clinics.schedules(uow, now=now)
    clinic_of = {c.id: c for c in await clinics.every_clinic(uow)}
    service_of = {s.id: s for s in await clinics.list_services(uow, include_inactive=False)}
    return {
        resources.schedule_id(c, s): (c, s, resources.schedule(bases.fhir, clinic_of[c], service_of[s]))
        for c, s in pairs
        if c in clinic_of and s in service_of
    }


async def schedules(uow: UnitOfWork, bases: Bases, *, actor: str | None, now: datetime) -> Found:
    every = await all_schedules(uow, bases, now)
    kind = actor.split("/")[0] if actor and "/" in actor else "Location"
    if kind not in ("Location", "HealthcareService"):
        raise _invalid(
            "actor", "Cần Location/<id> hoặc HealthcareService/<id>", "Expected Location/<id> or HealthcareService/<id>"
        )
    wanted = reference_id(actor, kind, "actor")
    return Found([r for c, s, r in every.values() if wanted in (None, c, s)])


async def schedule(uow: UnitOfWork, bases: Bases, schedule_id: UUID, *, now: datetime) -> dict[str, Any]:
    found = (await all_schedules(uow, bases, now)).get(schedule_id)
    if found is None:
        raise ScheduleNotFound()
    return found[2]


class ScheduleNotFound(SlotNotFound):
    slug = "schedule-not-found"
    title = Text("Không tìm thấy lịch này", "Schedule not found")


def start_bounds(values: list[str], now: datetime) -> tuple[datetime, datetime]:
    """`start` search values (ge…, gt…, le…, lt…, or eq… or none for one period) as [from, before). Given twice,
    both hold (FHIR ANDs a repeated parameter): two days asked with eq meet nowhere, and are refused as such."""
    lows, highs = [], []
    for prefix, first, after in date_matches(values, "start"):
        if prefix in ("ge", "gt", "eq"):
            lows.append(after if prefix == "gt" else first)
        if prefix in ("le", "lt", "eq"):
            highs.append(first if prefix == "lt" else after)
        if prefix not in ("ge", "gt", "le", "lt", "eq"):
            raise _invalid("start", "Không nhận ne với start", "start does not take ne")
    low = max(lows) if lows else now - timedelta(hours=1)
    high = min(highs) if highs else low + timedelta(days=DEFAULT_SLOT_DAYS)
    if high <= low:
        raise _invalid(
            "start",
            "Mốc kết thúc (le/lt) phải sau mốc bắt đầu (ge/gt)",
            "The range's end (le/lt) must come after its start (ge/gt)",
        )
    if high - low > timedelta(days=MAX_SLOT_DAYS):
        raise _invalid(
            "start", f"Khoảng thời gian tối đa {MAX_SLOT_DAYS} ngày", f"A range of up to {MAX_SLOT_DAYS} days"
        )
    return low, high


async def slot_resources(
    uow: UnitOfWork, bases: Bases, found: list[tuple[Slot, Clinic]], *, now: datetime
) -> list[dict[str, Any]]:
    """Slots as FHIR Slots: each free only while the booking's own rule (`is_open`) would take a booking of it and
    no draw is pending for its seats, with its times in its clinic's zone."""
    held = await priority.reservations_of_slots(uow, [s for s, _ in found]) if found else {}
    by_draw = await priority.drawing(uow, [s for s, _ in found]) if found else set()
    rules: dict[UUID, ServiceRules] = {}
    out = []
    for one, clinic in found:
        if one.service_id not in rules:
            rules[one.service_id] = await rules_of(uow, one.service_id)
        bookable = is_open(one, clinic, rules[one.service_id], now)
        out.append(
            resources.slot(
                bases.fhir,
                bases.booking,
                one,
                held.get(one.id, []),
                now=now,
                bookable=bookable,
                by_draw=one.id in by_draw,
                zone=clinic.zone,
            )
        )
    return out


async def slots(
    uow: UnitOfWork,
    bases: Bases,
    *,
    schedule_ref: str | None,
    start: list[str],
    status: str | None,
    after: str | None,
    count: int,
    now: datetime,
) -> Found:
    if status not in (None, "free", "busy"):
        raise _invalid("status", "free hoặc busy", "free or busy")
    clinic_id = service_id = None
    wanted = reference_id(schedule_ref, "Schedule", "schedule")
    if wanted is not None:
        found_schedule = (await all_schedules(uow, bases, now)).get(wanted)
        if found_schedule is None:
            return Found([])
        clinic_id, service_id = found_schedule[0], found_schedule[1]
    low, high = start_bounds(start, now)
    clinic_of = {c.id: c for c in await clinics.every_clinic(uow, include_inactive=True)}
    # free or busy is known only once a slot's live seats are read: slots are read a page at a time until the page
    # asked for is full of those of the status asked for (a few pages at most; the cursor goes on from there)
    out: list[dict[str, Any]] = []
    cursor, examined, more = decode_time_cursor(after), None, False
    for _ in range(STATUS_PAGES if status else 1):
        page = await clinics.published_slots(
            uow,
            clinic_id=clinic_id,
            service_id=service_id,
            starts_from=low,
            starts_before=high,
            after=cursor,
            limit=count + 1,
        )
        batch = page[:count]
        resources = await slot_resources(uow, bases, [(s, clinic_of[s.clinic_id]) for s in batch], now=now)
        for found, resource in zip(batch, resources, strict=True):
            if len(out) == count:
                break
            examined = found
            if status is None or resource["status"] == status:
                out.append(resource)
        more = (bool(batch) and examined is not batch[-1]) or len(page) > count
        if len(out) == count or not more or examined is None:
            break
        cursor = (examined.starts_at, examined.id)
    return Found(out, encode_cursor(examined.starts_at.isoformat(), examined.id) if more and examined else None)


STATUS_PAGES = 20
"""Pages of slots a search by status reads at most for one answer (its cursor goes on where it stopped)."""


async def slot(uow: UnitOfWork, bases: Bases, slot_id: UUID, *, now: datetime) -> dict[str, Any]:
    found = await clinics.get_slot(uow, slot_id)
    [resource] = await slot_resources(uow, bases, [found], now=now)
    return resource


async def appointment(uow: UnitOfWork, bases: Bases, principal: Principal, booking_id: UUID) -> dict[str, Any]:
    return resources.appointment(bases.fhir, await bookings.get(uow, principal, booking_id))


async def appointments(
    uow: UnitOfWork, bases: Bases, principal: Principal, *, patient: str | None, date: list[str]
) -> Found:
    """A citizen's people's appointments (one person's with `patient`); staff name the patient, and see their
    clinics' appointments of that person. `date` values (FHIR's prefixes, ANDed) choose by when they start."""
    person_id = reference_id(patient, "Patient", "patient")
    dates = date_matches(date, "date")
    if principal.role is Role.CITIZEN:
        own = await bookings.of_account(uow, principal, after=None, limit=200)
        found = [b for b in own if person_id is None or b.person_id == person_id]
    elif person_id is None:
        raise _invalid("patient", "Cần chọn người (patient)", "Name the patient")
    else:
        found = await _unless_unseen(bookings.of_person(uow, principal, person_id))
    return Found([resources.appointment(bases.fhir, b) for b in found if in_dates(b.starts_at, dates)])


async def _own_people(uow: UnitOfWork, principal: Principal) -> list[Any]:
    try:
        me = await people.profile(uow, principal)
    except PersonNotFound:
        return []
    return [me, *await people.dependents(uow, principal)]


async def patients(uow: UnitOfWork, bases: Bases, principal: Principal) -> Found:
    return Found([resources.patient(bases.fhir, p) for p in await _own_people(uow, principal)])


async def patient(uow: UnitOfWork, bases: Bases, principal: Principal, person_id: UUID) -> dict[str, Any]:
    for person in await _own_people(uow, principal):
        if person.id == person_id:
            return resources.patient(bases.fhir, person)
    raise PersonNotFound()


async def _people_asked(uow: UnitOfWork, principal: Principal, reference: str | None, name: str) -> list[UUID]:
    """The people a records search is about: the one named (`Patient/{id}`), or a citizen's own people; staff must
    name one."""
    person_id = reference_id(reference, "Patient", name)
    if person_id is not None:
        return [person_id]
    if principal.role is not Role.CITIZEN:
        raise _invalid(name, f"Cần chọn người ({name})", f"Name the {name}")
    return [p.id for p in await _own_people(uow, principal)]


async def _unless_unseen(records_of_one: Awaitable[list[T]]) -> list[T]:
    """A search's records of the person it names, or none when the caller may not see that person: a search answers
    alike for someone who does not exist and someone who is not the caller's, and says nothing of which."""
    try:
        return await records_of_one
    except PersonNotFound:
        return []


async def cvx_codes(uow: UnitOfWork) -> dict[UUID, str | None]:
    """Each vaccine product's CVX code, read once for every Immunization a request sends."""
    return {p.id: p.cvx_code for p in await quotas.list_products(uow)}


async def immunizations(uow: UnitOfWork, bases: Bases, principal: Principal, *, patient: str | None) -> Found:
    doses = []
    for one in await _people_asked(uow, principal, patient, "patient"):
        doses += await _unless_unseen(records.vaccinations(uow, principal, one))
    cvx = await cvx_codes(uow) if doses else {}
    return Found([resources.immunization(bases.fhir, v, cvx.get(v.product_id)) for v in doses])


async def immunization(uow: UnitOfWork, bases: Bases, principal: Principal, booking_id: UUID) -> dict[str, Any]:
    booking = await bookings.get(uow, principal, booking_id)
    for dose in await records.vaccinations(uow, principal, booking.person_id):
        if dose.booking_id == booking_id:
            return resources.immunization(bases.fhir, dose, (await cvx_codes(uow)).get(dose.product_id))
    raise BookingNotFound()


async def adverse_events(uow: UnitOfWork, bases: Bases, principal: Principal, *, subject: str | None) -> Found:
    out = []
    for one in await _people_asked(uow, principal, subject, "subject"):
        events = await _unless_unseen(records.adverse_events(uow, principal, one))
        out += [resources.adverse_event(bases.fhir, e, one) for e in events]
    return Found(out)


async def adverse_event(uow: UnitOfWork, bases: Bases, principal: Principal, event_id: UUID) -> dict[str, Any]:
    event, person_id = await records.adverse_event(uow, principal, event_id)
    return resources.adverse_event(bases.fhir, event, person_id)


def now() -> datetime:
    return datetime.now(UTC)
