"""vaxbook's objects as FHIR R4 resources (JSON), and the Bundles and OperationOutcomes around them. Pure: what a
resource says comes from the domain objects given, nothing is read here."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from booking.models import AdverseEvent, Booking, BookingStatus, EventOutcome, InjectionSite, Person, Vaccination
from clinics.models import Clinic, Service, ServiceKind, Slot
from priority.models import Reservation
from vaxbook.settings import DEFAULT_TIMEZONE

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
SMART = "http://fhir-registry.smarthealthit.org/StructureDefinition"
SERVICE_TYPE = "http://terminology.hl7.org/CodeSystem/service-type"
ACT_SITE = "http://terminology.hl7.org/CodeSystem/v3-ActSite"
ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SEVERITY = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
CVX = "http://hl7.org/fhir/sid/cvx"
DEPARTMENT_ZONE = ZoneInfo(DEFAULT_TIMEZONE)
"""The zone of an instant that belongs to no clinic (a Bundle's timestamp, a feed's transactionTime)."""

APPOINTMENT_STATUS = {
    BookingStatus.BOOKED: "booked",
    BookingStatus.CHECKED_IN: "checked-in",
    BookingStatus.COMPLETED: "fulfilled",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.MOVED: "cancelled",
    BookingStatus.NO_SHOW: "noshow",
    BookingStatus.NOT_ELIGIBLE: "cancelled",
}
SITES = {
    InjectionSite.LEFT_ARM: "LA",
    InjectionSite.RIGHT_ARM: "RA",
    InjectionSite.LEFT_THIGH: "LT",
    InjectionSite.RIGHT_THIGH: "RT",
}
OUTCOMES = {
    EventOutcome.RECOVERED: "resolved",
    EventOutcome.RECOVERING: "recovering",
    EventOutcome.NOT_RECOVERED: "ongoing",
    EventOutcome.HOSPITALISED: "ongoing",
    EventOutcome.FATAL: "fatal",
    EventOutcome.UNKNOWN: "unknown",
}


def schedule_id(clinic_id: UUID, service_id: UUID) -> UUID:
    """A Schedule is one clinic's sessions of one service: its id is made from the two, and stays the same."""
    return uuid5(NAMESPACE_URL, f"vaxbook:schedule:{clinic_id}:{service_id}")


def instant(moment: datetime, zone: tzinfo | str = DEFAULT_TIMEZONE) -> str:
    """An instant as FHIR gets it: with the local offset of the place it belongs to (the clinic's zone, the
    department's by default; +07:00 in Cần Thơ), as the API and the health cards give it, never UTC's: a dose at
    06:30 in Cần Thơ is 23:30Z the day before, and a reader taking the date part would record the wrong day.
    The same instant whatever the zone."""
    return moment.astimezone(ZoneInfo(zone) if isinstance(zone, str) else zone).isoformat(timespec="seconds")


def _code(base: str, kind: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": f"{base}/CodeSystem/{kind}", "code": code}
    if display:
        coding["display"] = display
    return coding


def location(base: str, clinic: Clinic) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": str(clinic.id),
        "identifier": [{"system": f"{base}/NamingSystem/clinic-code", "value": clinic.code}],
        "status": "active" if clinic.active else "inactive",
        "name": clinic.name,
        "mode": "instance",
        "type": [{"coding": [_code(base, "clinic-kind", clinic.kind.value)]}],
        "address": {
            "use": "work",
            "text": clinic.address,
            "line": [clinic.address],
            "district": clinic.district,
            "city": clinic.province,
            "country": "VN",
        },
    }


def healthcare_service(base: str, service: Service) -> dict[str, Any]:
    vaccination = service.kind is ServiceKind.VACCINATION
    return {
        "resourceType": "HealthcareService",
        "id": str(service.id),
        "active": service.active,
        "name": service.name_vi,
        "comment": service.name_en,
        "category": [{"coding": [_code(base, "service-kind", service.kind.value)]}],
        "type": [_service_type(base, service, vaccination)],
    }


def _service_type(base: str, service: Service, vaccination: bool) -> dict[str, Any]:
    codings = [_code(base, "service", service.code, service.name_en)]
    if vaccination:
        codings.insert(0, {"system": SERVICE_TYPE, "code": "57", "display": "Immunization"})
    return {"coding": codings, "text": service.name_en}


def schedule(base: str, clinic: Clinic, service: Service) -> dict[str, Any]:
    return {
        "resourceType": "Schedule",
        "id": str(schedule_id(clinic.id, service.id)),
        "active": clinic.active and service.active,
        "serviceType": [_service_type(base, service, service.kind is ServiceKind.VACCINATION)],
        "actor": [
            {"reference": f"Location/{clinic.id}", "display": clinic.name},
            {"reference": f"HealthcareService/{service.id}", "display": service.name_vi},
        ],
    }


