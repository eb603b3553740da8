"""The FHIR R4 read API: every resource it sends validates against a maintained FHIR model package (fhir.resources,
its R4B models, which for these resources are R4's); a slot's free/busy follows its live seats through bookings,
cancellations and a group's held-back seats; searches page with next links; other people's records answer 404."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class

from booking.service import records
from clinics.models import ServiceKind
from quotas import service as quotas
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
CAN_THO = ZoneInfo("Asia/Ho_Chi_Minh")


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
    for made_up in ("KT-1", "garbage", "W10="):  # a clinic's code, no cursor at all, a cursor of another shape
        refused = valid(await client.get("/fhir/r4/Location", params={"_cursor": made_up}), status=422)
        assert "_cursor" in str(refused["issue"]), made_up
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
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
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

    # its seats going by a draw not yet run: busy (booking answers draw-in-progress), linked (the draw is entered there)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    drawing = await published()
    assert (drawing["status"], capacity(drawing)) == ("busy", 0)
    assert any(e["url"].endswith("/booking-deep-link") for e in drawing["extension"])
    assert entries(valid(await client.get("/fhir/r4/Slot", params={"schedule": schedule, "status": "free"}))) == []
    refused = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizens[0][0]))
    assert refused.json()["type"] == "/problems/draw-in-progress"
    settle = "UPDATE slot_draws SET seed = md5('seed'), drawn_at = now(), settled_at = now()"
    await db.execute(f"{settle} WHERE slot_id = $1", slot.id)  # drawn, with no entries
    assert (await published())["status"] == "free"

    later = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(24 * 20))
    window = {"schedule": schedule, "start": [f"ge{soon(24 * 19).isoformat()}", f"lt{soon(24 * 21).isoformat()}"]}
    assert [r["id"] for r in entries(valid(await client.get("/fhir/r4/Slot", params=window)))] == [str(later.id)]
    wrong = valid(await client.get("/fhir/r4/Slot", params={"start": "ge2026-13-01"}), status=422)
    assert "start" in wrong["issue"][0]["diagnostics"]
    # a range the wrong way round is said as such (not as too long), and once
    backwards = {"start": [f"ge{soon(24 * 21).date()}", f"lt{soon(24 * 19).date()}"]}
    reversed_ = valid(await client.get("/fhir/r4/Slot", params=backwards, headers={"Accept-Language": "en"}), 422)
    said = reversed_["issue"][0]["diagnostics"]
    assert "must come after its start" in said
    assert said.count("must come after") == 1, said


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
    assert event["suspectEntity"] == [{"instance": {"reference": f"Immunization/{booking['id']}"}}], (
        "the dose read above"
    )
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
    # a search naming someone the caller may not see answers as one naming nobody at all: no oracle of who exists
    nobody = f"Patient/{uuid4()}"
    for headers in (token_for(stranger), other_clinic):
        for kind, param in (("Appointment", "patient"), ("Immunization", "patient"), ("AdverseEvent", "subject")):
            for named in (f"Patient/{person}", nobody):
                found = await client.get(f"/fhir/r4/{kind}", params={param: named}, headers=headers)
                assert entries(valid(found)) == [], (kind, named)
    assert (await client.get("/fhir/r4/Appointment")).status_code == 401
    assert (await client.get("/fhir/r4/Patient", headers=staff)).status_code == 403


async def test_the_registry_export_is_a_batch_of_patients_and_their_doses_for_the_clinic_asked(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
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
    # more doses than one Bundle takes: refused whole, never cut short
    monkeypatch.setattr(records, "REGISTRY_MOST_DOSES", 0)
    too_many = await client.get("/api/v1/registry/immunizations", params=days, headers=admin)
    assert too_many.status_code == 422, too_many.text
    assert [(e["field"], e["code"]) for e in too_many.json()["errors"]] == [("date_to", "too_many_doses")]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'registry.export'") == 2


def extension(resource: dict[str, Any], name: str) -> Any:
    found = [e for e in resource.get("extension", []) if e["url"].endswith(f"/{name}")]
    return found[0] if found else None


async def test_a_slot_that_can_no_longer_be_booked_is_never_free_nor_linked(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """By the booking's own rule: a slot started, of a service or clinic no longer active, or called off is busy,
    with no booking link and no seats, in the read and in the search, as booking it answers 409 and the
    availability leaves it out."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    ahead = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(30))
    started = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(31))
    await db.execute(
        "UPDATE slots SET starts_at = now() - interval '10 minutes', ends_at = now() + interval '20 minutes' "
        "WHERE id = $1",
        started.id,
    )
    citizen, _ = await make_citizen(uow)
    refused = await client.post("/api/v1/bookings", json={"slot_id": str(started.id)}, headers=token_for(citizen))
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/slot-not-bookable")
    offered = await client.get("/api/v1/availability", params={"clinic": str(clinic.id)})
    assert [i["slot_id"] for i in offered.json()["items"]] == [str(ahead.id)]

    read = valid(await client.get(f"/fhir/r4/Slot/{started.id}"))
    assert read["status"] == "busy"
    assert extension(read, "booking-deep-link") is None, "no link to a slot nobody can book"
    assert extension(read, "slot-capacity")["valueInteger"] == 0
    [schedule] = entries(valid(await client.get("/fhir/r4/Schedule", params={"actor": f"Location/{clinic.id}"})))
    search = entries(valid(await client.get("/fhir/r4/Slot", params={"schedule": f"Schedule/{schedule['id']}"})))
    assert [(r["id"], r["status"]) for r in search] == [(str(started.id), "busy"), (str(ahead.id), "free")]
    assert extension(search[0], "booking-deep-link") is None
    assert extension(search[1], "booking-deep-link")["valueUrl"].endswith(f"/book/{ahead.id}")
    free = entries(valid(await client.get("/fhir/r4/Slot", params={"status": "free"})))
    assert [r["id"] for r in free] == [str(ahead.id)]

    # the rule's other parts, the same way: a service, then a clinic, no longer active; a slot called off
    for change, row in (
        ("UPDATE services SET active = false WHERE id = $1", service.id),
        ("UPDATE clinics SET active = false WHERE id = $1", clinic.id),
        ("UPDATE slots SET status = 'closed' WHERE id = $1", ahead.id),
    ):
        await db.execute("UPDATE services SET active = true WHERE id = $1", service.id)
        await db.execute("UPDATE clinics SET active = true WHERE id = $1", clinic.id)
        await db.execute(change, row)
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(ahead.id)}, headers=token_for(citizen))
        assert booked.json()["type"] == "/problems/slot-not-bookable", change
        gone = valid(await client.get(f"/fhir/r4/Slot/{ahead.id}"))
        assert (gone["status"], extension(gone, "booking-deep-link")) == ("busy", None), change
        assert extension(gone, "slot-capacity")["valueInteger"] == 0, change


