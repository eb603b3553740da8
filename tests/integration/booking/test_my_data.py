"""A citizen's rights over their data: export everything held about the account and its people (and nothing about
anyone else), and erase it on request, keeping what medical records need."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.conftest import RecordingOtpSender
from tests.factories import (
    citizen_headers,
    consent,
    declare,
    due_date_for,
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient


async def test_the_export_holds_the_account_and_its_people_and_nobody_else(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(0.5))
    citizen, me = await make_citizen(uow, full_name="Phạm Thị Lan")
    son = await make_dependent(
        uow, citizen, full_name="Phạm Minh Tú", cccd=None, date_of_birth=date(2015, 4, 4), relation="child"
    )
    await declare(uow, me.id, due_date=due_date_for(20, slot.starts_at.date()))
    stranger, them = await make_citizen(uow, full_name="Người Lạ")
    for who, person in ((citizen, son.id), (stranger, None)):
        body = {"slot_id": str(slot.id)} | ({"person_id": str(person)} if person else {})
        booked = await client.post("/api/v1/bookings", json=body, headers=token_for(who))
        assert booked.status_code == 201
        # each rated the visit (rows as a rating of a visit done writes them), with words of their own
        await db.execute(
            "INSERT INTO visit_ratings (clinic_id, booking_id, rating, comment, rated_by, rated_at)"
            " VALUES ($1, $2, $3, $4, $5, now())",
            clinic.id,
            UUID(booked.json()["id"]),
            4 if person else 1,
            "Chờ lâu nhưng chu đáo" if person else "Lời của người lạ",
            who.id,
        )
    exported = await client.get("/api/v1/me/export", headers=token_for(citizen))
    assert exported.status_code == 200, exported.text
    assert exported.headers["cache-control"] == "no-store"
    assert exported.headers["content-disposition"].startswith('attachment; filename="vaxbook-my-data-')
    data = exported.json()
    assert data["phone"] == await db.fetchval("SELECT phone FROM citizens WHERE id = $1", citizen.id)
    people = {p["person"]["full_name"]: p for p in data["people"]}
    assert set(people) == {"Phạm Thị Lan", "Phạm Minh Tú"}
    assert people["Phạm Thị Lan"]["declarations"]["due_date"] is not None
    assert [b["person_id"] for b in people["Phạm Minh Tú"]["bookings"]] == [str(son.id)]
    assert people["Phạm Minh Tú"]["person"]["relation"] == "child"
    [rating] = people["Phạm Minh Tú"]["ratings"]
    assert (rating["rating"], rating["comment"]) == (4, "Chờ lâu nhưng chu đáo"), "what they wrote is theirs to take"
    assert people["Phạm Thị Lan"]["ratings"] == []
    assert "Người Lạ" not in exported.text
    assert "Lời của người lạ" not in exported.text
    assert str(them.id) not in exported.text
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'account.export'") == 1


async def test_erasure_keeps_the_medical_record_under_no_name(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(0.5))
    later = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(24 * 40))
    citizen, me = await make_citizen(uow, full_name="Võ Thị Hằng")
    mother = await make_dependent(
        uow, citizen, full_name="Võ Thị Mẹ", relation="parent", date_of_birth=date(1950, 1, 1)
    )
    await declare(uow, me.id, health_worker=True)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    scan = {"code": booked.json()["code"], "cccd_last4": me.cccd[-4:]}  # type: ignore[index]
    checked = await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins", json=scan, headers=staff | {"Idempotency-Key": "door-1"}
    )
    assert checked.json()["person_name"] == "Võ Thị Hằng"
    lot = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    dose = await client.post(
        f"/api/v1/clinics/{clinic.id}/bookings/{booked.json()['id']}/vaccination",
        json={"lot_id": str(lot), "injection_site": "left_arm"},
        headers=staff,
    )
    assert dose.status_code == 201, dose.text
    open_booking = await client.post(
        "/api/v1/bookings", json={"slot_id": str(later.id), "person_id": str(mother.id)}, headers=token_for(citizen)
    )
    refused = await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=token_for(citizen))
    assert (refused.status_code, refused.json()["type"]) == (409, "/problems/open-bookings")
    assert (await client.post("/api/v1/me/erasure", json={}, headers=token_for(citizen))).status_code == 422
    assert await db.fetchval("SELECT count(*) FROM people WHERE erased_at IS NOT NULL") == 0

    await client.post(f"/api/v1/bookings/{open_booking.json()['id']}/cancel", headers=token_for(citizen))
    erased = await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=token_for(citizen))
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"people_erased": 2}
    people = await db.fetch("SELECT full_name, cccd, district, ward, account_id, date_of_birth FROM people")
    assert {p["full_name"] for p in people} == {"-"}
    assert all(p["cccd"] is None and p["account_id"] is None and p["ward"] == "-" for p in people)
    assert {p["date_of_birth"] for p in people} == {me.date_of_birth, date(1950, 1, 1)}
    assert await db.fetchval("SELECT phone FROM citizens WHERE id = $1", citizen.id) is None
    assert await db.fetchval("SELECT count(*) FROM person_declarations") == 0
    # what the medical record and the department's counts need stays
    assert await db.fetchval("SELECT count(*) FROM vaccinations") == 1
    assert await db.fetchval("SELECT count(*) FROM bookings") == 2
    for name in ("Võ Thị Hằng", "Võ Thị Mẹ"):
        assert await db.fetchval("SELECT count(*) FROM people WHERE full_name = $1", name) == 0
    audit = await db.fetchval("SELECT details FROM audit_log WHERE action = 'account.erase'")
    assert "Võ" not in audit
    # a check-in answer kept for a retried scan named her: it is gone too
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE response::text LIKE '%Võ%'") == 0
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'door-1'") == 0
    # the old token cannot bring the account back to life, nor read anything of it
    for method, url, body in (
        ("GET", "/api/v1/me/export", None),
        ("GET", "/api/v1/me/profile", None),
        ("PUT", "/api/v1/me/profile", person_details() | {"consent": consent()}),
    ):
        gone = await client.request(method, url, json=body, headers=token_for(citizen))
        assert (gone.status_code, gone.json()["type"]) == (401, "/problems/account-erased")
    assert await db.fetchval("SELECT count(*) FROM people WHERE erased_at IS NULL") == 0
    await check_invariants(db)


async def test_the_same_phone_starts_afresh_after_erasure(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    phone = "0912555010"
    first = await citizen_headers(client, otp_sender.codes, phone)
    saved = await client.put("/api/v1/me/profile", json=person_details() | {"consent": consent()}, headers=first)
    assert saved.status_code == 200, saved.text
    assert (await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=first)).status_code == 200
    second = await citizen_headers(client, otp_sender.codes, phone)
    fresh = await client.put("/api/v1/me/profile", json=person_details() | {"consent": consent()}, headers=second)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["id"] != saved.json()["id"]
    assert await db.fetchval("SELECT count(*) FROM citizens") == 2


async def test_a_sign_in_sent_again_after_erasure_signs_into_nothing(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    """The page's sign-in carries a key, and its answer (the account) is kept for a retry: once the account is
    erased, the same request under the same key is no sign-in into the erased account."""
    phone, key = "0912555020", {"Idempotency-Key": "signin-on-the-page"}
    assert (await client.post("/api/v1/auth/otp/request", json={"phone": phone})).status_code == 202
    code = otp_sender.codes["+84" + phone.lstrip("0")]
    signed = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code}, headers=key)
    assert signed.status_code == 200, signed.text
    mine = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    assert (
        await client.put("/api/v1/me/profile", json=person_details() | {"consent": consent()}, headers=mine)
    ).status_code == 200
    assert (await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=mine)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE scope LIKE 'otp:%'") == 0, "nothing kept"
    replayed = await client.post("/api/v1/auth/otp/verify", json={"phone": phone, "code": code}, headers=key)
    assert replayed.status_code == 401, "the code was spent, and the kept answer is gone with the account"


async def test_staff_find_nothing_and_write_nothing_under_an_erased_record(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """What is left of an erased record is under no name: the hotline and a counter can neither find it (by the
    name "-" and the birth date it keeps) nor write declarations onto it, nor read what it held."""
    clinic = await make_clinic(uow)
    citizen, me = await make_citizen(uow, full_name="Lê Thị Xoá")
    child = await make_dependent(uow, citizen, full_name="Lê Bé Xoá", relation="child", date_of_birth=date(2020, 3, 3))
    assert (
        await client.post("/api/v1/me/erasure", json={"confirm": True}, headers=token_for(citizen))
    ).status_code == 200
    for role, scope in ((Role.OPERATOR, []), (Role.CLINIC_STAFF, [clinic.id])):
        staff = await staff_headers(client, uow, role, scope)
        for person in (me, child):
            base = f"/api/v1/assist/people/{person.id}"
            declared = await client.put(f"{base}/declarations", json={"disability": True}, headers=staff)
            assert (declared.status_code, declared.json()["type"]) == (404, "/problems/person-not-found"), role
            for read in ("bookings", "standby"):
                gone = await client.get(f"{base}/{read}", headers=staff)
                assert (gone.status_code, gone.json()["type"]) == (404, "/problems/person-not-found"), (role, read)
            found = await client.post(
                "/api/v1/assist/people/search",
                json={"full_name": "-", "date_of_birth": person.date_of_birth.isoformat()},
                headers=staff,
            )
            assert (found.status_code, found.json()) == (200, []), role
    assert await db.fetchval("SELECT count(*) FROM person_declarations") == 0
