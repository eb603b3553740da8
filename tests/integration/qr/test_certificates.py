"""Vaccination certificates as SMART Health Cards, checked the way a verifier app would: the QR read from its
image by an independent reader, the JWS verified and inflated with joserfc and zlib (not our own code)."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import date
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from clinics.models import ServiceKind
from qr import tokens
from qr.models import QrBadSignature
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
from tests.qr_reading import the_qr_in
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings

Client = httpx.AsyncClient


def jws_of(shc: str) -> str:
    """shc:/ digits back to the JWS, as the SMART Health Cards specification describes (pairs of digits + 45)."""
    digits = shc.removeprefix("shc:/")
    return "".join(chr(int(digits[i : i + 2]) + 45) for i in range(0, len(digits), 2))


async def vaccinated(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> tuple[object, object, str]:
    product = await make_product(uow, cvx_code="208", name="Comirnaty")
    service = await make_service(uow, kind=ServiceKind.VACCINATION, product_id=product.id)
    clinic = await make_clinic(uow, name="Bệnh viện Phụ sản thành phố Cần Thơ")
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    citizen, person = await make_citizen(uow, full_name="Nguyễn Thị Hoa", date_of_birth=date(1990, 5, 17))
    booking = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))).json()
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    await client.post(
        f"/api/v1/clinics/{clinic.id}/check-ins",
        json={"code": booking["code"], "cccd_last4": person.cccd[-4:]},  # type: ignore[index]
        headers=staff,
    )
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    given = await client.post(
        f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}/vaccination",
        json={"lot_id": str(lot_id), "injection_site": "left_arm"},
        headers=staff,
    )
    assert given.status_code == 201, given.text
    return citizen, person, str(lot_id)


async def test_a_certificate_verifies_with_an_independent_jose_and_deflate_decode(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, settings: Settings
) -> None:
    citizen, person, lot_id = await vaccinated(client, uow, db)
    path = f"/api/v1/me/people/{person.id}/certificate"  # type: ignore[attr-defined]
    image = await client.get(path, headers=token_for(citizen))  # type: ignore[arg-type]
    assert image.status_code == 200, image.text
    shc = str(the_qr_in(image.content).text)
    assert shc.startswith("shc:/")

    token = jws_of(shc)
    header = jws.extract_compact(token.encode()).protected
    assert (header["alg"], header["zip"]) == ("ES256", "DEF")
    published = {k["kid"]: k for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    key = ECKey.import_key({k: published[header["kid"]][k] for k in ("kty", "crv", "x", "y")})
    # SMART Health Cards put `zip` in a JWS header, which JOSE defines only for JWE: a verifier must allow it
    registry = jws.JWSRegistry(
        header_registry={"zip": HeaderParameter("Compression", "str", required=True)}, algorithms=["ES256"]
    )
    verified = jws.deserialize_compact(token, key, registry=registry)
    claims = json.loads(zlib.decompress(verified.payload, -15))

    assert claims["iss"] == settings.public_url
    assert "https://smarthealth.cards#health-card" in claims["vc"]["type"]
    bundle = claims["vc"]["credentialSubject"]["fhirBundle"]
    patient, immunization = (e["resource"] for e in bundle["entry"])
    assert patient == {
        "resourceType": "Patient",
        "name": [{"family": "Nguyễn", "given": ["Thị", "Hoa"]}],
        "birthDate": "1990-05-17",
    }
    assert immunization["vaccineCode"]["coding"] == [{"system": "http://hl7.org/fhir/sid/cvx", "code": "208"}]
    lot_number = await db.fetchval("SELECT lot_number FROM vaccine_lots WHERE id = $1::uuid", lot_id)
    assert immunization["lotNumber"] == lot_number
    given_at = await db.fetchval("SELECT given_at FROM vaccinations")
    assert immunization["occurrenceDateTime"] == given_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert immunization["performer"][0]["actor"]["display"] == "Bệnh viện Phụ sản thành phố Cần Thơ"


async def test_the_offline_check_needs_only_the_jwks_and_notices_tampering(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, person, _ = await vaccinated(client, uow, db)
    shc = (await client.get(f"/api/v1/me/people/{person.id}/certificate?format=text", headers=token_for(citizen))).text  # type: ignore[attr-defined,arg-type]
    jwks = (await client.get("/.well-known/jwks.json")).json()["keys"]
    claims = tokens.verify_health_card(shc, jwks)
    assert claims["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["birthDate"] == "1990-05-17"
    token = jws_of(shc)
    header, _, signature = token.split(".")
    forged = zlib.compressobj(9, zlib.DEFLATED, -15)
    other = json.dumps(claims).replace("1990-05-17", "1950-05-17").encode()
    tampered_payload = base64.urlsafe_b64encode(forged.compress(other) + forged.flush()).decode().rstrip("=")
    with pytest.raises(QrBadSignature):
        tokens.verify_health_card(f"{header}.{tampered_payload}.{signature}", jwks)

    checked = await client.post("/api/v1/certificates/verify", json={"qr": shc})
    assert checked.status_code == 200
    assert (checked.json()["name"], checked.json()["doses"][0]["vaccine"]) == ("Nguyễn Thị Hoa", "208")
    for junk_text in ("shc:/123", "shc:/²²", "shc:/١٢٣٤"):  # odd, and digits to Python that are no ASCII digits
        junk = await client.post("/api/v1/certificates/verify", json={"qr": junk_text})
        assert (junk.status_code, junk.json()["type"]) == (422, "/problems/card-malformed"), junk_text


async def test_certificates_are_their_persons_only(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    _, person, _ = await vaccinated(client, uow, db)
    stranger, own = await make_citizen(uow)
    other = await client.get(f"/api/v1/me/people/{person.id}/certificate", headers=token_for(stranger))  # type: ignore[attr-defined]
    assert other.status_code == 404
    nothing = await client.get(f"/api/v1/me/people/{own.id}/certificate", headers=token_for(stranger))
    assert nothing.json()["type"] == "/problems/nothing-to-certify"
