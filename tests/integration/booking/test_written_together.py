"""Bookings of one slot written together (`book_seats`, migrations 0021 to 0023): each answered as it would be
alone, the seats granted only by the database, a rush written in far fewer statements than it has bookings, and a
batch with seats for all written at once unless one of it is refused."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from booking import repository
from booking.models import AlreadyBooked, BookingPolicy
from booking.service import bookings, common
from clinics import seats
from tests.factories import make_citizen, make_clinic, make_service, make_slot, token_for
from tests.integration.booking.invariants import check_invariants
from vaxbook.db import UnitOfWork
from vaxbook.idempotency import idempotency_key

POLICY = BookingPolicy(
    max_attempts=10, attempt_window_minutes=10, max_active_per_person=3, offer_minutes=30, idempotency_hours=24
)


async def test_a_rush_is_written_together_and_books_exactly_the_seats(
    client: httpx.AsyncClient, uow: UnitOfWork, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    capacity, citizens = 40, 240
    slot = await make_slot(uow, clinic, service, capacity=capacity)
    headers = [token_for((await make_citizen(uow))[0]) for _ in range(citizens)]
    writes: list[int] = []
    book_seats = repository.book_seats

    async def counted(conn: asyncpg.Connection, together: list[repository.SeatBooking]) -> Any:
        writes.append(len(together))
        return await book_seats(conn, together)

    monkeypatch.setattr(repository, "book_seats", counted)
    before = {
        name: REGISTRY.get_sample_value(f"vaxbook_seat_claims_per_write_{name}") or 0 for name in ("count", "sum")
    }
    responses = await asyncio.gather(
        *(
            client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=h | {"Idempotency-Key": f"k{n}"})
            for n, h in enumerate(headers)
        )
    )
    outcome = Counter((r.status_code, r.json().get("type")) for r in responses)
    assert outcome == {(201, None): capacity, (409, "/problems/slot-full"): citizens - capacity}
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == capacity
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", slot.id) == capacity
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.create'") == capacity
    assert max(writes) > 1, "no bookings were written together"
    assert len(writes) < capacity, "the rush took a statement per booking"
    # what operators see of it: the writes and the claims they took
    after = {name: REGISTRY.get_sample_value(f"vaxbook_seat_claims_per_write_{name}") for name in ("count", "sum")}
    assert after == {"count": before["count"] + len(writes), "sum": before["sum"] + sum(writes)}
    await check_invariants(db)


async def seat_bookings(uow: UnitOfWork, slot_id: UUID, people: int) -> list[repository.SeatBooking]:
    """What the service would write for `people` new citizens booking the slot, each with an Idempotency-Key, taken
    from the service itself and not written."""
    taken: list[repository.SeatBooking] = []

    async def keep(slot: UUID, item: repository.SeatBooking, write: Any) -> datetime:
        taken.append(item)
        return datetime.now(UTC)

    for n in range(people):
        principal, person = await make_citizen(uow)
        key = idempotency_key(str(principal.id), f"press-{n}", "book", {"slot_id": str(slot_id)})
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(seats, "claims_together", keep)
            await bookings.book(
                uow, principal, POLICY, slot_id=slot_id, person_id=person.id, now=datetime.now(UTC), idempotency=key
            )
    return taken


async def refusals_of_every_kind(uow: UnitOfWork, db: asyncpg.Connection) -> tuple[UUID, list[Any]]:
    """A slot of three seats and twelve bookings of it, in order: booked; its key already taken by a request still
    running; over the attempt limit; a second booking of the first person; another's code; on a standby list; booked;
    booked; and after the last seat went: a booking; one whose key is taken; one over the attempt limit; one on a
    standby list."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=3)
    made = await seat_bookings(uow, slot.id, 11)
    first, running, spent, code_twice, waiting, second, third, late, late_running, late_spent, late_waiting = made
    for held in (running, late_running):
        await db.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3)",
            held.write.key_scope,
            held.write.key,
            held.write.fingerprint,
        )
    again = replace(first.booking, id=uuid4(), code=common.new_code())
    standby_service = await make_service(uow)
    for on_the_list in (waiting, late_waiting):
        await db.execute(
            """
            INSERT INTO standby_entries (person_id, service_id, clinic_id, status, date_from, date_to)
            VALUES ($1, $2, $3, 'waiting', current_date, current_date + 7)
            """,
            on_the_list.booking.person_id,
            standby_service.id,
            clinic.id,
        )

    def over_the_limit(one: repository.SeatBooking) -> repository.SeatBooking:
        return replace(one, write=replace(one.write, attempt_limit=0))

    def on_standby(one: repository.SeatBooking) -> repository.SeatBooking:
        return replace(one, write=replace(one.write, siblings=[*one.write.siblings, standby_service.id]))

    return slot.id, [
        first,
        running,
        over_the_limit(spent),
        replace(first, booking=again, write=replace(first.write, key=None)),
        replace(code_twice, booking=replace(code_twice.booking, code=first.booking.code)),
        on_standby(waiting),
        second,
        third,
        late,
        late_running,
        over_the_limit(late_spent),
        on_standby(late_waiting),
    ]