async def test_appointments_are_searched_by_their_local_day_with_fhir_prefixes(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """`date` as the CapabilityStatement says: FHIR's prefixes, days being Cần Thơ's. 06:30 there is 23:30Z the
    day before: that appointment is on the local day, not UTC's, and its times carry +07:00."""
    clinic = await make_clinic(uow)
    today = datetime.now(UTC).astimezone(CAN_THO).date()
    early_start = datetime.combine(today + timedelta(days=1), time(6, 30), CAN_THO)
    later_start = datetime.combine(today + timedelta(days=3), time(10, 0), CAN_THO)
    citizen, _ = await make_citizen(uow)
    made = []
    for start in (early_start, later_start):
        slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=start)
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201, booked.text
        made.append(booked.json()["id"])
    early, later = made
    mine = token_for(citizen)

    async def search(*dates: str, **more: str) -> set[str]:
        params = [("date", d) for d in dates] + list(more.items())
        return {r["id"] for r in entries(valid(await client.get("/fhir/r4/Appointment", params=params, headers=mine)))}

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    assert await search("2020-01-01") == set()
    assert await search(day(1)) == {early}
    assert await search(f"eq{day(1)}") == {early}
    assert await search(day(0)) == set(), "23:30Z is today in UTC, tomorrow in Cần Thơ"
    assert await search(f"ge{day(1)}") == {early, later}
    assert await search(f"gt{day(1)}") == {later}
    assert await search(f"lt{day(3)}") == {early}
    assert await search(f"le{day(3)}") == {early, later}
    assert await search(f"ne{day(1)}") == {later}
    assert await search(f"ge{day(2)}", f"lt{day(4)}") == {later}
    assert await search(f"gt{day(0)}", f"le{day(1)}") == {early}
    utc = early_start.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert await search(f"ge{utc}") == {early, later}
    assert await search(f"gt{utc}") == {later}
    assert await search(day(1), patient=f"Patient/{uuid4()}") == set()
    for wrong in ("sa2026-01-01", f"{today.year}-02-30", "ge2026-01-01T10:00:00", "tomorrow"):
        refused = valid(await client.get("/fhir/r4/Appointment", params={"date": wrong}, headers=mine), status=422)
        assert "date" in refused["issue"][0]["diagnostics"], wrong
    found = entries(valid(await client.get("/fhir/r4/Appointment", params={"date": day(1)}, headers=mine)))
    assert found[0]["start"] == f"{day(1)}T06:30:00+07:00"
    assert datetime.fromisoformat(found[0]["start"]) == early_start, "the same instant, in the local offset"


