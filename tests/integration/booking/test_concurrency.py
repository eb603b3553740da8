"""Races against the seat invariants, through the HTTP API with real connections (pytest -m concurrency)."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter

import asyncpg
import httpx
import pytest

from clinics import seats
from clinics.seats import claims_together
from tests.factories import make_citizen, make_clinic, make_service, make_slot, soon, token_for
from tests.integration.booking.invariants import check_invariants
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
pytestmark = pytest.mark.concurrency
PROCESSES = 4


@pytest.fixture(params=["alone", "together"])
def written(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each seat claim written alone (as the race fixture has it), or written together with those of its slot, in
    PROCESSES processes whose writes race at the database: each request goes to the next one's turns in the row."""
    if request.param == "together":
        process = itertools.cycle(range(PROCESSES))
        monkeypatch.setattr(
            seats,
            "claims_together",
            lambda slot_id, item, write: claims_together((slot_id, next(process)), item, write),
        )
    return str(request.param)


async def book_as_a_client_does(client: Client, slot_id: object, headers: dict[str, str]) -> httpx.Response:
    """A booking, sent again after a 503 busy once its Retry-After has passed (on a loaded machine a seat's lock
    may wait past its timeout): every citizen ends with a seat or a "full", whatever the load."""
    for _ in range(10):
        response = await client.post("/api/v1/bookings", json={"slot_id": str(slot_id)}, headers=headers)
        if response.status_code != 503:
            return response
        assert response.json()["type"] == "/problems/busy", response.text
        await asyncio.sleep(float(response.headers["retry-after"]))
    return response


@pytest.mark.parametrize(("capacity", "citizens"), [(50, 500), (1, 500)])
async def test_a_rush_on_one_slot_never_overbooks(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, capacity: int, citizens: int, written: str
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=capacity)
    headers = [token_for((await make_citizen(uow))[0]) for _ in range(citizens)]
    responses = await asyncio.gather(*(book_as_a_client_does(client, slot.id, h) for h in headers))
    outcome = Counter((r.status_code, r.json().get("type")) for r in responses)
    assert outcome == {(201, None): capacity, (409, "/problems/slot-full"): citizens - capacity}
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == capacity
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", slot.id) == capacity
    assert len({r.json()["code"] for r in responses if r.status_code == 201}) == capacity
    await check_invariants(db)


READ_THEN_WRITE = """
CREATE OR REPLACE FUNCTION claim_seats(p_clinic uuid, p_slot uuid, p_now timestamptz, p_early boolean,
                                       p_through_draw boolean, p_count integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    s slots;
BEGIN
    SELECT * INTO s FROM slots WHERE clinic_id = p_clinic AND id = p_slot;
    IF s.booked + s.held_back + p_count > s.capacity THEN
        RETURN false;
    END IF;
    PERFORM pg_sleep(0.2);  -- the gap between the read and the write, wide enough that the racing writes meet in it
    UPDATE slots SET booked = s.booked + p_count WHERE clinic_id = p_clinic AND id = p_slot;
    RETURN true;
END
$$
"""


async def test_the_control_a_claim_that_reads_then_writes_overbooks(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection, written: str
) -> None:
    """The harness can fail: with the seats claimed the way they must never be (read what is left, then write the
    count back) in the database function every booking claims its seats with, alone or together, the same rush
    books more people than the slot has seats, and the checks above see it."""
    the_claim = await db.fetchval("SELECT pg_get_functiondef('claim_seats'::regproc)")
    await db.execute(READ_THEN_WRITE)
    try:
        capacity = 5
        clinic, service = await make_clinic(uow), await make_service(uow)
        slot = await make_slot(uow, clinic, service, capacity=capacity)
        headers = [token_for((await make_citizen(uow))[0]) for _ in range(60)]
        await asyncio.gather(
            *(client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=h) for h in headers)
        )
        assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", slot.id) > capacity
        with pytest.raises(AssertionError):
            await check_invariants(db)
    finally:
        await db.execute(the_claim)


