"""The nurse's page at the door over HTTP: staff sign in on a page, the scanner's reading (or the code typed by hand)
checks a booking in through the API's own use case, refusals are said in large type, other clinics stay closed, and
today's list follows; then the evidence, the dose from a lot of the clinic's stock, a reaction, or a visit closed.
The camera itself is driven in a real Chromium (tests/e2e/test_journeys_browser.py)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from uuid import UUID, uuid4

import asyncpg
import httpx

from clinics.models import ServiceKind
from tests.conftest import RecordingOtpSender
from tests.factories import (
    STAFF_PASSWORD,
    citizen_headers,
    consent,
    declare,
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    make_staff,
    person_details,
    soon,
    staff_headers,
    token_for,
)
from tests.integration.priority.test_priority_api import PREGNANT_FROM_13_WEEKS, held_back_days_ago, make_group
from tests.integration.web.test_pages import csrf_of, once_of, signed_in_citizen
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork
from web.text import WORDS


def shown(page: httpx.Response) -> str:
    """What a page shows: its text without its tags (the addresses of its forms aside)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


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
    assert 'class="answer ok"' in scanned.text, "green: checked in now"
    assert WORDS["checked_in"].vi in scanned.text
    assert "<html" not in scanned.text, "htmx gets the answer alone"
    assert scanned.headers["hx-trigger"] == "checked-in"
    again = await client.post(
        f"/door/{here.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)}, headers=htmx
    )
    assert 'data-answer="ok"' in again.text, "scanned again: the booking as it stands, to go on from there"
    assert nurse in again.text, "who checked it in, and when"
    assert "Đã tiếp đón lúc " in shown(again), "in the door's own word for it"
    assert 'class="answer earlier"' in again.text, "amber: checked in before this scan"
    assert WORDS["checked_in_earlier"].vi in again.text
    assert "check-in" not in shown(again).lower(), "the word the heading uses (tiếp đón), not the API's"
    next_steps = re.compile(r'action="(/door/[^"]+/bookings/[^"]+)"')
    assert next_steps.findall(scanned.text), "the first scan offers the next step"
    assert next_steps.findall(again.text) == next_steps.findall(scanned.text), "and so does the second"
    assert "hx-trigger" not in again.headers, "nothing changed"
    today = await client.get(f"/door/{here.id}/today", headers=htmx)
    assert WORDS["status_checked_in"].vi in today.text

    # another clinic's code at this door, a code that is not ours, a typed code with the wrong digits
    for qr in (far["qr"], "not-a-code", mai["qr"][:-4] + "AAAA"):
        refused = await client.post(
            f"/door/{here.id}/check-in", data={"qr": qr, "_csrf_token": csrf_of(door)}, headers=htmx
        )
        assert refused.status_code == 200
        assert 'data-answer="refused"' in refused.text, qr
        if qr == far["qr"]:
            assert "Lịch hẹn này ở Bệnh viện khác, lúc" in refused.text, "the QR says where to go, as the code does"
    typed = {"code": other["code"], "cccd_last4": "0000", "_csrf_token": csrf_of(door)}
    if other["cccd"].endswith("0000"):
        typed["cccd_last4"] = "1111"
    refused = await client.post(f"/door/{here.id}/check-in", data=typed, headers=htmx)
    assert 'data-answer="refused"' in refused.text
    whole = await client.post(f"/door/{here.id}/check-in", data=typed)
    assert 'data-answer="refused"' in whole.text
    assert f'value="{other["code"]}"' in whole.text, "without htmx the page comes anew, with the code as typed"
    assert f'value="{typed["cccd_last4"]}"' in whole.text, "and the digits, to mend rather than type it all again"
    typed["cccd_last4"] = other["cccd"][-4:]
    sent = await client.post(f"/door/{here.id}/check-in", data=typed)
    # without htmx: the answer on a page of its own (a reload, or back, posts nothing again)
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/door/{here.id}?booking={other['id']}&done=checked-in"
    by_hand = await client.get(sent.headers["location"])
    assert 'data-answer="ok"' in by_hand.text
    assert "<html" in by_hand.text, "without htmx: the whole page"
    sent_again = await client.post(f"/door/{here.id}/check-in", data=typed)
    assert sent_again.headers["location"] == f"/door/{here.id}?booking={other['id']}&done=checked-in-earlier"
    assert WORDS["checked_in_earlier"].vi in (await client.get(sent_again.headers["location"])).text
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