def kinds(answers: list[Any]) -> list[str]:
    return [type(a).__name__ if isinstance(a, Exception) else "booked" if a else "taken" for a in answers]


EXPECTED = [
    "booked",
    "taken",
    "AttemptsSpent",
    "AlreadyBooked",
    "CodeTaken",
    "LongWay",
    "booked",
    "booked",
    "NoSeatLeft",
    "taken",
    "NoSeatLeft",
    "NoSeatLeft",
]
"""With no seat left, only a repeat's key comes before "full", as in the screen: past the last seat, the booking over
its attempt limit and the one on a standby list are told the slot is full."""


@pytest.mark.parametrize("together", [True, False], ids=["together", "alone"])
async def test_each_booking_written_together_is_answered_as_it_would_be_alone(
    uow: UnitOfWork, db: asyncpg.Connection, together: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot_id, items = await refusals_of_every_kind(uow, db)
    alone: list[repository.SeatBooking] = []
    write_alone = repository._alone

    async def counted(conn: asyncpg.Connection, one: repository.SeatBooking) -> Any:
        alone.append(one)
        return await write_alone(conn, one)

    monkeypatch.setattr(repository, "_alone", counted)
    async with uow.apart().statement() as conn:
        answers = (
            await repository.book_seats(conn, items)
            if together
            else [await repository.book_seats(conn, [item]) for item in items]
        )
    if not together:
        answers = [a for [a] in answers]
    assert kinds(answers) == EXPECTED
    assert len(alone) == (0 if together else len(items)), "the batch was not written together"
    assert isinstance(answers[3], AlreadyBooked)
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot_id) == 3
    booked = {items[0].booking.id, items[6].booking.id, items[7].booking.id}
    assert set(await db.fetchval("SELECT array_agg(id) FROM bookings WHERE slot_id = $1", slot_id)) == booked
    # a refusal leaves nothing behind: no attempt counted, no answer kept, no place taken, no message
    for refused in (items[2], items[5], *items[8:]):
        person = refused.booking.person_id
        assert await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", person) == 0
        assert await db.fetchval("SELECT count(*) FROM outbox WHERE person_id = $1", person) == 0
        assert (
            await db.fetchval("SELECT count(*) FROM attempt_counters WHERE scope = $1", refused.write.attempt_scope)
            == 0
        )
    for running in (items[1], items[9]):
        left_as_it_was = "SELECT state = 'running' AND response IS NULL FROM idempotency_keys WHERE key = $1"
        assert await db.fetchval(left_as_it_was, running.write.key), "a running request's key was taken over"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = $1", items[8].write.key) == 0
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE action = 'booking.create'") == 3
    await check_invariants(db)


