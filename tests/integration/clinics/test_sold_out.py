"""Slots sold out to everyone: answered "full" from a hint, forgotten the moment the database says a seat freed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from clinics import seats, sold_out
from clinics.models import Slot
from clinics.sold_out import SoldOutSlots
from tests.eventually import until
from tests.factories import (
    make_citizen,
    make_clinic,
    make_dependent,
    make_service,
    make_slot,
    slot_row_held,
    token_for,
)
from tests.logs import logs_of
from tests.pgproxy import CuttableProxy, socket_dir, through
from vaxbook.auth.models import Principal
from vaxbook.db import UnitOfWork

Client = httpx.AsyncClient
NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_hint_lasts_its_seconds_and_never_past_the_slots_start() -> None:
    ticks = Ticks()
    hint = SoldOutSlots(remember_seconds=5, monotonic=ticks)
    hint.listening = True
    clinic, soon, later = uuid4(), uuid4(), uuid4()
    hint.remember(soon, clinic_id=clinic, starts_at=NOW + timedelta(seconds=3), read_in_epoch=hint.epoch)
    hint.remember(later, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=hint.epoch)
    assert hint.clinic_of(later, NOW) == clinic
    assert hint.clinic_of(soon, NOW + timedelta(seconds=3)) is None, "a slot that has started is read again"
    ticks.now += 5
    assert hint.clinic_of(later, NOW) is None


def test_nothing_is_remembered_unheard_or_from_a_read_older_than_a_notice() -> None:
    hint = SoldOutSlots()
    slot, clinic = uuid4(), uuid4()
    hint.remember(slot, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=hint.epoch)
    assert hint.clinic_of(slot, NOW) is None, "nothing is remembered while no notice could be heard"
    hint.listening = True
    began = hint.epoch
    hint.freed(uuid4())  # a seat of any slot freed while the read was on its way
    hint.remember(slot, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=began)
    assert hint.clinic_of(slot, NOW) is None
    hint.remember(slot, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=hint.epoch)
    assert hint.clinic_of(slot, NOW) == clinic
    hint.freed(slot)
    assert hint.clinic_of(slot, NOW) is None


async def sold_out_slot(app: Litestar, client: Client, uow: UnitOfWork) -> tuple[SoldOutSlots, Slot, Principal]:
    """A slot with no seat at all, just refused to a citizen: the app's hint remembers it."""
    hint: SoldOutSlots = app.state.sold_out
    await until(lambda: hint.listening, within=5, what="listening")
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=0)
    citizen, _ = await make_citizen(uow)
    full = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert full.json()["type"] == "/problems/slot-full"
    assert hint.clinic_of(slot.id, datetime.now(UTC)) == clinic.id
    return hint, slot, citizen


async def test_a_sold_out_slot_is_refused_from_the_hint_until_a_seat_frees(
    app: Litestar, client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    hint: SoldOutSlots = app.state.sold_out
    await until(lambda: hint.listening, within=5, what="listening")
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    first, _ = await make_citizen(uow)
    second, _ = await make_citizen(uow)
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first))
    assert booked.status_code == 201
    full = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(second))
    assert full.json()["type"] == "/problems/slot-full"
    assert hint.clinic_of(slot.id, datetime.now(UTC)) == clinic.id

    # closed behind the hint's back (no seat freed, so no notice): only a fresh read would say so
    await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", slot.id)
    hinted = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(second))
    assert hinted.json()["type"] == "/problems/slot-full"
    # the person's own seat is still read: a lost answer asked again gets the booking back
    again = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(first))
    assert again.status_code == 201
    assert again.json()["id"] == booked.json()["id"]
    await db.execute("UPDATE slots SET status = 'open' WHERE id = $1", slot.id)

    cancelled = await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(first))
    assert cancelled.status_code == 200
    # heard, well before the hint's own five seconds are up
    await until(lambda: hint.clinic_of(slot.id, datetime.now(UTC)) is None, within=2, what="the notice heard")
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(second))
    assert taken.status_code == 201


