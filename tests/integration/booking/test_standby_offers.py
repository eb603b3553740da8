"""Standby offers taken, turned down and left from every side: a walk-in without a phone through the counter or the
hotline, an accept pressed again (no attempt), an offered slot booked directly (the held seat), and waits that
could never be served refused at the door."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from clinics.models import Clinic, Service, Slot
from tests.factories import (
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
from tests.integration.booking.invariants import check_invariants
from vaxbook.auth.models import Principal, Role
from vaxbook.clock import department_day
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")


async def full_slot(uow: UnitOfWork, client: Client) -> tuple[Clinic, Service, Slot, Principal, str]:
    """A one-seat slot tomorrow, taken by a citizen: (clinic, service, slot, holder, holder's booking id)."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    assert booked.status_code == 201, booked.text
    return clinic, service, slot, holder, booked.json()["id"]


def wait_body(service: Service, slot: Slot, **scope: Any) -> dict[str, Any]:
    day = slot.starts_at.astimezone(SAIGON).date()
    return {
        "service_id": str(service.id),
        "date_from": day.isoformat(),
        "date_to": (day + timedelta(days=3)).isoformat(),
        **scope,
    }


async def walk_in(client: Client, staff: dict[str, str]) -> str:
    """A walk-in registered at the counter with no phone of their own: nobody can sign in as them."""
    registered = await client.post(
        "/api/v1/assist/people", json=person_details(full_name="Trần Văn Tư") | {"consent": consent()}, headers=staff
    )
    assert registered.status_code == 201, registered.text
    person_id: str = registered.json()["id"]
    return person_id


async def put_on_list(client: Client, staff: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    joined = await client.post("/api/v1/assist/standby", json=body, headers=staff)
    assert joined.status_code == 201, joined.text
    entry: dict[str, Any] = joined.json()
    return entry


async def entry_row(db: asyncpg.Connection, entry_id: str) -> asyncpg.Record:
    row = await db.fetchrow("SELECT status, booking_id FROM standby_entries WHERE id = $1", UUID(entry_id))
    assert row is not None
    return row


async def booked(db: asyncpg.Connection, slot: Slot) -> int:
    return int(await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id))


async def attempts(db: asyncpg.Connection, scope: str) -> int:
    return int(await db.fetchval("SELECT coalesce(sum(attempts), 0) FROM attempt_counters WHERE scope = $1", scope))


# 1. The counter and the hotline take, turn down and leave offers for the people they put on the list


async def test_the_counter_takes_the_seat_offered_to_a_walk_in_without_a_phone(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    staff_id = (await client.get("/api/v1/auth/me", headers=counter)).json()["id"]
    person_id = await walk_in(client, counter)
    entry = await put_on_list(client, counter, wait_body(service, slot, clinic_id=str(clinic.id), person_id=person_id))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))

    listed = await client.get(f"/api/v1/assist/people/{person_id}/standby", headers=counter)
    assert listed.status_code == 200, listed.text
    [shown] = listed.json()
    assert (shown["id"], shown["status"], shown["offer"]["slot_id"]) == (entry["id"], "offered", str(slot.id))

    accepted = await client.post(f"/api/v1/assist/standby/{entry['id']}/accept", headers=counter)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["slot_id"] == str(slot.id)
    assert accepted.json()["person_id"] == person_id
    assert accepted.json()["qr_url"] == f"/api/v1/assist/bookings/{accepted.json()['id']}/qr"
    row = await entry_row(db, entry["id"])
    assert (row["status"], str(row["booking_id"])) == ("booked", accepted.json()["id"])
    assert await booked(db, slot) == 1, "the held seat became the booking: no other seat was claimed"
    made = await db.fetchrow("SELECT booked_by_staff, booked_by_account FROM bookings WHERE id = $1", row["booking_id"])
    assert (str(made["booked_by_staff"]), made["booked_by_account"]) == (staff_id, None)
    audited = {
        r["action"]: r
        for r in await db.fetch(
            "SELECT action, actor_kind, details->>'from_standby' AS from_standby FROM audit_log"
            " WHERE actor_id::text = $1",
            staff_id,
        )
    }
    assert {"standby.join", "person.standby.read", "booking.create"} <= set(audited)
    assert all(r["actor_kind"] == "staff" for r in audited.values())
    assert audited["booking.create"]["from_standby"] == entry["id"]

    again = await client.post(f"/api/v1/assist/standby/{entry['id']}/accept", headers=counter)
    assert (again.status_code, again.json()["id"]) == (201, accepted.json()["id"]), "the booking it became"
    after = (await client.get(f"/api/v1/assist/people/{person_id}/standby", headers=counter)).json()
    assert [(e["status"], e["booking_id"]) for e in after] == [("booked", accepted.json()["id"])]
    await check_invariants(db)


