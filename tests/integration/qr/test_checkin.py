"""Check-in at the door: the booking's own QR, read back from its image; once per booking however many scanners
see it; refusals with their own types; the fallback by code and CCCD digits; keys rotated and revoked."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from qr import service as qr
from qr import tokens
from qr.keystore import KeyFileExposed, KeyStore
from qr.models import Appointment, KeyPurpose, KeyStillActive
from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.booking.invariants import check_invariants
from tests.qr_reading import the_qr_in
from vaxbook.audit import SYSTEM
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings

Client = httpx.AsyncClient


async def booked(client: Client, uow: UnitOfWork, *, hours: float = 0.5, **details: Any) -> tuple[Principal, Any, Any]:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(hours))
    citizen, _ = await make_citizen(uow, **details)
    booking = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert booking.status_code == 201, booking.text
    return citizen, clinic, booking.json()


async def scanned(client: Client, citizen: Principal, booking_id: str) -> str:
    """The QR as a scanner sees it: the PNG the citizen's phone shows, decoded by an independent reader."""
    image = await client.get(f"/api/v1/bookings/{booking_id}/qr", headers=token_for(citizen))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    found = the_qr_in(image.content)
    assert found.ec_level == "M"
    assert int(found.extra["Version"]) <= 10
    return str(found.text)


async def check_in(client: Client, headers: dict[str, str], clinic_id: object, **body: Any) -> httpx.Response:
    return await client.post(f"/api/v1/clinics/{clinic_id}/check-ins", json=body, headers=headers)


async def test_a_scan_checks_the_booking_in_once_and_the_qr_holds_no_personal_data(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, clinic, booking = await booked(client, uow, full_name="Trần Thị Mai")
    text = await scanned(client, citizen, booking["id"])
    header, payload, _ = text.split(".")
    decoded = base64.urlsafe_b64decode(header + "==") + base64.urlsafe_b64decode(payload + "==")
    person = await db.fetchrow("SELECT full_name, cccd, date_of_birth FROM people")
    phone = await db.fetchval("SELECT phone FROM citizens")
    for secret in (person["full_name"], person["cccd"], person["date_of_birth"].isoformat(), phone, phone[-9:]):
        assert secret.encode() not in decoded
        assert secret.encode() not in text.encode()
    appointment = Appointment.unpack(base64.urlsafe_b64decode(payload + "=="))
    assert (str(appointment.booking_id), str(appointment.clinic_id)) == (booking["id"], str(clinic.id))

    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    first = await check_in(client, staff, clinic.id, qr=text)
    assert first.status_code == 200, first.text
    assert first.json()["person_name"] == "Trần Thị Mai"
    assert first.json()["booking"]["status"] == "checked_in"
    again = await check_in(client, staff, clinic.id, qr=text)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/already-checked-in"
    assert datetime.fromisoformat(again.json()["checked_in_at"]) == datetime.fromisoformat(
        first.json()["booking"]["checked_in_at"]
    )
    assert again.json()["checked_in_by"]
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.check_in'") == 1
    # checked in is still active: the person can show their code again at the vaccination table
    shown_again = await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))
    assert (shown_again.status_code, shown_again.text) == (200, text)
    await client.post(f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}/no-dose", headers=staff)
    ended = await client.get(f"/api/v1/bookings/{booking['id']}/qr", headers=token_for(citizen))
    assert (ended.status_code, ended.json()["type"], ended.json()["booking_status"]) == (
        409,
        "/problems/booking-not-active",
        "no_show",
    )
    # scanned again at the door: not "checked in already" (they left), and not a no-show (they came)
    rescanned = await check_in(client, staff, clinic.id, qr=text)
    assert (rescanned.status_code, rescanned.json()["type"], rescanned.json()["booking_status"]) == (
        409,
        "/problems/booking-not-active",
        "no_show",
    )
    assert "sau khi tiếp đón, không tiêm" in rescanned.json()["detail"], rescanned.json()