async def test_after_the_scan_the_nurse_sees_the_evidence_gives_the_dose_from_a_lot_and_reports_a_reaction(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    group = await make_group(client, admin, PREGNANT_FROM_13_WEEKS)
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.5))
    await held_back_days_ago(uow, slot, (group, 2, soon(-1)))
    lot_number = await db.fetchval(
        "SELECT l.lot_number FROM clinic_stock s JOIN vaccine_lots l ON l.id = s.lot_id WHERE s.clinic_id = $1",
        clinic.id,
    )
    booked = []
    for name in ("Phạm Thị Lan", "Đỗ Thị Hoa"):
        citizen, person = await make_citizen(uow, full_name=name, sex="female", date_of_birth=date(1995, 1, 1))
        await declare(uow, person.id, last_period=(slot.starts_at - timedelta(weeks=20)).date())
        made = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert made.json()["reserved_seat"] is True
        booked.append((made.json(), person))
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    htmx = {"HX-Request": "true"}

    async def send(path: str, **fields: str) -> httpx.Response:
        sent = await client.post(path, data=fields | {"_csrf_token": csrf_of(door)}, headers=htmx)
        assert sent.status_code == 200, sent.text
        return sent

    (first, lan), (second, hoa) = booked
    scanned = await send(f"/door/{clinic.id}/check-in", code=first["code"], cccd_last4=lan.cccd[-4:])  # type: ignore[index]
    assert WORDS["check_evidence"].vi in scanned.text
    assert f"<strong>{WORDS['dose_n'].vi.format(n=1)}</strong>" in scanned.text, "which dose of the series"
    assert WORDS["weeks_pregnant"].vi.format(n=20) in scanned.text, "what was declared, in weeks on the day"
    steps = f"/door/{clinic.id}/bookings/{first['id']}"
    assert f'action="{steps}/evidence"' in scanned.text
    assert f"{steps}/dose" not in scanned.text, "no dose form before the evidence is seen"
    early = await send(f"{steps}/dose", lot_id=str(uuid4()), injection_site="left_arm")
    assert 'data-answer="refused"' in early.text, "the use case refuses a dose before the evidence, whatever is sent"

    seen = await send(f"{steps}/evidence", seen="yes")
    assert WORDS["evidence_seen"].vi in seen.text
    assert '<p class="answer-name">Phạm Thị Lan</p>' in seen.text, "whose evidence it was"
    lot_id = re.search(r'<option value="([0-9a-f-]{36})">' + re.escape(lot_number), seen.text)
    assert lot_id, "the dose form offers the clinic's lot"
    no_such_lot = await send(f"{steps}/dose", lot_id=str(uuid4()), injection_site="left_arm")
    why = re.search(r'<p class="answer-why">([^<]*)</p>', no_such_lot.text)
    assert why, "a lot that is none of the clinic's is refused in words"
    assert len(set(why.group(1).split("; "))) == len(why.group(1).split("; ")), f"said twice: {why.group(1)}"
    assert f'action="{steps}/dose"' in no_such_lot.text, "the dose form stays for another try"
    given = await send(f"{steps}/dose", lot_id=lot_id.group(1), injection_site="left_arm")
    assert lot_number in given.text
    assert f'action="{steps}/reaction"' in given.text
    # whose dose it was, by name (the nurse has a queue), and until when to watch them, said once
    assert '<p class="answer-name">Phạm Thị Lan</p>' in given.text
    until = await db.fetchval(
        "SELECT to_char(observe_until AT TIME ZONE 'Asia/Ho_Chi_Minh', 'HH24:MI') FROM vaccinations "
        "WHERE booking_id = $1",
        UUID(first["id"]),
    )
    assert shown(given).count(until) == 1, shown(given)
    assert WORDS["observe_until"].vi.format(until=until) in shown(given)
    tapped_twice = await send(f"{steps}/dose", lot_id=lot_id.group(1), injection_site="left_arm")
    assert lot_number in tapped_twice.text, "a second tap: the dose as recorded"
    assert f'action="{steps}/reaction"' in tapped_twice.text, "and observation goes on"
    scanned_after = await send(f"/door/{clinic.id}/check-in", code=first["code"], cccd_last4=lan.cccd[-4:])  # type: ignore[index]
    assert lot_number in scanned_after.text, "scanned again after the dose: the dose as recorded"
    assert WORDS["done_earlier"].vi in scanned_after.text, "headed as done, not as a check-in"
    assert WORDS["checked_in"].vi + "<" not in scanned_after.text
    assert f'action="{steps}/reaction"' in scanned_after.text, "and the reaction form while observation lasts"
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", UUID(first["id"])) == "completed"
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE clinic_id = $1", clinic.id) == 1
    vague = await send(f"{steps}/reaction", severity="severe", outcome="recovering", description="  ")
    assert 'data-answer="refused"' not in vague.text, "a red NOT DONE right after a dose would read as the dose's"
    assert '<p class="answer-name">Phạm Thị Lan</p>' in vague.text, "whose dose, still"
    assert lot_number in vague.text, "the dose stays said as recorded"
    assert f'action="{steps}/reaction"' in vague.text, "the form stays for another try"
    assert 'aria-describedby="description-error"' in vague.text, "with the field left empty marked"
    assert "Hãy điền hoặc chọn mục này" in vague.text
    assert 'value="severe" selected' in vague.text, "and what was chosen kept"
    reaction = {"severity": "severe", "outcome": "hospitalised", "serious": "yes", "description": "Khó thở, mẩn đỏ"}
    reads = "SELECT count(*) FROM audit_log WHERE action = 'booking.read_at_the_door' AND object_id = $1"
    read_before = await db.fetchval(reads, first["id"])
    assert read_before >= 1, "the scan after the dose was a reading at the door"
    reported = await send(f"{steps}/reaction", **reaction, once=once_of(given))
    assert WORDS["reaction_recorded_serious"].vi in reported.text, "a serious one: reported to the department"
    assert await db.fetchval(reads, first["id"]) == read_before, "naming the person records no scan that never was"
    assert '<p class="answer-name">Phạm Thị Lan</p>' in reported.text
    pressed_again = await send(f"{steps}/reaction", **reaction, once=once_of(given))  # the same form, a second tap
    assert WORDS["reaction_recorded_serious"].vi in pressed_again.text
    assert await db.fetchval("SELECT count(*) FROM adverse_events WHERE booking_id = $1", UUID(first["id"])) == 1
    # without scripts: the page after it says the same, and the address says nothing of what was reported
    fields = reaction | {"once": once_of(given), "_csrf_token": csrf_of(door)}
    no_script = await client.post(f"{steps}/reaction", data=fields)
    assert no_script.headers["location"] == f"/door/{clinic.id}?booking={first['id']}&done=reaction"
    assert WORDS["reaction_recorded_serious"].vi in (await client.get(no_script.headers["location"])).text
    serious = await client.get("/api/v1/adverse-events", params={"serious": "true"}, headers=admin)
    assert [e["event"]["booking_id"] for e in serious.json()["items"]] == [first["id"]]
    department = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with department:
        await staff_signed_in(department, await make_staff(uow, Role.HEALTH_ADMIN))
        follow_up = await department.get("/department/reactions")
    assert follow_up.status_code == 200
    assert "Khó thở, mẩn đỏ" in follow_up.text, "the department sees it to follow up"
    assert lot_number in follow_up.text

    # no evidence for a seat the group gave: no dose today, the seat goes back
    await send(f"/door/{clinic.id}/check-in", code=second["code"], cccd_last4=hoa.cccd[-4:])  # type: ignore[index]
    refused = await send(f"/door/{clinic.id}/bookings/{second['id']}/evidence", seen="no")
    assert WORDS["evidence_missing_not_eligible"].vi in refused.text
    assert '<p class="answer-name">Đỗ Thị Hoa</p>' in refused.text
    assert await db.fetchval("SELECT doses FROM clinic_stock WHERE clinic_id = $1", clinic.id) == 1


