"""Staff at a counter and hotline operators book on a citizen's behalf, within the same rules and limits."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from booking.models import CONSENT_VERSION, Booking
from booking.service import bookings
from tests.conftest import RecordingOtpSender
from tests.factories import (
    ADMIN,
    citizen_headers,
    consent,
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
from tests.integration.booking.phone_codes import phone_code
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient


async def test_a_caller_registered_by_the_hotline_later_signs_in_to_their_bookings(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    registered = await client.post(
        "/api/v1/assist/people",
        json=person_details(full_name="Võ Thị Bảy", date_of_birth=date(1952, 8, 8))
        | {"phone": "0939 111 222", "consent": consent()},
        headers=operator,
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["relation"] == "registered", "not the phone's until its owner reads the code back"
    assert registered.json()["phone_confirmation"]["phone"] == "+84939111222"
    person_id = registered.json()["id"]
    confirmed = await client.post(
        f"/api/v1/assist/people/{person_id}/phone/confirmation",
        json={"code": await phone_code(db, "+84939111222")},
        headers=operator,
    )
    assert (confirmed.status_code, confirmed.json()["relation"]) == (200, "self"), confirmed.text
    booked = await client.post(
        "/api/v1/assist/bookings",
        json={"person_id": person_id, "slot_id": str(slot.id)},
        headers={**operator, "Idempotency-Key": "call-42"},
    )
    assert booked.status_code == 201, booked.text
    staff_id = (await client.get("/api/v1/auth/me", headers=operator)).json()["id"]
    row = await db.fetchrow("SELECT booked_by_staff, booked_by_account FROM bookings")
    assert (str(row["booked_by_staff"]), row["booked_by_account"]) == (staff_id, None)
    audit = await db.fetchrow(
        "SELECT actor_kind, actor_id, details->>'person_id' AS person FROM audit_log WHERE action = 'booking.create'"
    )
    assert (audit["actor_kind"], str(audit["actor_id"]), audit["person"]) == ("staff", staff_id, person_id)

    citizen = await citizen_headers(client, otp_sender.codes, "0939111222")
    profile = await client.get("/api/v1/me/profile", headers=citizen)
    assert profile.json()["id"] == person_id
    mine = (await client.get("/api/v1/bookings", headers=citizen)).json()["items"]
    assert [b["id"] for b in mine] == [booked.json()["id"]]

    again = await client.post(
        "/api/v1/assist/people", json=person_details() | {"phone": "0939111222", "consent": consent()}, headers=operator
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/phone-has-profile"
    assert [(e["field"], e["code"]) for e in again.json()["errors"]] == [("phone", "taken")]
    assert again.json()["person_id"] == person_id


async def test_a_walk_in_without_a_phone(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    walk_in = await client.post(
        "/api/v1/assist/people", json=person_details() | {"consent": consent()}, headers=counter
    )
    assert walk_in.json()["relation"] == "registered"
    booking = await client.post(
        "/api/v1/assist/bookings", json={"person_id": walk_in.json()["id"], "slot_id": str(slot.id)}, headers=counter
    )
    assert booking.status_code == 201
    listed = await client.get(f"/api/v1/assist/people/{walk_in.json()['id']}/bookings", headers=counter)
    assert [b["id"] for b in listed.json()] == [booking.json()["id"]]
    cancelled = await client.post(f"/api/v1/assist/bookings/{booking.json()['id']}/cancel", headers=counter)
    assert cancelled.json()["status"] == "cancelled"
    assert await db.fetchval("SELECT booked FROM slots") == 0


async def test_search_by_phone_or_cccd_in_the_body_and_audited(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, me = await make_citizen(uow)
    mother = await make_dependent(
        uow, citizen, full_name="Trần Thị Út", date_of_birth=date(1950, 1, 1), relation="parent"
    )
    phone = await db.fetchval("SELECT phone FROM citizens WHERE id = $1", citizen.id)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    by_phone = await client.post("/api/v1/assist/people/search", json={"phone": phone}, headers=operator)
    assert [(p["id"], p["relation"]) for p in by_phone.json()] == [(str(me.id), "self"), (str(mother.id), "parent")]
    by_cccd = await client.post("/api/v1/assist/people/search", json={"cccd": me.cccd}, headers=operator)
    assert [p["id"] for p in by_cccd.json()] == [str(me.id)]
    nobody = await client.post("/api/v1/assist/people/search", json={"phone": "0900000001"}, headers=operator)
    assert nobody.json() == []
    searches = await db.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'people.search' AND actor_kind = 'staff'"
    )
    assert searches == 3
    trail = await db.fetchval("SELECT string_agg(details::text, ' ') FROM audit_log WHERE action = 'people.search'")
    assert phone not in trail
    assert str(me.cccd) not in trail


async def test_someone_registered_without_phone_or_cccd_is_found_by_name_and_birth_and_not_registered_twice(
    client: Client, db: asyncpg.Connection, uow: UnitOfWork
) -> None:
    """A walk-in with neither a phone nor a CCCD calls back to move their booking: the hotline finds them by name and
    date of birth, typed with or without accents; registering them again is refused, naming who is there already
    (two people with the same name and day of birth are told apart by a phone or a CCCD)."""
    operator = await staff_headers(client, uow, Role.OPERATOR)
    walk_in = person_details(full_name="Lê Văn Tám", date_of_birth=date(1950, 2, 2), cccd=None) | {
        "consent": {"accepted": True, "text_version": CONSENT_VERSION}
    }
    first = await client.post("/api/v1/assist/people", json=walk_in, headers=operator)
    assert first.status_code == 201, first.text
    for typed in ("Lê Văn Tám", "le van tam", "LÊ  VĂN   TÁM"):
        found = await client.post(
            "/api/v1/assist/people/search", json={"full_name": typed, "date_of_birth": "1950-02-02"}, headers=operator
        )
        assert [p["id"] for p in found.json()] == [first.json()["id"]], typed
    other_day = await client.post(
        "/api/v1/assist/people/search",
        json={"full_name": "Lê Văn Tám", "date_of_birth": "1950-02-03"},
        headers=operator,
    )
    assert other_day.json() == []
    half = await client.post("/api/v1/assist/people/search", json={"full_name": "Lê Văn Tám"}, headers=operator)
    assert [(e["field"], e["code"]) for e in half.json()["errors"]] == [("date_of_birth", "search_by")], (
        "the one missing"
    )
    born_only = await client.post(
        "/api/v1/assist/people/search", json={"date_of_birth": "1950-02-02"}, headers=operator
    )
    assert [e["field"] for e in born_only.json()["errors"]] == ["full_name"]
    two_ways = await client.post(
        "/api/v1/assist/people/search", json={"phone": "0912000111", "full_name": "Lê Văn Tám"}, headers=operator
    )
    assert sorted(e["field"] for e in two_ways.json()["errors"]) == ["full_name", "phone"], "those to leave out"
    nothing = await client.post("/api/v1/assist/people/search", json={}, headers=operator)
    assert [e["field"] for e in nothing.json()["errors"]] == ["phone"]

    again = await client.post("/api/v1/assist/people", json=walk_in | {"full_name": "le van tam"}, headers=operator)
    assert (again.status_code, again.json()["type"]) == (409, "/problems/registered-already")
    assert again.json()["person_ids"] == [first.json()["id"]]
    with_phone = await client.post("/api/v1/assist/people", json=walk_in | {"phone": "0912 000 111"}, headers=operator)
    assert with_phone.status_code == 201, "a phone tells a namesake apart"
    assert await db.fetchval("SELECT count(*) FROM people WHERE date_of_birth = '1950-02-02'") == 2
    # a name written with other marks is another name, and a man is not the woman of that name
    for other in ({"full_name": "Lê Văn Tâm"}, {"sex": "male"}):
        someone_else = await client.post("/api/v1/assist/people", json=walk_in | other, headers=operator)
        assert someone_else.status_code == 201, (other, someone_else.text)
    assert await db.fetchval("SELECT count(*) FROM people WHERE date_of_birth = '1950-02-02'") == 4


async def test_clinic_staff_act_at_their_own_clinic_only(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    mine, theirs = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    my_slot, their_slot = await make_slot(uow, mine, service), await make_slot(uow, theirs, service, starts_at=soon(30))
    citizen, person = await make_citizen(uow)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    refused = await client.post(
        "/api/v1/assist/bookings", json={"person_id": str(person.id), "slot_id": str(their_slot.id)}, headers=counter
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/clinic-out-of-scope"
    theirs_booking = await client.post(
        "/api/v1/bookings", json={"slot_id": str(their_slot.id)}, headers=token_for(citizen)
    )
    cancel = await client.post(f"/api/v1/assist/bookings/{theirs_booking.json()['id']}/cancel", headers=counter)
    assert cancel.status_code == 404
    move = await client.post(
        f"/api/v1/assist/bookings/{theirs_booking.json()['id']}/reschedule",
        json={"slot_id": str(my_slot.id)},
        headers=counter,
    )
    assert move.status_code == 404
    listed = await client.get(f"/api/v1/assist/people/{person.id}/bookings", headers=counter)
    assert listed.json() == []
    assert await db.fetchval("SELECT status FROM bookings") == "booked"


async def test_the_same_limits_apply(client: Client, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    _, person = await make_citizen(uow)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    statuses = []
    for hours in (24, 25, 26, 27):
        slot = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(hours))
        response = await client.post(
            "/api/v1/assist/bookings", json={"person_id": str(person.id), "slot_id": str(slot.id)}, headers=operator
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 201, 409]


async def test_the_counters_day_list(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, person = await make_citizen(uow)
    booking = (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))).json()
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    day = booking["starts_at"][:10]
    rows = (await client.get(f"/api/v1/clinics/{clinic.id}/bookings", params={"day": day}, headers=counter)).json()
    assert [(r["booking"]["code"], r["person_name"]) for r in rows] == [(booking["code"], person.full_name)]
    other = await make_clinic(uow)
    assert (await client.get(f"/api/v1/clinics/{other.id}/bookings", headers=counter)).status_code == 403
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'bookings.day_list.read'") == 1


async def test_bad_phone_cccd_and_date_are_field_errors_in_both_languages(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    operator = await staff_headers(client, uow, Role.OPERATOR)
    body = person_details() | {"phone": "028 3822 0000", "cccd": "079090000001", "date_of_birth": "1990-02-30"}
    body["consent"] = consent()
    for language, words in (("vi", ("di động", "không khớp")), ("en", ("mobile", "do not match"))):
        response = await client.post(
            "/api/v1/assist/people",
            json=body | {"date_of_birth": "1990-05-17"},
            headers={**operator, "Accept-Language": language},
        )
        assert response.status_code == 422
        messages = {e["field"]: e["message"] for e in response.json()["errors"]}
        assert set(messages) == {"phone", "cccd"}
        assert words[0] in messages["phone"]
        assert words[1] in messages["cccd"]
    bad_date = await client.post("/api/v1/assist/people", json=body | {"phone": None}, headers=operator)
    assert {e["field"] for e in bad_date.json()["errors"]} == {"date_of_birth"}
    assert await db.fetchval("SELECT count(*) FROM people") == 0


async def test_the_door_s_list_just_before_midnight_holds_tomorrow_s_first_slots_whose_check_in_opened(
    client: Client, uow: UnitOfWork
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    zone = ZoneInfo(clinic.timezone)
    night = datetime.combine(datetime.now(zone).date() + timedelta(days=3), time(23, 50), zone)
    first = await make_slot(uow, clinic, service, starts_at=night + timedelta(minutes=20))
    later = await make_slot(uow, clinic, service, starts_at=night + timedelta(hours=3))
    for slot in (first, later):
        citizen, _ = await make_citizen(uow)
        booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
        assert booked.status_code == 201, booked.text

    def slots(found: list[tuple[Booking, str, date]]) -> list[UUID]:
        return [booking.slot_id for booking, _, _ in found]

    door = await bookings.day_list(uow, ADMIN, clinic.id, None, now=night, reaching=timedelta(minutes=60))
    assert slots(door) == [first.id], "tomorrow's first slot, whose check-in opened, and no later one"
    counter = await bookings.day_list(uow, ADMIN, clinic.id, None, now=night)
    assert slots(counter) == [], "the counter's list is today's alone"
    asked = await bookings.day_list(uow, ADMIN, clinic.id, night.date(), now=night, reaching=timedelta(minutes=60))
    assert slots(asked) == [], "a day asked for is that day"


async def test_a_booking_in_the_way_is_named_only_to_whoever_may_open_it(client: Client, uow: UnitOfWork) -> None:
    """Booking someone who holds the service's booking at another clinic: the hotline, which may open any booking,
    is told which one; another clinic's staff are told only that there is one."""
    here, there = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    theirs = await make_slot(uow, there, service, capacity=3, starts_at=soon(30))
    ours = await make_slot(uow, here, service, capacity=3, starts_at=soon(54))
    citizen, person = await make_citizen(uow)
    held = await client.post("/api/v1/bookings", json={"slot_id": str(theirs.id)}, headers=token_for(citizen))
    assert held.status_code == 201
    body = {"person_id": str(person.id), "slot_id": str(ours.id)}
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [here.id])
    refused = await client.post("/api/v1/assist/bookings", json=body, headers=counter)
    assert refused.json()["type"] == "/problems/already-booked"
    assert "booking_id" not in refused.json(), "another clinic's booking, not theirs to see"
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    told = await client.post("/api/v1/assist/bookings", json=body, headers=hotline)
    assert told.json()["booking_id"] == held.json()["id"]
