"""The FHIR R4 read API: every resource it sends validates against a maintained FHIR model package (fhir.resources,
its R4B models, which for these resources are R4's); a slot's free/busy follows its live seats through bookings,
cancellations and a group's held-back seats; searches page with next links; other people's records answer 404."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from fhir.resources.R4B import get_fhir_model_class

from clinics.models import ServiceKind
from tests.factories import (
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.priority.test_priority_api import ELDERLY, hold_back, make_group
from tests.integration.qr.test_visits import checked_in, visit
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

FHIR_JSON = "application/fhir+json"


def valid(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The answer, after checking its status, its media type and the resource against the FHIR model."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    resource: dict[str, Any] = response.json()
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    return [e["resource"] for e in bundle.get("entry", [])]


def next_link(bundle: dict[str, Any]) -> str | None:
    found = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
    if not found:
        return None
    parts = urlsplit(found[0])
    return f"{parts.path}?{parts.query}"


async def test_the_capability_statement_and_the_catalogue_validate_and_clinics_page(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    statement = valid(await client.get("/fhir/r4/metadata"))
    assert statement["fhirVersion"] == "4.0.1"
    kinds = {r["type"] for r in statement["rest"][0]["resource"]}
    assert {"Location", "Slot", "Appointment", "Immunization", "AdverseEvent"} <= kinds
    for n in range(3):
        await make_clinic(uow, code=f"KT-{n}", province="Cần Thơ", district="Ninh Kiều")
    await make_clinic(uow, code="HCM-1", province="Hồ Chí Minh", district="Quận 1")
    pages, url = [], "/fhir/r4/Location?address-city=can+tho&address-district=ninh+kieu&_count=2"
    while url:
        bundle = valid(await client.get(url))
        pages.append([r["identifier"][0]["value"] for r in entries(bundle)])
        url = next_link(bundle)
    assert pages == [["KT-0", "KT-1"], ["KT-2"]], "typed without accents, two to a page, then the rest"
    one = valid(await client.get(f"/fhir/r4/Location/{(await make_clinic(uow)).id}"))
    assert one["address"]["city"] == "Cần Thơ"
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    services = entries(valid(await client.get("/fhir/r4/HealthcareService")))
    assert any(s["id"] == str(service.id) for s in services)
    missing = valid(await client.get(f"/fhir/r4/Location/{service.id}"), status=404)
    assert missing["issue"][0]["code"] == "not-found"
    bad = valid(await client.get("/fhir/r4/Location", params={"_count": "0"}), status=422)
    assert bad["resourceType"] == "OperationOutcome"
    # whatever refuses it, a FHIR client reads an OperationOutcome: an id that is none, a resource type this
    # server has not, a method it does not take, a token it does not know, a day off the calendar
    for method, path, headers, status, code in [
        ("GET", "/fhir/r4/Location/not-an-id", {}, 404, "not-found"),
        ("GET", "/fhir/r4/Schedule/zzz", {}, 404, "not-found"),
        ("GET", "/fhir/r4/Questionnaire", {}, 404, "not-found"),
        ("DELETE", "/fhir/r4/Location", {}, 405, "not-supported"),
        ("GET", "/fhir/r4/Appointment", {"Authorization": "Bearer not.a.token"}, 401, "login"),
        ("GET", "/fhir/r4/Slot?start=ge9999-12-31", {}, 422, "invalid"),
    ]:
        refused = valid(await client.request(method, path, headers=headers), status=status)
        assert (refused["resourceType"], refused["issue"][0]["code"]) == ("OperationOutcome", code), path


async def test_a_published_slot_is_free_or_busy_as_its_live_seats_are(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(30))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    schedules = entries(valid(await client.get("/fhir/r4/Schedule", params={"actor": f"Location/{clinic.id}"})))
    assert len(schedules) == 1
    schedule = f"Schedule/{schedules[0]['id']}"
    valid(await client.get(f"/fhir/r4/{schedule}"))

    async def published() -> dict[str, Any]:
        found = entries(valid(await client.get("/fhir/r4/Slot", params={"schedule": schedule})))
        assert [r["id"] for r in found] == [str(slot.id)]
        return found[0]

    def capacity(resource: dict[str, Any]) -> int:
        return next(e["valueInteger"] for e in resource["extension"] if e["url"].endswith("/slot-capacity"))

    first = await published()
    assert (first["status"], capacity(first)) == ("free", 2)
    assert any(e["url"].endswith("/booking-deep-link") for e in first["extension"])
    citizens = [await make_citizen(uow) for _ in range(2)]
    booked = [
        await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(c)) for c, _ in citizens
    ]
    assert all(b.status_code == 201 for b in booked)
    full = await published()
    assert (full["status"], capacity(full)) == ("busy", 0)
    assert entries(valid(await client.get("/fhir/r4/Slot", params={"schedule": schedule, "status": "free"}))) == []
    cancelled = await client.post(
        f"/api/v1/bookings/{booked[0].json()['id']}/cancel", headers=token_for(citizens[0][0])
    )
    assert cancelled.status_code == 200
    again = await published()
    assert (again["status"], capacity(again)) == ("free", 1)

    # the freed seat held back for a group: busy for everyone, with the group and its seat named
    group = await make_group(client, admin, ELDERLY)
    assert (await hold_back(client, admin, slot, (group, 1, soon(-1)))).status_code == 200
    held = await published()
    assert (held["status"], capacity(held)) == ("busy", 0)
    [kept] = [e for e in held["extension"] if e["url"].endswith("/held-back-seats")]
    parts = {p["url"]: p for p in kept["extension"]}
    assert parts["group"]["valueCoding"]["code"] == ELDERLY["code"]
    assert parts["seats"]["valueInteger"] == 1
    assert valid(await client.get(f"/fhir/r4/Slot/{slot.id}"))["status"] == "busy"
    # released to everyone: free again, with no group named
    released = await client.post(
        "/api/v1/reservations/release", json={"clinic_id": str(clinic.id), "slot_id": str(slot.id)}, headers=admin
    )
    assert released.status_code == 200, released.text
    freed = await published()
    assert (freed["status"], capacity(freed)) == ("free", 1)
    assert not [e for e in freed["extension"] if e["url"].endswith("/held-back-seats")]

    later = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(24 * 20))
    window = {"schedule": schedule, "start": [f"ge{soon(24 * 19).isoformat()}", f"lt{soon(24 * 21).isoformat()}"]}
    assert [r["id"] for r in entries(valid(await client.get("/fhir/r4/Slot", params=window)))] == [str(later.id)]
    wrong = valid(await client.get("/fhir/r4/Slot", params={"start": "ge2026-13-01"}), status=422)
    assert "start" in wrong["issue"][0]["diagnostics"]


async def test_records_are_read_by_their_people_and_their_clinic_only(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, citizen, booking = await checked_in(client, uow, capacity=2)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert given.status_code == 201
    reaction = {
        "severity": "moderate",
        "serious": True,
        "outcome": "recovering",
        "description": "Sốt cao",
        "onset_at": soon(0).isoformat(),
    }
    reported = await client.post(visit(clinic, booking, "adverse-events"), json=reaction, headers=staff)
    assert reported.status_code == 201, reported.text
    event_id = reported.json()["id"]
    person = booking["person_id"]
    mine = token_for(citizen)

    appointment = valid(await client.get(f"/fhir/r4/Appointment/{booking['id']}", headers=mine))
    assert appointment["status"] == "fulfilled"
    assert entries(valid(await client.get("/fhir/r4/Appointment", headers=mine)))[0]["id"] == booking["id"]
    patient = valid(await client.get(f"/fhir/r4/Patient/{person}", headers=mine))
    assert patient["birthDate"]
    dose = valid(await client.get(f"/fhir/r4/Immunization/{booking['id']}", headers=mine))
    assert dose["lotNumber"] == given.json()["lot_number"]
    assert dose["site"]["coding"][0]["code"] == "LA"
    search = valid(await client.get("/fhir/r4/Immunization", params={"patient": f"Patient/{person}"}, headers=mine))
    assert [r["id"] for r in entries(search)] == [booking["id"]]
    event = valid(await client.get(f"/fhir/r4/AdverseEvent/{event_id}", headers=mine))
    assert event["seriousness"]["coding"][0]["code"] == "serious"
    assert entries(valid(await client.get("/fhir/r4/AdverseEvent", headers=mine)))[0]["id"] == event_id
    # the clinic's staff read the clinic's records
    assert valid(await client.get(f"/fhir/r4/Immunization/{booking['id']}", headers=staff))["id"] == booking["id"]
    by_clinic = await client.get("/fhir/r4/AdverseEvent", params={"subject": f"Patient/{person}"}, headers=staff)
    assert [r["id"] for r in entries(valid(by_clinic))] == [event_id]

    # anyone else: not found, never forbidden (nothing says the record exists)
    stranger, _ = await make_citizen(uow)
    other_clinic = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    for headers in (token_for(stranger), other_clinic):
        for path in (
            f"/fhir/r4/Appointment/{booking['id']}",
            f"/fhir/r4/Immunization/{booking['id']}",
            f"/fhir/r4/AdverseEvent/{event_id}",
        ):
            refused = valid(await client.get(path, headers=headers), status=404)
            assert refused["issue"][0]["code"] == "not-found", path
    assert valid(await client.get(f"/fhir/r4/Patient/{person}", headers=token_for(stranger)), status=404)
    theirs = await client.get("/fhir/r4/Immunization", params={"patient": f"Patient/{person}"}, headers=other_clinic)
    assert entries(valid(theirs)) == [], "another clinic's staff see none of this clinic's doses"
    theirs = await client.get("/fhir/r4/AdverseEvent", params={"subject": f"Patient/{person}"}, headers=other_clinic)
    assert entries(valid(theirs)) == []
    assert (await client.get("/fhir/r4/Appointment")).status_code == 401
    assert (await client.get("/fhir/r4/Patient", headers=staff)).status_code == 403


async def test_the_registry_export_is_a_batch_of_patients_and_their_doses_for_the_clinic_asked(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, _, booking = await checked_in(client, uow, capacity=2)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "oral"}, headers=staff
    )
    assert given.status_code == 201
    today = soon(0).astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    days = {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()}
    batch = valid(
        await client.get("/api/v1/registry/immunizations", params=days | {"clinic_id": str(clinic.id)}, headers=staff)
    )
    assert batch["type"] == "batch"
    kinds = [(e["resource"]["resourceType"], e["request"]["method"]) for e in batch["entry"]]
    assert kinds == [("Patient", "PUT"), ("Immunization", "PUT")]
    dose = batch["entry"][1]["resource"]
    assert dose["patient"]["reference"] == f"Patient/{booking['person_id']}"
    assert dose["route"]["coding"][0]["code"] == "PO"
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    city = valid(await client.get("/api/v1/registry/immunizations", params=days, headers=admin))
    assert len(city["entry"]) == 2, "the city's: every clinic's doses"
    other = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    refused = await client.get(
        "/api/v1/registry/immunizations", params=days | {"clinic_id": str(clinic.id)}, headers=other
    )
    assert refused.status_code == 403
    assert (await client.get("/api/v1/registry/immunizations", params=days, headers=other)).status_code == 422
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'registry.export'") == 2
