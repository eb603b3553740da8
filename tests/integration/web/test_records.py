"""A citizen's records on the pages: the doses given, the next dose due, the certificate (a SMART Health Card that
a reader decodes), the data as one file, and erasure, refused while a booking is open; other people's records are
not found."""

from __future__ import annotations

import json

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.factories import (
    make_citizen,
    make_clinic,
    make_product,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.qr.test_visits import checked_in, visit
from tests.integration.web.test_pages import csrf_of
from tests.qr_reading import the_qr_in
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


def sign_in_as(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The page session of a citizen: the same token the API takes as a bearer, in the session cookie."""
    client.cookies.set("session", headers["Authorization"].removeprefix("Bearer "))


async def test_the_record_shows_the_doses_the_next_due_and_a_certificate_a_reader_decodes(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, staff, citizen, booking = await checked_in(client, uow, capacity=2)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert given.status_code == 201
    sign_in_as(client, token_for(citizen))
    person_id = booking["person_id"]
    record = await client.get(f"/me/people/{person_id}/record")
    assert record.status_code == 200
    assert f'<td class="nowrap">{given.json()["lot_number"]}</td>' in record.text, "a lot number never broken"
    assert "Comirnaty" in record.text
    assert "mũi 2/2" in record.text, "the next dose of the series, and from when"
    assert 'href="/search"' in record.text, "with the way to book it"
    later = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(24 * 40))
    second = await client.post("/api/v1/bookings", json={"slot_id": str(later.id)}, headers=token_for(citizen))
    assert second.status_code == 201, second.text
    booked = await client.get(f"/me/people/{person_id}/record")
    assert f'href="/me/bookings/{second.json()["id"]}"' in booked.text, "booked already: its slip, when and where"
    assert second.json()["code"] in booked.text
    assert 'href="/search"' not in booked.text, "not a search to book it again"
    image = await client.get(f"/me/people/{person_id}/certificate.png")
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    assert the_qr_in(image.content).text.startswith("shc:/")

    exported = await client.get("/me/export.json")
    assert "attachment" in exported.headers["content-disposition"]
    assert any(p["person"]["id"] == person_id for p in json.loads(exported.content)["people"])

    stranger, _ = await make_citizen(uow)
    sign_in_as(client, token_for(stranger))
    assert (await client.get(f"/me/people/{person_id}/record")).status_code == 404
    assert (await client.get(f"/me/people/{person_id}/certificate.png")).status_code == 404


async def test_erasure_asks_for_a_tick_waits_for_open_bookings_then_erases_and_signs_out(
    client: httpx.AsyncClient, uow: UnitOfWork
) -> None:
    _, _, _, citizen, booking = await checked_in(client, uow, capacity=2, vaccination=False)
    sign_in_as(client, token_for(citizen))
    form = await client.get("/me/data")
    unticked = await client.post("/me/erasure", data={"_csrf_token": csrf_of(form)})
    assert WORDS["erase_confirm_first"].vi in unticked.text
    refused = await client.post("/me/erasure", data={"confirm": "yes", "_csrf_token": csrf_of(form)})
    assert 'role="alert"' in refused.text, "an open booking: not yet"
    assert (await client.get("/api/v1/me/profile", headers=token_for(citizen))).status_code == 200
    async with uow.transaction() as conn:
        await conn.execute("UPDATE bookings SET status = 'completed' WHERE id = $1::uuid", booking["id"])
        await conn.execute("UPDATE people SET active_bookings = 0")
    erased = await client.post("/me/erasure", data={"confirm": "yes", "_csrf_token": csrf_of(form)})
    assert erased.headers["location"] == "/erased"
    assert 'session=""' in erased.headers["set-cookie"] or "Max-Age=0" in erased.headers["set-cookie"]
    assert (await client.get("/api/v1/me/profile", headers=token_for(citizen))).status_code in (401, 404)


async def test_the_record_names_the_vaccine_in_the_readers_language(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """English pages name a vaccine by its English name where it has one, and by its registered name where not."""
    clinic = await make_clinic(uow)
    tetanus = await make_product(uow, name="VAT – Vắc xin uốn ván hấp phụ", name_en="VAT – adsorbed tetanus vaccine")
    plain = await make_product(uow, name="Vắc xin sởi MVVAC", doses_in_series=1)
    citizen, person = await make_citizen(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    for product in (tetanus, plain):
        service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=product.id)
        slot = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(0.5))
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201, booked.text
        done = await client.post(
            f"/api/v1/clinics/{clinic.id}/check-ins",
            json={"code": booked.json()["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
            headers=staff,
        )
        assert done.status_code == 200, done.text
        lot_id = await db.fetchval(
            "SELECT s.lot_id FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id"
            " WHERE s.clinic_id = $1 AND l.product_id = $2",
            clinic.id,
            product.id,
        )
        given = await client.post(
            visit(clinic, booked.json(), "vaccination"),
            json={"lot_id": str(lot_id), "injection_site": "left_arm"},
            headers=staff,
        )
        assert given.status_code == 201, given.text
    sign_in_as(client, token_for(citizen))
    record = f"/me/people/{person.id}/record"
    english = (await client.get(record, headers={"Accept-Language": "en"})).text
    vietnamese = (await client.get(record, headers={"Accept-Language": "vi"})).text
    assert english.count("VAT – adsorbed tetanus vaccine") == 2, "the dose given, and the next one due"
    assert "uốn ván" not in english
    assert english.count("Vắc xin sởi MVVAC") == 1, "no English name: the registered one (a one-dose series)"
    assert vietnamese.count("VAT – Vắc xin uốn ván hấp phụ") == 2
    assert "adsorbed" not in vietnamese