@pytest.mark.concurrency
async def test_two_scanners_at_once_check_in_exactly_once_fifty_times_over(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=50, starts_at=soon(0.5))
    scanners = [await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id]) for _ in range(2)]
    for _ in range(50):
        citizen, _ = await make_citizen(uow)
        made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        text = (
            await client.get(f"/api/v1/bookings/{made.json()['id']}/qr?format=text", headers=token_for(citizen))
        ).text
        results = await asyncio.gather(*(check_in(client, s, clinic.id, qr=text) for s in scanners))
        assert sorted(r.status_code for r in results) == [200, 409]
        assert [r.json()["type"] for r in results if r.status_code == 409] == ["/problems/already-checked-in"]
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'checked_in'") == 50
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.check_in'") == 50
    await check_invariants(db)


async def test_cancelled_and_moved_bookings_lose_their_qr(client: Client, uow: UnitOfWork) -> None:
    citizen, clinic, booking = await booked(client, uow)
    text = (await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))).text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    slots = await client.get(f"/api/v1/clinics/{clinic.id}/slots", headers=staff)
    service_id = slots.json()["items"][0]["service_id"]
    start = soon(0.75)
    other = await client.post(
        f"/api/v1/clinics/{clinic.id}/slots",
        json={
            "service_id": service_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
            "capacity": 2,
        },
        headers=staff,
    )
    moved = await client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": other.json()["id"]}, headers=token_for(citizen)
    )
    assert moved.status_code == 201
    scanned_old = await check_in(client, staff, clinic.id, qr=text)
    assert scanned_old.json()["type"] == "/problems/booking-moved"
    assert scanned_old.json()["moved_to_code"] == moved.json()["code"]
    assert scanned_old.json()["moved_to_starts_at"] == moved.json()["starts_at"]
    new_text = (
        await client.get(f"/api/v1/bookings/{moved.json()['id']}/qr?format=text", headers=token_for(citizen))
    ).text
    await client.post(f"/api/v1/bookings/{moved.json()['id']}/cancel", headers=token_for(citizen))
    cancelled = await check_in(client, staff, clinic.id, qr=new_text)
    assert (cancelled.json()["type"], cancelled.json()["booking_status"]) == (
        "/problems/booking-not-active",
        "cancelled",
    )
    assert "hủy" in cancelled.json()["detail"]


async def test_a_moved_booking_says_so_whatever_the_time(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The old code of a booking moved to a later day is scanned early, late or on time: 'moved', never 'come back
    later', and the new code is told."""
    citizen, clinic, booking = await booked(client, uow, hours=48)
    text = (await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))).text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    slots = await client.get(f"/api/v1/clinics/{clinic.id}/slots", headers=staff)
    start = soon(96)
    later = await client.post(
        f"/api/v1/clinics/{clinic.id}/slots",
        json={
            "service_id": slots.json()["items"][0]["service_id"],
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
            "capacity": 2,
        },
        headers=staff,
    )
    moved = await client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": later.json()["id"]}, headers=token_for(citizen)
    )
    assert moved.status_code == 201, moved.text
    scanned_old = await check_in(client, staff, clinic.id, qr=text)
    assert scanned_old.json()["type"] == "/problems/booking-moved", scanned_old.text
    assert moved.json()["code"] in scanned_old.json()["detail"]
    cccd = await db.fetchval(
        "SELECT p.cccd FROM people p JOIN bookings b ON b.person_id = p.id WHERE b.id = $1", UUID(booking["id"])
    )
    by_code = await check_in(client, staff, clinic.id, code=booking["code"], cccd_last4=cccd[-4:])
    assert by_code.json()["type"] == "/problems/booking-moved", by_code.text
    new_text = (
        await client.get(f"/api/v1/bookings/{moved.json()['id']}/qr?format=text", headers=token_for(citizen))
    ).text
    too_early = await check_in(client, staff, clinic.id, qr=new_text)
    assert too_early.json()["type"] == "/problems/qr-too-early"
    # the time to come back, in the clinic's own time
    assert too_early.json()["opens_at"].endswith("+07:00")