async def test_seats_taken_meanwhile_by_another_process_undo_the_batch_and_each_is_written_alone(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """The statement counts the seats left as it starts; if another process takes them before its claim, its claim
    fails, nothing it wrote stands, and the bookings are written one by one: the first gets the last seat."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2)
    items = await seat_bookings(uow, slot.id, 3)
    other = await db.fetchval("SELECT pg_backend_pid()")
    async with db.transaction():
        assert await seats.claim(db, clinic_id=clinic.id, slot_id=slot.id, now=datetime.now(UTC))

        async def written() -> list[Any]:
            async with uow.apart().statement() as conn:
                return await repository.book_seats(conn, items)

        writing = asyncio.create_task(written())
        for _ in range(200):  # until the batch waits for the other process's row lock
            waiting = await db.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> $1 AND locktype = 'transactionid'", other
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting, "the batch never reached its claim"
    answers = await writing
    assert kinds(answers) == ["booked", "NoSeatLeft", "NoSeatLeft"]
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 2
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", slot.id) == 1


async def _left_behind(db: asyncpg.Connection, one: repository.SeatBooking) -> dict[str, Any]:
    """What writing one booking left in the database, but for ids and times: its row, its audit row, its messages,
    its kept answer (with the booking's own time), its attempt and the person's open-booking place."""
    person, key = one.booking.person_id, one.write.key
    return {
        "status": await db.fetchval("SELECT status FROM bookings WHERE id = $1", one.booking.id),
        "audit": await db.fetchval("SELECT count(*) FROM audit_log WHERE object_id = $1", str(one.booking.id)),
        "messages": await db.fetchval("SELECT array_agg(kind ORDER BY kind) FROM outbox WHERE person_id = $1", person),
        "answer": await db.fetchval(
            """
            SELECT k.state || ' ' || k.response_status || ' '
                   || ((k.response->>'created_at')::timestamptz = b.created_at)::text
            FROM idempotency_keys k, bookings b WHERE k.scope = $1 AND k.key = $2 AND b.id = $3
            """,
            one.write.key_scope,
            key,
            one.booking.id,
        ),
        "attempts": await db.fetchval(
            "SELECT attempts FROM attempt_counters WHERE scope = $1", one.write.attempt_scope
        ),
        "places": await db.fetchval("SELECT active_bookings FROM people WHERE id = $1", person),
    }


async def _writes_of(db: asyncpg.Connection, slot_id: UUID) -> int:
    """How many (sub)transactions wrote the slot's bookings: one when a batch was written at once, one per booking
    when each was taken in turn."""
    return int(await db.fetchval("SELECT count(DISTINCT xmin::text) FROM bookings WHERE slot_id = $1", slot_id))


async def test_a_batch_with_seats_for_all_and_no_refusal_is_written_at_once_leaving_what_each_would_alone(
    uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    together_slot = await make_slot(uow, clinic, service, capacity=8)
    alone_slot = await make_slot(uow, clinic, await make_service(uow), capacity=8)
    together, alone = await seat_bookings(uow, together_slot.id, 5), await seat_bookings(uow, alone_slot.id, 5)

    async with uow.apart().statement() as conn:
        answers = await repository.book_seats(conn, together)
        answered_alone = [answer for one in alone for answer in await repository.book_seats(conn, [one])]

    assert kinds(answers) == kinds(answered_alone) == ["booked"] * 5
    assert await _writes_of(db, together_slot.id) == 1, "the batch was taken booking by booking"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", together_slot.id) == 5
    left_together = [await _left_behind(db, one) for one in together]
    assert left_together == [await _left_behind(db, one) for one in alone]
    assert left_together[0] | {"messages": None} == {
        "status": "booked", "audit": 1, "messages": None, "answer": "done 200 true", "attempts": 1, "places": 1,
    }  # fmt: skip
    assert left_together[0]["messages"]
    await check_invariants(db)


REFUSED_IN_A_BATCH = {
    "attempts": "AttemptsSpent",
    "attempts counted before": "AttemptsSpent",
    "open bookings": "TooManyActiveBookings",
    "standby": "LongWay",
    "key": "taken",
    "key twice": "taken",
    "twice": "AlreadyBooked",
    "code": "CodeTaken",
    "household": "HouseholdSeatsTaken",
}


@pytest.mark.parametrize("refusal", list(REFUSED_IN_A_BATCH))
async def test_one_refused_in_a_batch_with_seats_for_all_undoes_the_batch_and_each_is_answered_in_turn(
    uow: UnitOfWork, db: asyncpg.Connection, refusal: str
) -> None:
    """Whatever would refuse one booking also stops the batch being written at once: nothing of that try stands, and
    each booking is taken in turn, the others booked and the one refused as it would be alone."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=8)
    first, second, odd, last = await seat_bookings(uow, slot.id, 4)
    person = odd.booking.person_id
    if refusal == "attempts":  # a limit of its own, too: the batch shares no policy
        odd = replace(odd, write=replace(odd.write, attempt_limit=0))
    elif refusal == "attempts counted before":
        await db.execute(
            "INSERT INTO attempt_counters (scope, window_started, attempts) VALUES ($1, now(), $2)",
            odd.write.attempt_scope,
            POLICY.max_attempts,
        )
    elif refusal == "key twice":  # a second request under the first one's key
        odd = replace(odd, write=replace(odd.write, key_scope=first.write.key_scope, key=first.write.key))
    elif refusal == "household":  # the first one's dependent, on a slot of one seat a household
        await db.execute("UPDATE slots SET seats_per_household = 1 WHERE id = $1", slot.id)
        await db.execute(
            "UPDATE people SET account_id = NULL, guardian_id = $2, relation = 'spouse' WHERE id = $1",
            person,
            first.booking.person_id,
        )
    elif refusal == "open bookings":
        await db.execute("UPDATE people SET active_bookings = $2 WHERE id = $1", person, POLICY.max_active_per_person)
    elif refusal == "standby":
        elsewhere = await make_service(uow)
        await db.execute(
            """
            INSERT INTO standby_entries (person_id, service_id, clinic_id, status, date_from, date_to)
            VALUES ($1, $2, $3, 'waiting', current_date, current_date + 7)
            """,
            person,
            elsewhere.id,
            clinic.id,
        )
        odd = replace(odd, write=replace(odd.write, siblings=[*odd.write.siblings, elsewhere.id]))
    elif refusal == "key":
        await db.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint) VALUES ($1, $2, $3)",
            odd.write.key_scope,
            odd.write.key,
            odd.write.fingerprint,
        )
    elif refusal == "twice":
        again = replace(first.booking, id=uuid4(), code=common.new_code())
        odd = replace(first, booking=again, write=replace(first.write, key=None))
    else:
        odd = replace(odd, booking=replace(odd.booking, code=first.booking.code))

    async with uow.apart().statement() as conn:
        answers = await repository.book_seats(conn, [first, second, odd, last])

    assert kinds(answers) == ["booked", "booked", REFUSED_IN_A_BATCH[refusal], "booked"]
    assert await _writes_of(db, slot.id) == 3, "the batch was written at once"
    assert await db.fetchval("SELECT booked FROM slots WHERE id = $1", slot.id) == 3
    if refusal in ("attempts", "standby", "code"):  # the refused one's own person: nothing of theirs stands
        assert (await _left_behind(db, odd)) | {"status": None} == {
            "status": None, "audit": 0, "messages": None, "answer": None, "attempts": None, "places": 0,
        }  # fmt: skip
    if refusal == "open bookings":  # the places it was given above, with no bookings behind them
        await db.execute("UPDATE people SET active_bookings = 0 WHERE id = $1", person)
    await check_invariants(db)