async def test_every_search_takes_count_and_says_in_its_self_link_only_what_it_applied(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """_count pages every search the CapabilityStatement lists it for; a parameter a resource does not take is
    ignored and left out of the self link (FHIR's lenient handling), or refused with Prefer: handling=strict."""
    clinic = await make_clinic(uow)
    citizen, _ = await make_citizen(uow)
    mine = token_for(citizen)
    for hours in (30, 54):
        slot = await make_slot(uow, clinic, await make_service(uow), capacity=2, starts_at=soon(hours))
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=mine)
        assert booked.status_code == 201, booked.text
    statement = valid(await client.get("/fhir/r4/metadata"))
    for listed in statement["rest"][0]["resource"]:
        assert "_count" in {p["name"] for p in listed["searchParam"]}, listed["type"]
    for kind in ("Appointment", "HealthcareService", "Schedule"):
        seen, url = [], f"/fhir/r4/{kind}?_count=1"
        while url:
            bundle = valid(await client.get(url, headers=mine))
            page = entries(bundle)
            assert len(page) == 1, kind
            seen += [r["id"] for r in page]
            url = next_link(bundle)
        assert len(seen) == len(set(seen)) == 2, kind

    bundle = valid(await client.get("/fhir/r4/Appointment", params={"date": "2020-01-01", "foo": "x"}, headers=mine))
    assert entries(bundle) == []
    [self_link] = [link["url"] for link in bundle["link"] if link["relation"] == "self"]
    assert parse_qsl(urlsplit(self_link).query) == [("date", "2020-01-01")], "foo was not applied: not in the link"
    strict = {"Prefer": "handling=strict"}
    for path in ("/fhir/r4/Appointment?foo=x", "/fhir/r4/Location?name=x", "/fhir/r4/Slot?location=x"):
        refused = valid(await client.get(path, headers=mine | strict), status=422)
        assert refused["issue"][0]["code"] == "invalid", path
        assert valid(await client.get(path, headers=mine))["type"] == "searchset", path
    bad_actor = valid(await client.get("/fhir/r4/Schedule", params={"actor": f"Patient/{clinic.id}"}), status=422)
    assert "actor" in bad_actor["issue"][0]["diagnostics"]
    assert len(entries(valid(await client.get("/fhir/r4/Schedule", params={"actor": str(clinic.id)})))) == 2