async def test_the_hotline_turns_an_offer_down_and_takes_a_caller_off_the_list(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    first, second = await walk_in(client, operator), await walk_in(client, operator)
    body = wait_body(service, slot, clinic_id=str(clinic.id))
    first_entry = await put_on_list(client, operator, body | {"person_id": first})
    second_entry = await put_on_list(client, operator, body | {"person_id": second})
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    assert (await entry_row(db, first_entry["id"]))["status"] == "offered"

    declined = await client.post(f"/api/v1/assist/standby/{first_entry['id']}/decline", headers=operator)
    assert (declined.status_code, declined.json()["status"]) == (200, "declined"), declined.text
    assert (await entry_row(db, second_entry["id"]))["status"] == "offered", "the seat went to the next in line"
    twice = await client.post(f"/api/v1/assist/standby/{first_entry['id']}/decline", headers=operator)
    assert (twice.status_code, twice.json()["status"]) == (200, "declined")
    stale = await client.post(f"/api/v1/assist/standby/{first_entry['id']}/accept", headers=operator)
    assert (stale.status_code, stale.json()["type"]) == (409, "/problems/offer-gone")

    left = await client.delete(f"/api/v1/assist/standby/{second_entry['id']}", headers=operator)
    assert left.status_code == 204, left.text
    assert (await entry_row(db, second_entry["id"]))["status"] == "declined"
    assert await booked(db, slot) == 0, "nobody left in line: the seat is everyone's again"
    assert (await client.delete(f"/api/v1/assist/standby/{second_entry['id']}", headers=operator)).status_code == 204
    assert await booked(db, slot) == 0, "leaving twice passes no seat on twice"
    actions = await db.fetch(
        "SELECT action, actor_kind FROM audit_log WHERE action IN ('standby.decline', 'standby.leave') ORDER BY id"
    )
    assert [(r["action"], r["actor_kind"]) for r in actions] == [("standby.decline", "staff")] * 2
    await check_invariants(db)


async def test_a_waiting_walk_in_is_taken_off_the_list_by_the_counter(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    person_id = await walk_in(client, counter)
    entry = await put_on_list(client, counter, wait_body(service, slot, clinic_id=str(clinic.id), person_id=person_id))
    left = await client.delete(f"/api/v1/assist/standby/{entry['id']}", headers=counter)
    assert left.status_code == 204, left.text
    assert (await entry_row(db, entry["id"]))["status"] == "left"
    not_offered = await client.post(f"/api/v1/assist/standby/{entry['id']}/accept", headers=counter)
    assert not_offered.json()["type"] == "/problems/offer-gone"


async def test_clinic_staff_reach_only_their_own_clinics_entries(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    ours = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    elsewhere = await staff_headers(client, uow, Role.CLINIC_STAFF, [(await make_clinic(uow)).id])
    person_id = await walk_in(client, ours)
    entry = await put_on_list(client, ours, wait_body(service, slot, clinic_id=str(clinic.id), person_id=person_id))
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))

    listed = await client.get(f"/api/v1/assist/people/{person_id}/standby", headers=elsewhere)
    assert (listed.status_code, listed.json()) == (200, [])
    for method, path in (
        ("POST", f"/api/v1/assist/standby/{entry['id']}/accept"),
        ("POST", f"/api/v1/assist/standby/{entry['id']}/decline"),
        ("DELETE", f"/api/v1/assist/standby/{entry['id']}"),
    ):
        refused = await client.request(method, path, headers=elsewhere)
        assert (refused.status_code, refused.json()["type"]) == (404, "/problems/standby-not-found"), path
    assert (await entry_row(db, entry["id"]))["status"] == "offered", "untouched"
    nobody = await client.get(f"/api/v1/assist/people/{UUID(int=7)}/standby", headers=ours)
    assert (nobody.status_code, nobody.json()["type"]) == (404, "/problems/person-not-found")
    # the citizen's own routes stay the citizen's
    assert (await client.post(f"/api/v1/standby/{entry['id']}/accept", headers=ours)).status_code == 403
    # and a citizen's token does not open the counter's
    citizen, _ = await make_citizen(uow)
    as_citizen = await client.get(f"/api/v1/assist/people/{person_id}/standby", headers=token_for(citizen))
    assert as_citizen.status_code == 403


# 2. An offer accepted already answers the booking it became, however often it is pressed: no attempt


async def test_pressing_accept_again_and_again_answers_the_booking_and_counts_nothing(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    citizen, me = await make_citizen(uow)
    entry = (
        await client.post(
            "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(citizen)
        )
    ).json()
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    accept = f"/api/v1/standby/{entry['id']}/accept"
    first = await client.post(accept, headers=token_for(citizen))
    assert first.status_code == 201, first.text
    scope = f"book:account:{citizen.id}:{me.id}"
    assert await attempts(db, scope) == 1

    one_by_one = [await client.post(accept, headers=token_for(citizen)) for _ in range(15)]
    at_once = await asyncio.gather(*(client.post(accept, headers=token_for(citizen)) for _ in range(20)))
    answers = {(r.status_code, r.json().get("id")) for r in [*one_by_one, *at_once]}
    assert answers == {(201, first.json()["id"])}
    assert await attempts(db, scope) == 1, "asking again for a seat you hold is not an attempt"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1 AND status = 'booked'", slot.id) == 1
    # the attempts left are still there for a real booking
    other = await make_slot(uow, clinic, await make_service(uow))
    assert (
        await client.post("/api/v1/bookings", json={"slot_id": str(other.id)}, headers=token_for(citizen))
    ).status_code == 201
    await check_invariants(db)


async def test_twenty_first_presses_at_once_make_one_booking_and_one_attempt(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The first press and its repeats all sent together: they wait for each other at the attempt count, and each
    that comes after the one that took the seat gets its booking without counting."""
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    citizen, me = await make_citizen(uow)
    entry = (
        await client.post(
            "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(citizen)
        )
    ).json()
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    presses = await asyncio.gather(
        *(client.post(f"/api/v1/standby/{entry['id']}/accept", headers=token_for(citizen)) for _ in range(20))
    )
    answers = {(r.status_code, r.json().get("id")) for r in presses}
    assert len(answers) == 1, answers
    [(status, booking)] = answers
    assert status == 201
    row = await entry_row(db, entry["id"])
    assert (row["status"], str(row["booking_id"])) == ("booked", booking)
    assert await attempts(db, f"book:account:{citizen.id}:{me.id}") == 1
    assert await booked(db, slot) == 1
    await check_invariants(db)


# 3. Booking the very slot you hold an offer of takes the held seat


async def test_booking_the_offered_slot_takes_the_held_seat(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service, slot, holder, booking_id = await full_slot(uow, client)
    citizen, me = await make_citizen(uow)
    passer_by, _ = await make_citizen(uow)
    entry = (
        await client.post(
            "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(citizen)
        )
    ).json()
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(holder))
    # someone else is told the slot is full (this process now remembers it sold out, the offer holder's stake kept)
    grab = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(passer_by))
    assert grab.json()["type"] == "/problems/slot-full"

    direct = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert direct.status_code == 201, direct.text
    assert direct.json()["slot_id"] == str(slot.id)
    row = await entry_row(db, entry["id"])
    assert (row["status"], str(row["booking_id"])) == ("booked", direct.json()["id"]), "the offer ends accepted"
    assert await booked(db, slot) == 1, "the held seat became the booking: no other seat was claimed"
    create = await db.fetchval(
        "SELECT details->>'from_standby' FROM audit_log WHERE action = 'booking.create' AND object_id::text = $1",
        direct.json()["id"],
    )
    assert create == entry["id"], "the same rows as an accept"
    assert await attempts(db, f"book:account:{citizen.id}:{me.id}") == 1
    accepted = await client.post(f"/api/v1/standby/{entry['id']}/accept", headers=token_for(citizen))
    assert (accepted.status_code, accepted.json()["id"]) == (201, direct.json()["id"])
    again = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert (again.status_code, again.json()["id"]) == (201, direct.json()["id"])
    await check_invariants(db)


async def test_booking_the_offered_slot_for_a_dependent_or_a_walk_in_takes_the_held_seat(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2)
    holders = [(await make_citizen(uow))[0] for _ in range(2)]
    taken = [
        (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(h))).json()["id"]
        for h in holders
    ]
    parent, _ = await make_citizen(uow)
    child = await make_dependent(uow, parent, cccd=None, full_name="Bé Na")
    counter = await staff_headers(client, uow, Role.CLINIC_STAFF, [clinic.id])
    walker = await walk_in(client, counter)
    body = wait_body(service, slot, clinic_id=str(clinic.id))
    child_entry = await client.post(
        "/api/v1/standby", json=body | {"person_id": str(child.id)}, headers=token_for(parent)
    )
    assert child_entry.status_code == 201, child_entry.text
    walker_entry = await put_on_list(client, counter, body | {"person_id": walker})
    for h, b in zip(holders, taken, strict=True):
        await client.post(f"/api/v1/bookings/{b}/cancel", headers=token_for(h))
    assert await booked(db, slot) == 2

    for_child = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(parent)
    )
    assert for_child.status_code == 201, for_child.text
    for_walker = await client.post(
        "/api/v1/assist/bookings", json={"slot_id": str(slot.id), "person_id": walker}, headers=counter
    )
    assert for_walker.status_code == 201, for_walker.text
    assert await booked(db, slot) == 2
    statuses = {
        str(r["booking_id"]): r["status"]
        for r in await db.fetch(
            "SELECT status, booking_id FROM standby_entries WHERE id = ANY($1::uuid[])",
            [
                UUID(child_entry.json()["id"]),
                UUID(walker_entry["id"]),
            ],
        )
    }
    assert statuses == {for_child.json()["id"]: "booked", for_walker.json()["id"]: "booked"}
    await check_invariants(db)


# 4. A wait that could never be served is refused at the door, naming the field


async def test_a_wait_wholly_in_the_past_is_refused_on_date_to(client: Client, uow: UnitOfWork) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    citizen, _ = await make_citizen(uow)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    person_id = await walk_in(client, operator)
    today = department_day(datetime.now(UTC))
    past = {
        "service_id": str(service.id),
        "clinic_id": str(clinic.id),
        "date_from": (today - timedelta(days=5)).isoformat(),
        "date_to": (today - timedelta(days=1)).isoformat(),
    }
    for url, headers, body in (
        ("/api/v1/standby", token_for(citizen), past),
        ("/api/v1/assist/standby", operator, past | {"person_id": person_id}),
    ):
        messages = []
        for language in ("vi", "en"):
            refused = await client.post(url, json=body, headers=headers | {"Accept-Language": language})
            assert refused.status_code == 422, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            [error] = refused.json()["errors"]
            assert (error["field"], error["code"]) == ("date_to", "date_in_past")
            messages.append(error["message"])
        assert messages[0] != messages[1], "said in Vietnamese and in English"
    # a wait that reaches today is a wait
    reaching = await client.post(
        "/api/v1/standby",
        json=past | {"date_to": slot.starts_at.astimezone(SAIGON).date().isoformat()},
        headers=token_for(citizen),
    )
    assert reaching.status_code == 201, reaching.text


async def test_a_clinic_that_does_not_give_the_service_is_refused_on_clinic_id(client: Client, uow: UnitOfWork) -> None:
    clinic, service, slot, _, _ = await full_slot(uow, client)
    elsewhere = await make_clinic(uow)  # active, but no slot or template of this service
    citizen, _ = await make_citizen(uow)
    refused = await client.post(
        "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(elsewhere.id)), headers=token_for(citizen)
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"]) == ("clinic_id", "no_service_at_clinic")
    waits = await client.post(
        "/api/v1/standby", json=wait_body(service, slot, clinic_id=str(clinic.id)), headers=token_for(citizen)
    )
    assert waits.status_code == 201, waits.text


async def test_a_district_where_no_clinic_gives_the_service_is_refused_on_district(
    client: Client, uow: UnitOfWork
) -> None:
    _, service, slot, _, _ = await full_slot(uow, client)
    await make_clinic(uow, district="Phong Điền")  # a clinic there, but it gives nothing of this service
    citizen, _ = await make_citizen(uow)
    operator = await staff_headers(client, uow, Role.OPERATOR)
    person_id = await walk_in(client, operator)
    for place in ({"province": "Hà Nội", "district": "Ba Đình"}, {"province": "Cần Thơ", "district": "Phong Điền"}):
        body = wait_body(service, slot, **place)
        for url, headers, sent in (
            ("/api/v1/standby", token_for(citizen), body),
            ("/api/v1/assist/standby", operator, body | {"person_id": person_id}),
        ):
            messages = []
            for language in ("vi", "en"):
                refused = await client.post(url, json=sent, headers=headers | {"Accept-Language": language})
                assert refused.status_code == 422, (url, place, refused.text)
                [error] = refused.json()["errors"]
                assert (error["field"], error["code"]) == ("district", "no_clinic_for_service")
                messages.append(error["message"])
            assert messages[0] != messages[1]
    # the district of a clinic that gives it, however it is written, is a wait
    served = await client.post(
        "/api/v1/standby",
        json=wait_body(service, slot, province="can tho", district="NINH KIỀU"),
        headers=token_for(citizen),
    )
    assert served.status_code == 201, served.text


async def test_a_district_served_only_by_a_weekly_template_or_a_later_slot_is_a_wait(
    client: Client, uow: UnitOfWork
) -> None:
    _, service, slot, _, _ = await full_slot(uow, client)
    later = await make_clinic(uow, district="Cờ Đỏ")
    await make_slot(uow, later, service, starts_at=soon(24 * 40))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    weekly = await make_clinic(uow, district="Vĩnh Thạnh")
    template = await client.post(
        f"/api/v1/clinics/{weekly.id}/slot-templates",
        json={
            "service_id": str(service.id),
            "weekday": 2,
            "start_time": "08:00",
            "end_time": "09:00",
            "slot_minutes": 30,
            "capacity": 0,
            "valid_from": soon(24 * 60).date().isoformat(),
        },
        headers=admin,
    )
    assert template.status_code == 201, template.text
    for district, person in (("Cờ Đỏ", await make_citizen(uow)), ("Vĩnh Thạnh", await make_citizen(uow))):
        joined = await client.post(
            "/api/v1/standby",
            json=wait_body(service, slot, province="Cần Thơ", district=district),
            headers=token_for(person[0]),
        )
        assert joined.status_code == 201, (district, joined.text)