async def test_the_scan_is_for_this_clinic_and_this_time(client: Client, uow: UnitOfWork) -> None:
    citizen, clinic, booking = await booked(client, uow, hours=48)
    text = (await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))).text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    early = await check_in(client, staff, clinic.id, qr=text)
    assert (early.status_code, early.json()["type"]) == (409, "/problems/qr-too-early")
    elsewhere = await make_clinic(uow)
    their_staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [elsewhere.id])
    wrong_door = (await check_in(client, their_staff, elsewhere.id, qr=text)).json()
    assert wrong_door["type"] == "/problems/booking-at-another-clinic", "a signed QR says where to go, as its code does"
    assert wrong_door["booking_clinic"] == clinic.name
    assert (await check_in(client, their_staff, clinic.id, qr=text)).status_code == 403
    citizen_scan = await check_in(client, token_for(citizen), clinic.id, qr=text)
    assert citizen_scan.status_code == 403
    # a vaccination certificate's QR shown instead of the slip's: said as such
    card = await check_in(client, staff, clinic.id, qr="shc:/" + "5676" * 400)
    assert [(e["field"], e["code"]) for e in card.json()["errors"]] == [("qr", "health_card")]
    for junk in ("hello", "a.b.c", "x" * 2000):
        response = await check_in(client, staff, clinic.id, qr=junk)
        assert response.status_code == 422
    assert (await check_in(client, staff, clinic.id)).json()["errors"][0]["field"] == "qr", (
        "a scan or a code: the scan first"
    )