async def test_a_larger_capacity_is_heard_too(
    app: Litestar, client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    hint, slot, citizen = await sold_out_slot(app, client, uow)
    await db.execute("UPDATE slots SET capacity = 1 WHERE id = $1", slot.id)
    await until(lambda: hint.clinic_of(slot.id, datetime.now(UTC)) is None, within=2, what="the notice heard")
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert booked.status_code == 201


async def test_without_its_listening_connection_the_hint_remembers_nothing(
    app: Litestar, client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    hint, slot, citizen = await sold_out_slot(app, client, uow)
    assert await db.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'vaxbook-sold-out'"
    )
    await until(lambda: not hint.listening, within=5, what="the loss noticed")
    assert hint.clinic_of(slot.id, datetime.now(UTC)) is None, "what was remembered is forgotten with it"
    await db.execute("UPDATE slots SET status = 'closed' WHERE id = $1", slot.id)
    read = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(citizen))
    assert read.json()["type"] == "/problems/slot-not-bookable", "read afresh while deaf"
    await until(lambda: hint.listening, within=5, what="listening again")  # it comes back by itself


async def test_a_database_away_is_logged_once_when_lost_and_once_when_back(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = CuttableProxy(socket_dir=socket_dir(dsn))
    await proxy.start()
    hint = SoldOutSlots()
    with logs_of(monkeypatch, sold_out, "vaxbook.sold_out") as lines:
        listening = asyncio.create_task(sold_out.listen(through(dsn, proxy.port), hint, reconnect_seconds=0.02))
        try:
            await until(lambda: hint.listening, within=5, what="listening")
            proxy.refusing = True
            proxy.cut_all()
            await until(lambda: not hint.listening, within=5, what="the loss noticed")
            await asyncio.sleep(0.5)  # about 25 tries to reconnect, each refused
            proxy.refusing = False
            await until(lambda: hint.listening, within=5, what="listening again")
        finally:
            listening.cancel()
            await proxy.close()
    said = [(line["event"], line["log_level"]) for line in lines]
    assert said == [("sold_out.listener_lost", "warning"), ("sold_out.listener_back", "info")], said
    assert "exc_info" not in lines[0], "one line, no traceback"


async def test_the_gate_answers_strangers_and_lets_through_whoever_has_a_stake(
    app: Litestar, client: Client, uow: UnitOfWork
) -> None:
    hint: SoldOutSlots = app.state.sold_out
    await until(lambda: hint.listening, within=5, what="listening")
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, _ = await make_citizen(uow)
    stranger, _ = await make_citizen(uow)
    keyed = {**token_for(holder), "Idempotency-Key": "holder-press-1"}
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=keyed)
    assert booked.status_code == 201
    full = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(stranger))
    assert full.json()["type"] == "/problems/slot-full"
    assert hint.full_to(slot.id, stranger.id, datetime.now(UTC))
    assert not hint.full_to(slot.id, holder.id, datetime.now(UTC)), "the holder's own person booked it"

    # the holder's lost answer, asked for again with its key, is the kept answer, never "full"
    replay = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=keyed)
    assert (replay.status_code, replay.json()["id"]) == (201, booked.json()["id"])
    # someone else's person on a sold-out slot is still not found: ownership is read before fullness
    child = await make_dependent(uow, holder)
    theirs = await client.post(
        "/api/v1/bookings", json={"slot_id": str(slot.id), "person_id": str(child.id)}, headers=token_for(stranger)
    )
    assert theirs.status_code == 404


