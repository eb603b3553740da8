"""A phone typed at a counter or by the hotline is the person's only once its owner reads back a code sent to it:
until then the person has no sign-in account and hears nothing, so a digit misheard hands no stranger their
record or their health-service messages."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import asyncpg
import httpx

from notify.models import Kind, Medium, Outgoing
from notify.templates import render
from tests.conftest import RecordingOtpSender
from tests.factories import (
    citizen_headers,
    consent,
    make_citizen,
    make_clinic,
    make_service,
    make_slot,
    person_details,
    staff_headers,
)
from tests.integration.booking.phone_codes import phone_code
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
EM = person_details(full_name="Võ Thị Em", date_of_birth=date(1992, 2, 2), cccd="092192777888")
MISTYPED, RIGHT = "+84906777888", "+84906777889"


async def _register(client: Client, headers: dict[str, str], phone: str, **details: Any) -> dict[str, Any]:
    registered = await client.post(
        "/api/v1/assist/people", json=EM | details | {"phone": phone, "consent": consent()}, headers=headers
    )
    assert registered.status_code == 201, registered.text
    body: dict[str, Any] = registered.json()
    return body


def _confirm(person_id: str) -> str:
    return f"/api/v1/assist/people/{person_id}/phone/confirmation"


async def test_a_mistyped_phone_gets_no_booking_message_and_its_owner_no_record(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    em = await _register(client, hotline, "0906 777 888")
    assert em["relation"] == "registered"
    assert em["phone_confirmation"]["phone"] == MISTYPED
    assert 0 < em["phone_confirmation"]["expires_in"] <= 300
    booked = await client.post(
        "/api/v1/assist/bookings", json={"person_id": em["id"], "slot_id": str(slot.id)}, headers=hotline
    )
    assert booked.status_code == 201, booked.text

    to_stranger = await db.fetch("SELECT kind, body FROM outbox WHERE destination = $1", MISTYPED)
    assert [r["kind"] for r in to_stranger] == ["sign_in_code"], "the code only: no booking message"
    code = await phone_code(db, MISTYPED)
    sms = render(
        Outgoing(1, Kind.SIGN_IN_CODE, Medium.SMS, MISTYPED, "vi", json_body(to_stranger[0]), 1),
        public_url="http://x",
    )
    assert code in sms.text
    assert "Em" not in sms.text, "it names nobody"
    assert "dang nhap" not in sms.text.lower(), "and is no sign-in code"

    stranger = await citizen_headers(client, otp_sender.codes, "0906777888")
    assert (await client.get("/api/v1/me/profile", headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/bookings", headers=stranger)).json()["items"] == []
    # the code the stranger got signs nobody in, and a sign-in code confirms nothing
    assert (await client.post("/api/v1/auth/otp/request", json={"phone": MISTYPED})).status_code == 202
    sign_in_code = otp_sender.codes[MISTYPED]
    if sign_in_code != code:  # one chance in a million that they are the same
        signed = await client.post("/api/v1/auth/otp/verify", json={"phone": MISTYPED, "code": code})
        assert signed.status_code == 401
        refused = await client.post(_confirm(em["id"]), json={"code": sign_in_code}, headers=hotline)
        assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("code", "code_wrong")]
    assert await db.fetchval("SELECT account_id FROM people WHERE id = $1", em["id"]) is None


def json_body(row: asyncpg.Record) -> dict[str, Any]:
    body = row["body"]
    return json.loads(body) if isinstance(body, str) else dict(body)


async def test_the_code_read_back_links_the_person_to_the_phone(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, otp_sender: RecordingOtpSender
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    em = await _register(client, counter, "0906 777 888")
    # the caller says no code came: the nurse reads the number back, corrects it, sends a code there
    resent = await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": "0906777889"}, headers=counter)
    assert (resent.status_code, resent.json()["phone"]) == (202, RIGHT)
    old = await client.post(_confirm(em["id"]), json={"code": await phone_code(db, MISTYPED)}, headers=counter)
    assert old.status_code == 422, "the code sent to the wrong number no longer counts"
    assert [(e["field"], e["code"]) for e in old.json()["errors"]] == [("code", "code_wrong")]
    confirmed = await client.post(_confirm(em["id"]), json={"code": await phone_code(db, RIGHT)}, headers=counter)
    assert (confirmed.status_code, confirmed.json()["relation"]) == (200, "self"), confirmed.text

    booked = await client.post(
        "/api/v1/assist/bookings", json={"person_id": em["id"], "slot_id": str(slot.id)}, headers=counter
    )
    assert booked.status_code == 201
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1 AND kind = 'booked'", RIGHT) == 1
    owner = await citizen_headers(client, otp_sender.codes, "0906777889")
    assert (await client.get("/api/v1/me/profile", headers=owner)).json()["id"] == em["id"]
    assert [b["id"] for b in (await client.get("/api/v1/bookings", headers=owner)).json()["items"]] == [
        booked.json()["id"]
    ]

    steps = await db.fetch(
        "SELECT action, details::text AS details FROM audit_log WHERE object_id = $1 AND action LIKE 'person.phone%' "
        "ORDER BY id",
        em["id"],
    )
    assert [s["action"] for s in steps] == [
        "person.phone_code_sent",
        "person.phone_code_sent",
        "person.phone_code_wrong",
        "person.phone_confirmed",
    ]
    trail = " ".join(s["details"] for s in steps)
    assert "906777" not in trail
    assert await phone_code(db, RIGHT) not in trail


async def test_wrong_expired_and_too_many_codes_are_refused_on_the_code(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    em = await _register(client, hotline, "0906777889")
    right = await phone_code(db, RIGHT)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    first = await client.post(_confirm(em["id"]), json={"code": wrong}, headers=hotline)
    assert (first.status_code, first.headers["content-type"]) == (422, "application/problem+json")
    assert [(e["field"], e["code"]) for e in first.json()["errors"]] == [("code", "code_wrong")]
    assert first.json()["attempts_left"] == 4
    english = await client.post(_confirm(em["id"]), json={"code": wrong}, headers=hotline | {"Accept-Language": "en"})
    assert "3 tries left" in english.json()["errors"][0]["message"]
    not_digits = await client.post(_confirm(em["id"]), json={"code": "12ab56"}, headers=hotline)
    assert [e["field"] for e in not_digits.json()["errors"]] == ["code"]
    for _ in range(3):
        await client.post(_confirm(em["id"]), json={"code": wrong}, headers=hotline)
    spent = await client.post(_confirm(em["id"]), json={"code": right}, headers=hotline)
    assert [(e["field"], e["code"]) for e in spent.json()["errors"]] == [("code", "code_expired")], "five tries"
    assert await db.fetchval("SELECT account_id FROM people WHERE id = $1", em["id"]) is None
    assert await db.fetchval("SELECT count(*) FROM citizens WHERE phone = $1", RIGHT) == 0, "nothing written"
    wrongs = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'person.phone_code_wrong'")
    assert wrongs == 5

    # a new code (the window allows three), left to expire
    again = await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": RIGHT}, headers=hotline)
    assert again.status_code == 202
    await db.execute("UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE phone = $1", RIGHT)
    late = await client.post(_confirm(em["id"]), json={"code": await phone_code(db, RIGHT)}, headers=hotline)
    assert [(e["field"], e["code"]) for e in late.json()["errors"]] == [("code", "code_expired")]
    # and a third; then the phone has had its three codes for the window: 429, nothing sent
    await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": RIGHT}, headers=hotline)
    await db.execute("UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE phone = $1", RIGHT)
    sent_before = await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1", RIGHT)
    limited = await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": RIGHT}, headers=hotline)
    assert (limited.status_code, limited.json()["type"]) == (429, "/problems/otp-rate-limited")
    assert int(limited.headers["retry-after"]) > 0
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1", RIGHT) == sent_before


async def test_a_second_press_within_moments_sends_no_second_code(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    em = await _register(client, hotline, RIGHT)
    again = await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": RIGHT}, headers=hotline)
    assert again.status_code == 202
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1", RIGHT) == 1


async def test_a_phone_with_a_profile_and_a_person_with_a_phone_are_refused(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    citizen, me = await make_citizen(uow)
    theirs = await db.fetchval("SELECT phone FROM citizens WHERE id = $1", citizen.id)
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    taken = await client.post(
        "/api/v1/assist/people", json=EM | {"phone": theirs, "consent": consent()}, headers=hotline
    )
    assert (taken.status_code, taken.json()["type"], taken.json()["person_id"]) == (
        409,
        "/problems/phone-has-profile",
        str(me.id),
    )
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1", theirs) == 0
    has_one = await client.post(f"/api/v1/assist/people/{me.id}/phone", json={"phone": RIGHT}, headers=hotline)
    assert (has_one.status_code, has_one.json()["type"]) == (409, "/problems/person-has-phone")

    # a profile made on the phone while its code was on its way: the code links nobody to it
    em = await _register(client, hotline, RIGHT)
    code = await phone_code(db, RIGHT)
    account = await db.fetchval("INSERT INTO citizens (phone) VALUES ($1) RETURNING id", RIGHT)
    other = EM | {"full_name": "Võ Thị Khác", "cccd": None}
    await db.execute(
        "INSERT INTO people (account_id, full_name, date_of_birth, sex, province, district, ward, consent_at, "
        "consent_version) VALUES ($1, $2, $3, 'female', 'Cần Thơ', 'Ninh Kiều', 'An Khánh', now(), $4)",
        account,
        other["full_name"],
        date(1992, 2, 2),
        consent()["text_version"],
    )
    late = await client.post(_confirm(em["id"]), json={"code": code}, headers=hotline)
    assert (late.status_code, late.json()["type"]) == (409, "/problems/phone-has-profile")
    assert await db.fetchval("SELECT account_id FROM people WHERE id = $1", em["id"]) is None


async def test_clinic_staff_give_a_phone_only_to_someone_seen_at_their_clinics(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The phone's owner, signed in, would see every booking of the person: another clinic's staff cannot give
    them a phone (the hotline can)."""
    mine, theirs = await make_clinic(uow), await make_clinic(uow)
    service = await make_service(uow)
    slot = await make_slot(uow, mine, service)
    here = await staff_headers(client, uow, Role.CLINIC_STAFF, [mine.id])
    there = await staff_headers(client, uow, Role.CLINIC_STAFF, [theirs.id])
    em = await _register(client, here, RIGHT)
    booked = await client.post(
        "/api/v1/assist/bookings", json={"person_id": em["id"], "slot_id": str(slot.id)}, headers=here
    )
    assert booked.status_code == 201
    code = await phone_code(db, RIGHT)
    for refused in (
        await client.post(_confirm(em["id"]), json={"code": code}, headers=there),
        await client.post(f"/api/v1/assist/people/{em['id']}/phone", json={"phone": MISTYPED}, headers=there),
    ):
        assert (refused.status_code, refused.json()["type"]) == (403, "/problems/clinic-out-of-scope")
    assert await db.fetchval("SELECT count(*) FROM outbox WHERE destination = $1", MISTYPED) == 0
    confirmed = await client.post(_confirm(em["id"]), json={"code": code}, headers=here)
    assert confirmed.status_code == 200, "the code is still good: the refusal spent none of its tries"


async def test_two_confirmations_at_once_link_once(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    hotline = await staff_headers(client, uow, Role.OPERATOR)
    em = await _register(client, hotline, RIGHT)
    code = await phone_code(db, RIGHT)
    both = await asyncio.gather(
        *(client.post(_confirm(em["id"]), json={"code": code}, headers=hotline) for _ in range(2))
    )
    assert [r.status_code for r in both] == [200, 200], [r.text for r in both]
    assert {r.json()["relation"] for r in both} == {"self"}
    assert await db.fetchval("SELECT count(*) FROM citizens WHERE phone = $1", RIGHT) == 1
    linked = await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'person.phone_confirmed'")
    assert linked == 1, "linked once; the other press answered as the first"