def slot(
    base: str,
    booking_base: str,
    found: Slot,
    held: list[Reservation],
    *,
    now: datetime,
    bookable: bool,
    by_draw: bool = False,
    zone: tzinfo,
) -> dict[str, Any]:
    """A slot as a finder reads it: free while anyone may book a seat now (the seats left with it), busy otherwise.

    `bookable` is the booking's own rule (booking.service.common.is_open: open, not started, at an active clinic,
    for an active service), worked out by the caller. A slot that can no longer be booked is busy with no booking
    link and no seats, whatever seats it has left: a finder must not send anyone to it. One that still takes
    bookings keeps its link while busy (full, or its seats held back for priority groups: the group's members book
    it through the link, and a cancelled seat comes back); seats held back are listed with the group and when it
    books. A slot whose seats go by a draw not yet settled (`by_draw`) is busy too, with its link: the draw is entered
    there. SMART Scheduling Links knows `free` and `busy` only, so `busy` it is, never `busy-unavailable`."""
    open_now = bookable and not by_draw and found.remaining > 0 and (found.opens_at is None or found.opens_at <= now)
    extensions: list[dict[str, Any]] = []
    if bookable:
        extensions.append({"url": f"{SMART}/booking-deep-link", "valueUrl": f"{booking_base}/book/{found.id}"})
    extensions.append({"url": f"{SMART}/slot-capacity", "valueInteger": found.remaining if open_now else 0})
    for reservation in held if bookable else []:
        if reservation.left:
            group = reservation.group
            extensions.append(
                {
                    "url": f"{base}/StructureDefinition/held-back-seats",
                    "extension": [
                        {"url": "group", "valueCoding": _code(base, "priority-group", group.code, group.name_en)},
                        {"url": "seats", "valueInteger": reservation.left},
                        {"url": "opens", "valueDateTime": instant(reservation.opens_at, zone)},
                    ],
                }
            )
    return {
        "resourceType": "Slot",
        "id": str(found.id),
        "extension": extensions,
        "schedule": {"reference": f"Schedule/{schedule_id(found.clinic_id, found.service_id)}"},
        "status": "free" if open_now else "busy",
        "start": instant(found.starts_at, zone),
        "end": instant(found.ends_at, zone),
    }


def appointment(base: str, booking: Booking) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "id": str(booking.id),
        "identifier": [{"system": f"{base}/NamingSystem/booking-code", "value": booking.code}],
        "status": APPOINTMENT_STATUS[booking.status],
        "serviceType": [{"coding": [_code(base, "service", booking.service_code, booking.service_name_en)]}],
        "start": instant(booking.starts_at, booking.timezone),
        "end": instant(booking.ends_at, booking.timezone),
        "created": instant(booking.created_at, booking.timezone),
        "slot": [{"reference": f"Slot/{booking.slot_id}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{booking.person_id}"}, "status": "accepted"},
            {
                "actor": {"reference": f"Location/{booking.clinic_id}", "display": booking.clinic_name},
                "status": "accepted",
            },
        ],
    }


def patient(base: str, person: Person) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(person.id),
        "name": [{"use": "official", "text": person.full_name}],
        "gender": person.sex.value,
        "birthDate": person.date_of_birth.isoformat(),
        "address": [{"line": [person.ward], "district": person.district, "city": person.province, "country": "VN"}],
    }
    if person.cccd:
        resource["identifier"] = [{"system": f"{base}/NamingSystem/cccd", "value": person.cccd}]
    return resource


def immunization(base: str, dose: Vaccination, cvx: str | None = None) -> dict[str, Any]:
    """A dose given; its id is its booking's (one dose a booking); its vaccine by CVX code too when known."""
    codings = [_code(base, "vaccine", dose.product_code, dose.product_name)]
    if cvx:
        codings.insert(0, {"system": CVX, "code": cvx, "display": dose.product_name})
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": str(dose.booking_id),
        "status": "completed",
        "vaccineCode": {"coding": codings},
        "patient": {"reference": f"Patient/{dose.person_id}"},
        "occurrenceDateTime": instant(dose.given_at, dose.timezone),
        "primarySource": True,
        "location": {"reference": f"Location/{dose.clinic_id}", "display": dose.clinic_name},
        "lotNumber": dose.lot_number,
        "protocolApplied": [{"doseNumberPositiveInt": dose.dose_number}],
    }
    if dose.injection_site in SITES:
        resource["site"] = {"coding": [{"system": ACT_SITE, "code": SITES[dose.injection_site]}]}
    elif dose.injection_site is InjectionSite.ORAL:
        resource["route"] = {"coding": [{"system": ROUTE, "code": "PO", "display": "Swallow, oral"}]}
    return resource


