"""One account, many people: an account holder and their dependents together hold at most a slot's
`seats_per_household` seats of it and as many entries in its draw, counted by the database on every path."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import asyncpg
import httpx
import pytest

from clinics.models import DEFAULT_SEATS_PER_HOUSEHOLD
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
from vaxbook.auth.models import Principal, Role
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings

Client = httpx.AsyncClient


async def household(uow: UnitOfWork, dependents: int = 5) -> tuple[Principal, list[str]]:
    """An account holder with `dependents` dependents (none with a CCCD of their own): the ids of all of them."""
    holder, own = await make_citizen(uow)
    people = [str(own.id)]
    for n in range(dependents):
        people.append(str((await make_dependent(uow, holder, cccd=None, full_name=f"Con {n}")).id))
    return holder, people


async def book_all(client: Client, holder: Principal, slot_id: object, people: list[str]) -> Counter[object]:
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/bookings", json={"slot_id": str(slot_id), "person_id": p}, headers=token_for(holder))
            for p in people
        )
    )
    return Counter((r.status_code, r.json().get("type")) for r in responses)


@pytest.mark.concurrency
async def test_a_rush_of_one_account_s_people_takes_no_more_than_the_cap(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10)
    holder, people = await household(uow)
    neighbour, theirs = await household(uow, dependents=1)
    outcome = await book_all(client, holder, slot.id, people)
    cap = DEFAULT_SEATS_PER_HOUSEHOLD
    assert outcome == {(201, None): cap, (409, "/problems/household-seats-taken"): len(people) - cap}
    assert await book_all(client, neighbour, slot.id, theirs) == {(201, None): 2}, "another account is not held"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == cap + 2
    assert await db.fetchval("SELECT sum(held) FROM household_claims WHERE kind = 'seat'") == cap + 2
    await check_invariants(db)


@pytest.mark.concurrency
async def test_the_control_without_the_count_one_account_takes_six_seats(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The harness can fail: with the database's count switched off, the same rush takes a seat for every one of the
    account's people."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10)
    holder, people = await household(uow)
    await db.execute("ALTER TABLE bookings DISABLE TRIGGER bookings_household_claims")
    try:
        outcome = await book_all(client, holder, slot.id, people)
    finally:
        await db.execute("ALTER TABLE bookings ENABLE TRIGGER bookings_household_claims")
    assert outcome == {(201, None): len(people)}
    with pytest.raises(AssertionError):
        await check_invariants(db)


async def test_a_seat_given_back_can_be_taken_by_another_of_the_household(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10)
    holder, people = await household(uow, dependents=3)
    headers = token_for(holder)
    booked = []
    for person in people[:3]:
        response = await client.post(
            "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": person}, headers=headers
        )
        assert response.status_code == 201, response.text
        booked.append(response.json()["id"])
    fourth = {"slot_id": str(slot.id), "person_id": people[3]}
    assert (await client.post("/api/v1/bookings", json=fourth, headers=headers)).status_code == 409
    assert (await client.post(f"/api/v1/bookings/{booked[0]}/cancel", headers=headers)).status_code == 200
    assert (await client.post("/api/v1/bookings", json=fourth, headers=headers)).status_code == 201
    assert await db.fetchval("SELECT held FROM household_claims WHERE slot_id = $1", slot.id) == 3


async def test_each_slot_may_set_its_own_cap_and_staff_booking_for_them_counts_too(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    created = await client.post(
        f"/api/v1/clinics/{clinic.id}/slots",
        json={
            "service_id": str(service.id),
            "starts_at": soon(30).isoformat(),
            "ends_at": soon(31).isoformat(),
            "capacity": 10,
            "seats_per_household": 1,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["seats_per_household"] == 1
    slot_id = created.json()["id"]
    holder, people = await household(uow, dependents=2)
    own = {"slot_id": slot_id, "person_id": people[0]}
    assert (await client.post("/api/v1/bookings", json=own, headers=token_for(holder))).status_code == 201
    operator = await staff_headers(client, uow, Role.OPERATOR)
    for_child = await client.post(
        "/api/v1/assist/bookings", json={"slot_id": slot_id, "person_id": people[1]}, headers=operator
    )
    assert for_child.status_code == 409, "the hotline books under the same cap"
    assert for_child.json()["type"] == "/problems/household-seats-taken"
    assert for_child.json()["seats_per_household"] == 1, "the slot's own limit, said"
    assert "tối đa 1 chỗ" in for_child.json()["detail"]
    raised = await client.patch(
        f"/api/v1/clinics/{clinic.id}/slots/{slot_id}", json={"seats_per_household": 2}, headers=admin
    )
    assert raised.json()["seats_per_household"] == 2
    again = await client.post(
        "/api/v1/assist/bookings", json={"slot_id": slot_id, "person_id": people[1]}, headers=operator
    )
    assert again.status_code == 201, again.text
    bad = await client.patch(
        f"/api/v1/clinics/{clinic.id}/slots/{slot_id}", json={"seats_per_household": 0}, headers=admin
    )
    assert bad.status_code == 422
    await check_invariants(db)


async def test_one_account_s_people_enter_a_draw_no_more_than_the_cap(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10, starts_at=soon(72))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    holder, people = await household(uow)
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/draw-entries", json={"slot_id": str(slot.id), "person_id": p}, headers=token_for(holder)
            )
            for p in people
        )
    )
    outcome = Counter((r.status_code, r.json().get("type")) for r in answers)
    cap = DEFAULT_SEATS_PER_HOUSEHOLD
    assert outcome == {(201, None): cap, (409, "/problems/household-entries-taken"): len(people) - cap}
    assert await db.fetchval("SELECT count(*) FROM draw_entries") == cap


async def test_a_family_books_for_each_of_its_people_each_within_the_attempt_limit(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, settings: Settings
) -> None:
    """The attempt limit counts per person booked for: a parent who used up their own attempts still books their
    child (a family of six books two vaccines each in one sitting), and still may not hammer for themselves."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5)
    parent, me = await make_citizen(uow)
    child = await make_dependent(uow, parent, date_of_birth=date(2015, 1, 1), relation="child")
    await db.execute(
        "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), $2)",
        f"book:account:{parent.id}:{me.id}",
        settings.booking_max_attempts,
    )
    for_child = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(parent)
    )
    assert for_child.status_code == 201, for_child.text
    for_me = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(parent))
    assert (for_me.status_code, for_me.json()["type"]) == (429, "/problems/too-many-requests")