async def test_without_a_qr_the_code_and_the_cccds_last_digits_check_in(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    _, clinic, booking = await booked(client, uow)
    cccd = await db.fetchval("SELECT cccd FROM people")
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    wrong = await check_in(
        client, staff, clinic.id, code=booking["code"], cccd_last4=f"{(int(cccd[-4:]) + 1) % 10000:04d}"
    )
    assert (wrong.status_code, wrong.json()["type"]) == (404, "/problems/no-such-appointment")
    # typed as a nurse types it: lower case, no dash, spaces, a 0 read as O and a 1 as I or L (the alphabet has none)
    typed = " ".join(booking["code"].lower().replace("-", "")).replace("0", "o").replace("1", "l") + "\t\n"
    done = await check_in(client, staff, clinic.id, code=typed, cccd_last4=cccd[-4:])
    assert done.status_code == 200, (typed, done.text)
    assert done.json()["booking"]["id"] == booking["id"]
    both = await check_in(client, staff, clinic.id, qr="a.b.c", code=booking["code"], cccd_last4=cccd[-4:])
    assert both.status_code == 422


async def test_a_retired_key_still_verifies_and_a_revoked_one_does_not(
    client: Client, uow: UnitOfWork, settings: Settings
) -> None:
    citizen, clinic, booking = await booked(client, uow)
    text = (await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))).text
    store = KeyStore(settings.signing_keys_dir)
    [old_kid] = [k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"] if len(k["kid"]) == 8]
    new = await qr.rotate(uow, SYSTEM, store, KeyPurpose.APPOINTMENT, now=datetime.now(UTC))
    published = {k["kid"]: k for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new.kid} <= set(published)
    assert all(set(k) == {"kty", "crv", "x", "y", "kid", "use", "alg"} for k in published.values()), "no private part"
    path = f"/api/v1/bookings/{booking['id']}/qr?format=text"
    kept = (await client.get(path, headers=token_for(citizen))).text
    assert kept == text, "a booking's code is signed once; a retired key's code still verifies"
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    await qr.revoke(uow, SYSTEM, old_kid, now=datetime.now(UTC))
    assert (await check_in(client, staff, clinic.id, qr=text)).json()["type"] == "/problems/qr-key-revoked"
    assert old_kid not in {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    fresh = (await client.get(path, headers=token_for(citizen))).text
    assert f'"kid":"{new.kid}"'.encode() in base64.urlsafe_b64decode(fresh.split(".")[0] + "==")
    assert fresh == (await client.get(path, headers=token_for(citizen))).text
    assert (await check_in(client, staff, clinic.id, qr=fresh)).status_code == 200


async def test_a_database_restored_without_its_keys_directory_is_told_which_keys_cannot_sign(
    client: Client, uow: UnitOfWork, settings: Settings, tmp_path: Path
) -> None:
    """A backup of the database alone: the active keys are listed, their private halves are not in the (new) keys
    directory; start-up says so, by purpose and kid, rather than the door's first scan answering 503."""
    assert await qr.unsigned_purposes(uow, KeyStore(settings.signing_keys_dir)) == [], "the service's own store"
    restored = await qr.unsigned_purposes(uow, KeyStore(tmp_path / "empty"))
    assert {purpose for purpose, _ in restored} == set(KeyPurpose)
    await qr.rotate(uow, SYSTEM, KeyStore(tmp_path / "empty"), KeyPurpose.APPOINTMENT, now=datetime.now(UTC))
    assert [p for p, _ in await qr.unsigned_purposes(uow, KeyStore(tmp_path / "empty"))] == [KeyPurpose.CERTIFICATE]
    # a store opened before another worker (or process) wrote the key it lacks: not a false alarm at start-up
    opened_before = KeyStore(tmp_path / "second")
    await qr.rotate(uow, SYSTEM, KeyStore(tmp_path / "second"), KeyPurpose.CERTIFICATE, now=datetime.now(UTC))
    await qr.rotate(uow, SYSTEM, KeyStore(tmp_path / "second"), KeyPurpose.APPOINTMENT, now=datetime.now(UTC))
    assert await qr.unsigned_purposes(uow, opened_before) == []


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    path = store.add(tokens.generate_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileExposed):
        KeyStore(tmp_path)


async def test_the_booking_confirmation_points_to_its_qr(client: Client, uow: UnitOfWork) -> None:
    citizen, _, booking = await booked(client, uow)
    assert booking["qr_url"] == f"/api/v1/bookings/{booking['id']}/qr"
    assert (
        (await client.get(booking["qr_url"] + "?format=svg", headers=token_for(citizen)))
        .headers["content-type"]
        .startswith("image/svg+xml")
    )
    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(citizen))
    assert cancelled.json()["qr_url"] is None
    stranger, _ = await make_citizen(uow)
    assert (await client.get(booking["qr_url"], headers=token_for(stranger))).status_code == 404


async def test_forged_headers_are_malformed_not_errors(client: Client, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    payload = base64.urlsafe_b64encode(b"\x01" * 45).decode().rstrip("=")
    for header in (
        {"alg": "ES256", "kid": 123},
        {"alg": "ES256", "kid": "x", "crit": ["zz"]},
        {"alg": "ES256", "crit": "b64"},
    ):
        encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
        text = f"{encoded}.{payload}.AAAA"
        scan = await check_in(client, staff, clinic.id, qr=text)
        assert (scan.status_code, scan.json()["type"]) == (422, "/problems/qr-malformed"), header
        assert [(e["field"], e["code"]) for e in scan.json()["errors"]] == [("qr", "qr_malformed")], "named"
        card = await client.post("/api/v1/certificates/verify", json={"qr": text})
        assert (card.status_code, card.json()["type"]) == (422, "/problems/card-malformed"), header
        assert [e["field"] for e in card.json()["errors"]] == ["qr"]


async def test_a_retried_scan_with_its_key_gets_the_first_answer(client: Client, uow: UnitOfWork) -> None:
    citizen, clinic, booking = await booked(client, uow)
    text = (await client.get(f"/api/v1/bookings/{booking['id']}/qr?format=text", headers=token_for(citizen))).text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    keyed = {**staff, "Idempotency-Key": "scan-7f3a"}
    first = await check_in(client, keyed, clinic.id, qr=text)
    retried = await check_in(client, keyed, clinic.id, qr=text)
    assert first.status_code == retried.status_code == 200
    assert first.json() == retried.json()
    assert (await check_in(client, staff, clinic.id, qr=text)).json()["type"] == "/problems/already-checked-in"


async def test_a_code_typed_at_the_wrong_clinic_says_where_the_booking_is_and_a_moved_one_how_it_ended(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, clinic, booking = await booked(client, uow, hours=48)
    here = await make_clinic(uow, name="Trạm Y tế Xuân Khánh")
    staff_here = await staff_headers(client, uow, Role.CLINIC_STAFF, [here.id])
    cccd = await db.fetchval(
        "SELECT p.cccd FROM people p JOIN bookings b ON b.person_id = p.id WHERE b.id = $1", UUID(booking["id"])
    )
    elsewhere = await check_in(client, staff_here, here.id, code=booking["code"], cccd_last4=cccd[-4:])
    said = elsewhere.json()
    assert (elsewhere.status_code, said["type"]) == (409, "/problems/booking-at-another-clinic"), elsewhere.text
    clinic_name = await db.fetchval("SELECT name FROM clinics WHERE id = $1", clinic.id)
    assert said["booking_clinic"] == clinic_name
    assert clinic_name in said["detail"]
    wrong_digits = f"{(int(cccd[-4:]) + 1) % 10000:04d}"
    unknown = await check_in(client, staff_here, here.id, code=booking["code"], cccd_last4=wrong_digits)
    assert unknown.json()["type"] == "/problems/no-such-appointment", "without the person's proof, nothing is told"

    # moved, and the booking it went to cancelled since: the door says both
    later = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(72))
    await db.execute("UPDATE slots SET service_id = $1 WHERE id = $2", UUID(booking["service_id"]), later.id)
    moved = await client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": str(later.id)}, headers=token_for(citizen)
    )
    assert moved.status_code == 201, moved.text
    cancelled = await client.post(f"/api/v1/bookings/{moved.json()['id']}/cancel", headers=token_for(citizen))
    assert cancelled.status_code == 200
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    old_code = await check_in(client, staff, clinic.id, code=booking["code"], cccd_last4=cccd[-4:])
    assert (old_code.json()["type"], old_code.json()["moved_to_status"]) == ("/problems/booking-moved", "cancelled")
    assert "đã bị hủy" in old_code.json()["detail"]
    # at the wrong clinic, what became of it comes first: nobody is sent to a clinic for a booking that is gone
    for code, kind in (
        (booking["code"], "/problems/booking-moved"),
        (moved.json()["code"], "/problems/booking-not-active"),
    ):
        gone = await check_in(client, staff_here, here.id, code=code, cccd_last4=cccd[-4:])
        assert gone.json()["type"] == kind, gone.text
        assert "đã bị hủy" in gone.json()["detail"], "that it was cancelled, not only where it was"


async def test_a_child_without_a_cccd_checks_in_by_code_and_date_of_birth(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    parent, _ = await make_citizen(uow)
    child = await make_dependent(uow, parent, cccd=None, date_of_birth=date(2019, 3, 8), full_name="Lê Minh An")
    booking = (
        await client.post(
            "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(parent)
        )
    ).json()
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    wrong = await check_in(client, staff, clinic.id, code=booking["code"], date_of_birth="2019-03-09")
    assert wrong.json()["type"] == "/problems/no-such-appointment"
    assert "ngày sinh" in wrong.json()["detail"], "it says which proof did not match"
    both = await check_in(client, staff, clinic.id, code=booking["code"], date_of_birth="2019-03-08", cccd_last4="1234")
    assert [e["field"] for e in both.json()["errors"]] == ["date_of_birth"], "one proof too many, named"
    no_proof = await check_in(client, staff, clinic.id, code=booking["code"])
    assert [(e["field"], e["code"]) for e in no_proof.json()["errors"]] == [("cccd_last4", "one_way")], (
        "the one missing"
    )
    assert "4 số cuối CCCD" in no_proof.json()["errors"][0]["message"], "what to type, as the door says it"
    no_code = await check_in(client, staff, clinic.id, cccd_last4="1234")
    assert [e["field"] for e in no_code.json()["errors"]] == ["code"]
    nothing = await check_in(client, staff, clinic.id)
    assert [e["field"] for e in nothing.json()["errors"]] == ["qr"]
    scanned_and_typed = await check_in(client, staff, clinic.id, qr="x" * 20, code=booking["code"], cccd_last4="1234")
    assert sorted(e["field"] for e in scanned_and_typed.json()["errors"]) == ["cccd_last4", "code"]
    done = await check_in(client, staff, clinic.id, code=booking["code"], date_of_birth="2019-03-08")
    assert (done.status_code, done.json()["person_name"]) == (200, "Lê Minh An")

    # someone with a CCCD is asked for its last digits: a date of birth is easier to come by
    adult = await make_dependent(uow, parent, date_of_birth=date(1950, 1, 2), relation="parent")
    assert adult.cccd is not None
    theirs = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(adult.id)}, headers=token_for(parent)
    )
    by_birth = await check_in(client, staff, clinic.id, code=theirs.json()["code"], date_of_birth="1950-01-02")
    assert by_birth.json()["type"] == "/problems/no-such-appointment"
    assert "CCCD" not in by_birth.json()["title"], "the title says nothing of a CCCD that was not sent"
    assert "ngày sinh" in by_birth.json()["detail"]
    by_cccd = await check_in(client, staff, clinic.id, code=theirs.json()["code"], cccd_last4=adult.cccd[-4:])
    assert by_cccd.status_code == 200, by_cccd.text


