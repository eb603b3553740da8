"""Seats' lock order across slots: a transaction that changes several slots locks them in id order, as a move does
(`seats.lock_all`), never one slot and then, waiting, a slot of a lower id. Otherwise a move between the same two
slots, holding the lower and waiting for the higher, meets it in a deadlock, and PostgreSQL stops one of them
(503 `busy` for a request).

Each test plays the move's part on a connection of its own: it holds the lower slot's row, lets the work under
test run until it waits for that row, and then asks for the higher slot's row without waiting. A transaction that
took the slots in id order holds nothing of the higher one while it waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from booking.models import BookingPolicy
from booking.service import standby
from clinics import service as clinics
from clinics.models import Clinic, Service, Slot
from clinics.schemas import SlotUpdate
from tests.factories import ADMIN, make_citizen, make_clinic, make_service, make_slot, soon, token_for
from tests.integration.booking.invariants import check_invariants
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = BookingPolicy(
    max_attempts=10, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def held_while_waiting(
    db: asyncpg.Connection, *, lower: UUID, higher: UUID, work: Callable[[], Awaitable[Any]]
) -> tuple[bool, Any]:
    """Hold the lower slot's row as a move between the two slots would, run `work` until it waits for that row,
    and tell whether it holds the higher slot's row meanwhile; then let it finish. (Whether it held it, its result.)"""
    async with db.transaction():
        await db.execute("SELECT 1 FROM slots WHERE id = $1 FOR NO KEY UPDATE", lower)
        running = asyncio.create_task(work())
        await _until_another_waits_for_a_lock(db)
        try:
            async with db.transaction():
                await db.execute("SELECT 1 FROM slots WHERE id = $1 FOR NO KEY UPDATE NOWAIT", higher)
            held = False
        except asyncpg.LockNotAvailableError:
            held = True
    return held, await asyncio.wait_for(running, 10)


async def _until_another_waits_for_a_lock(db: asyncpg.Connection) -> None:
    for _ in range(3000):  # up to 30 s: on a loaded run the work may take seconds to reach its lock
        waiting = await db.fetchval(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
            """
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the work never waited for the slot held")


async def two_slots(uow: UnitOfWork, clinic: Clinic, service: Service, *, capacity: int) -> tuple[Slot, Slot]:
    """Two slots a week apart, as (lower id, higher id)."""
    one = await make_slot(uow, clinic, service, capacity=capacity, starts_at=soon(24 * 3))
    other = await make_slot(uow, clinic, service, capacity=capacity, starts_at=soon(24 * 10))
    lower, higher = sorted([one, other], key=lambda slot: slot.id)
    return lower, higher


def waiting_on_the_day_of(clinic: Clinic, service: Service, slot: Slot) -> dict[str, Any]:
    day = slot.starts_at.astimezone(SAIGON).date()
    return {
        "service_id": str(service.id),
        "clinic_id": str(clinic.id),
        "date_from": day.isoformat(),
        "date_to": day.isoformat(),
    }


async def test_a_booking_that_ends_an_offer_elsewhere_takes_both_slots_in_id_order(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A citizen offered a seat of one slot books another: the offered seat goes back as the booking claims its own.
    Both slots are locked in id order before either changes, whichever of them is the booked one."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    lower, higher = await two_slots(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    held = await client.post("/api/v1/bookings", json={"slot_id": str(higher.id)}, headers=token_for(holder))
    assert held.status_code == 201
    citizen, _ = await make_citizen(uow)
    joined = await client.post(
        "/api/v1/standby", json=waiting_on_the_day_of(clinic, service, higher), headers=token_for(citizen)
    )
    assert joined.status_code == 201, joined.text
    await client.post(f"/api/v1/bookings/{held.json()['id']}/cancel", headers=token_for(holder))
    [entry] = (await client.get("/api/v1/standby", headers=token_for(citizen))).json()
    assert entry["offer"]["slot_id"] == str(higher.id)

    async def book_the_lower() -> httpx.Response:
        return await client.post("/api/v1/bookings", json={"slot_id": str(lower.id)}, headers=token_for(citizen))

    held_higher, booked = await held_while_waiting(db, lower=lower.id, higher=higher.id, work=book_the_lower)
    assert not held_higher, "the offered slot was changed before the booked one was locked"
    assert booked.status_code == 201, booked.text
    assert (await client.get("/api/v1/standby", headers=token_for(citizen))).json()[0]["status"] == "left"
    seats = dict(await db.fetch("SELECT id, booked FROM slots"))
    assert seats == {lower.id: 1, higher.id: 0}, "the offered seat went back to everyone"
    await check_invariants(db)


async def test_the_sweep_that_offers_new_seats_holds_one_slot_at_a_time(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Seats added to two slots go to the two people waiting for them: the first offer is made and committed before
    the second reaches for its slot."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    lower, higher = await two_slots(uow, clinic, service, capacity=0)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    for citizen, slot in ((first, higher), (second, lower)):  # the first in line waits for the higher slot
        joined = await client.post(
            "/api/v1/standby", json=waiting_on_the_day_of(clinic, service, slot), headers=token_for(citizen)
        )
        assert joined.status_code == 201, joined.text
    for slot in (lower, higher):
        await clinics.update_slot(uow, ADMIN, clinic.id, slot.id, SlotUpdate(capacity=1), now=datetime.now(UTC))

    async def sweep() -> int:
        return await standby.fill_free_seats(uow, POLICY, now=datetime.now(UTC))

    held_higher, offered = await held_while_waiting(db, lower=lower.id, higher=higher.id, work=sweep)
    assert not held_higher, "the sweep held one slot's row while it reached for another's"
    assert offered == 2
    for citizen, slot in ((first, higher), (second, lower)):
        [entry] = (await client.get("/api/v1/standby", headers=token_for(citizen))).json()
        assert entry["offer"]["slot_id"] == str(slot.id)
    await check_invariants(db)


async def test_control_the_check_sees_a_slot_taken_out_of_order(uow: UnitOfWork, db: asyncpg.Connection) -> None:
    """The check is no formality: a transaction that takes the higher slot and then waits for the lower one is seen
    holding the higher one."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    lower, higher = await two_slots(uow, clinic, service, capacity=1)

    async def out_of_order() -> None:
        async with uow.transaction() as conn:
            for slot in (higher, lower):
                await conn.execute("SELECT 1 FROM slots WHERE id = $1 FOR NO KEY UPDATE", slot.id)

    held_higher, _ = await held_while_waiting(db, lower=lower.id, higher=higher.id, work=out_of_order)
    assert held_higher