async def test_a_seat_offered_to_someone_waiting_is_heard_and_theirs_to_book(
    app: Litestar, client: Client, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    """A cancelled seat of a sold-out slot goes at once to the first on the standby list: the slot stays sold out to
    everyone else, but the hint forgets it, so that the person offered the seat is not told "full" when they press
    "book" on it rather than "accept"."""
    hint: SoldOutSlots = app.state.sold_out
    await until(lambda: hint.listening, within=5, what="listening")
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    holder, waiting, stranger = [(await make_citizen(uow))[0] for _ in range(3)]
    booked = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(holder))
    day = slot.starts_at.astimezone(clinic.zone).date()
    joined = await client.post(
        "/api/v1/standby",
        json={
            "service_id": str(service.id),
            "clinic_id": str(clinic.id),
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
        },
        headers=token_for(waiting),
    )
    assert joined.status_code == 201, joined.text
    full = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(stranger))
    assert full.json()["type"] == "/problems/slot-full"
    assert hint.full_to(slot.id, waiting.id, datetime.now(UTC))

    await client.post(f"/api/v1/bookings/{booked.json()['id']}/cancel", headers=token_for(holder))
    assert await db.fetchval("SELECT status FROM standby_entries WHERE id = $1", UUID(joined.json()["id"])) == "offered"
    await until(lambda: hint.clinic_of(slot.id, datetime.now(UTC)) is None, within=2, what="the offer heard")
    taken = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(waiting))
    assert taken.status_code == 201, taken.text
    refused = await client.post("/api/v1/bookings", json={"slot_id": str(slot.id)}, headers=token_for(stranger))
    assert refused.json()["type"] == "/problems/slot-full"


def test_past_its_seconds_one_press_reads_again_while_the_others_are_answered_from_the_hint() -> None:
    ticks = Ticks()
    hint = SoldOutSlots(remember_seconds=5, monotonic=ticks)
    hint.listening = True
    slot, clinic, someone, other = uuid4(), uuid4(), uuid4(), uuid4()
    hint.remember(slot, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=hint.epoch)
    assert hint.full_to(slot, someone, NOW)
    ticks.now += 5
    assert not hint.full_to(slot, someone, NOW), "the first press past the hint's time reads the slot again"
    assert hint.clinic_of(slot, NOW) is None, "and its read is not answered from the hint"
    assert hint.full_to(slot, other, NOW), "meanwhile the others are answered as before"
    hint.remember(slot, clinic_id=clinic, starts_at=NOW + timedelta(days=1), read_in_epoch=hint.epoch)
    ticks.now += 4
    assert hint.full_to(slot, other, NOW), "remembered afresh"
    assert hint.clinic_of(slot, NOW) == clinic
    ticks.now += 2.5  # past the fresh hint's time and its second of grace, nobody read it again
    assert not hint.full_to(slot, other, NOW)
    assert hint.clinic_of(slot, NOW) is None


async def test_a_claim_the_database_finds_no_seat_for_is_full_and_writes_nothing(
    app: Litestar, client: Client, uow: UnitOfWork, db: asyncpg.Connection, dsn: str
) -> None:
    """Two presses pass the screen with one seat left; the second's write finds none. Its answer is "full", and like
    every sold-out answer it costs nothing durable: no attempt counted, no answer kept."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=1)
    (first, me), (second, _) = await make_citizen(uow), await make_citizen(uow)
    body = {"slot_id": str(slot.id)}
    async with slot_row_held(dsn, slot.id):
        claiming = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(first)))
        await until(lambda: seats._turns.get(slot.id) is not None, within=5, what="the first claim sent")
        in_line = asyncio.create_task(
            client.post("/api/v1/bookings", json=body, headers={**token_for(second), "Idempotency-Key": "k-2"})
        )
        await until(lambda: len(seats._turns[slot.id].waiting) == 1, within=5, what="the second claim in line")
    assert (await claiming).status_code == 201
    refused = await in_line
    assert refused.json()["type"] == "/problems/slot-full"
    scopes = {row["scope"]: row["attempts"] for row in await db.fetch("SELECT scope, attempts FROM attempt_counters")}
    assert scopes == {f"book:account:{first.id}:{me.id}": 1}, "the booked attempt counted, the refused one not"
    assert await db.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'k-2'") == 0