async def test_a_health_service_visit_is_closed_from_the_door(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.25))
    mai = await a_booking(client, otp_sender.codes, "0913000009", str(slot.id))
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    # without scripts each form ends on a page of its own (303), never on the address it posted to
    sent = await client.post(f"/door/{clinic.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)})
    assert sent.status_code == 303
    scanned = await client.get(sent.headers["location"])
    steps = f"/door/{clinic.id}/bookings/{mai['id']}"
    assert 'data-answer="ok"' in scanned.text
    assert f'action="{steps}/visit"' in scanned.text
    assert f"{steps}/dose" not in scanned.text
    sent = await client.post(f"{steps}/visit", data={"_csrf_token": csrf_of(door)})
    assert (sent.status_code, sent.headers["location"]) == (303, f"/door/{clinic.id}?booking={mai['id']}&done=visit")
    done = await client.get(sent.headers["location"])
    assert WORDS["visit_done"].vi in done.text
    assert '<p class="answer-name">Lê Thị Mai</p>' in done.text, "whose visit it was"
    again = await client.post(f"{steps}/visit", data={"_csrf_token": csrf_of(door)})
    assert 'data-answer="refused"' in again.text


async def test_signing_out_ends_the_session_on_the_server_a_copied_cookie_opens_nothing(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A shared computer at the clinic: after "Đăng xuất", a copy of the session cookie no longer opens the door's
    list of names, dates of birth and codes."""
    clinic = await make_clinic(uow)
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    copied = client.cookies["session"]
    door = await client.get(f"/door/{clinic.id}")
    assert door.status_code == 200
    mine = await client.get("/me")  # a citizen's page: the nurse goes back to her own, not to a phone sign-in
    assert (mine.status_code, mine.headers["location"]) == (303, "/door")
    signed_out = await client.post("/signout", data={"_csrf_token": csrf_of(door)})
    assert signed_out.status_code == 303
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'staff.sign_out'") == 1
    thief = httpx.AsyncClient(transport=client._transport, base_url=client.base_url, cookies={"session": copied})
    async with thief:
        again = await thief.get(f"/door/{clinic.id}")
    assert (again.status_code, again.headers["location"]) == (303, f"/staff/signin?next=/door/{clinic.id}")


async def test_a_person_checked_in_who_gets_no_dose_today_is_ended_from_the_door(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    """They left, or were not well enough: the nurse ends the check-in, the booking ends, and they may book again
    (it no longer stands "checked in" all day)."""
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.25))
    mai = await a_booking(client, otp_sender.codes, "0913000010", str(slot.id))
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    htmx = {"HX-Request": "true"}
    scanned = await client.post(
        f"/door/{clinic.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)}, headers=htmx
    )
    steps = f"/door/{clinic.id}/bookings/{mai['id']}"
    assert f'action="{steps}/dose"' in scanned.text
    assert f'action="{steps}/no-dose"' in scanned.text, "beside the dose, a way to end it without one"
    ended = await client.post(f"{steps}/no-dose", data={"_csrf_token": csrf_of(door)}, headers=htmx)
    assert WORDS["no_dose_done"].vi in ended.text
    assert '<p class="answer-name">Lê Thị Mai</p>' in ended.text
    assert ended.headers["hx-trigger"] == "checked-in", "today's list refreshes"
    booking = await db.fetchrow("SELECT status, person_id FROM bookings WHERE id = $1::uuid", mai["id"])
    assert booking["status"] == "no_show"
    assert await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", booking["person_id"]) == 0
    today = await client.get(f"/door/{clinic.id}/today", headers={"HX-Request": "true"})
    assert WORDS["status_left_without_dose"].vi in today.text, "she came: the list does not say she did not"
    assert WORDS["status_no_show"].vi not in today.text
    # pressed again, or without scripts: said as the booking stands
    again = await client.post(f"{steps}/no-dose", data={"_csrf_token": csrf_of(door)}, headers=htmx)
    assert 'data-answer="refused"' in again.text
    page = await client.get(f"/door/{clinic.id}?booking={mai['id']}&done=no-dose")
    assert WORDS["no_dose_done"].vi in page.text


async def test_a_health_officer_at_the_door_names_the_nurse_who_gave_the_dose(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    """The record says who gave each dose: an officer recording one at the door picks the clinic's nurse who gave
    it (one of that clinic's working staff, by name), and is refused without one."""
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2, starts_at=soon(0.25))
    mai = await a_booking(client, otp_sender.codes, "0913000020", str(slot.id))
    nurse = await make_staff(uow, Role.CLINIC_STAFF, [clinic.id])
    nurse_id = await db.fetchval("SELECT id FROM staff_accounts WHERE username = $1", nurse)
    elsewhere = await make_staff(uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    await staff_signed_in(client, await make_staff(uow, Role.HEALTH_ADMIN))
    door = await client.get(f"/door/{clinic.id}")
    htmx = {"HX-Request": "true"}
    scanned = await client.post(
        f"/door/{clinic.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)}, headers=htmx
    )
    assert 'name="vaccinator_id"' in scanned.text, "the officer names who gave it"
    assert f'<option value="{nurse_id}">' in scanned.text
    assert elsewhere not in scanned.text, "another clinic's nurse is not offered"
    lot_id = re.search(r'<select id="lot_id" name="lot_id" required>\s*<option value="([0-9a-f-]{36})"', scanned.text)
    assert lot_id
    steps = f"/door/{clinic.id}/bookings/{mai['id']}"
    dose = {"lot_id": lot_id.group(1), "injection_site": "left_arm", "_csrf_token": csrf_of(door)}
    unnamed = await client.post(f"{steps}/dose", data=dose, headers=htmx)
    assert 'data-answer="refused"' in unnamed.text
    assert 'name="vaccinator_id"' in unnamed.text, "the form stays, to name the nurse"
    assert await db.fetchval("SELECT count(*) FROM vaccinations") == 0
    given = await client.post(f"{steps}/dose", data=dose | {"vaccinator_id": str(nurse_id)}, headers=htmx)
    assert 'data-answer="refused"' not in given.text, given.text
    assert await db.fetchval("SELECT vaccinator_id FROM vaccinations") == nurse_id


async def test_each_row_of_today_s_list_opens_its_booking_at_the_door_for_staff_of_that_clinic_only(
    client: httpx.AsyncClient, uow: UnitOfWork, otp_sender: RecordingOtpSender
) -> None:
    """The nurse opens a person already checked in again from today's list (a reaction, the dose, something to
    correct), by the booking's id alone; one not checked in yet opens with its code typed, the proof still to ask."""
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=3, starts_at=soon(0.25))
    mai = await a_booking(client, otp_sender.codes, "0913000030", str(slot.id))
    later = await a_booking(client, otp_sender.codes, "0913000031", str(slot.id))
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [clinic.id]))
    door = await client.get(f"/door/{clinic.id}")
    sent = await client.post(f"/door/{clinic.id}/check-in", data={"qr": mai["qr"], "_csrf_token": csrf_of(door)})
    assert sent.status_code == 303

    today = await client.get(f"/door/{clinic.id}/today", headers={"HX-Request": "true"})
    links = re.findall(r'<a href="([^"]+)">', today.text)
    opened_mai, opened_later = f"/door/{clinic.id}?booking={mai['id']}", f"/door/{clinic.id}?booking={later['id']}"
    assert sorted(links) == sorted([opened_mai, opened_later]), "every row, checked in or not, by its ids only"
    assert opened_mai in (await client.get(f"/door/{clinic.id}")).text, "the whole door page's list too"
    # the list's own address, opened in the browser (a bookmark, a reload of it): the door page around the list
    alone = await client.get(f"/door/{clinic.id}/today")
    assert alone.status_code == 200
    assert "<html" in alone.text
    assert 'name="qr"' in alone.text, "the door's scan form with it"
    assert opened_mai in alone.text

    again = await client.get(opened_mai)
    assert again.status_code == 200
    assert 'data-answer="ok"' in again.text
    assert 'class="answer earlier"' in again.text, "as a second scan shows it"
    assert WORDS["checked_in_earlier"].vi in again.text
    assert '<p class="answer-name">Lê Thị Mai</p>' in again.text
    assert f'action="/door/{clinic.id}/bookings/{mai["id"]}/dose"' in again.text, "the next step, to go on"
    waiting = await client.get(opened_later)
    assert waiting.status_code == 200
    assert 'data-answer="ok"' not in waiting.text, "not checked in: nothing done to it"
    assert f'value="{later["code"]}"' in waiting.text, "its code typed, the CCCD or date of birth still to ask"
    assert re.search(r'<input id="cccd_last4"[^>]* autofocus>', waiting.text), "the nurse types the proof next"

    # another clinic's nurse: the same addresses open nothing of it
    client.cookies.clear()
    await staff_signed_in(client, await make_staff(uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id]))
    for address in (opened_mai, opened_later):
        shut = await client.get(address)
        assert shut.status_code == 403, address
        assert "Lê Thị Mai" not in shut.text
        assert later["code"] not in shut.text
