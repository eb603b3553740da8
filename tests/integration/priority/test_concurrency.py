"""Bookings by a group and by everyone else racing for a slot with held-back seats while the seats are released
(pytest -m concurrency): nobody outside the group holds a held-back seat, and the counts stay exact."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import asyncpg
import httpx
import pytest

from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, staff_headers, token_for
from tests.integration.booking.invariants import check_invariants
from tests.integration.priority.seats import check_held_back
from tests.integration.priority.test_priority_api import ELDERLY, hold_back, make_group
from vaxbook.auth.models import Role
from vaxbook.db import UnitOfWork

pytestmark = pytest.mark.concurrency


@pytest.mark.parametrize("release", ["none", "slot", "group switched off"])
async def test_a_rush_on_held_back_and_open_seats_keeps_them_apart(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, release: str
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    elderly = await make_group(client, admin, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=20, starts_at=soon(72))
    assert (await hold_back(client, admin, slot, (elderly, 10, soon(-1)))).status_code == 200
    young = [(await make_citizen(uow, date_of_birth=date(1995, 1, 1)))[0] for _ in range(30)]
    old = [(await make_citizen(uow, date_of_birth=date(1945, 1, 1)))[0] for _ in range(6)]

    async def book(citizen: object) -> tuple[str, httpx.Response]:
        kind = "old" if citizen in old else "young"
        response = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))  # type: ignore[arg-type]
        return kind, response

    async def let_go() -> tuple[str, httpx.Response]:
        if release == "slot":
            body = {"clinic_id": str(clinic.id), "slot_id": str(slot.id)}
            return "release", await client.post("/api/v1/reservations/release", json=body, headers=admin)
        off = await client.patch(f"/api/v1/priority-groups/{elderly}", json={"active": False}, headers=admin)
        return "switched off", off

    calls = [book(c) for c in [*young[:15], *old, *young[15:]]]
    if release != "none":
        calls.insert(len(calls) // 2, let_go())
    results = await asyncio.gather(*calls)
    if release == "group switched off":
        audited = await db.fetchval(
            "SELECT coalesce((details->>'seats_released')::int, 0) FROM audit_log WHERE action = $1",
            "priority_group.update",
        )
        results = [(k, r) for k, r in results if k != "switched off"]
        results.append(("release", httpx.Response(200, json={"seats": audited})))

    outcome = Counter((kind, r.status_code) for kind, r in results)
    assert {status for _, status in outcome} <= {200, 201, 409}, outcome
    young_booked, old_booked = outcome[("young", 201)], outcome[("old", 201)]
    released = next((r.json()["seats"] for kind, r in results if kind == "release"), 0)
    # everyone else gets the open seats and, at most, the seats released while they were still trying
    assert young_booked <= 10 + released, outcome
    if release == "none":
        # the group's seats were theirs alone: every one of them booked, and nobody else got more than the rest
        assert (young_booked, old_booked) == (10, len(old)), outcome
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == young_booked + old_booked
    assert {r.json()["type"] for kind, r in results if r.status_code == 409} <= {
        "/problems/slot-full",
        "/problems/seats-reserved",
    }
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE reserved_seat AND priority_group_id IS NULL") == 0
    reserved_holders = await db.fetchval("SELECT count(*) FROM bookings WHERE reserved_seat")
    assert reserved_holders <= len(old)
    await check_held_back(db)
    await check_invariants(db)


async def test_cancels_of_held_back_seats_race_changes_and_releases_without_deadlock(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    admin = await staff_headers(client, uow, Role.HEALTH_ADMIN, [])
    elderly = await make_group(client, admin, ELDERLY)
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=30, starts_at=soon(72))
    assert (await hold_back(client, admin, slot, (elderly, 30, soon(-1)))).status_code == 200
    old = [(await make_citizen(uow, date_of_birth=date(1945, 1, 1)))[0] for _ in range(25)]
    bookings = [
        (c, (await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(c))).json())
        for c in old
    ]
    assert all(b["reserved_seat"] for _, b in bookings)

    async def cancel(citizen: object, booking_id: str) -> httpx.Response:
        return await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=token_for(citizen))  # type: ignore[arg-type]

    async def change(seats: int) -> httpx.Response:
        return await hold_back(client, admin, slot, (elderly, seats, soon(-1)))

    async def release() -> httpx.Response:
        body = {"clinic_id": str(clinic.id), "slot_id": str(slot.id)}
        return await client.post("/api/v1/reservations/release", json=body, headers=admin)

    calls = [cancel(c, b["id"]) for c, b in bookings[:20]]
    calls[5:5] = [change(30) for _ in range(8)]
    calls.insert(12, release())
    responses = await asyncio.gather(*calls)
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert {r.json()["type"] for r in responses if r.status_code == 409} <= {"/problems/reservation-below-booked"}
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'cancelled'") == 20
    await check_held_back(db)
    await check_invariants(db)