KEYS_TO_TAKE_AGAIN = {
    "first answer a refusal": "INSERT INTO idempotency_keys (scope, key, fingerprint, state, response_status)"
    " VALUES ($1, $2, $3, 'done', 409)",
    "kept past its hours": "INSERT INTO idempotency_keys (scope, key, fingerprint, state, response_status, created_at)"
    " VALUES ($1, $2, $3, 'done', 200, now() - interval '25 hours')",
    "running past its lease": "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at)"
    " VALUES ($1, $2, $3, now() - interval '2 minutes')",
    "attempts of a window gone by": "INSERT INTO attempt_counters (scope, window_started, attempts)"
    " VALUES ($1, now() - interval '11 minutes', 10)",
}


@pytest.mark.parametrize("left_before", list(KEYS_TO_TAKE_AGAIN))
async def test_a_batch_written_at_once_takes_back_what_one_booking_alone_would(
    uow: UnitOfWork, db: asyncpg.Connection, left_before: str
) -> None:
    """A key whose first answer was a refusal, kept past its hours or left running past its lease, and an attempt
    counter whose window has gone by, are taken again by a batch written at once, as by a booking written alone."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=8)
    first, second, odd, last = await seat_bookings(uow, slot.id, 4)
    if left_before == "attempts of a window gone by":
        await db.execute(KEYS_TO_TAKE_AGAIN[left_before], odd.write.attempt_scope)
    else:
        await db.execute(KEYS_TO_TAKE_AGAIN[left_before], odd.write.key_scope, odd.write.key, odd.write.fingerprint)

    async with uow.apart().statement() as conn:
        answers = await repository.book_seats(conn, [first, second, odd, last])

    assert kinds(answers) == ["booked"] * 4
    assert await _writes_of(db, slot.id) == 1, "the batch was taken booking by booking"
    assert (await _left_behind(db, odd)) | {"messages": None} == {
        "status": "booked", "audit": 1, "messages": None, "answer": "done 200 true", "attempts": 1, "places": 1,
    }  # fmt: skip
    await check_invariants(db)