async def test_one_citizen_pressing_twenty_times_books_once(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slots = [await make_slot(uow, clinic, service, starts_at=soon(24 + n)) for n in range(20)]
    citizen, _ = await make_citizen(uow)
    headers = token_for(citizen)
    responses = await asyncio.gather(
        *(client.post("/api/v1/bookings", json={"slot_id": str(s.id)}, headers=headers) for s in slots)
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1
    assert set(statuses) <= {201, 409, 429}
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1
    assert await db.fetchval("SELECT sum(booked) FROM slots") == 1
    await check_invariants(db)


async def test_a_reschedule_racing_for_the_last_seat_moves_or_stays(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    for round_number in range(8):
        home = await make_slot(uow, clinic, service, starts_at=soon(24 + round_number))
        last_seat = await make_slot(uow, clinic, service, capacity=1, starts_at=soon(100 + round_number))
        mover, mover_person = await make_citizen(uow)
        old = (await client.post("/api/v1/bookings", json={"slot_id": str(home.id)}, headers=token_for(mover))).json()
        rivals = [token_for((await make_citizen(uow))[0]) for _ in range(10)]
        move = client.post(
            f"/api/v1/bookings/{old['id']}/reschedule", json={"slot_id": str(last_seat.id)}, headers=token_for(mover)
        )
        grabs = [client.post("/api/v1/bookings", json={"slot_id": str(last_seat.id)}, headers=h) for h in rivals]
        # the mover goes first, in the middle or last, round by round
        order = [*grabs[: round_number % 3 * 5], move, *grabs[round_number % 3 * 5 :]]
        responses = await asyncio.gather(*order)
        moved = responses[order.index(move)].status_code == 201
        active = await db.fetch(
            "SELECT slot_id FROM bookings WHERE person_id = $1 AND status = 'booked'", mover_person.id
        )
        assert [r["slot_id"] for r in active] == [last_seat.id if moved else home.id], "moved or stayed, exactly one"
        old_status = await db.fetchval("SELECT status FROM bookings WHERE id = $1", old["id"])
        assert old_status == ("moved" if moved else "booked")
        assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", last_seat.id) == 1
        assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", home.id) == (0 if moved else 1)
        await check_invariants(db)


async def test_one_move_pressed_twenty_times_at_once_moves_once_and_the_others_say_where_it_went(
    client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """Every press but the one that moved it finds the booking moved, and says so (with the new code), never that
    the person "already has a booking" of the slot: that booking is this very move."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    home = await make_slot(uow, clinic, service, starts_at=soon(30))
    later = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(60))
    citizen, person = await make_citizen(uow)
    headers = token_for(citizen)
    old = (await client.post("/api/v1/bookings", json={"slot_id": str(home.id)}, headers=headers)).json()
    answers = await asyncio.gather(
        *(
            client.post(f"/api/v1/bookings/{old['id']}/reschedule", json={"slot_id": str(later.id)}, headers=headers)
            for _ in range(20)
        )
    )
    kinds = Counter(a.status_code if a.status_code == 201 else a.json()["type"] for a in answers)
    assert kinds == {201: 1, "/problems/booking-moved": 19}, kinds
    [moved] = [a.json() for a in answers if a.status_code == 201]
    assert {a.json()["moved_to_code"] for a in answers if a.status_code != 201} == {moved["code"]}
    active = await db.fetch("SELECT slot_id FROM bookings WHERE person_id = $1 AND status = 'booked'", person.id)
    assert [r["slot_id"] for r in active] == [later.id]
    await check_invariants(db)


async def test_the_same_booking_pressed_twenty_times_at_once_is_one_booking_answered_to_each(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A double tap, or a phone retrying while the first request still runs, with no Idempotency-Key: each press is
    answered 201 with the one booking (as a press after it would be), and none counts against the attempt limit,
    so the person can still move it."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(30))
    later = await make_slot(uow, clinic, service, capacity=5, starts_at=soon(60))
    citizen, _ = await make_citizen(uow)
    headers = token_for(citizen)
    answers = await asyncio.gather(
        *(client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=headers) for _ in range(20))
    )
    assert Counter(a.status_code for a in answers) == {201: 20}, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 1
    moved = await client.post(
        f"/api/v1/bookings/{answers[0].json()['id']}/reschedule", json={"slot_id": str(later.id)}, headers=headers
    )
    assert moved.status_code == 201, moved.text
    await check_invariants(db)