def adverse_event(base: str, event: AdverseEvent, person_id: UUID) -> dict[str, Any]:
    return {
        "resourceType": "AdverseEvent",
        "id": str(event.id),
        "actuality": "actual",
        "event": {"text": event.description},
        "subject": {"reference": f"Patient/{person_id}"},
        "date": instant(event.onset_at, event.timezone),
        "recordedDate": instant(event.reported_at, event.timezone),
        "location": {"reference": f"Location/{event.clinic_id}"},
        "seriousness": {"coding": [{"system": SERIOUSNESS, "code": "serious" if event.serious else "non-serious"}]},
        "severity": {"coding": [{"system": SEVERITY, "code": event.severity.value}]},
        "outcome": {"coding": [{"system": OUTCOME, "code": OUTCOMES[event.outcome]}]},
        # the dose suspected, when there was one (a reaction after a visit names none: it would point at nothing)
        **(
            {"suspectEntity": [{"instance": {"reference": f"Immunization/{event.booking_id}"}}]}
            if event.after_dose
            else {}
        ),
    }


def bundle(base: str, resources: list[dict[str, Any]], *, self_url: str, next_url: str | None) -> dict[str, Any]:
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def registry_batch(
    base: str, doses: list[tuple[Vaccination, Person]], cvx: dict[UUID, str | None], *, timestamp: datetime
) -> dict[str, Any]:
    """Doses for a national immunisation registry: a batch of PUTs (a Patient once per person, then each
    Immunization referring to it), so that uploading the same days again updates rather than duplicates."""
    entries: list[dict[str, Any]] = []
    seen: set[UUID] = set()
    for dose, person in doses:
        if person.id not in seen:
            seen.add(person.id)
            entries.append(_put(base, patient(base, person)))
        entries.append(_put(base, immunization(base, dose, cvx.get(dose.product_id))))
    return {"resourceType": "Bundle", "type": "batch", "timestamp": instant(timestamp), "entry": entries}


def _put(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    where = f"{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": f"{base}/{where}", "resource": resource, "request": {"method": "PUT", "url": where}}


def operation_outcome(code: str, text: str, expression: list[str] | None = None) -> dict[str, Any]:
    """Why a request was refused, as FHIR says it (issue type: not-found, forbidden, login, invalid, …), and where
    (`expression`: the parameters refused)."""
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


DATE_PREFIXES = "eq, ne, gt, ge, lt or le, then"
SEARCHES: dict[str, list[tuple[str, str, str]]] = {
    "Location": [
        ("address-city", "string", "The province or city, with or without accents"),
        ("address-district", "string", "The district, with or without accents"),
    ],
    "HealthcareService": [],
    "Schedule": [("actor", "reference", "Location/{id} or HealthcareService/{id}")],
    "Slot": [
        ("schedule", "reference", "Schedule/{id}"),
        (
            "start",
            "date",
            "ge/gt and le/lt bounds (or eq, or no prefix, for one period), each a day, month or year (Cần Thơ's "
            "local days) or an instant with its offset; from an hour ago for the next 14 days when left out, at most "
            "92 days",
        ),
        ("status", "token", "free (anyone may book a seat now) or busy"),
    ],
    "Appointment": [
        ("patient", "reference", "Patient/{id}: one of your people"),
        (
            "date",
            "date",
            f"When it starts: {DATE_PREFIXES} a day, month or year (Cần Thơ's local days) or an instant with its "
            "offset; repeat it for a range (date=ge2026-01-01&date=lt2026-02-01)",
        ),
    ],
    "Patient": [],
    "Immunization": [("patient", "reference", "Patient/{id}")],
    "AdverseEvent": [("subject", "reference", "Patient/{id}")],
}
"""Every search parameter a resource takes, besides _count (each works as described; any other is ignored, or
refused with Prefer: handling=strict)."""
OPEN_TYPES = ("Location", "HealthcareService", "Schedule", "Slot")


def capability_statement(base: str, *, software_version: str, date: str) -> dict[str, Any]:
    resources = []
    for kind, params in SEARCHES.items():
        resources.append(
            {
                "type": kind,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": "_count", "type": "number", "documentation": "Page size, at most 200"},
                    *({"name": n, "type": t, "documentation": d} for n, t, d in params),
                ],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "vaxbook",
        "kind": "instance",
        "software": {"name": "vaxbook", "version": software_version},
        "implementation": {"description": "vaxbook FHIR R4 read API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"{', '.join(OPEN_TYPES)} are open to anyone. Appointment, Patient, Immunization and AdverseEvent "
                    "take the API's bearer token: a citizen reads their own people's, clinic staff their clinics'. "
                    "A search parameter not listed for its resource is ignored and left out of the Bundle's self link "
                    "(FHIR's lenient handling); with the header Prefer: handling=strict it is refused (422). "
                    "Instants carry the local offset of the clinic they belong to (+07:00)."
                ),
                "security": {"service": [{"text": "OAuth2-style bearer token from /api/v1/auth"}]},
                "resource": resources,
            }
        ],
    }
