"""Admission control: a bounded number run, a bounded queue waits, the rest are told to come back at once."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from clinics import seats
from tests.conftest import METRICS, serve
from tests.eventually import until
from tests.factories import make_citizen, make_clinic, make_service, make_slot, slot_row_held, token_for
from vaxbook.app import create_app
from vaxbook.db import UnitOfWork
from vaxbook.settings import Settings


@pytest.fixture
def bookings_keep_their_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bookings here wait at a slot's row held by the test and keep their turns meanwhile, as claims past those
    that step aside do (test_step_aside.py shows the others giving theirs away), so that the others queue at the
    door."""
    monkeypatch.setattr(seats, "MOST_STEPPING_ASIDE", 0)


@pytest.mark.usefixtures("bookings_keep_their_turns")
async def test_past_the_queue_and_past_the_wait_a_request_is_told_to_come_back(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    first, second, third = [(await make_citizen(uow))[0] for _ in range(3)]
    one_at_a_time = settings.model_copy(update={"max_running": 1, "max_waiting": 1, "max_wait_ms": 300})
    app = create_app(one_at_a_time, dsn=dsn)
    body = {"slot_id": str(slot.id)}
    async with serve(app) as client:
        # the first booking runs and waits on the slot's row, held here
        async with slot_row_held(dsn, slot.id):
            running = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(first)))
            await until(lambda: app.state.admission.running == 1, within=5, what="the first running")
            waiting = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(second)))
            await until(lambda: app.state.admission.waiting == 1, within=5, what="the second waiting")

            turned_away = await client.post("/api/v1/bookings", json=body, headers=token_for(third))
            assert turned_away.status_code == 503
            assert turned_away.headers["content-type"].startswith("application/problem+json")
            assert turned_away.json()["type"] == "/problems/busy"
            assert turned_away.headers["retry-after"] == "1"
            assert (await client.get("/health/live")).status_code == 200, "health checks are never held back"

            waited = await waiting  # its turn did not come within 300 ms
            assert waited.status_code == 503
            assert waited.json()["type"] == "/problems/busy"
            assert not running.done()
        assert (await running).status_code == 201

        assert app.state.admission.shed == 2
        metrics = (await client.get("/metrics", headers=METRICS)).text
        assert "vaxbook_admission_shed_total" in metrics
        assert 'status_code="503"' in metrics, "the turned away are counted like any answer"
        assert await db.fetchval("SELECT count(*) FROM bookings") == 1
        assert await db.fetchval("SELECT count(*) FROM attempt_counters") == 1, "the turned away wrote nothing"
        again = await client.post("/api/v1/bookings", json=body, headers=token_for(third))
        assert again.status_code == 201, "a retry after Retry-After goes through"


@pytest.mark.usefixtures("bookings_keep_their_turns")
async def test_a_request_waiting_its_turn_is_told_full_once_the_slot_is_known_sold_out(
    dsn: str, settings: Settings, uow: UnitOfWork, db: asyncpg.Connection
) -> None:
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service, capacity=2)
    first, second, holder_of_one = [(await make_citizen(uow))[0] for _ in range(3)]
    one_at_a_time = settings.model_copy(update={"max_running": 1, "max_waiting": 5, "max_wait_ms": 10_000})
    app = create_app(one_at_a_time, dsn=dsn)
    body = {"slot_id": str(slot.id)}
    async with serve(app) as client:
        own = await client.post("/api/v1/bookings", json=body, headers=token_for(holder_of_one))
        assert own.status_code == 201
        await until(lambda: app.state.sold_out.listening, within=5, what="the sold-out hint listening")
        async with slot_row_held(dsn, slot.id):
            running = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(first)))
            await until(lambda: app.state.admission.running == 1, within=5, what="the first running")
            waiting = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(second)))
            pressing_again = asyncio.create_task(
                client.post("/api/v1/bookings", json=body, headers=token_for(holder_of_one))
            )
            await until(lambda: app.state.admission.waiting == 2, within=5, what="two waiting")
            assert app.state.sold_out.watched == 1

            # another request's read saw the slot sold out (as it would after the first's seat)
            app.state.sold_out.remember(
                slot.id,
                clinic_id=clinic.id,
                starts_at=slot.starts_at,
                read_in_epoch=app.state.sold_out.epoch,
                stakeholders=frozenset({holder_of_one.id}),
            )
            told = await asyncio.wait_for(waiting, timeout=2)
            assert told.status_code == 409
            assert told.json()["type"] == "/problems/slot-full"
            assert not running.done(), "told before any turn came"
            assert app.state.admission.waiting == 1, "the holder of a booking of the slot still waits for its turn"
            assert app.state.admission.shed == 0

        assert (await running).status_code == 201
        again = await pressing_again
        assert again.status_code == 201, again.text
        assert again.json()["id"] == own.json()["id"], "their own booking back, after their turn"
        assert (app.state.admission.running, app.state.admission.waiting) == (0, 0)
        assert app.state.sold_out.watched == 0
        assert await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1", slot.id) == 2


async def test_a_booking_waiting_behind_its_slots_write_lets_another_request_run(
    dsn: str, settings: Settings, uow: UnitOfWork
) -> None:
    """With two turns in all: the first booking's write waits at the slot's row, held here, and keeps its turn (the
    write is its own); the second waits behind that write, having given its turn away, and a third citizen is served
    meanwhile."""
    clinic, service = await make_clinic(uow), await make_service(uow)
    slot = await make_slot(uow, clinic, service)
    first, second, other = [(await make_citizen(uow))[0] for _ in range(3)]
    two_at_a_time = settings.model_copy(update={"max_running": 2, "max_waiting": 1, "max_wait_ms": 300})
    app = create_app(two_at_a_time, dsn=dsn)
    body = {"slot_id": str(slot.id)}
    async with serve(app) as client:
        async with slot_row_held(dsn, slot.id):
            writing = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(first)))
            await until(lambda: seats._turns.get(slot.id) is not None, within=5, what="the first booking's write")
            behind = asyncio.create_task(client.post("/api/v1/bookings", json=body, headers=token_for(second)))
            await until(lambda: len(seats._turns[slot.id].waiting) == 1, within=5, what="the second behind it")
            assert app.state.admission.running == 1, "the first's turn is held, the second's given away"
            profile = await client.get("/api/v1/me/profile", headers=token_for(other))
            assert profile.status_code == 200, profile.text
            assert not writing.done()
            assert not behind.done()
        assert [(await booking).status_code for booking in (writing, behind)] == [201, 201]
        assert (app.state.admission.running, app.state.admission.shed) == (0, 0)