async def test_instants_carry_cantho_offset_in_every_resource_and_the_feed(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, _, staff, citizen, booking = await checked_in(client, uow, capacity=2)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert given.status_code == 201, given.text
    reaction = {
        "severity": "mild",
        "serious": False,
        "outcome": "recovered",
        "description": "Đau",
        "onset_at": soon(0).isoformat(),
    }
    assert (
        await client.post(visit(clinic, booking, "adverse-events"), json=reaction, headers=staff)
    ).status_code == 201
    mine = token_for(citizen)
    dose = valid(await client.get(f"/fhir/r4/Immunization/{booking['id']}", headers=mine))
    api_given = datetime.fromisoformat(given.json()["given_at"]).replace(microsecond=0)  # FHIR's, to the second
    assert dose["occurrenceDateTime"].endswith("+07:00")
    assert datetime.fromisoformat(dose["occurrenceDateTime"]) == api_given, "the same instant"
    assert dose["occurrenceDateTime"] == api_given.astimezone(CAN_THO).isoformat(timespec="seconds")
    appointment = valid(await client.get(f"/fhir/r4/Appointment/{booking['id']}", headers=mine))
    assert all(appointment[k].endswith("+07:00") for k in ("start", "end", "created"))
    assert datetime.fromisoformat(appointment["start"]) == datetime.fromisoformat(booking["starts_at"])
    [event] = entries(valid(await client.get("/fhir/r4/AdverseEvent", headers=mine)))
    assert (event["date"][-6:], event["recordedDate"][-6:]) == ("+07:00", "+07:00")
    assert datetime.fromisoformat(event["date"]) == datetime.fromisoformat(reaction["onset_at"])
    slot = valid(await client.get(f"/fhir/r4/Slot/{booking['slot_id']}"))
    assert (slot["start"][-6:], slot["end"][-6:]) == ("+07:00", "+07:00")

    today = datetime.now(UTC).astimezone(CAN_THO).date()
    days = {"date_from": (today - timedelta(days=1)).isoformat(), "date_to": today.isoformat()}
    batch = valid(
        await client.get("/api/v1/registry/immunizations", params=days | {"clinic_id": str(clinic.id)}, headers=staff)
    )
    assert batch["timestamp"].endswith("+07:00")
    exported = batch["entry"][1]["resource"]
    assert exported["occurrenceDateTime"] == dose["occurrenceDateTime"]
    manifest = (await client.get("/fhir/r4/$bulk-publish")).json()
    assert manifest["transactionTime"].endswith("+07:00")
    statement = valid(await client.get("/fhir/r4/metadata"))
    assert statement["date"] == today.isoformat(), "the department's day"
    assert date.fromisoformat(statement["date"]) == today


async def test_a_search_by_status_fills_its_pages_with_slots_of_that_status(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Free or busy is known once a slot's seats are read: the filter used to run after the page was cut, so a
    page of busy slots came back short or empty with a next link, and a finder walking them read empty pages."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slots = [await make_slot(uow, clinic, service, starts_at=soon(24 + hour)) for hour in range(6)]
    for closed in (slots[3], slots[5]):
        await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", closed.id)
    [schedule] = entries(valid(await client.get("/fhir/r4/Schedule", params={"actor": f"Location/{clinic.id}"})))
    asked = {"schedule": f"Schedule/{schedule['id']}", "status": "busy", "_count": "1"}
    first = valid(await client.get("/fhir/r4/Slot", params=asked))
    assert [r["id"] for r in entries(first)] == [str(slots[3].id)], "a full page, past the free ones"
    following = next_link(first)
    assert following is not None
    second = valid(await client.get(following))
    assert [r["id"] for r in entries(second)] == [str(slots[5].id)]
    assert next_link(second) is None, "nothing after the last busy slot"
    other = await client.get("/fhir/r4/Slot", params={"status": "busy-unavailable"})
    assert other.status_code == 422
    assert "free or busy" in other.text or "free hoặc busy" in other.text, "said as any other status, not by length"


async def test_a_reaction_after_a_visit_points_at_no_dose(client: httpx.AsyncClient, uow: UnitOfWork) -> None:
    """An antenatal visit gives no dose: its reaction's AdverseEvent names no Immunization (one it named would be
    404 to every reader)."""
    clinic, _, staff, citizen, booking = await checked_in(client, uow, vaccination=False)
    assert (await client.post(visit(clinic, booking, "attendance"), headers=staff)).status_code == 200
    reaction = {
        "severity": "mild",
        "serious": False,
        "outcome": "recovered",
        "description": "Chóng mặt",
        "onset_at": soon(0).isoformat(),
    }
    reported = await client.post(visit(clinic, booking, "adverse-events"), json=reaction, headers=staff)
    assert reported.status_code == 201, reported.text
    event = valid(await client.get(f"/fhir/r4/AdverseEvent/{reported.json()['id']}", headers=token_for(citizen)))
    assert "suspectEntity" not in event
    assert (await client.get(f"/fhir/r4/Immunization/{booking['id']}", headers=token_for(citizen))).status_code == 404


async def test_every_immunization_the_api_serves_names_its_vaccine_by_cvx_as_the_registry_does(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dose of a vaccine with a CVX code carries it (as the registry export and the health card do), one without
    carries only ours; the codes are read once for the whole answer, not once per dose."""
    clinic, service, staff, citizen, booking = await checked_in(client, uow, capacity=2)
    await db.execute("UPDATE vaccine_products SET cvx_code = '208' WHERE id = $1", service.product_id)
    no_cvx = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, no_cvx, capacity=1, starts_at=soon(0.5))
    second = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))).json()
    cccd = await db.fetchval("SELECT cccd FROM people WHERE id = $1", booking["person_id"])
    door = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins", json={"code": second["code"], "cccd_last4": cccd[-4:]}, headers=staff
    )
    assert door.status_code == 200, door.text
    for made, product in ((booking, service.product_id), (second, no_cvx.product_id)):
        lot_id = await db.fetchval(
            "SELECT s.lot_id FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id"
            " WHERE s.clinic_id = $1 AND l.product_id = $2",
            clinic.id,
            product,
        )
        given = await client.post(
            visit(clinic, made, "vaccination"),
            json={"lot_id": str(lot_id), "injection_site": "left_arm"},
            headers=staff,
        )
        assert given.status_code == 201, given.text
    reads = []
    read_products = quotas.list_products

    async def counted(uow: UnitOfWork) -> Any:
        reads.append(1)
        return await read_products(uow)

    monkeypatch.setattr(quotas, "list_products", counted)

    def cvx(resource: dict[str, Any]) -> list[str]:
        return [c["code"] for c in resource["vaccineCode"]["coding"] if c["system"] == "http://hl7.org/fhir/sid/cvx"]

    mine = token_for(citizen)
    for headers in (mine, staff):
        assert cvx(valid(await client.get(f"/fhir/r4/Immunization/{booking['id']}", headers=headers))) == ["208"]
        assert cvx(valid(await client.get(f"/fhir/r4/Immunization/{second['id']}", headers=headers))) == []
    reads.clear()
    search = {"patient": f"Patient/{booking['person_id']}"}
    found = entries(valid(await client.get("/fhir/r4/Immunization", params=search, headers=staff)))
    assert {r["id"]: cvx(r) for r in found} == {booking["id"]: ["208"], second["id"]: []}
    assert len(reads) == 1, "the codes read once for the whole Bundle"


async def test_a_refusal_names_each_parameter_it_refused_and_says_its_language(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """issue.expression names the parameter as FHIR names a request's (`http.` and the name sent); Content-Language
    says which language the words are in: Vietnamese unless Accept-Language prefers English, as the API's problems."""
    for params, named in [
        ({"_count": "0"}, ["http._count"]),
        ({"_cursor": "garbage"}, ["http._cursor"]),
        ({"start": "ge2026-13-01"}, ["http.start"]),
        ({"start": "ne2026-01-01", "_count": "500"}, ["http._count"]),  # Litestar's check comes first
        ({"start": "\x00"}, ["http.start"]),  # refused at the edge, before any handler
        ({"status": "maybe"}, ["http.status"]),
    ]:
        refused = valid(await client.get("/fhir/r4/Slot", params=params), status=422)
        assert refused["issue"][0]["expression"] == named, params
        assert refused["issue"][0]["code"] == "invalid"
    strict = {"Prefer": "handling=strict"}
    unknown = valid(await client.get("/fhir/r4/Location", params={"name": "x"}, headers=strict), status=422)
    assert unknown["issue"][0]["expression"] == ["http.name"]
    two = await client.get("/fhir/r4/Location", params={"name": "x", "foo": "y"}, headers=strict)
    assert valid(two, status=422)["issue"][0]["expression"] == ["http.foo", "http.name"], "each one, not the first"
    actor = valid(await client.get("/fhir/r4/Schedule", params={"actor": "Patient/1"}), status=422)
    assert actor["issue"][0]["expression"] == ["http.actor"]

    said = {}
    for accept_language, expected in [(None, "vi"), ("en", "en"), ("fr, en;q=0.5", "en"), ("en;q=0.4, vi", "vi")]:
        headers = {"Accept-Language": accept_language} if accept_language else {}
        answer = await client.get("/fhir/r4/Slot", params={"_count": "0"}, headers=headers)
        assert answer.headers["content-language"] == expected, accept_language
        said[expected] = valid(answer, status=422)["issue"][0]["diagnostics"]
    assert said["vi"] != said["en"]
    # whatever refuses it: no such resource, a type the server has not, a token it does not know
    for path, headers, status in [
        (f"/fhir/r4/Location/{uuid4()}", {"Accept-Language": "en"}, 404),
        ("/fhir/r4/Questionnaire", {"Accept-Language": "en"}, 404),
        ("/fhir/r4/Appointment", {"Authorization": "Bearer not.a.token"}, 401),
    ]:
        answer = await client.get(path, headers=headers)
        assert "expression" not in valid(answer, status=status)["issue"][0], "nothing the request sent is named"
        assert answer.headers["content-language"] == headers.get("Accept-Language", "vi"), path


async def test_a_client_asking_for_a_format_other_than_json_is_told_406_not_sent_json(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    """FHIR http.html: `_format` (which overrides Accept) and Accept name the format; this server writes JSON only,
    so a client asking for XML (or Turtle, or HTML) alone gets 406 with an OperationOutcome, and an XML body 415."""
    clinic = await make_clinic(uow)
    where = f"/fhir/r4/Location/{clinic.id}"
    for taken in (
        "_format=json",
        "_format=application/json",
        "_format=application%2Ffhir%2Bjson",
        "_format=application/fhir+json",  # the "+" left unescaped: a space once decoded
        "_format=application/json+fhir",
        "_format=application/fhir%2Bjson;fhirVersion=4.0",
    ):
        assert valid(await client.get(f"{where}?{taken}"))["id"] == str(clinic.id), taken
    for accept in (
        None,
        "*/*",
        "application/json",
        "application/fhir+json",
        "application/fhir+json; fhirVersion=4.0",
        "application/*;q=0.1",
        "application/fhir+xml, application/fhir+json;q=0.5",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",  # a browser's
    ):
        headers = {"Accept": accept} if accept else {}
        assert valid(await client.get(where, headers=headers))["id"] == str(clinic.id), accept
    assert valid(await client.get(f"{where}?_format=json", headers={"Accept": "application/fhir+xml"}))

    for asked in ("xml", "text/xml", "application/xml", "application/fhir+xml", "ttl", "html", "application/pdf"):
        refused = await client.get(where, params={"_format": asked}, headers={"Accept-Language": "en"})
        outcome = valid(refused, status=406)
        assert outcome["issue"][0]["code"] == "not-supported", asked
        assert outcome["issue"][0]["expression"] == ["http._format"], asked
        assert "JSON only" in outcome["issue"][0]["diagnostics"]
        assert refused.headers["content-language"] == "en"
    for accept in ("application/fhir+xml", "application/xml, text/xml", "application/fhir+json;q=0, application/xml"):
        outcome = valid(await client.get(where, headers={"Accept": accept}), status=406)
        assert outcome["issue"][0]["code"] == "not-supported", accept
    assert valid(await client.get(where, params={"_format": "json"}, headers={"Accept": "application/fhir+xml"}))
    xml_body = {"Content-Type": "application/fhir+xml"}
    refused = await client.request("GET", where, content=b"<Location xmlns='http://hl7.org/fhir'/>", headers=xml_body)
    assert valid(refused, status=415)["issue"][0]["code"] == "not-supported"

    # every FHIR answer: a search, the capabilities, people's records, the feed; and the registry's batch
    xml = {"Accept": "application/fhir+xml"}
    citizen, person = await make_citizen(uow)
    for path, headers in [
        ("/fhir/r4/Location", {}),
        ("/fhir/r4/metadata", {}),
        (f"/fhir/r4/Patient/{person.id}", token_for(citizen)),
        ("/fhir/r4/$bulk-publish", {}),
        ("/fhir/r4/bulk/Location", {}),
    ]:
        assert (await client.get(path, headers=headers)).status_code == 200, path
        assert valid(await client.get(path, headers=headers | xml), status=406)["resourceType"] == "OperationOutcome"
    ndjson = await client.get("/fhir/r4/bulk/Location", headers={"Accept": "application/fhir+ndjson"})
    assert (ndjson.status_code, ndjson.headers["vary"]) == (200, "Accept")
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    today = soon(0).astimezone(CAN_THO).date().isoformat()
    days = {"date_from": today, "date_to": today}
    registry = "/api/v1/registry/immunizations"
    assert (await client.get(registry, params=days, headers=admin)).status_code == 200
    assert (await client.get(registry, params=days, headers=admin | xml)).status_code == 406

    # _format is no search parameter of a resource's: kept in the links, and taken under strict handling
    strict = {"Prefer": "handling=strict"}
    bundle = valid(await client.get("/fhir/r4/Location", params={"_format": "json", "_count": "1"}, headers=strict))
    assert "_format=json" in bundle["link"][0]["url"]
