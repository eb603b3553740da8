"""Booking, cancelling and rescheduling through the HTTP API, as citizens do it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import ServiceKind, Sex
from tests.factories import make_citizen, make_clinic, make_dependent, make_service, make_slot, soon, token_for
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


async def book(client: Client, headers: dict[str, str], slot_id: object, **body: Any) -> Any:
    return await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot_id), **body}, headers={**headers, "Accept-Language": "en"}
    )


async def seats(db: asyncpg.Connection, slot_id: object) -> int:
    return int(await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot_id))


async def test_a_citizen_books_a_seat_and_gets_a_code(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow, kind=ServiceKind.VACCINATION)
    slot = await make_slot(uow, clinic, service, capacity=2)
    citizen, me = await make_citizen(uow)
    response = await book(client, token_for(citizen), slot.id)
    assert response.status_code == 201, response.text
    booking = response.json()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", booking["code"])
    assert booking["person_id"] == str(me.id)
    assert booking["status"] == "booked"
    assert booking["dose_number"] == 1
    assert booking["starts_at"] == slot.starts_at.astimezone(SAIGON).isoformat()
    assert await seats(db, slot.id) == 1
    assert await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", me.id) == 1
    audit = await db.fetchrow("SELECT actor_kind, actor_id, action FROM audit_log WHERE object_id = $1", booking["id"])
    assert (audit["actor_kind"], audit["actor_id"], audit["action"]) == ("citizen", citizen.id, "booking.create")
    assert booking["clinic_name"] == clinic.name
    assert booking["clinic_address"] == clinic.address
    assert (booking["service_code"], booking["service_name_vi"]) == (service.code, service.name_vi)
    assert booking["timezone"] == "Asia/Ho_Chi_Minh"
    # asking again for the same slot (a first answer lost on a bad line): the seat they hold, not a second one
    again = await book(client, token_for(citizen), slot.id)
    assert again.status_code == 201
    assert again.json()["id"] == booking["id"]
    assert await seats(db, slot.id) == 1
    other_slot = await make_slot(uow, clinic, service, starts_at=slot.starts_at + timedelta(hours=1))
    elsewhere = await book(client, token_for(citizen), other_slot.id)
    assert elsewhere.status_code == 409
    assert elsewhere.json()["type"] == "/problems/already-booked"
    assert elsewhere.json()["booking_id"] == booking["id"], "the booking in the way, to open, move or cancel"
    assert await seats(db, other_slot.id) == 0


async def test_full_closed_and_past_slots(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    full = await make_slot(uow, clinic, service, capacity=1)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    assert (await book(client, token_for(first), full.id)).status_code == 201
    refused = await book(client, token_for(second), full.id)
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/slot-full"
    closed = await make_slot(uow, clinic, service, starts_at=soon(48))
    await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", closed.id)
    assert (await book(client, token_for(second), closed.id)).json()["type"] == "/problems/slot-not-bookable"
    past = await make_slot(uow, clinic, service, starts_at=soon(72))
    await db.execute("UPDATE slots SET starts_at = now() - interval '1 hour', ends_at = now() WHERE id = $1", past.id)
    assert (await book(client, token_for(second), past.id)).json()["type"] == "/problems/slot-not-bookable"
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1


async def test_age_and_sex_rules_explain_themselves(client: Client, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    adults = await make_service(uow, min_age_days=18 * 365)
    women = await make_service(uow, eligible_sex=Sex.FEMALE)
    adult_slot, women_slot = await make_slot(uow, clinic, adults), await make_slot(uow, clinic, women)
    teen, _ = await make_citizen(uow, date_of_birth=datetime.now(UTC).date() - timedelta(days=15 * 365), sex="male")
    young = await client.post("/api/v1/bookings", json={"slot_id": str(adult_slot.id)}, headers=token_for(teen))
    assert young.status_code == 409
    assert young.json()["type"] == "/problems/not-eligible"
    assert young.json()["reason"] == "too_young"
    assert "18" in young.json()["detail"]
    man = await book(client, token_for(teen), women_slot.id)
    assert man.json()["reason"] == "sex"
    assert man.json()["detail"] == "This service is for women only"


async def test_the_second_dose_waits_for_the_interval(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic = await make_clinic(uow)
    service = await make_service(uow, kind=ServiceKind.VACCINATION)  # 2 doses, 21 days apart
    citizen, _ = await make_citizen(uow)
    first_slot = await make_slot(uow, clinic, service)
    first = (await book(client, token_for(citizen), first_slot.id)).json()
    # the first dose was given ten days ago
    await db.execute(
        "UPDATE bookings SET status = 'completed', starts_at = now() - interval '10 days' WHERE id = $1", first["id"]
    )
    await db.execute("UPDATE people SET active_bookings = 0")
    too_soon = await make_slot(uow, clinic, service, starts_at=soon(24 * 5))
    early = await book(client, token_for(citizen), too_soon.id)
    assert early.status_code == 409
    assert early.json()["reason"] == "dose_interval"
    given_on = (datetime.now(UTC) - timedelta(days=10)).astimezone(SAIGON).date()
    assert early.json()["earliest_date"] == (given_on + timedelta(days=21)).isoformat()
    assert early.json()["detail"].endswith(f"book from {given_on + timedelta(days=21):%d/%m/%Y}"), "day first in words"
    in_time = await make_slot(uow, clinic, service, starts_at=soon(24 * 12))
    second = await book(client, token_for(citizen), in_time.id)
    assert second.status_code == 201, second.text
    assert second.json()["dose_number"] == 2
    await db.execute("UPDATE bookings SET status = 'completed' WHERE id = $1", second.json()["id"])
    await db.execute("UPDATE people SET active_bookings = 0")
    third = await book(client, token_for(citizen), (await make_slot(uow, clinic, service, starts_at=soon(24 * 40))).id)
    assert third.json()["type"] == "/problems/series-complete"


async def test_cancel_frees_the_seat_at_once(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    citizen, me = await make_citizen(uow)
    booking = (await book(client, token_for(citizen), slot.id)).json()
    cancelled = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(citizen))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert await seats(db, slot.id) == 0
    assert await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", me.id) == 0
    twice = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(citizen))
    assert twice.json()["type"] == "/problems/booking-not-active"
    other, _ = await make_citizen(uow)
    assert (await book(client, token_for(other), slot.id)).status_code == 201


async def test_a_started_booking_cannot_be_cancelled(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    citizen, _ = await make_citizen(uow)
    booking = (await book(client, token_for(citizen), (await make_slot(uow, clinic, service)).id)).json()
    await db.execute("UPDATE bookings SET starts_at = now() - interval '1 minute' WHERE id = $1", booking["id"])
    late = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(citizen))
    assert late.json()["type"] == "/problems/booking-started"


async def test_reschedule_moves_the_seat(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    old_slot, new_slot = (
        await make_slot(uow, clinic, service),
        await make_slot(uow, clinic, service, starts_at=soon(48)),
    )
    citizen, _ = await make_citizen(uow)
    old = (await book(client, token_for(citizen), old_slot.id)).json()
    moved = await client.post(
        f"/api/v1/bookings/{old['id']}/reschedule", json={"slot_id": str(new_slot.id)}, headers=token_for(citizen)
    )
    assert moved.status_code == 201, moved.text
    new = moved.json()
    assert new["moved_from"] == old["id"]
    assert new["id"] != old["id"]
    assert new["code"] != old["code"]
    assert new["slot_id"] == str(new_slot.id)
    assert (await client.get(f"/api/v1/bookings/{old['id']}", headers=token_for(citizen))).json()["status"] == "moved"
    assert (await seats(db, old_slot.id), await seats(db, new_slot.id)) == (0, 1)
    assert await db.fetchval("SELECT active_bookings FROM people") == 1
    # the old booking acted on again (another tab, back, a stale app): it says where the booking went
    for again in (
        client.post(f"/api/v1/bookings/{old['id']}/cancel", headers=token_for(citizen)),
        client.post(
            f"/api/v1/bookings/{old['id']}/reschedule", json={"slot_id": str(new_slot.id)}, headers=token_for(citizen)
        ),
    ):
        refused = await again
        assert (refused.status_code, refused.json()["type"]) == (409, "/problems/booking-moved")
        assert refused.json()["moved_to_code"] == new["code"]
    assert (await seats(db, old_slot.id), await seats(db, new_slot.id)) == (0, 1)


async def test_a_refused_reschedule_leaves_the_booking_as_it_was(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, other_service = await make_clinic(uow), await make_service(uow), await make_service(uow)
    mine = await make_slot(uow, clinic, service)
    full = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(30))
    elsewhere = await make_slot(uow, clinic, other_service, starts_at=soon(30))
    citizen, _ = await make_citizen(uow)
    other, _ = await make_citizen(uow)
    booking = (await book(client, token_for(citizen), mine.id)).json()
    await book(client, token_for(other), full.id)

    async def reschedule(slot_id: object) -> str:
        response = await client.post(
            f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": str(slot_id)}, headers=token_for(citizen)
        )
        assert response.status_code == 409
        return str(response.json()["type"])

    assert await reschedule(full.id) == "/problems/slot-full"
    assert await reschedule(elsewhere.id) == "/problems/other-service"
    assert await reschedule(mine.id) == "/problems/same-slot"
    still = await client.get(f"/api/v1/bookings/{booking['id']}", headers=token_for(citizen))
    assert still.json()["status"] == "booked"
    assert (await seats(db, mine.id), await seats(db, full.id)) == (1, 1)
    assert await db.fetchval("SELECT count(*) FROM bookings") == 2
    # once cancelled, it is no longer "in this slot": what became of it is said
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=token_for(citizen))
    assert await reschedule(mine.id) == "/problems/booking-not-active"


async def test_other_peoples_bookings_do_not_exist_for_you(client: Client, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot, other_slot = await make_slot(uow, clinic, service), await make_slot(uow, clinic, service, starts_at=soon(50))
    alice, _ = await make_citizen(uow)
    bob, _ = await make_citizen(uow)
    alices_mother = await make_dependent(uow, alice, full_name="Trần Thị Lan", date_of_birth=date(1950, 3, 3))
    booking = (await book(client, token_for(alice), slot.id)).json()
    bob_headers = token_for(bob)
    assert (await client.get(f"/api/v1/bookings/{booking['id']}", headers=bob_headers)).status_code == 404
    cancel = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=bob_headers)
    assert cancel.status_code == 404
    move = await client.post(
        f"/api/v1/bookings/{booking['id']}/reschedule", json={"slot_id": str(other_slot.id)}, headers=bob_headers
    )
    assert move.status_code == 404
    for_her_mother = await book(client, bob_headers, slot.id, person_id=str(alices_mother.id))
    assert for_her_mother.status_code == 404
    assert for_her_mother.json()["type"] == "/problems/person-not-found"
    assert (await client.get("/api/v1/bookings", headers=bob_headers)).json()["items"] == []
    assert (await client.get(f"/api/v1/bookings/{booking['id']}", headers=token_for(alice))).status_code == 200


async def test_booking_for_a_dependent(client: Client, uow: UnitOfWork) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    father = await make_dependent(uow, citizen, full_name="Lê Văn Sáu", sex="male", date_of_birth=date(1948, 1, 1))
    response = await book(client, token_for(citizen), slot.id, person_id=str(father.id))
    assert response.status_code == 201
    assert response.json()["person_id"] == str(father.id)
    listed = (await client.get("/api/v1/bookings", headers=token_for(citizen))).json()["items"]
    assert [b["person_id"] for b in listed] == [str(father.id)]


async def test_fields_the_client_does_not_set_are_refused(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    citizen, _ = await make_citizen(uow)
    sneaky = {"status": "checked_in", "booked": 0, "clinic_id": str(clinic.id), "code": "AAAA-AAAA"}
    response = await book(client, token_for(citizen), slot.id, **sneaky)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == set(sneaky)
    assert await db.fetchval("SELECT count(*) FROM bookings") == 0
    assert await seats(db, slot.id) == 0


async def test_open_bookings_per_person_are_limited(client: Client, uow: UnitOfWork) -> None:
    clinic = await make_clinic(uow)
    citizen, _ = await make_citizen(uow)
    statuses = []
    for hours in (24, 25, 26, 27):
        slot = await make_slot(uow, clinic, await make_service(uow), starts_at=soon(hours))
        statuses.append((await book(client, token_for(citizen), slot.id)).status_code)
    assert statuses == [201, 201, 201, 409]


async def test_booking_attempts_are_limited_per_citizen(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    citizen, _ = await make_citizen(uow)
    other, _ = await make_citizen(uow)
    statuses = []
    for _ in range(11):
        booked = await book(client, token_for(citizen), slot.id)
        statuses.append(booked.status_code)
        if booked.status_code == 201:
            cancel = await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(citizen))
            assert cancel.status_code == 200
    assert statuses == [201] * 10 + [429]
    limited = await book(client, token_for(citizen), slot.id)
    assert limited.json()["type"] == "/problems/too-many-requests"
    assert 0 < int(limited.headers["retry-after"]) <= 600
    assert (await book(client, token_for(other), slot.id)).status_code == 201
    await db.execute("UPDATE attempt_counters SET window_started = now() - interval '11 minutes'")
    assert (await book(client, token_for(citizen), slot.id)).status_code == 201


async def test_refusals_the_search_could_tell_are_not_attempts(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A full slot, one not open yet, one closed: refused from a read, and never counted against the limit."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    full = await make_slot(uow, clinic, service, capacity=0)
    later = await make_slot(uow, clinic, service, starts_at=soon(30))
    await db.execute("UPDATE slots SET opens_at = now() + interval '2 hours' WHERE id = $1", later.id)
    closed = await make_slot(uow, clinic, service, starts_at=soon(31))
    await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", closed.id)
    citizen, _ = await make_citizen(uow)
    for slot, refusal in ((full, "slot-full"), (later, "not-open-yet"), (closed, "slot-not-bookable")):
        for _ in range(12):
            refused = await book(client, token_for(citizen), slot.id)
            assert refused.status_code == 409
            assert refused.json()["type"] == f"/problems/{refusal}"
    assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 0
    open_slot = await make_slot(uow, clinic, service, starts_at=soon(32))
    assert (await book(client, token_for(citizen), open_slot.id)).status_code == 201
    assert await db.fetchval("SELECT attempts FROM attempt_counters") == 1


async def test_a_citizen_without_a_profile_is_asked_for_one(client: Client, uow: UnitOfWork) -> None:
    from booking import repository
    from vaxbook.auth.models import Principal, Role

    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    async with uow.transaction() as conn:
        account = await repository.account_for_phone(conn, phone="+84987654321")
    response = await book(client, token_for(Principal(id=account, role=Role.CITIZEN)), slot.id)
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/profile-missing"


async def test_a_winner_whose_answer_was_lost_gets_their_seat_not_slot_full(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The last seat taken, the answer lost on a bad line: a retry with a fresh Idempotency-Key (or none) answers
    the booking they hold, not 'full', and nobody else's retry gets in."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    winner, _ = await make_citizen(uow)
    first = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(winner) | {"Idempotency-Key": "a"}
    )
    assert first.status_code == 201
    for key in ("b", None):
        again = await client.post(
            "/api/v1/bookings",
            json={"slot_id": str(slot.id)},
            headers=token_for(winner) | ({"Idempotency-Key": key} if key else {}),
        )
        assert (again.status_code, again.json()["id"]) == (201, first.json()["id"])
    loser, _ = await make_citizen(uow)
    assert (await book(client, token_for(loser), slot.id)).json()["type"] == "/problems/slot-full"
    assert await seats(db, slot.id) == 1
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
