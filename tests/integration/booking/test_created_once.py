"""What a second press would create twice is created once per Idempotency-Key: a dependent, a person registered
at a counter, a reaction reported by the citizen or by staff. Presses racing each other under one key make one row
and all get its answer; a key used again for something else is refused; no key, no protection (the control). A wait
on the standby list and a draw entry, which the database makes once anyway, answer a repeat under its key with the
entry rather than "already waiting"."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

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
from tests.integration.booking.test_review_cases import waiting_at
from tests.integration.qr.test_visits import checked_in, visit
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient


@dataclass
class Creation:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    other_body: dict[str, Any]  # what a key used again for something else would send
    count: str  # SQL: the rows made so far


async def a_dependent(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    guardian, me = await make_citizen(uow)
    body = person_details(full_name="Lê Minh Khang", cccd=None) | {"relation": "child", "consent": consent()}
    return Creation(
        "/api/v1/me/dependents",
        token_for(guardian),
        body,
        body | {"full_name": "Lê Minh An"},
        f"SELECT count(*) FROM people WHERE guardian_id = '{me.id}'",
    )


async def a_registration(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    operator = await staff_headers(client, uow, Role.OPERATOR)
    # with a CCCD: two registrations of one person with neither a phone nor a CCCD are refused whatever the key
    body = person_details(full_name="Võ Thị Bảy") | {"consent": consent()}
    return Creation(
        "/api/v1/assist/people",
        operator,
        body,
        body | {"full_name": "Võ Văn Tám"},
        "SELECT count(*) FROM people WHERE registered_by IS NOT NULL",
    )


async def _reaction(client: Client, uow: UnitOfWork, db: asyncpg.Connection, *, by_staff: bool) -> Creation:
    clinic, _, staff, citizen, booking = await checked_in(client, uow)
    lot_id = await db.fetchval("SELECT lot_id FROM clinic_stock WHERE clinic_id = $1", clinic.id)
    dose = await client.post(
        visit(clinic, booking, "vaccination"), json={"lot_id": str(lot_id), "injection_site": "left_arm"}, headers=staff
    )
    assert dose.status_code == 201, dose.text
    body = {
        "severity": "severe",
        "serious": True,
        "outcome": "hospitalised",
        "description": "Khó thở sau 15 phút",
        "onset_at": datetime.now(UTC).isoformat(),
    }
    return Creation(
        visit(clinic, booking, "adverse-events") if by_staff else f"/api/v1/bookings/{booking['id']}/adverse-events",
        staff if by_staff else token_for(citizen),
        body,
        body | {"description": "Nổi mẩn đỏ"},
        f"SELECT count(*) FROM adverse_events WHERE booking_id = '{booking['id']}'",
    )


async def a_citizen_s_reaction(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    return await _reaction(client, uow, db, by_staff=False)


async def a_reaction_seen_by_staff(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    return await _reaction(client, uow, db, by_staff=True)


CREATIONS: dict[str, Callable[[Client, UnitOfWork, asyncpg.Connection], Awaitable[Creation]]] = {
    "dependent": a_dependent,
    "registration": a_registration,
    "citizen's reaction": a_citizen_s_reaction,
    "staff's reaction": a_reaction_seen_by_staff,
}


async def a_wait(client: Client, uow: UnitOfWork, db: asyncpg.Connection, *, by_staff: bool) -> Creation:
    clinic, service = await make_clinic(uow), await make_service(uow)
    full = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(full.id)}, headers=token_for(holder))
    assert taken.status_code == 201
    citizen, me = await make_citizen(uow)
    body = waiting_at(clinic.id, service.id, full.starts_at, person_id=str(me.id))
    headers = await staff_headers(client, uow, Role.OPERATOR) if by_staff else token_for(citizen)
    return Creation(
        "/api/v1/assist/standby" if by_staff else "/api/v1/standby",
        headers,
        body,
        body | {"date_to": body["date_from"]},
        f"SELECT count(*) FROM standby_entries WHERE person_id = '{me.id}'",
    )


async def a_citizen_s_wait(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    return await a_wait(client, uow, db, by_staff=False)


async def a_wait_at_the_hotline(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    return await a_wait(client, uow, db, by_staff=True)


async def a_draw_entry(client: Client, uow: UnitOfWork, db: asyncpg.Connection) -> Creation:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=10, starts_at=soon(72))
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN)
    draw = f"/api/v1/clinics/{clinic.id}/slots/{slot.id}/draw"
    assert (await client.put(draw, json={"closes_at": soon(1).isoformat()}, headers=admin)).status_code == 200
    guardian, me = await make_citizen(uow)
    child = await make_dependent(uow, guardian, cccd=None)
    return Creation(
        "/api/v1/draw-entries",
        token_for(guardian),
        {"slot_id": str(slot.id), "person_id": str(me.id)},
        {"slot_id": str(slot.id), "person_id": str(child.id)},
        f"SELECT count(*) FROM draw_entries WHERE slot_id = '{slot.id}'",
    )


ENTRIES: dict[str, Callable[[Client, UnitOfWork, asyncpg.Connection], Awaitable[Creation]]] = {
    "citizen's wait": a_citizen_s_wait,
    "wait at the hotline": a_wait_at_the_hotline,
    "draw entry": a_draw_entry,
}


@pytest.mark.concurrency
@pytest.mark.parametrize("what", [*CREATIONS, *ENTRIES])
async def test_presses_racing_under_one_key_create_one_and_each_gets_its_answer(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, what: str
) -> None:
    made = await (CREATIONS | ENTRIES)[what](client, uow, db)
    before = await db.fetchval(made.count)
    headers = made.headers | {"Idempotency-Key": "pressed-twice"}

    answers = await asyncio.gather(*(client.post(made.url, json=made.body, headers=headers) for _ in range(8)))

    assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await db.fetchval(made.count) == before + 1
    later = await client.post(made.url, json=made.body, headers=headers)
    assert (later.status_code, later.json()["id"]) == (201, answers[0].json()["id"])
    reused = await client.post(made.url, json=made.other_body, headers=headers)
    assert (reused.status_code, reused.json()["type"]) == (422, "/problems/idempotency-key-reused")
    assert await db.fetchval(made.count) == before + 1


# a dependent added twice is refused by who they are, key or not (dependent-exists): no control to show here
@pytest.mark.parametrize("what", [what for what in CREATIONS if what != "dependent"])
async def test_the_control_without_a_key_two_presses_create_two(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, what: str
) -> None:
    made = await CREATIONS[what](client, uow, db)
    before = await db.fetchval(made.count)
    for _ in range(2):
        assert (await client.post(made.url, json=made.body, headers=made.headers)).status_code == 201
    assert await db.fetchval(made.count) == before + 2


async def test_a_dependent_removed_takes_the_answer_kept_for_adding_them_along(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    made = await a_dependent(client, uow, db)
    headers = made.headers | {"Idempotency-Key": "added-then-removed"}
    added = await client.post(made.url, json=made.body, headers=headers)
    assert added.status_code == 201
    kept = "SELECT count(*) FROM idempotency_keys WHERE response->>'full_name' = $1"
    assert await db.fetchval(kept, made.body["full_name"]) == 1

    removed = await client.delete(f"{made.url}/{added.json()['id']}", headers=made.headers)

    assert removed.status_code == 204
    assert await db.fetchval(kept, made.body["full_name"]) == 0, "their details stayed in the kept answer"
    again = await client.post(made.url, json=made.body, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] != added.json()["id"], "an answer naming someone removed was replayed"
    assert await db.fetchval(made.count) == 1


@pytest.mark.parametrize("what", list(ENTRIES))
async def test_the_control_without_a_key_a_second_wait_or_entry_is_refused(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, what: str
) -> None:
    """One entry a person and line either way (the database's own rule): without a key the second press is told
    "already waiting" or "already entered", where under its key it gets the entry (above)."""
    made = await ENTRIES[what](client, uow, db)
    assert (await client.post(made.url, json=made.body, headers=made.headers)).status_code == 201
    again = await client.post(made.url, json=made.body, headers=made.headers)
    assert again.status_code == 409
    assert again.json()["type"] in ("/problems/already-waiting", "/problems/already-entered")
    assert await db.fetchval(made.count) == 1