async def test_keys_are_served_to_any_origin_and_the_signing_key_cannot_be_revoked(
    client: Client, uow: UnitOfWork
) -> None:
    published = await client.get("/.well-known/jwks.json")
    assert published.headers["access-control-allow-origin"] == "*"
    active = [k["kid"] for k in published.json()["keys"] if len(k["kid"]) == 8]
    with pytest.raises(KeyStillActive):
        await qr.revoke(uow, SYSTEM, active[0], now=datetime.now(UTC))
    assert len([k for k in (await client.get("/.well-known/jwks.json")).json()["keys"] if len(k["kid"]) == 8]) == 1


@pytest.mark.parametrize("then", ["no-dose", "attendance"])
async def test_a_session_in_which_someone_was_seen_is_not_called_off(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, then: str
) -> None:
    """Checked in, then sent home without a dose or seen for a visit: the session took place. Calling it off would
    mark it cancelled with its doses or visits in it, and tell those still booked that it never happened."""
    citizen, clinic, booking = await booked(client, uow)
    slot_id = booking["slot_id"]
    waiting, _ = await make_citizen(uow)
    still = await client.post("/api/v1/bookings", json={"slot_id": slot_id}, headers=token_for(waiting))
    assert still.status_code == 201, still.text
    staff = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    text = await scanned(client, citizen, booking["id"])
    assert (await check_in(client, staff, clinic.id, qr=text)).status_code == 200
    ended = await client.post(f"/api/v1/clinics/{clinic.id}/bookings/{booking['id']}/{then}", headers=staff)
    assert ended.status_code == 200, ended.text
    called = await client.post(f"/api/v1/clinics/{clinic.id}/slots/{slot_id}/call-off", headers=staff)
    assert (called.status_code, called.json()["type"]) == (409, "/problems/people-checked-in")
    assert await db.fetchval("SELECT status FROM slots WHERE id = $1", UUID(slot_id)) == "open", "nothing written"
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", UUID(still.json()["id"])) == "booked"
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE kind = 'slot_called_off'") == 0
