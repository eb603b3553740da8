"""The nurse's page at the door over HTTP: staff sign in on a page, the scanner's reading (or the code typed by hand)
checks a booking in through the API's own use case, refusals are said in large type, other clinics stay closed, and
today's list follows. The camera itself is driven in a real Chromium (tests/e2e/test_door_browser.py)."""

from __future__ import annotations

import httpx

from tests.conftest import RecordingOtpSender
from tests.factories import (
    STAFF_PASSWORD,
    citizen_headers,
    consent,
    make_clinic,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
)
from tests.integration.web.test_pages import csrf_of, signed_in_citizen
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


async def staff_signed_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    form = await client.get("/staff/signin?next=/door")
    signed = await client.post(
        "/staff/signin",
        data={"username": username, "password": STAFF_PASSWORD, "next": "/door", "_csrf_token": csrf_of(form)},
    )
    assert signed.status_code == 303, signed.text
    return signed


async def a_booking(client: httpx.AsyncClient, codes: dict[str, str], phone: str, slot_id: str) -> dict[str, str]:
    """A citizen's booking through the API, with the QR text the slip carries."""
    bearer = await citizen_headers(client, codes, phone)
    profile = person_details(full_name="Lê Thị Mai") | {"consent": consent()}
    assert (await client.put("/api/v1/me/profile", json=profile, headers=bearer)).status_code == 200
    booked = await client.post("/api/v1/bookings", json={"slot_id": slot_id}, headers=bearer)
    assert booked.status_code == 201, booked.text
    qr = await client.get(f"/api/v1/bookings/{booked.json()['id']}/qr", params={"format": "text"}, headers=bearer)
    return booked.json() | {"qr": qr.text, "cccd": profile["cccd"]}


async def test_the_nurse_checks_in_by_scan_and_by_hand_and_sees_today_s_list(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    codes = otp_sender.codes
    here, there = await make_clinic(uow), await make_clinic(uow, name="Bệnh viện khác")
    service = await make_service(uow)
    now_slot = await make_slot(uow, here, service, capacity=5, starts_at=soon(0.25))
    elsewhere = await make_slot(uow, there, service, capacity=5, starts_at=soon(0.25))
    mai = await a_booking(client, codes, "0913000001", str(now_slot.id))
    other = await a_booking(client, codes, "0913000002", str(now_slot.id))
    far = await a_booking(client, codes, "0913000003", str(elsewhere.id))

    assert (await client.get("/door")).headers["location"] == "/staff/signin?next=/door"
    form = await client.get("/staff/signin")
    wrong = await client.post(
        "/staff/signin", data={"username": "nobody", "password": "wrong", "_csrf_token": csrf_of(form)}
    )
    assert wrong.status_code == 200
    assert 'role="alert"' in wrong.text
    nurse = await make_staff(uow, Role.CLINIC_STAFF, [here.id])
    signed = await staff_signed_in(client, nurse)
    assert signed.headers["location"] == "/door"
    assert (await client.get("/door")).headers["location"] == f"/door/{here.id}", "one clinic: straight to its door"
    door = await client.get(f"/door/{here.id}")
    assert door.status_code == 200
    assert "'wasm-unsafe-eval'" in door.headers["content-security-policy"]
    assert "Lê Thị Mai" in door.text, "today's list"

    htmx = {"HX-Request": "true"}
    scanned = await client.post(
        f"/door/{here.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)}, headers=htmx
    )
    assert scanned.status_code == 200
    assert 'data-answer="ok"' in scanned.text
    assert "Lê Thị Mai" in scanned.text
    assert "<html" not in scanned.text, "htmx gets the answer alone"
    assert scanned.headers["hx-trigger"] == "checked-in"
    again = await client.post(
        f"/door/{here.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)}, headers=htmx
    )
    assert 'data-answer="refused"' in again.text, "already checked in"
    assert nurse in again.text, "by whom"
    today = await client.get(f"/door/{here.id}/today")
    assert WORDS["status_checked_in"].vi in today.text

    # another clinic's code at this door, a code that is not ours, a typed code with the wrong digits
    for qr in (far["qr"], "not-a-code", mai["qr"][:-4] + "AAAA"):
        refused = await client.post(
            f"/door/{here.id}/check-in", data={"qr": qr, "_csrf_token": csrf_of(door)}, headers=htmx
        )
        assert refused.status_code == 200
        assert 'data-answer="refused"' in refused.text, qr
    typed = {"code": other["code"], "cccd_last4": "0000", "_csrf_token": csrf_of(door)}
    if other["cccd"].endswith("0000"):
        typed["cccd_last4"] = "1111"
    refused = await client.post(f"/door/{here.id}/check-in", data=typed, headers=htmx)
    assert 'data-answer="refused"' in refused.text
    typed["cccd_last4"] = other["cccd"][-4:]
    by_hand = await client.post(f"/door/{here.id}/check-in", data=typed)
    assert 'data-answer="ok"' in by_hand.text
    assert "<html" in by_hand.text, "without htmx: the whole page"
    nothing = await client.post(f"/door/{here.id}/check-in", data={"_csrf_token": csrf_of(door)}, headers=htmx)
    assert 'data-answer="refused"' in nothing.text

    # the other clinic's door stays shut to this nurse, and its bookings are untouched
    shut = await client.get(f"/door/{there.id}")
    assert shut.status_code == 403
    refused = await client.post(f"/door/{there.id}/check-in", data={"qr": far["qr"], "_csrf_token": csrf_of(door)})
    assert refused.status_code == 403
    async with uow.transaction() as conn:
        assert await conn.fetchval("SELECT checked_in_at FROM bookings WHERE id = $1", far["id"]) is None

    # the door takes no citizen: their session is sent to the staff sign-in
    client.cookies.clear()
    await signed_in_citizen(client, otp_sender, "0913000004")
    assert (await client.get(f"/door/{here.id}")).headers["location"] == f"/staff/signin?next=/door/{here.id}"
